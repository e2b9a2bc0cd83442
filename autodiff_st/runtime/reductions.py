"""Helpers of the derivatives of reductions, cumulative operations and differences: ties of max and min,
products of the other elements (exact at zeros), weights of averages, sums and quantiles, and the zeros
that stop a cumulative product.
"""

import numpy as np

from .namespaces import as_array, is_foreign
from .shapes import expand_reduced, normalize_axis, require, unbroadcast_to_shape

__all__ = [
    "extremum_mask", "prod_others", "prod_others_vjp", "nan_count", "weights_like", "one_if_none",
    "sum_to_weights", "quantile_weights", "reverse_cumsum", "cumulative_axis", "before_first_zero",
    "at_first_zero", "undiff",
]


def extremum_mask(x, ans, axis=None, keepdims=False):
    """Where ``x`` attains the max (or min) ``ans``, divided by the number of ties.

    Ties share the gradient equally, as in JAX and autograd.
    """
    if not is_foreign(x):  # an array of dask, CuPy, ... stays one
        x = np.asarray(x)
    hit = (x == expand_reduced(ans, x, axis, keepdims)).astype(x.dtype)
    return hit / np.sum(hit, axis=axis, keepdims=True)


def _moved_lanes(x, axis):
    """``x`` with the axes ``axis`` moved last and merged into one; and a function undoing that."""
    x = as_array(x)
    axes = normalize_axis(axis, x.ndim)
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    lanes = moved.reshape(moved.shape[:len(kept)] + (-1,))

    def back(y):
        return np.transpose(np.reshape(y, moved.shape), np.argsort(kept + list(axes)))

    return lanes, back


def prod_others(a, axis=None):
    """For each element of ``a``, the product of the other elements of its reduction over ``axis``.

    Uses products to the left and to the right rather than ``prod / a``, so zeros are exact.
    """
    if not is_foreign(a):
        a = np.asarray(a)
    axes = normalize_axis(axis, a.ndim)
    kept = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, kept + list(axes))
    flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.transpose(others, tuple(np.argsort(kept + list(axes)).tolist()))


def prod_others_vjp(v, a, axis=None):
    """The transpose of the derivative of ``prod_others(a, axis)``, applied to ``v``: for each element
    j, the sum over the others i of v_i times the product of the elements other than i and j.

    Exact at zeros: a lane with one zero, at m, reads only v_m (and, at m, the others' terms); a lane
    with two zeros connects only those two; a lane with three or more gives zero.
    """
    lanes, back = _moved_lanes(a, axis)
    v_lanes, _ = _moved_lanes(np.broadcast_to(v, np.shape(a)), axis)
    zero = lanes == 0
    safe = np.where(zero, 1, lanes)
    nonzero_product = np.prod(safe, axis=-1, keepdims=True)
    zeros = np.sum(zero, axis=-1, keepdims=True)
    over = np.sum(v_lanes / safe, axis=-1, keepdims=True)  # sum of v_i / a_i over the nonzero a_i (and v_m)
    at_zeros = np.sum(np.where(zero, v_lanes, 0), axis=-1, keepdims=True)
    no_zero = nonzero_product / safe * (over - v_lanes / safe)
    one_zero = np.where(zero, nonzero_product * (over - at_zeros), at_zeros * nonzero_product / safe)
    two_zeros = np.where(zero, (at_zeros - v_lanes) * nonzero_product, 0)
    out = np.select([zeros == 0, zeros == 1, zeros == 2], [no_zero, one_zero, two_zeros], 0)
    return back(out.astype(np.result_type(v, a), copy=False))


def nan_count(a, axis=None):
    """How many non-NaN elements each reduction over ``axis`` combines (keepdims), in ``a``'s dtype."""
    present = np.logical_not(np.isnan(a))
    dtype = a.dtype if getattr(a, "dtype", np.dtype(float)).kind == "f" else None
    return np.sum(present, axis=axis, keepdims=True, dtype=dtype)


