"""Rule checks for elementwise functions, specials, complex parts, math and builtins (see rule_cases.py).

Order 1 where the rule body cannot itself be differentiated yet: rules of tuple-returning primitives index
``g`` (``g[0]``), and rules over a list display build a list with a comprehension. Complex inputs are
checked in test_rules_elementwise.py, since grad and vjp take real inputs for now.
"""

import builtins
import math

import numpy as np

from autodiff_st import runtime
from autodiff_st.rules import math_builtins
from tests.rule_harness import ABOVE1, AWAY0, FLOAT, OPEN01, POS, R, UNIT, case

CASES = [
    # a step in x1, with the value x2 where x1 is 0; the float after x1 moves with x1
    case(np.heaviside, [-1.0, 0.0, 2.0, 0.0], R(4)), case(np.heaviside, AWAY0(3, 4), R(4)),
    case(np.nextafter, R(3), R(3)), case(math.nextafter, FLOAT(R()), FLOAT(R())),
    # numpy: inverse hyperbolic functions, angles, logs of sums
    case(np.arcsinh, R(3, 4)), case(np.arccosh, ABOVE1(3)), case(np.arctanh, UNIT(3)),
    case(np.deg2rad, R(3)), case(np.radians, R(2, 2)), case(np.rad2deg, R(3)), case(np.degrees, R(3)),
    case(np.logaddexp, R(3, 4), R(4)), case(np.logaddexp, R(3), 0.5), case(np.logaddexp2, R(3, 1), R(1, 4)),
    case(np.hypot, AWAY0(3, 4), AWAY0(4)), case(np.hypot, AWAY0(3), 2.0),
    case(np.arctan2, AWAY0(3, 4), AWAY0(3, 1)), case(np.arctan2, R(3), AWAY0(3)),
    case(np.sinc, AWAY0(3, 4)),
    case(np.float_power, POS(3, 4), R(4)), case(np.float_power, POS(3), 2.5),
    # piecewise: copysign's second argument only chooses a sign (its gradient is checked to be 0)
    case(np.copysign, AWAY0(3, 4), AWAY0(4)), case(np.copysign, AWAY0(3), -1.0),
    case(np.fmod, POS(3), 0.7), case(np.fmod, R(2, 3), POS(3)),
    case(np.ldexp, R(3), np.array([1, -2, 3])), case(np.ldexp, R(2, 3), 2),
    case(np.nan_to_num, R(3, 4)),
    case(builtins.abs, AWAY0(3)), case(np.clip, R(5), path="a0.clip(-0.5, 0.5)"),
    # tuple-returning ufuncs (order 1: their rules index g)
    case(np.divmod, POS(3), 0.7, unpack=2, order=1), case(np.divmod, POS(2, 3), POS(3), unpack=2, order=1),
    case(np.frexp, AWAY0(3), unpack=2, order=1), case(np.modf, R(3), unpack=2, order=1),
    # complex parts, on real inputs (complex inputs: test_rules_elementwise.py)
    case(np.real, R(3)), case(np.real, R(3), path="a0.real"),
    case(np.imag, R(3)), case(np.imag, R(2, 2), path="a0.imag"),
    case(np.conjugate, R(3)), case(np.conj, R(3), path="a0.conj()"), case(np.conj, R(3), path="a0.conjugate()"),
    # angle: order 1, because its rule's formula is complex (-1j g / z) even for real z, and the rules
    # that differentiate it again (divide) do not take the real part for a real input
    case(np.angle, AWAY0(3), order=1), case(np.angle, AWAY0(3), deg=True, order=1),
    # math on Python floats
    # np.sin, np.cos, np.sqrt on a proven Python number call these (compiler/specialize.py)
    case(math_builtins.sin_of_number, FLOAT(R())), case(math_builtins.cos_of_number, FLOAT(R())),
    case(math_builtins.sqrt_of_number, FLOAT(POS())),
    # their Python-float forms, where nothing can tell the float from the np.float64 (compiler/float_results.py)
    case(math_builtins.sin_float, FLOAT(R())), case(math_builtins.cos_float, FLOAT(R())),
    case(math_builtins.sqrt_float, FLOAT(POS())), case(math_builtins.number_result, FLOAT(R())),
    case(math.asin, FLOAT(UNIT())), case(math.acos, FLOAT(UNIT())), case(math.atan, FLOAT(R())),
    case(math.atan2, FLOAT(R()), FLOAT(AWAY0())), case(math.atan2, FLOAT(AWAY0()), 2.0),
    case(math.sinh, FLOAT(R())), case(math.cosh, FLOAT(R())),
    case(math.asinh, FLOAT(R())), case(math.acosh, FLOAT(ABOVE1())), case(math.atanh, FLOAT(UNIT())),
    case(math.expm1, FLOAT(R())), case(math.log1p, FLOAT(POS())), case(math.log2, FLOAT(POS())),
    case(math.log10, FLOAT(POS())),
    case(math.log, FLOAT(POS()), FLOAT(ABOVE1())), case(math.log, FLOAT(POS()), 2.0),
    case(math.pow, FLOAT(POS()), FLOAT(R())), case(math.pow, FLOAT(R()), 3.0),
    case(math.degrees, FLOAT(R())), case(math.radians, FLOAT(R())), case(math.fabs, FLOAT(AWAY0())),
    case(math.copysign, FLOAT(AWAY0()), FLOAT(AWAY0())), case(math.copysign, FLOAT(AWAY0()), -1.0),
    case(math.fmod, FLOAT(POS()), 0.7), case(math.fmod, FLOAT(POS()), FLOAT(POS())),
    case(math.remainder, FLOAT(POS()), 0.7), case(math.remainder, FLOAT(POS()), FLOAT(POS())),
    case(math.ldexp, FLOAT(R()), 3),
    case(math.erf, FLOAT(R())), case(math.erfc, FLOAT(R())),
    case(math.lgamma, FLOAT(POS())), case(math.gamma, FLOAT(POS())),
    # math over several values (order 1: the rules build a list)
    case(math.hypot, FLOAT(AWAY0()), FLOAT(AWAY0()), order=1),
    case(math.hypot, FLOAT(AWAY0()), FLOAT(R()), FLOAT(R()), order=1),
    case(math.dist, FLOAT(R()), FLOAT(R()), FLOAT(R()), FLOAT(R()), path="math.dist([a0, a1], (a2, a3))", order=1),
    case(math.fsum, FLOAT(R()), FLOAT(R()), FLOAT(R()), path="math.fsum([a0, a1, a2])", order=1),
    case(math.prod, FLOAT(R()), FLOAT(R()), FLOAT(R()), path="math.prod([a0, a1], start=a2)", order=1),
    case(math.prod, FLOAT(R()), path="math.prod((a0, 0.0, 2.0))", order=1),
    case(math.frexp, FLOAT(AWAY0()), unpack=2, order=1), case(math.modf, FLOAT(R()), unpack=2, order=1),
    # builtins
    case(builtins.pow, FLOAT(POS()), FLOAT(R())), case(builtins.pow, POS(3, 4), R(4)),
    case(builtins.pow, FLOAT(R()), 2.0),
    case(builtins.max, FLOAT(R()), FLOAT(R())), case(builtins.max, FLOAT(R()), 0.0),
    case(builtins.min, FLOAT(R()), FLOAT(R())), case(builtins.min, FLOAT(R()), 0.0),
    case(builtins.sum, R(3, 4), R(4), R(1, 4), path="sum([a0, a1, a2])", order=1),
    case(builtins.sum, FLOAT(R()), FLOAT(R()), path="sum((a0, a1), a0)", order=1),
    case(builtins.divmod, FLOAT(POS()), 0.7, unpack=2, order=1),
    case(builtins.list, R(3), R(2, 2), path="list((a0, a1))", float32=False),  # a copy: no arithmetic
    # the runtime helpers these rules call
    case(runtime.real_like, R(3), R(3)), case(runtime.one_if_none, R(3)),
    case(runtime.polygamma, 0, POS(3)), case(runtime.polygamma, 2, POS(2, 2)),
    case(runtime.polygamma, 1, FLOAT(POS())),
]

