"""Rule cases for the rules that HIPS/autograd's own tests found missing (rules/autograd_gaps.py), and for
the fixed np.inner of a scalar. Every input is any real numbers."""

import numpy as np

from autodiff_st import runtime
from tests.rule_harness import AWAY0, FLOAT, POS, R, case

CASES = [
    # tuple(...) and list(...) of a display (of an array, its rows: tests/test_s8_autograd_gaps.py, as the
    # harness passes sequence parameters as displays)
    case(tuple, R(3), R(2), path="tuple((a0, a1))"), case(list, R(3), R(3), path="list([a0, a1])"),
    case(runtime.items_cotangent, R(3), R(2), path="runtime.items_cotangent((np.zeros(3), np.zeros(2)), [a0, a1])"),
    case(runtime.items_cotangent, R(3), R(3), path="runtime.items_cotangent(np.zeros((2, 3)), [a0, a1])"),
    # np.inner with a scalar first operand is a * b
    case(np.inner, FLOAT(R()), R(4, 3)), case(np.inner, R(4, 3), FLOAT(R())),
]

# where= and initial= in reductions: a constant mask (broadcast against a), a constant initial value.
# Max and min on values away from ties (AWAY0), with and without an initial value above (or below)
# every element; prod on positive numbers.
_MASK = "np.array([[True, False, True, True]])"
CASES += [
    case(np.sum, R(3, 4), path=f"PRIMITIVE(a0, axis=1, where={_MASK})"),
    case(np.sum, R(3, 4), path=f"PRIMITIVE(a0, initial=1.5, where={_MASK})"),
    case(np.sum, R(3, 4), axis=0, initial=-2.0),
    case(np.mean, R(3, 4), path=f"PRIMITIVE(a0, axis=1, where={_MASK})"),
    case(np.mean, R(3, 4), path=f"PRIMITIVE(a0, where={_MASK}, keepdims=True)"),
    case(np.max, AWAY0(3, 4), axis=1, initial=-5.0), case(np.max, AWAY0(3, 4), initial=5.0),
    case(np.max, AWAY0(3, 4), path=f"PRIMITIVE(a0, axis=1, initial=-5.0, where={_MASK})"),
    case(np.min, AWAY0(3, 4), path=f"PRIMITIVE(a0, axis=1, initial=5.0, where={_MASK})"),
    case(np.min, AWAY0(3, 4), axis=0, initial=0.5),
    case(np.prod, POS(3, 4), axis=1, initial=2.0, order=1),
    case(np.prod, POS(3, 4), path=f"PRIMITIVE(a0, axis=1, where={_MASK})", order=1),
    case(np.prod, POS(3, 4), path=f"PRIMITIVE(a0, initial=0.5, where={_MASK})", order=1),
    case(np.sum, R(3, 4), path=f"a0.sum(axis=1, where={_MASK})"),
]
