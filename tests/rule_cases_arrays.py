"""Rule checks for reductions, products, linear algebra, shape, joining and selection (see rule_cases.py)."""

CASES = []