# cbrt and exp2 are in the math module from Python 3.11.
if hasattr(math, "cbrt"):
    CASES += [case(math.cbrt, FLOAT(POS())), case(math.exp2, FLOAT(R()))]

try:
    from scipy import special
except ImportError:  # scipy is optional; without it its rules are not registered
    special = None

if special is not None:
    CASES += [
        case(special.logsumexp, R(3, 4)), case(special.logsumexp, R(3, 4), axis=1),
        case(special.logsumexp, R(2, 3, 4), axis=(0, 2), keepdims=True),
        case(special.logsumexp, R(3, 4), 1, POS(3, 4)),  # with weights b, differentiated too
        case(special.softmax, R(3, 4), axis=1), case(special.softmax, R(5)),
        case(special.log_softmax, R(3, 4), axis=0), case(special.log_softmax, R(5)),
        case(special.expit, R(3, 4)), case(special.log_expit, R(3)), case(special.logit, OPEN01(3)),
        case(special.erf, R(3)), case(special.erfc, R(3)),
        case(special.gamma, POS(3)), case(special.gammaln, POS(3, 4)), case(special.digamma, POS(3)),
        case(special.polygamma, 1, POS(3)),
        case(special.xlogy, R(3), POS(3)), case(special.xlogy, R(3, 4), POS(4)),
        case(special.xlogy, [0.0, 1.0, 2.0], POS(3)),  # a list: a case's fields are compared with ==
        case(special.xlog1py, R(3), POS(3)), case(special.xlog1py, R(3, 1), POS(1, 4)),
    ]
