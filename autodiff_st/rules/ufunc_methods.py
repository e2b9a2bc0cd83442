"""Rules for the methods of ufuncs: ``np.add.reduce``, ``np.multiply.reduce``, ``np.maximum.reduce``,
``np.minimum.reduce``, ``np.logaddexp.reduce``, ``np.add.accumulate``, ``np.multiply.accumulate``, and
the functional form of ``np.add.at``.

``np.add.reduce`` is a method bound to the ufunc ``np.add``: each attribute access makes a new method
object, but methods bound to the same ufunc compare (and hash) equal, so the registry finds the rule of
whatever ``np.add.reduce`` the user's code names. The objects registered here are kept under module
names (``ADD_REDUCE``, ...) for the rule catalogue.

``np.add.at(a, indices, b)`` changes ``a`` in place and returns None. The compiler writes it as what
Python does, ``a[...] = add_at(a, indices, b)`` (compiler/normalize_expressions.py, as for ``out=``), so
it is accepted only where a write into ``a`` is: ``a`` an array made in the function that no other name
shares. ``runtime.add_at`` is the functional form, differentiated here.
"""

import numpy as np

import autodiff_st.runtime as runtime
from ..runtime import (at_first_zero, before_first_zero, expand_reduced, extremum_mask, prod_others, reverse_cumsum,
                       unbroadcast)
from ..core.registry import vjp_rule, jvp_rule, linear

ADD_REDUCE, MULTIPLY_REDUCE = np.add.reduce, np.multiply.reduce
MAXIMUM_REDUCE, MINIMUM_REDUCE, LOGADDEXP_REDUCE = np.maximum.reduce, np.minimum.reduce, np.logaddexp.reduce
ADD_ACCUMULATE, MULTIPLY_ACCUMULATE = np.add.accumulate, np.multiply.accumulate


# -- reduce: numpy's default axis is 0 -----------------------------------------------------------------------

@vjp_rule(ADD_REDUCE)
def add_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return expand_reduced(g, array, axis, keepdims)


@vjp_rule(MULTIPLY_REDUCE)
def multiply_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    # As np.prod: the product of the others, exact at zeros.
    return expand_reduced(g, array, axis, keepdims) * prod_others(array, axis)


@jvp_rule(MULTIPLY_REDUCE)
def multiply_reduce_jvp(t, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return np.sum(t * prod_others(array, axis), axis=axis, keepdims=keepdims)


@vjp_rule(MAXIMUM_REDUCE, MINIMUM_REDUCE)
def extremum_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    # As np.max and np.min: ties share the gradient.
    return expand_reduced(g, array, axis, keepdims) * extremum_mask(array, ans, axis, keepdims)


@jvp_rule(MAXIMUM_REDUCE, MINIMUM_REDUCE)
def extremum_reduce_jvp(t, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return np.sum(t * extremum_mask(array, ans, axis, keepdims), axis=axis, keepdims=keepdims)


@vjp_rule(LOGADDEXP_REDUCE)
def logaddexp_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    # ans = log(sum(exp(array))): each element weighs exp(element - ans), the softmax.
    return expand_reduced(g, array, axis, keepdims) * np.exp(array - expand_reduced(ans, array, axis, keepdims))


@jvp_rule(LOGADDEXP_REDUCE)
def logaddexp_reduce_jvp(t, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return np.sum(t * np.exp(array - expand_reduced(ans, array, axis, keepdims)), axis=axis, keepdims=keepdims)


# -- accumulate: running sums and products along axis ----------------------------------------------------------

@vjp_rule(ADD_ACCUMULATE)
def add_accumulate(g, ans, array, axis=0, dtype=None, out=None):
    return reverse_cumsum(g, axis)


@vjp_rule(MULTIPLY_ACCUMULATE)
def multiply_accumulate(g, ans, array, axis=0, dtype=None, out=None):
    # As np.cumprod along axis: exact at zeros to first order (see rules/reductions.py: cumprod).
    before = before_first_zero(array, axis)
    first = at_first_zero(array, axis)
    g_before = np.where(before, reverse_cumsum(g * ans, axis) / np.where(before, array, 1), 0)
    g_first = np.where(first, reverse_cumsum(g * np.cumprod(np.where(first, 1, array), axis=axis), axis), 0)
    return g_before + g_first


@jvp_rule(MULTIPLY_ACCUMULATE)
def multiply_accumulate_jvp(t, ans, array, axis=0, dtype=None, out=None):
    before = before_first_zero(array, axis)
    first = at_first_zero(array, axis)
    from_before = ans * np.cumsum(np.where(before, t / np.where(before, array, 1), 0), axis=axis)
    from_first = np.sum(np.where(first, t, 0), axis=axis, keepdims=True) * np.cumprod(np.where(first, 1, array),
                                                                                     axis=axis)
    return np.where(before, from_before, from_first)


# -- np.add.at, as the compiler writes it -----------------------------------------------------------------------

@vjp_rule(runtime.add_at, diff=("a", "b"), nograd=("indices",))
def add_at(g, ans, a, indices, b):
    # Every element of a passes through; b's elements land at indices, so each reads g there (a
    # repeated index reads it once per repetition), summed where b was broadcast.
    return g, unbroadcast(g[indices], b)


linear(ADD_REDUCE, ADD_ACCUMULATE, runtime.add_at)
