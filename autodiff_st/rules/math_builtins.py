"""Rules for the math module and Python builtins, on Python floats."""

import builtins
import math

import numpy as np

from . import vjp_rule, nondifferentiable


@vjp_rule(math.sin)
def sin(g, ans, x):
    return g * math.cos(x)


@vjp_rule(math.cos)
def cos(g, ans, x):
    return -g * math.sin(x)


@vjp_rule(math.tan)
def tan(g, ans, x):
    return g * (1 + ans ** 2)


@vjp_rule(math.exp)
def exp(g, ans, x):
    return g * ans


@vjp_rule(math.log)
def log(g, ans, x):
    return g / x


@vjp_rule(math.sqrt)
def sqrt(g, ans, x):
    return g / (2 * ans)


@vjp_rule(math.tanh)
def tanh(g, ans, x):
    return g * (1 - ans ** 2)


@vjp_rule(builtins.abs)
def abs(g, ans, x):
    return g * np.sign(x)


@vjp_rule(builtins.float)
def float(g, ans, x):
    return g


nondifferentiable(
    builtins.len, builtins.int, builtins.round, builtins.range, builtins.isinstance, builtins.print,
    builtins.type, builtins.bool, builtins.str, math.floor, math.ceil, math.isnan, math.isfinite,
)
