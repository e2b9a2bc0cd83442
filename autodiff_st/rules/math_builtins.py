"""Rules for the math module and Python builtins, on Python floats.

The rules use the math module, so Python floats stay Python floats. The gamma function's derivatives
use ``runtime.polygamma``, which needs no scipy. ``abs`` shares the rule of np.abs (elementwise.py).
Rule functions are named so as not to shadow the builtins that rule bodies call (``round``, ``zip``).
"""

import builtins
import math

import numpy as np

from ..runtime import broadcast_like, polygamma, prod_others, tangent_zeros, unbroadcast
from ..core.registry import vjp_rule, nondifferentiable, diagonal, linear, jvp_rule


# -- numpy functions on Python numbers -----------------------------------------------------------------
# Where the compiler knows that the argument of np.sin, np.cos or np.sqrt is a Python number, it calls
# these instead (compiler/specialize.py): the math function, several times faster than a numpy ufunc on
# a scalar, its result made the np.float64 numpy returns. They give numpy's value to the last bit (tests/test_specialize_kinds.py
# checks this on a sample); where math refuses an argument numpy takes (sin of inf, the square root of a
# negative number) they call numpy, so the result and its warning are numpy's.

# numpy's result on a Python float is an np.float64, and stays one: the code after it divides by zero or
# overflows as numpy does (inf or nan, with a warning), never raising as Python floats do, and reads
# `.shape` or `.dtype` as on any numpy scalar.
_float64 = np.float64


def sin_of_number(x):
    """``np.sin(x)`` for a Python number ``x``: the same ``np.float64``, computed by ``math.sin`` for a float."""
    if type(x) is float:
        try:
            return _float64(math.sin(x))
        except (ValueError, OverflowError):
            pass
    return np.sin(x)


def cos_of_number(x):
    """``np.cos(x)`` for a Python number ``x``: the same ``np.float64``, computed by ``math.cos`` for a float."""
    if type(x) is float:
        try:
            return _float64(math.cos(x))
        except (ValueError, OverflowError):
            pass
    return np.cos(x)


def sqrt_of_number(x):
    """``np.sqrt(x)`` for a Python number ``x``: the same ``np.float64``, computed by ``math.sqrt`` for a float."""
    if type(x) is float:
        try:
            return _float64(math.sqrt(x))
        except (ValueError, OverflowError):
            pass
    return np.sqrt(x)


NUMBER_FORMS = {np.sin: sin_of_number, np.cos: cos_of_number, np.sqrt: sqrt_of_number}


# -- the same, as Python floats ------------------------------------------------------------------------
# Where the compiler proves that the np.float64 of a call above is only ever added, subtracted, multiplied
# or compared with numbers, passed to other number rules, or returned (compiler/float_results.py), it calls
# these instead: math's Python float, the same value, without the conversion and the slower np.float64
# arithmetic after it. A returned value goes through ``number_result``, so that the caller still sees the
# np.float64 the plain function returns.
_sin, _cos, _sqrt = math.sin, math.cos, math.sqrt


def sin_float(x):
    """``np.sin(x)`` for a Python number or np.float64 ``x``, as a Python float where math computes it."""
    if type(x) is float or type(x) is _float64:
        try:
            return _sin(x)
        except ValueError:  # sin(inf): numpy's nan and warning
            pass
    return np.sin(x)


def cos_float(x):
    """``np.cos(x)`` for a Python number or np.float64 ``x``, as a Python float where math computes it."""
    if type(x) is float or type(x) is _float64:
        try:
            return _cos(x)
        except ValueError:
            pass
    return np.cos(x)


def sqrt_float(x):
    """``np.sqrt(x)`` for a Python number or np.float64 ``x``, as a Python float where math computes it."""
    if type(x) is float or type(x) is _float64:
        try:
            return _sqrt(x)
        except ValueError:  # a negative number: numpy's nan and warning
            pass
    return np.sqrt(x)


def number_result(x):
    """A returned value that the generated code kept as a Python float: the np.float64 the plain function
    returns (anything else unchanged)."""
    return _float64(x) if type(x) is float else x


FLOAT_FORMS = {sin_of_number: sin_float, cos_of_number: cos_float, sqrt_of_number: sqrt_float}
for _form in list(NUMBER_FORMS.values()) + list(FLOAT_FORMS.values()):
    _form.on_numbers = True  # cheap on numbers: the backward pass may recompute it (liveness.py)


