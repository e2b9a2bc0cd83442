"""Helpers of the derivatives of numpy's numerical routines added in step 8: np.interp, np.polyval,
np.convolve, np.gradient, np.rollaxis, np.add.at, and the sublist form of np.einsum.

The helpers that only compute indices, masks, exponents or paddings carry no derivative; the two
linear maps of np.gradient (``gradient_of`` and its transpose ``gradient_transpose``) and the
functional ``add_at`` have derivative rules of their own (rules/numpy_signal.py, rules/ufunc_methods.py),
so the generated code that calls them can be differentiated again.
"""

import numpy as np

from .linalg import einsum_grads
from .shapes import normalize_axis, require

__all__ = [
    "interp_segment", "interp_kept", "poly_exponents", "convolve_padding", "gradient_of", "gradient_transpose",
    "rollaxis_order", "add_at", "einsum_operand_grads", "last_axes_swapped", "inner_order",
]


# -- np.interp -------------------------------------------------------------------------------------------

def interp_segment(x, xp):
    """For each point of ``x``, the index ``i`` of the segment ``[xp[i], xp[i + 1]]`` np.interp reads: the
    last knot at or before the point, kept inside ``0 .. len(xp) - 2`` (points outside the knots take the
    first or last segment, whose weight np.clip then pins to the end value)."""
    xp = np.asarray(xp)
    require(xp.ndim == 1 and xp.shape[0] >= 2,
            "the derivative of np.interp is implemented for at least two knots xp.")
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.shape[0] - 2)


def interp_kept(x, xp, left=None, right=None):
    """1.0 where np.interp's result follows ``fp`` at ``x``; 0.0 where it is a constant ``left`` (below
    the first knot) or ``right`` (above the last) that the call gave."""
    xp = np.asarray(xp)
    kept = np.ones(np.shape(x))
    if left is not None:
        kept = np.where(np.asarray(x) < xp[0], 0.0, kept)
    if right is not None:
        kept = np.where(np.asarray(x) > xp[-1], 0.0, kept)
    return kept


# -- np.polyval ------------------------------------------------------------------------------------------

def poly_exponents(p, x):
    """The powers ``n - 1, ..., 1, 0`` of x that multiply the coefficients ``p`` in np.polyval, in the
    dtype of the result (so that float32 stays float32)."""
    n = np.shape(p)[0]
    dtype = np.result_type(np.asarray(p).dtype, np.asarray(x).dtype, np.float16)
    return np.arange(n - 1, -1, -1).astype(dtype)


# -- np.convolve -----------------------------------------------------------------------------------------

def convolve_padding(a, v, mode="full"):
    """How many zeros, before and after, turn the cotangent of ``np.convolve(a, v, mode)`` into that of
    the full convolution: mode "valid" and "same" keep a centred window of the full result."""
    m, n = np.size(a), np.size(v)
    full = m + n - 1
    if mode == "full":
        return 0, 0
    if mode == "valid":
        length = max(m, n) - min(m, n) + 1
        start = min(m, n) - 1
    elif mode == "same":
        length = max(m, n)
        start = (min(m, n) - 1) // 2
    else:
        raise ValueError(f"np.convolve: unknown mode {mode!r}")
    return start, full - length - start


# -- np.gradient -----------------------------------------------------------------------------------------

def _gradient_axes(f, axis):
    ndim = np.ndim(f)
    if axis is None:
        return list(range(ndim))
    return [a % ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]


def _spacings(spacing, count):
    spacing = tuple(spacing)
    if not spacing:
        return [(1.0,)] * count
    if len(spacing) == 1 and np.ndim(spacing[0]) == 0:
        return [(spacing[0],)] * count
    require(len(spacing) == count, "np.gradient takes one spacing, or one per axis.")
    return [(h,) for h in spacing]


def gradient_of(v, spacing=(), axis=None, edge_order=1):
    """``np.gradient(v, *spacing, axis=axis, edge_order=edge_order)``: the linear map of np.gradient,
    with its spacings packed in one tuple."""
    return np.gradient(v, *spacing, axis=axis, edge_order=edge_order)


def _band(n, spacing, edge_order, dtype):
    """The nonzero coefficients of np.gradient along an axis of length ``n``: ``{d: c}`` with ``c[i]`` the
    weight of element ``i + d`` in result ``i``. Found by applying np.gradient to the three
    indicator vectors of the positions modulo 3: each result reads at most three neighbouring elements,
    which have different residues."""
    position = np.arange(n)
    probes = [np.gradient((position % 3 == s).astype(np.float64), *spacing, edge_order=edge_order)
              for s in range(3)]
    low = np.where(position == n - 1, -2, np.where(position == 0, 0, -1))  # first offset each result reads
    band = {}
    for d in (-2, -1, 0, 1, 2):
        j = position + d
        inside = (j >= 0) & (j < n) & (d >= low) & (d <= low + 2)
        picked = np.choose(np.where(inside, j, 0) % 3, probes)
        band[d] = np.where(inside, picked, 0.0).astype(dtype)
    return band


