"""Helpers of the derivatives of indexing and selection: reads (``x[i]``, np.take, np.choose, np.select,
diagonals) put their cotangent back where they read it, and writes (``y[i] = v``) take the cotangent
of the positions they wrote last.
"""

import sys

import numpy as np

from .cotangents import DictParts, Parts, zeros_like
from .namespaces import foreign_index_grad, is_foreign
from .shapes import unbroadcast

__all__ = [
    "accumulate_index",
    "index_grad", "at_index", "stored_grad", "stored_grad_transpose", "zero_at", "untake", "untake_along_axis",
    "repeat_indices", "arrangement", "unchoose", "unselect", "select_default_mask", "diagonal_mask",
    "undiagonal", "diag_grad",
]


# The types of the parts of a basic index: each names positions at most once, so ``out[index] = v`` and
# ``acc[index] += v`` put every element of ``v`` in its place (an integer-array index may repeat a position,
# and then only ``np.add.at`` adds up every read).
_BASIC_PARTS = frozenset((int, bool, slice, type(None), type(Ellipsis), np.intp, np.int64, np.int32))
# dtype kinds that add into a float or integer cotangent in place as they would out of place
_REAL_KINDS = frozenset("fiub")
_NO_DTYPE = np.dtype("O")  # the dtype read of a value without one (an int): kind "O", not real here
_ONE_BASIC = frozenset((int, slice))  # x[i] and x[a:b]: the common index, checked without a loop


def _basic_index(index):
    for i in index:
        if type(i) not in _BASIC_PARTS and not isinstance(i, (int, slice, type(None), type(Ellipsis), np.integer)):
            return False
    return True


def _real(v):
    """Whether ``v`` is a real (not complex) number or array: then ``index_grad`` keeps ``x``'s dtype."""
    if type(v) is float or type(v) is int:
        return True
    dtype = getattr(v, "dtype", None)
    return dtype is not None and dtype.kind in _REAL_KINDS


def index_grad(v, x, index):
    """The gradient of ``x[index]``: ``v`` placed into zeros shaped like ``x``.

    Repeated positions in an integer-array index add up, as each one read the same element. For a
    tuple, list or dict ``x``, the cotangent is the same structure with ``v`` at ``index``.
    """
    if type(x) is np.ndarray and _real(v):  # the common case, without the general checks below
        out = np.zeros(x.shape, x.dtype)
    elif isinstance(x, (tuple, list, dict)):
        return _container_index_grad(v, x, index)
    elif not isinstance(x, np.ndarray) and is_foreign(x):
        return foreign_index_grad(v, x, index)
    else:
        out = np.zeros(np.shape(x), dtype=np.result_type(v, x) if np.iscomplexobj(v) else getattr(x, "dtype", float))
    if _basic_index(index):
        out[index] = v
    else:
        np.add.at(out, index, v)
    return out


def accumulate_index(acc, v, x, index):
    """``acc + index_grad(v, x, index)``: the backward pass adding the gradient of a read ``x[index]`` into
    the cotangent ``acc`` it has so far (``x_bar = accumulate_index(x_bar, v, x, index)``).

    Where ``acc`` is an array that owns its memory and that nothing but the generated statement refers
    to (its reference count shows that: the name it is rebound to, and this call), ``v`` is added into it
    in place, at the cost of the indexed elements alone: a slice add for a basic index (integers, slices,
    ``None``, ``...``, in any number of dimensions), ``np.add.at`` for an integer-array or boolean index,
    so that repeated positions add up. A loop reading ``x[i]``, ``x[a:b]`` or ``W[:, j]`` then costs the
    size of the read instead of a full array per read. Otherwise (shared, a view, read-only, another
    dtype, a complex ``v`` into a real cotangent, a container, a batched value) it makes a new array,
    exactly as ``acc + index_grad(...)`` would. The result is the same either way.
    """
    if (type(acc) is np.ndarray and acc.base is None and sys.getrefcount(acc) <= _SOLE_REFERENCES
            and type(x) is np.ndarray and acc.shape == x.shape
            and (type(v) is float or type(v) is int or getattr(v, "dtype", _NO_DTYPE).kind in _REAL_KINDS)
            and (acc.dtype is x.dtype or np.promote_types(acc.dtype, x.dtype) == acc.dtype)):
        if type(index) is tuple and len(index) == 1 and type(index[0]) in _ONE_BASIC or _basic_index(index):
            try:
                acc[index] += v
                return acc
            except ValueError:  # a read-only acc (numpy checks before it writes anything), or v that does not fit
                pass
        elif acc.flags.writeable:  # np.add.at writes into a read-only array without a word
            np.add.at(acc, index, v)
            return acc
    return _accumulate_index_general(acc, v, x, index)