@vjp_rule(sin_of_number)
def sin_on_number(g, ans, x):
    return g * cos_of_number(x)


@vjp_rule(cos_of_number)
def cos_on_number(g, ans, x):
    return -g * sin_of_number(x)


@vjp_rule(sqrt_of_number)
def sqrt_on_number(g, ans, x):
    return g / (2 * ans)


@vjp_rule(sin_float)
def sin_float_rule(g, ans, x):
    return g * cos_of_number(x)


@vjp_rule(cos_float)
def cos_float_rule(g, ans, x):
    return -g * sin_of_number(x)


@vjp_rule(sqrt_float)
def sqrt_float_rule(g, ans, x):
    # sqrt_of_number's np.float64, so that dividing by 2 * 0 gives numpy's inf and warning
    return g / (2 * sqrt_of_number(x))


@vjp_rule(number_result)
def number_result_rule(g, ans, x):
    return g


diagonal(sin_of_number, cos_of_number, sqrt_of_number, sin_float, cos_float, sqrt_float)
linear(number_result)


@vjp_rule(math.sin)
def sin(g, ans, x):
    return g * math.cos(x)


@vjp_rule(math.cos)
def cos(g, ans, x):
    return -g * math.sin(x)


@vjp_rule(math.tan)
def tan(g, ans, x):
    return g * (1 + ans ** 2)


@vjp_rule(math.asin)
def asin(g, ans, x):
    return g / math.sqrt(1 - x ** 2)


@vjp_rule(math.acos)
def acos(g, ans, x):
    return -g / math.sqrt(1 - x ** 2)


@vjp_rule(math.atan)
def atan(g, ans, x):
    return g / (1 + x ** 2)


@vjp_rule(math.atan2)
def atan2(g, ans, y, x):
    # atan2(y, x) is the angle of the point (x, y): d angle = (x dy - y dx) / (x^2 + y^2).
    return g * x / (x ** 2 + y ** 2), -g * y / (x ** 2 + y ** 2)


@vjp_rule(math.sinh)
def sinh(g, ans, x):
    return g * math.cosh(x)


@vjp_rule(math.cosh)
def cosh(g, ans, x):
    return g * math.sinh(x)


@vjp_rule(math.tanh)
def tanh(g, ans, x):
    return g * (1 - ans ** 2)


@vjp_rule(math.asinh)
def asinh(g, ans, x):
    return g / math.sqrt(x ** 2 + 1)


@vjp_rule(math.acosh)
def acosh(g, ans, x):
    return g / math.sqrt(x ** 2 - 1)


@vjp_rule(math.atanh)
def atanh(g, ans, x):
    return g / (1 - x ** 2)


@vjp_rule(math.exp)
def exp(g, ans, x):
    return g * ans


@vjp_rule(math.expm1)
def expm1(g, ans, x):
    return g * (ans + 1)


@vjp_rule(math.log, diff=("x", "base"))
def log(g, ans, x, base=math.e):
    # log(x, base) = ln x / ln base.
    return g / (x * math.log(base)), -g * ans / (base * math.log(base))


@vjp_rule(math.log1p)
def log1p(g, ans, x):
    return g / (1 + x)


@vjp_rule(math.log2)
def log2(g, ans, x):
    return g / (x * math.log(2))


@vjp_rule(math.log10)
def log10(g, ans, x):
    return g / (x * math.log(10))


@vjp_rule(math.sqrt)
def sqrt(g, ans, x):
    return g / (2 * ans)


@vjp_rule(math.pow)
def math_pow(g, ans, x, y):
    # As for x ** y: where x == 0 the log x term is taken as 0, as JAX does.
    # as for x ** y: the derivative in x is taken as 0 at 0 ** 0
    return g * y * (x if (y == 0) is False else x + ((x == 0) & (y == 0))) ** (y - 1), g * ans * np.log(np.where((x == 0) | (g == 0), 1, x))


@vjp_rule(math.hypot)
def hypot(g, ans, *coordinates):
    # The length of a vector: d length / d c = c / length. Order 1: the rule builds a list.
    return [g * c / ans for c in coordinates]