def gradient_transpose(v, f, spacing=(), axis=None, edge_order=1):
    """The transpose of ``gradient_of(., spacing, axis, edge_order)`` at an array shaped like ``f``,
    applied to ``v``: the cotangent of f in ``np.gradient(f, *spacing, axis=axis)``. ``v`` is one array
    for one axis, and a tuple or list of them (one per axis) for several."""
    axes = _gradient_axes(f, axis)
    parts = list(v) if isinstance(v, (tuple, list)) else [v]
    require(len(parts) == len(axes), "the cotangent of np.gradient has one array per axis.")
    dtype = np.result_type(*[np.asarray(p).dtype for p in parts if p is not None], np.float16)
    out = np.zeros(np.shape(f), dtype=dtype)
    for part, ax, h in zip(parts, axes, _spacings(spacing, len(axes))):
        if part is None:
            continue
        w = np.moveaxis(np.broadcast_to(np.asarray(part, dtype=dtype), np.shape(f)), ax, -1)
        n = w.shape[-1]
        acc = np.zeros_like(w)
        for d, c in _band(n, h, edge_order, dtype).items():
            # result i reads element i + d with weight c[i]: element j receives c[j - d] v[j - d]
            term = c * w
            if d >= 0:
                acc[..., d:] += term[..., :n - d]
            else:
                acc[..., :n + d] += term[..., -d:]
        out = out + np.moveaxis(acc, -1, ax)
    return out


# -- np.rollaxis -----------------------------------------------------------------------------------------

def rollaxis_order(a, axis, start=0):
    """The permutation ``order`` with ``np.transpose(a, order) == np.rollaxis(a, axis, start)``."""
    n = np.ndim(a)
    axis = normalize_axis(axis, n)[0]
    if start < 0:
        start += n
    require(0 <= start <= n, "np.rollaxis: start out of range.")
    order = list(range(n))
    if axis < start:
        start -= 1
    order.remove(axis)
    order.insert(start, axis)
    return tuple(order)


def inner_order(a, b):
    """The permutation of ``b``'s axes that makes ``np.inner(a, b)`` the product ``np.dot(a, b')``: its last
    two axes swapped, or none when ``a`` is a scalar (then ``np.inner`` is ``a * b``)."""
    return tuple(range(np.ndim(b))) if np.ndim(a) == 0 else last_axes_swapped(b)


def last_axes_swapped(x):
    """The permutation that swaps the last two axes of ``x`` (the identity for fewer than two)."""
    n = np.ndim(x)
    order = list(range(n))
    if n >= 2:
        order[-2], order[-1] = order[-1], order[-2]
    return tuple(order)


# -- np.add.at -------------------------------------------------------------------------------------------

def add_at(a, indices, b):
    """What ``np.add.at(a, indices, b)`` leaves in ``a``, as a new array: ``a`` with ``b`` added at
    ``indices``, unbuffered (a repeated index adds each time), in ``a``'s dtype."""
    out = np.array(a, copy=True)
    np.add.at(out, indices, b)
    return out


# -- np.einsum in sublist form -----------------------------------------------------------------------------

def _sublist_letters(sublist):
    letters = []
    for item in sublist:
        if item is Ellipsis:
            letters.append("...")
        else:
            require(0 <= int(item) < 52, "np.einsum takes subscripts 0 to 51.")
            letters.append("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[int(item)])
    return "".join(letters)


def einsum_operand_grads(v, operands):
    """The cotangent of each argument of ``np.einsum(*operands)``, with None for the subscripts: in the
    string form (``'ij,jk', a, b``) and in the sublist form (``a, [0, 1], b, [1, 2], [0, 2]``)."""
    operands = list(operands)
    if isinstance(operands[0], str):
        return [None] + list(einsum_grads(v, operands[0], operands[1:]))
    arrays, terms = operands[0:-1:2] if len(operands) % 2 else operands[0::2], []
    for k in range(len(arrays)):
        terms.append(_sublist_letters(operands[2 * k + 1]))
    subscripts = ",".join(terms)
    if len(operands) % 2:
        subscripts += "->" + _sublist_letters(operands[-1])
    grads = einsum_grads(v, subscripts, arrays)
    out = []
    for grad in grads:
        out += [grad, None]
    return out[:len(operands)] + [None] * (len(operands) - len(out))
