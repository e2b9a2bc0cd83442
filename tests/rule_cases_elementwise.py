"""Rule checks for elementwise functions, specials, complex parts, math and builtins (see rule_cases.py)."""

CASES = []
