"""Helpers of the derivatives of joining, splitting, padding and tiling: each cuts a cotangent back into
the pieces its inputs were, or sums the copies that were made of them.
"""

import numpy as np

from .namespaces import is_foreign
from .shapes import require

__all__ = ["split_like", "unstack", "hstack_axis", "hsplit_axis", "unjoin", "join_like", "untile", "unpad", "pad_like",
           "index_join_grad", "index_join_tangent", "r_join", "c_join"]

# np.r_[x, y] and np.c_[x, y], as the compiler writes them: calls of these, which have rules.
r_join = np.r_.__getitem__
c_join = np.c_.__getitem__


def split_like(v, arrays, axis=0):
    """Split ``v`` along ``axis`` into pieces shaped like ``arrays``: the gradient of concatenate.

    For an array ``v`` and an integer axis, the pieces are basic slices of ``v`` (views, as np.split
    makes them) cut at the running sum of the arrays' lengths along ``axis``; anything else goes through
    np.split."""
    if type(v) is np.ndarray and type(axis) is int and -v.ndim <= axis < v.ndim:
        pieces = []
        start = 0
        if axis == 0 or axis == -v.ndim:  # the first axis: v[start:stop], without building an index tuple
            for a in arrays:
                stop = start + (a.shape if type(a) is np.ndarray else np.shape(a))[axis]
                pieces.append(v[start:stop])
                start = stop
            return pieces
        lead = (slice(None),) * (axis % v.ndim)
        for a in arrays:
            stop = start + (a.shape if type(a) is np.ndarray else np.shape(a))[axis]
            pieces.append(v[lead + (slice(start, stop),)])
            start = stop
        return pieces
    sizes = [np.shape(a)[axis] for a in arrays]
    if is_foreign(v):
        return _foreign_split(v, sizes, axis)
    return np.split(v, np.cumsum(sizes[:-1]), axis=axis)


def _foreign_split(v, sizes, axis):
    """np.split of an array of another library by slicing it, in its own namespace (dask stays lazy)."""
    axis = axis % v.ndim
    ends = np.cumsum(sizes).tolist()
    return [v[(slice(None),) * axis + (slice(end - size, end),)] for size, end in zip(sizes, ends)]


def unstack(v, count, axis=0):
    """The ``count`` slices of ``v`` along ``axis``: the gradient of stack. Along the first axis of an
    array they are the rows of ``v`` itself: views, as np.split makes for concatenate (nothing writes into
    a cotangent that does not own its memory: see accumulate_index)."""
    if type(v) is np.ndarray and axis == 0 and type(axis) is int and v.ndim and v.shape[0] == count:
        return list(v)
    return [np.take(v, i, axis=axis) for i in range(count)]


def _joined_shape(shape, promote):
    if promote == "atleast_1d":
        return shape if len(shape) >= 1 else (1,)
    if promote == "atleast_2d":
        return {0: (1, 1), 1: (1,) + shape}.get(len(shape), shape)
    if promote == "atleast_3d":
        return {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}.get(len(shape), shape)
    if promote == "column":
        return {0: (1, 1), 1: shape + (1,)}.get(len(shape), shape)
    if promote == "ravel":
        return (int(np.prod(shape)),)
    return shape


def hstack_axis(arrays):
    """np.hstack joins 1-D arrays along axis 0, others along axis 1."""
    return 0 if np.ndim(arrays[0]) <= 1 else 1


def hsplit_axis(ary):
    return 0 if np.ndim(ary) <= 1 else 1


def unjoin(v, arrays, axis=0, promote="none"):
    """Cut ``v``, the cotangent of joining ``arrays`` along ``axis`` after promoting each (``"atleast_2d"``
    for np.vstack, ``"column"`` for np.column_stack, ...), into cotangents shaped like the arrays."""
    shapes = [np.shape(a) for a in arrays]
    joined = [_joined_shape(s, promote) for s in shapes]
    sizes = [s[axis] for s in joined]
    pieces = _foreign_split(v, sizes, axis) if is_foreign(v) else np.split(v, np.cumsum(sizes[:-1]), axis=axis)
    return [np.reshape(p, s) for p, s in zip(pieces, shapes)]


def join_like(parts, arrays, axis=0, promote="none"):
    """The transpose of ``unjoin``: promote each part as its array was and join them along ``axis``."""
    return np.concatenate([np.reshape(p, _joined_shape(np.shape(a), promote)) for p, a in zip(parts, arrays)],
                          axis=axis)


