"""Rule cases for the rules that HIPS/autograd's own tests found missing (rules/autograd_gaps.py), and for
the fixed np.inner of a scalar. Every input is any real numbers."""

import numpy as np

from autodiff_st import runtime
from tests.rule_harness import FLOAT, R, case

CASES = [
    # tuple(...) and list(...) of a display (of an array, its rows: tests/test_s8_autograd_gaps.py, as the
    # harness passes sequence parameters as displays)
    case(tuple, R(3), R(2), path="tuple((a0, a1))"), case(list, R(3), R(3), path="list([a0, a1])"),
    case(runtime.items_cotangent, R(3), R(2), path="runtime.items_cotangent((np.zeros(3), np.zeros(2)), [a0, a1])"),
    case(runtime.items_cotangent, R(3), R(3), path="runtime.items_cotangent(np.zeros((2, 3)), [a0, a1])"),
    # np.inner with a scalar first operand is a * b
    case(np.inner, FLOAT(R()), R(4, 3)), case(np.inner, R(4, 3), FLOAT(R())),
]
