"""Rules for elementwise numpy functions."""

import numpy as np

from ..runtime import inside_bounds, unbroadcast
from . import vjp_rule, nondifferentiable


@vjp_rule(np.exp)
def exp(g, ans, x):
    return g * ans


@vjp_rule(np.expm1)
def expm1(g, ans, x):
    return g * (ans + 1)


@vjp_rule(np.exp2)
def exp2(g, ans, x):
    return g * ans * np.log(2)


@vjp_rule(np.log)
def log(g, ans, x):
    return g / x


@vjp_rule(np.log1p)
def log1p(g, ans, x):
    return g / (1 + x)


@vjp_rule(np.log2)
def log2(g, ans, x):
    return g / (x * np.log(2))


@vjp_rule(np.log10)
def log10(g, ans, x):
    return g / (x * np.log(10))


@vjp_rule(np.sin)
def sin(g, ans, x):
    return g * np.cos(x)


@vjp_rule(np.cos)
def cos(g, ans, x):
    return -g * np.sin(x)


@vjp_rule(np.tan)
def tan(g, ans, x):
    return g * (1 + ans ** 2)


@vjp_rule(np.sinh)
def sinh(g, ans, x):
    return g * np.cosh(x)


@vjp_rule(np.cosh)
def cosh(g, ans, x):
    return g * np.sinh(x)


@vjp_rule(np.tanh)
def tanh(g, ans, x):
    return g * (1 - ans ** 2)


@vjp_rule(np.arctan)
def arctan(g, ans, x):
    return g / (1 + x ** 2)


@vjp_rule(np.arcsin)
def arcsin(g, ans, x):
    return g / np.sqrt(1 - x ** 2)


@vjp_rule(np.arccos)
def arccos(g, ans, x):
    return -g / np.sqrt(1 - x ** 2)


@vjp_rule(np.sqrt)
def sqrt(g, ans, x):
    return g / (2 * ans)


@vjp_rule(np.cbrt)
def cbrt(g, ans, x):
    return g / (3 * ans ** 2)


@vjp_rule(np.square)
def square(g, ans, x):
    return g * 2 * x


@vjp_rule(np.reciprocal)
def reciprocal(g, ans, x):
    return -g * ans ** 2


@vjp_rule(np.abs, np.absolute, np.fabs)
def absolute(g, ans, x):
    return g * np.sign(x)


@vjp_rule(np.maximum, np.fmax)
def maximum(g, ans, x, y):
    # Ties split the gradient evenly between the two arguments, as in JAX.
    return (unbroadcast(np.where(x > y, g, np.where(x == y, g / 2, 0)), x),
            unbroadcast(np.where(x < y, g, np.where(x == y, g / 2, 0)), y))


@vjp_rule(np.minimum, np.fmin)
def minimum(g, ans, x, y):
    return (unbroadcast(np.where(x < y, g, np.where(x == y, g / 2, 0)), x),
            unbroadcast(np.where(x > y, g, np.where(x == y, g / 2, 0)), y))


@vjp_rule(np.where, diff=("x", "y"))
def where(g, ans, condition, x, y):
    return unbroadcast(np.where(condition, g, 0), x), unbroadcast(np.where(condition, 0, g), y)


@vjp_rule(np.clip)
def clip(g, ans, a, a_min=None, a_max=None, out=None):
    return g * inside_bounds(a, a_min, a_max)


nondifferentiable(
    np.sign, np.floor, np.ceil, np.round, np.rint, np.trunc, np.fix, np.isnan, np.isinf, np.isfinite,
    np.signbit, np.heaviside,
)
