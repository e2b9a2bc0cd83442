"""Rules for selecting elements: take, take_along_axis, sort, partition, extract, compress, choose, select.

Each gathers elements of its input; the gradient scatters the cotangent back and adds it up where an
element was read more than once (``np.add.at``, never ``out[idx] += v``, which drops repeats).
"""

import numpy as np

from ..runtime import unbroadcast, untake, untake_along_axis, arrangement, unchoose, unselect, select_default_mask
from ..core.registry import vjp_rule, nondifferentiable, method, linear, jvp_rule


@vjp_rule(np.take, diff=("a",))
def take(g, ans, a, indices, axis=None, out=None, mode="raise"):
    return untake(g, a, indices, axis, mode)


@vjp_rule(np.take_along_axis, diff=("arr",))
def take_along_axis(g, ans, arr, indices, axis=-1):
    return untake_along_axis(g, arr, indices, axis)


@vjp_rule(np.sort, diff=("a",))
def sort(g, ans, a, axis=-1, kind=None, order=None, stable=None):
    # The sorted values are a taken along axis at argsort(a). Equal values may trade places: either
    # order is a valid subgradient.
    return untake_along_axis(g, a, np.argsort(a, axis=axis, kind="stable"), axis)


@vjp_rule(np.partition, diff=("a",))
def partition(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    # Where each element of ans came from in a, matched value by value.
    return untake_along_axis(g, a, arrangement(a, ans, axis), axis)


@vjp_rule(np.extract, diff=("arr",))
def extract(g, ans, condition, arr):
    return untake(g, arr, np.flatnonzero(condition))


@vjp_rule(np.compress, diff=("a",))
def compress(g, ans, condition, a, axis=None, out=None):
    return untake(g, a, np.flatnonzero(condition), axis)


@vjp_rule(np.choose, diff=("choices",), sequences=("choices",))
def choose(g, ans, a, choices, out=None, mode="raise"):
    return unchoose(g, a, choices, mode)


@vjp_rule(np.select, diff=("choicelist", "default"), sequences=("choicelist",))
def select(g, ans, condlist, choicelist, default=0):
    # Each element comes from the choice of the first condition that holds, or from default.
    return unselect(g, condlist, choicelist), unbroadcast(np.where(select_default_mask(condlist), g, 0), default)


@vjp_rule(np.ndarray.compress, diff=("a",))
def compress_method(g, ans, a, condition, axis=None, out=None):
    # x.compress(condition, axis) is np.compress(condition, x, axis)
    return untake(g, a, np.flatnonzero(condition), axis)


method("take", np.take)
method("compress", np.ndarray.compress)

nondifferentiable(
    np.nonzero, np.flatnonzero, np.argwhere, np.lexsort, np.tril_indices, np.triu_indices,
    np.tril_indices_from, np.triu_indices_from, np.diag_indices, np.diag_indices_from, np.indices,
    np.unravel_index, np.ravel_multi_index, np.tri, np.isin, np.array_equal, np.array_equiv,
    np.allclose, np.isclose,
)


# -- forward rules ---------------------------------------------------------------------------------------
# Gathering is linear in the gathered arrays; sort and partition gather where the values of a say.

linear(np.take, np.take_along_axis, np.extract, np.compress, np.choose, np.select, np.ndarray.compress)


@jvp_rule(np.sort)
def sort_jvp(t, ans, a, axis=-1, kind=None, order=None, stable=None):
    return np.take_along_axis(t, np.argsort(a, axis=axis, kind="stable"), axis=axis)


@jvp_rule(np.partition)
def partition_jvp(t, ans, a, kth, axis=-1, kind="introselect", order=None):
    return np.take_along_axis(t, arrangement(a, ans, axis), axis=axis)