@vjp_rule(math.dist, sequences=("p", "q"))
def dist(g, ans, p, q):
    # The distance between points p and q, hypot(*(p - q)). Order 1: the rule builds lists.
    return [g * (a - b) / ans for a, b in zip(p, q)], [g * (b - a) / ans for a, b in zip(p, q)]


@vjp_rule(math.degrees)
def degrees(g, ans, x):
    return g * (180 / math.pi)


@vjp_rule(math.radians)
def radians(g, ans, x):
    return g * (math.pi / 180)


@vjp_rule(math.fabs)
def fabs(g, ans, x):
    return g * np.sign(x)


@vjp_rule(math.copysign, diff=("x",), nograd=("y",))
def copysign(g, ans, x, y):
    # |x| with the sign of y: slope +1 or -1 in x; y only chooses a sign, so no gradient flows to it.
    return g * math.copysign(1, x) * math.copysign(1, y)


@vjp_rule(math.fmod)
def fmod(g, ans, x, y):
    # fmod(x, y) = x - trunc(x / y) y, the integer quotient being piecewise constant.
    return g, -g * math.trunc(x / y)


@vjp_rule(math.remainder)
def remainder(g, ans, x, y):
    # remainder(x, y) = x - n y, with n the integer nearest x / y, piecewise constant.
    return g, -g * round((x - ans) / y)


@vjp_rule(math.ldexp, diff=("x",), nograd=("i",))
def ldexp(g, ans, x, i):
    return math.ldexp(g, i)


@vjp_rule(math.frexp, returns_tuple=True)
def frexp(g, ans, x):
    # x = m * 2**e, the exponent piecewise constant: dm/dx = 2**-e. Order 1: the rule indexes g.
    return math.ldexp(g[0], -ans[1])


@vjp_rule(math.modf, returns_tuple=True)
def modf(g, ans, x):
    # (fractional part, integral part): the integral part is piecewise constant. Order 1: indexes g.
    return g[0]


@vjp_rule(math.erf)
def erf(g, ans, x):
    return g * 2 / math.sqrt(math.pi) * math.exp(-x ** 2)


@vjp_rule(math.erfc)
def erfc(g, ans, x):
    return -g * 2 / math.sqrt(math.pi) * math.exp(-x ** 2)


@vjp_rule(math.lgamma)
def lgamma(g, ans, x):
    # d log|gamma(x)| / dx is the digamma function, polygamma(0, x).
    return g * polygamma(0, x)


@vjp_rule(math.gamma)
def gamma(g, ans, x):
    return g * ans * polygamma(0, x)


@vjp_rule(math.fsum, sequences=("seq",))
def fsum(g, ans, seq):
    # Each term receives the whole gradient. Order 1: the rule builds a list.
    return [g for x in seq]


@vjp_rule(math.prod, sequences=("iterable",), diff=("iterable", "start"))
def prod(g, ans, iterable, start=1):
    # Each factor's gradient is g times the product of the others, computed without dividing so that
    # zeros are exact. Order 1: the rule builds a list.
    others = prod_others(np.array(iterable), axis=0)
    return [g * start * p for p in others], g * math.prod(iterable)


# cbrt and exp2 are in the math module from Python 3.11.
if hasattr(math, "cbrt"):
    @vjp_rule(math.cbrt)
    def cbrt(g, ans, x):
        return g / (3 * ans ** 2)

if hasattr(math, "exp2"):
    @vjp_rule(math.exp2)
    def exp2(g, ans, x):
        return g * ans * math.log(2)


@vjp_rule(builtins.float)
def builtin_float(g, ans, x):
    return g


@vjp_rule(builtins.pow, diff=("base", "exp"))
def builtin_pow(g, ans, base, exp, mod=None):
    # As for x ** y; with mod the arguments are integers, which carry no gradient.
    return (unbroadcast(g * exp * base ** (exp - 1), base),
            unbroadcast(g * ans * np.log(np.where(base == 0, 1, base)), exp))


@vjp_rule(builtins.max)
def builtin_max(g, ans, a, b):
    # max of two arguments: the larger takes the gradient, and a tie splits it evenly, as in np.maximum.
    return g * ((a > b) + (a == b) / 2), g * ((a < b) + (a == b) / 2)


@vjp_rule(builtins.min)
def builtin_min(g, ans, a, b):
    return g * ((a < b) + (a == b) / 2), g * ((a > b) + (a == b) / 2)