def untile(v, A, reps):
    """Sum the copies ``np.tile(A, reps)`` made: the transpose of ``np.tile``."""
    reps = tuple(reps) if np.ndim(reps) else (int(reps),)
    shape = np.shape(A)
    d = max(len(reps), len(shape))
    shape_d = (1,) * (d - len(shape)) + shape
    reps_d = (1,) * (d - len(reps)) + reps
    interleaved = tuple(x for pair in zip(reps_d, shape_d) for x in pair)
    return np.reshape(np.sum(np.reshape(v, interleaved), axis=tuple(range(0, 2 * d, 2))), shape)


def _pad_sources(shape, pad_width, mode, reflect_type):
    require(mode in ("constant", "empty", "edge", "reflect", "symmetric", "wrap"),
            f"the derivative of np.pad is implemented for the modes constant, edge, reflect, symmetric "
            f"and wrap, not {mode!r}.")
    require(reflect_type == "even", "the derivative of np.pad with reflect_type='odd' is not implemented.")
    positions = np.reshape(np.arange(int(np.prod(shape))), shape)
    if mode in ("constant", "empty"):
        return np.pad(positions, pad_width, mode="constant", constant_values=-1)
    return np.pad(positions, pad_width, mode=mode)


def unpad(v, array, pad_width, mode="constant", reflect_type="even"):
    """Add each element of ``v`` into the element of ``array`` that ``np.pad`` copied it from; padding
    with constants contributes nothing. The transpose of ``np.pad`` as a function of ``array``."""
    shape = np.shape(array)
    sources = np.ravel(_pad_sources(shape, pad_width, mode, reflect_type))
    v = np.ravel(v)
    copied = sources >= 0
    out = np.zeros(int(np.prod(shape)), dtype=np.result_type(v))
    np.add.at(out, sources[copied], v[copied])
    return np.reshape(out, shape)


def pad_like(v, pad_width, mode="constant", reflect_type="even"):
    """``np.pad(v, pad_width, mode)`` with constant padding by zeros: the transpose of ``unpad``."""
    _pad_sources(np.shape(v), pad_width, mode, reflect_type)  # the same refusals as unpad
    if mode in ("constant", "empty"):
        return np.pad(v, pad_width, mode="constant")
    return np.pad(v, pad_width, mode=mode)


def _index_join_probe(joiner, key, fill, blank):
    """``key`` for ``np.r_[key]`` or ``np.c_[key]`` with each range (``1:10``) replaced by ``blank``s
    of its length, which numpy lays out as it lays out the range; and ``fill(j, item)`` in place of
    each value."""
    require(not any(isinstance(item, str) for item in key),
            "the derivative of np.r_ or np.c_ with a string directive is not supported; "
            "use np.concatenate or np.stack")
    return tuple(np.full(np.size(joiner[item]), blank) if isinstance(item, slice) else fill(j, item)
                 for j, item in enumerate(key))


def index_join_grad(v, joiner, key):
    """The gradients of the values joined by ``np.r_[key]`` or ``np.c_[key]``: each element's position
    in the result is found by joining numbered stand-ins laid out as the values are."""
    sizes = [0 if isinstance(item, slice) else np.size(item) for item in key]
    offsets = np.cumsum([0] + sizes)
    numbered = _index_join_probe(joiner, key, lambda j, item: offsets[j] + np.arange(
        sizes[j], dtype=float).reshape(np.shape(item)), np.nan)
    positions = np.ravel(joiner[numbered])
    kept = ~np.isnan(positions)
    total = np.zeros(offsets[-1], dtype=np.result_type(v, np.float32))
    np.add.at(total, positions[kept].astype(int), np.ravel(v)[kept])
    return [0.0 if isinstance(item, slice) else np.reshape(total[offsets[j]:offsets[j + 1]], np.shape(item))
            for j, item in enumerate(key)]


def index_join_tangent(t, joiner, key):
    """The tangent of ``np.r_[key]`` or ``np.c_[key]``: the same join of the values' tangents, zeros for
    ranges and values without one."""
    tangents = _index_join_probe(joiner, key, lambda j, item: np.zeros(np.shape(item)) if t[j] is None else t[j],
                                 0.0)
    return joiner[tangents]