def _weights_shape(w, a, axis):
    """The shape that ``np.average``'s weights take to broadcast against ``a``."""
    a_nd, w_shape = np.ndim(a), np.shape(w)
    if len(w_shape) == a_nd or len(w_shape) == 0:
        return w_shape
    # 1-D weights along the one axis averaged over
    shape = [1] * a_nd
    shape[normalize_axis(axis, a_nd)[0]] = w_shape[0]
    return tuple(shape)


def weights_like(w, a, axis=None):
    """``np.average``'s weights ``w`` broadcast to the shape of ``a``; ones when ``w`` is None."""
    if w is None:
        return np.ones(np.shape(a), dtype=getattr(a, "dtype", None))
    return np.broadcast_to(np.reshape(w, _weights_shape(w, a, axis)), np.shape(a))


def one_if_none(b):
    """``b``, or 1 when it is None: the weights of a sum whose weights are optional."""
    return 1 if b is None else b


def sum_to_weights(v, w, axis=None):
    """Sum ``v`` (shaped like the averaged array) down to the shape of the weights ``w``: the transpose
    of ``weights_like``."""
    return np.reshape(unbroadcast_to_shape(v, _weights_shape(w, v, axis)), np.shape(w))


def quantile_weights(a, q, axis=None, method="linear"):
    """How much each element of ``a`` contributes to its quantile ``q`` along ``axis``.

    The quantile interpolates between two order statistics; ties among equal values are broken by a
    stable sort, which gives one valid subgradient.
    """
    lanes, back = _moved_lanes(a, axis)
    n = lanes.shape[-1]
    position = float(q) * (n - 1)
    low = int(np.floor(position))
    high = min(low + 1, n - 1)
    frac = position - low
    if method == "linear":
        pairs = [(low, 1 - frac), (high, frac)]
    elif method == "lower":
        pairs = [(low, 1.0)]
    elif method == "higher":
        pairs = [(int(np.ceil(position)), 1.0)]
    elif method == "midpoint":
        pairs = [(low, 0.5), (high, 0.5)] if frac > 0 else [(low, 1.0)]
    elif method == "nearest":
        pairs = [(int(np.around(position)), 1.0)]
    else:
        require(False, f"the derivative of np.quantile with method={method!r} is not implemented; "
                       "use 'linear', 'lower', 'higher', 'midpoint' or 'nearest'.")
    order = np.argsort(lanes, axis=-1, kind="stable")
    weights = np.zeros(lanes.shape, dtype=lanes.dtype if lanes.dtype.kind == "f" else float)
    for index, weight in pairs:
        if weight:
            chosen = order[..., index:index + 1]
            np.put_along_axis(weights, chosen, np.take_along_axis(weights, chosen, axis=-1) + weight, axis=-1)
    return back(weights)


def reverse_cumsum(v, axis=None):
    """Sums from each position to the end along ``axis`` (``v`` is 1-D when ``axis`` is None)."""
    return np.flip(np.cumsum(np.flip(v, axis), axis=axis), axis)


def cumulative_axis(axis):
    """The axis a cumulative sum or product runs along once ``axis=None`` has flattened its input."""
    return 0 if axis is None else axis


def _first_zero(x, axis):
    x = as_array(x)
    zero = x == 0
    n = x.shape[axis]
    first = np.where(np.any(zero, axis=axis, keepdims=True), np.argmax(zero, axis=axis, keepdims=True), n)
    shape = [1] * x.ndim
    shape[axis] = n
    return np.reshape(np.arange(n), shape), first


def before_first_zero(x, axis):
    """Where an element of ``x`` comes before the first zero of its lane along ``axis``."""
    position, first = _first_zero(x, axis)
    return position < first


def at_first_zero(x, axis):
    """Where an element of ``x`` is the first zero of its lane along ``axis``."""
    position, first = _first_zero(x, axis)
    return position == first


def undiff(v, a, n=1, axis=-1):
    """The transpose of ``np.diff(a, n, axis)`` applied to ``v``: n times, minus the difference of ``v``
    padded with a zero at each end along ``axis``."""
    pad = [(0, 0)] * np.ndim(v)
    pad[axis] = (1, 1)
    for _ in range(n):
        v = -np.diff(np.pad(v, pad), axis=axis)
    return v
