"""Rules for Python's arithmetic operators and their numpy ufunc twins."""

import operator

import numpy as np

from ..runtime import index_grad, unbroadcast, matmul_grad_left, matmul_grad_right
from ..core.registry import vjp_rule, nondifferentiable, diagonal, linear, multilinear


@vjp_rule(operator.add, np.add)
def add(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@vjp_rule(operator.sub, np.subtract)
def subtract(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@vjp_rule(operator.mul, np.multiply)
def multiply(g, ans, x, y):
    return unbroadcast(g * y, x), unbroadcast(g * x, y)


@vjp_rule(operator.truediv, np.divide, np.true_divide)
def divide(g, ans, x, y):
    return unbroadcast(g / y, x), unbroadcast(-g * ans / y, y)


@vjp_rule(operator.pow, np.power)
def power(g, ans, x, y):
    # d/dy x**y = x**y log x; where x == 0 the term is taken as 0, as JAX does. Where g is 0 the term is 0
    # without taking log x: a zero tangent of a constant exponent (a residual of a helper's backward pass,
    # differentiated again) must not turn log of a negative base into nan.
    # d/dx x**y = y x**(y-1). At x == 0 with y == 0 (0 ** 0 is 1) it is taken as 0, as numpy's x**0 is 1
    # everywhere: the base is made 1 there, so that 0 ** -1 is never computed (it raises for Python
    # floats, and 0 * inf is nan). Everywhere else the formula is exact, at every order. For a constant
    # exponent other than 0 the test folds away, leaving y * x ** (y - 1).
    return (unbroadcast(g * y * (x if (y == 0) is False else x + ((x == 0) & (y == 0))) ** (y - 1), x),
            unbroadcast(g * ans * np.log(np.where((x == 0) | (g == 0), 1, x)), y))


@vjp_rule(operator.matmul, np.matmul)
def matmul(g, ans, x, y):
    return matmul_grad_left(g, x, y), matmul_grad_right(g, x, y)


@vjp_rule(operator.neg, np.negative)
def negative(g, ans, x):
    return -g


@vjp_rule(operator.pos, np.positive)
def positive(g, ans, x):
    return g


@vjp_rule(operator.mod, np.mod, np.remainder)
def mod(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g * np.floor_divide(x, y), y)


nondifferentiable(
    operator.floordiv, np.floor_divide,
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.truth, operator.is_, operator.is_not, operator.contains,
    operator.invert, operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift,
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
)


@vjp_rule(operator.getitem, diff=("a",), nograd=("b",))
def getitem(g, ans, a, b):
    # b is the index, written as np.index_exp[...] at the call site.
    return index_grad(g, a, b)


# -- forward rules ---------------------------------------------------------------------------------------

diagonal(operator.add, np.add, operator.sub, np.subtract, operator.mul, np.multiply, operator.truediv, np.divide,
         np.true_divide, operator.pow, np.power, operator.neg, np.negative, operator.pos, np.positive,
         operator.mod, np.mod, np.remainder)
multilinear(operator.matmul, np.matmul)
linear(operator.getitem)