def _accumulate_index_general(acc, v, x, index):
    """``accumulate_index`` where the fast path's conditions do not all hold: in place into a copy of
    ``acc`` of the result's dtype, or the plain sum."""
    if isinstance(x, (tuple, list, dict)) or type(acc) is not np.ndarray or acc.shape != np.shape(x):
        return acc + index_grad(v, x, index)
    dtype = np.result_type(acc, np.result_type(v, x) if np.iscomplexobj(v) else getattr(x, "dtype", float))
    # A new array, never ``acc`` itself: the fast path already declined to update it in place.
    acc = acc.astype(dtype, copy=True)
    if _basic_index(index):
        acc[index] += v
    else:
        np.add.at(acc, index, v)
    return acc


def _references_of_a_sole_owner():
    """How many references ``accumulate_index`` sees to an array only the calling statement holds:
    measured once, as the count depends on the Python version's calling convention."""
    seen = []

    def probe(acc, v, x, index):
        seen.append(sys.getrefcount(acc))
        return acc

    def statement():
        acc, x = np.zeros(1), np.zeros(1)
        acc = probe(acc, 0.0, x, (0,))  # noqa: F841 (the pattern generated code uses)

    statement()
    # x is another array, as in real calls: passing acc twice would count the second argument, which Python
    # 3.10 holds on the caller's stack as well as in the parameter (two references, not one)
    return seen[0]


_SOLE_REFERENCES = _references_of_a_sole_owner()


def _container_index_grad(v, x, index):
    (key,) = index  # np.index_exp wraps the index in a tuple
    out = zeros_like(x)
    if isinstance(x, dict):
        return DictParts({**out, key: out[key] + v})
    items = list(out)
    if isinstance(key, slice):
        for position, part in zip(range(len(x))[key], v):
            items[position] = items[position] + part
    else:
        items[key] = items[key] + v
    return Parts(items)


def at_index(v, index):
    """``v[index]`` for an index written as ``np.index_exp[...]``, also when ``v`` is a tuple, list or dict."""
    if isinstance(v, (tuple, list, dict)):
        (key,) = index
        return v[key]
    return v[index]


def _written_last(shape, index):
    """For ``y[index] = value``: True where an element of ``value`` is the last write of its position.

    An integer-array index may name one position several times; numpy keeps the last write.
    """
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    flat = np.ravel(positions)
    _, last_from_end = np.unique(flat[::-1], return_index=True)
    keep = np.zeros(flat.size, dtype=bool)
    keep[flat.size - 1 - last_from_end] = True
    return keep.reshape(np.shape(positions))


def stored_grad(v, index, value):
    """The gradient of ``value`` in ``y[index] = value``, from ``v``, the gradient of ``y`` after the write
    (a Python number when ``y`` is a 0-d array)."""
    part = (np.asarray(v) if isinstance(v, (int, float, complex)) else v)[index]
    if not _basic_index(index):
        part = np.where(_written_last(np.shape(v), index), part, 0)
    return unbroadcast(part, value)


def stored_grad_transpose(u, v, index):
    """The transpose of ``stored_grad(v, index, value)`` in ``v``: ``u`` (shaped like ``value``)
    broadcast to ``v[index]`` and placed into zeros shaped like ``v``, at the positions written last."""
    part = np.broadcast_to(u, np.shape(np.asarray(v)[index]))
    if not _basic_index(index):
        part = np.where(_written_last(np.shape(v), index), part, 0)
    return index_grad(part, v, index)


def zero_at(v, index):
    """``v`` with the written positions set to zero: the values a write replaced reach nothing after it."""
    out = np.array(v, copy=True)
    out[index] = 0
    return out


def _take_positions(indices, n, mode):
    indices = np.asarray(indices)
    if mode == "wrap":
        return indices % n
    if mode == "clip":
        return np.clip(indices, 0, n - 1)
    return indices


def untake(v, a, indices, axis=None, mode="raise"):
    """Add each element of ``v`` into the place of ``a`` that ``np.take(a, indices, axis, mode=mode)`` read
    it from: the transpose of ``np.take``. Repeated indices add up."""
    shape = np.shape(a)
    flat = (int(np.prod(shape)),) if axis is None else shape
    ax = 0 if axis is None else axis % len(shape)
    idx = _take_positions(indices, flat[ax], mode)
    out = np.zeros(flat, dtype=np.result_type(v))
    v = np.asarray(v)
    v = np.moveaxis(v, tuple(range(ax, ax + idx.ndim)), tuple(range(idx.ndim)))
    np.add.at(np.moveaxis(out, ax, 0), idx, v)
    return np.reshape(out, shape)