@vjp_rule(builtins.sum, sequences=("iterable",), diff=("iterable", "start"))
def builtin_sum(g, ans, iterable, start=0):
    # sum of a list or tuple display: each term and the start receive the whole gradient, summed down to
    # their own shapes. Order 1: the rule builds a list.
    return [unbroadcast(g, x) for x in iterable], unbroadcast(g, start)


@vjp_rule(builtins.list, sequences=("iterable",))
def builtin_list(g, ans, iterable):
    # list(values) copies a tuple or list: the cotangent is the same sequence of cotangents. Generated
    # backward passes start with `tape = list(tape)`; this rule lets them be differentiated again.
    return list(g)


@vjp_rule(builtins.divmod, returns_tuple=True)
def builtin_divmod(g, ans, x, y):
    # (x // y, x % y): the quotient is piecewise constant, only the remainder carries a gradient.
    return unbroadcast(g[1], x), unbroadcast(-g[1] * ans[0], y)


# -- forward rules ---------------------------------------------------------------------------------------
# The reverse rules of functions of one or two floats are g times the derivative: ``diagonal``.

diagonal(math.sin, math.cos, math.tan, math.asin, math.acos, math.atan, math.atan2, math.sinh, math.cosh,
         math.tanh, math.asinh, math.acosh, math.atanh, math.exp, math.expm1, math.log, math.log1p, math.log2,
         math.log10, math.sqrt, math.pow, math.degrees, math.radians, math.fabs, math.copysign, math.fmod,
         math.remainder, math.ldexp, math.erf, math.erfc, math.lgamma, math.gamma, builtins.pow, builtins.max,
         builtins.min)
diagonal(*[getattr(math, name) for name in ("cbrt", "exp2") if hasattr(math, name)])
linear(builtins.float, math.fsum, builtins.sum, builtins.list)


@jvp_rule(math.hypot)
def hypot_jvp(t, ans, *coordinates):
    # d length = sum(c dc) / length, over the coordinates that carry a tangent.
    return sum(c * dc for c, dc in zip(coordinates, t) if dc is not None) / ans


@jvp_rule(math.dist, wrt="p")
def dist_jvp_p(t, ans, p, q):
    return sum((a - b) * da for a, b, da in zip(p, q, t) if da is not None) / ans


@jvp_rule(math.dist, wrt="q")
def dist_jvp_q(t, ans, p, q):
    return sum((b - a) * db for a, b, db in zip(p, q, t) if db is not None) / ans


@jvp_rule(math.prod, wrt="iterable")
def prod_jvp_iterable(t, ans, iterable, start=1):
    # Each factor's tangent times the product of the others (exact at zeros) and the start.
    others = prod_others(np.array(iterable), axis=0)
    return start * sum(p * dx for p, dx in zip(others, t) if dx is not None)


@jvp_rule(math.prod, wrt="start")
def prod_jvp_start(t, ans, iterable, start=1):
    return t * math.prod(iterable)


@jvp_rule(math.frexp)
def frexp_jvp(t, ans, x):
    return math.ldexp(t, -ans[1]), 0.0


@jvp_rule(math.modf)
def modf_jvp(t, ans, x):
    return t, 0.0


@jvp_rule(builtins.divmod, wrt="x")
def builtin_divmod_jvp_x(t, ans, x, y):
    # The quotient is piecewise constant; the remainder moves with x.
    return tangent_zeros(ans[0]), broadcast_like(t, ans[1])


@jvp_rule(builtins.divmod, wrt="y")
def builtin_divmod_jvp_y(t, ans, x, y):
    return tangent_zeros(ans[0]), broadcast_like(-t * ans[0], ans[1])


nondifferentiable(
    builtins.len, builtins.int, builtins.round, builtins.range, builtins.slice, builtins.isinstance, builtins.print,
    builtins.type, builtins.bool, builtins.str, builtins.any, builtins.all, builtins.hash, builtins.id,
    builtins.callable, builtins.repr, builtins.format, builtins.issubclass, builtins.ord, builtins.chr,
    math.floor, math.ceil, math.trunc, math.isnan, math.isfinite, math.isinf, math.isclose,
    math.factorial, math.comb, math.perm, math.gcd, math.lcm, math.isqrt, math.ulp,
)
