"""Rule checks for the helpers through which the normal form writes into Python lists and dicts
(rules/containers.py; see rule_cases.py). Their containers here are lists written out in the call, whose
results the wrappers unpack; dicts are checked through generated code in tests/test_s8_collections.py.
Any real numbers, to order 2.
"""

from autodiff_st import runtime
from tests.rule_harness import FLOAT, R, case

CASES = [
    # an element replaced, at a negative position; a number replaced by an array
    case(runtime.with_item, R(3), R(2), R(2), unpack=2, path="runtime.with_item([a0, a1], -1, a2)"),
    case(runtime.with_item, FLOAT(R()), R(3), unpack=2, path="runtime.with_item([a0, 0.5], 1, a1)"),
    # the cotangent of the list before a write: the written element zeroed (the transpose puts a zero
    # shaped like the written value back)
    case(runtime.without_item, R(3), R(2), unpack=2, path="runtime.without_item([a0, a1], 0, [1.0, 2.0], 0.0)"),
    case(runtime.without_item, R(3), R(2), unpack=2,
         path="runtime.without_item([a0, a1], 1, [1.0, [2.0, 3.0]], [2.0, 3.0])"),
    case(runtime.concatenated, R(3), R(2), FLOAT(R()), unpack=3, path="runtime.concatenated([a0], [a1, a2])"),
    case(runtime.dict_values, R(3), R(2), unpack=2, path="runtime.dict_values([a0, a1])"),
    case(runtime.dict_from_values, R(3), R(2), unpack=2, path="runtime.dict_from_values([a0, a1], [0.0, 1.0])"),
]