def untake_along_axis(v, arr, indices, axis=-1):
    """Add each element of ``v`` into the place of ``arr`` that ``np.take_along_axis`` read it from: the
    transpose of ``np.take_along_axis``. Repeated indices add up."""
    shape = np.shape(arr)
    flat = (int(np.prod(shape)),) if axis is None else shape
    ax = 0 if axis is None else axis % len(flat)
    v = np.asarray(v)
    out = np.zeros(flat, dtype=np.result_type(v))
    index = []
    for d, n in enumerate(flat):
        if d == ax:
            index.append(np.broadcast_to(indices, v.shape))
        else:
            positions = np.arange(v.shape[d]) if n == v.shape[d] else np.zeros(v.shape[d], dtype=int)
            index.append(np.reshape(positions, [-1 if e == d else 1 for e in range(len(flat))]))
    np.add.at(out, tuple(index), v)
    return np.reshape(out, shape)


def repeat_indices(a, repeats, axis=None):
    """The indices that np.take reads to compute ``np.repeat(a, repeats, axis)``."""
    n = np.size(a) if axis is None else np.shape(a)[axis]
    return np.repeat(np.arange(n), repeats)


def arrangement(a, ans, axis=-1):
    """For a result ``ans`` holding the elements of ``a`` rearranged along ``axis`` (np.partition), the
    index into ``a`` of each element of ``ans``, for np.take_along_axis. Equal elements are matched in
    order."""
    if axis is None:
        a, axis = np.ravel(a), 0
    from_a = np.argsort(a, axis=axis, kind="stable")
    from_ans = np.argsort(ans, axis=axis, kind="stable")
    out = np.empty_like(from_a)
    np.put_along_axis(out, from_ans, from_a, axis=axis)
    return out


def unchoose(v, a, choices, mode="raise"):
    """The cotangent of each of ``choices`` in ``np.choose(a, choices)``: ``v`` where it was chosen."""
    n = len(choices)
    picked = _take_positions(a, n, mode)
    return [unbroadcast(np.where(picked == i, v, 0), c) for i, c in enumerate(choices)]


def unselect(v, condlist, choicelist):
    """The cotangent of each of ``choicelist`` in ``np.select``: ``v`` where its condition is the first
    that holds."""
    taken = np.zeros(np.shape(v), dtype=bool)
    out = []
    for cond, choice in zip(condlist, choicelist):
        here = np.logical_and(cond, np.logical_not(taken))
        out.append(unbroadcast(np.where(here, v, 0), choice))
        taken = np.logical_or(taken, cond)
    return out


def select_default_mask(condlist):
    """Where none of the conditions of ``np.select`` holds, so the default is taken."""
    return np.logical_not(np.any(np.array(np.broadcast_arrays(*condlist)), axis=0))


def diagonal_mask(a, offset=0, axis1=0, axis2=1):
    """Ones on the ``offset`` diagonal of the ``axis1``, ``axis2`` planes of ``a``, zeros elsewhere, in a
    shape that broadcasts against ``a``."""
    shape = np.shape(a)
    nd = len(shape)
    axis1, axis2 = axis1 % nd, axis2 % nd
    mask = np.eye(shape[axis1], shape[axis2], k=offset, dtype=getattr(a, "dtype", float))
    if axis1 > axis2:
        mask = mask.T
    out_shape = [1] * nd
    out_shape[axis1], out_shape[axis2] = shape[axis1], shape[axis2]
    return np.reshape(mask, out_shape)


def undiagonal(v, a, offset=0, axis1=0, axis2=1):
    """Zeros shaped like ``a`` with ``v`` on the diagonal ``np.diagonal(a, offset, axis1, axis2)`` reads:
    the transpose of ``np.diagonal``."""
    shape = np.shape(a)
    out = np.zeros(shape, dtype=np.result_type(v))
    planes = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writing it writes out
    k = np.shape(v)[-1]
    rows = np.arange(k) + max(-offset, 0)
    cols = np.arange(k) + max(offset, 0)
    planes[..., rows, cols] = v
    return out


def diag_grad(v, x, k=0):
    """The transpose of ``np.diag(x, k)``: the diagonal of ``v`` when ``x`` is 1-D, else ``v`` placed on
    the diagonal of zeros shaped like ``x``."""
    if np.ndim(x) == 1:
        return np.diag(v, k)
    return undiagonal(v, x, k, 0, 1)
