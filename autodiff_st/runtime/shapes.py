"""Shapes, axes and broadcasting: what a backward pass needs to give a cotangent its input's shape.

``Shape`` stands in for a value read only for its shape, so the value itself can be freed early;
``unbroadcast`` and ``expand_reduced`` undo numpy's broadcasting and reductions. ``require`` lives here,
at the bottom of the helpers, because helpers of every family use it to refuse a case they do not
differentiate.
"""

import operator

import numpy as np

from ..core.errors import UnsupportedCaseError
from .namespaces import is_foreign, namespace_of

__all__ = [
    "Shape", "shape_of", "unbroadcast", "unbroadcast_to_shape", "operand_shape", "normalize_axis", "expand_reduced",
    "fill_divide", "fill_multiply", "fill_is_exact", "reduced_count", "extent", "transpose_axes_inverse", "pack_axes", "require",
]


class Shape(tuple):
    """What the backward pass keeps of a value it reads only for its shape: ``(shape, dtype, number)``.

    ``unbroadcast(v, x)``, ``expand_reduced(v, x)``, ``reduced_count(x)`` and ``zeros_like(x)`` accept
    it in place of ``x``, so the array itself can be freed as soon as the forward pass is done with it.
    (A tuple subclass: cheap to make, as it is made once per such value.)
    """

    __slots__ = ()
    shape = property(operator.itemgetter(0))
    dtype = property(operator.itemgetter(1))
    number = property(operator.itemgetter(2))

    @property
    def ndim(self):
        return len(self[0])

    @property
    def size(self):
        count = 1
        for n in self[0]:
            count *= n
        return count

    def __repr__(self):
        return f"Shape({self[0]}, {self[1]})"


def shape_of(x):
    """The ``Shape`` of ``x``."""
    if type(x) is np.ndarray:
        return Shape((x.shape, x.dtype, False))
    if isinstance(x, (float, int)):
        return Shape(((), None, True))
    if isinstance(x, (tuple, list, dict)) or not hasattr(x, "shape"):
        return x  # a container (a cotangent of a tuple or a pytree object): the helpers read it as it is
    if is_foreign(x):
        return x  # an array of dask, CuPy, ...: kept, so zeros and expansions are made in its namespace
    return Shape((np.shape(x), getattr(x, "dtype", None), False))


def unbroadcast(v, x):
    """Sum ``v`` down to the shape of ``x``, undoing numpy broadcasting."""
    x_shape = getattr(x, "shape", None)  # an array, or the Shape kept in its place
    if x_shape is None:
        x_shape = operand_shape(x)
    if getattr(v, "shape", ()) == x_shape:
        return v
    return unbroadcast_to_shape(v, x_shape)


def operand_shape(x):
    """The shape numpy gives ``x`` as an operand: a list or tuple of numbers is an array of its length (a
    ``Shape`` stands for the value whose shape it keeps)."""
    if isinstance(x, Shape) or not isinstance(x, (list, tuple)):
        return getattr(x, "shape", ())
    try:
        return np.shape(x)
    except ValueError:  # items of different shapes: not an array operand
        return ()


def unbroadcast_to_shape(v, x_shape):
    v_shape = np.shape(v)
    if v_shape == x_shape:
        return v
    lead = len(v_shape) - len(x_shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(x_shape) if n == 1 and v_shape[lead + i] != 1
    )
    if not isinstance(v, np.ndarray) and is_foreign(v):
        xp = namespace_of(v)
        return xp.reshape(xp.sum(v, axis=axes, keepdims=True), x_shape) if axes else xp.reshape(v, x_shape)
    return np.reshape(np.sum(v, axis=axes, keepdims=True), x_shape) if axes else np.reshape(v, x_shape)


def normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def expand_reduced(v, x, axis=None, keepdims=False):
    """Broadcast the cotangent ``v`` of a reduction ``reduce(x, axis, keepdims)`` back to ``x``'s shape."""
    x_shape = getattr(x, "shape", None)
    if x_shape is None:
        x_shape = np.shape(x)
    if not isinstance(x, Shape) and not isinstance(x, np.ndarray) and (is_foreign(x) or is_foreign(v)):
        return _expand_foreign(v, x, x_shape, axis, keepdims)
    if axis is None:
        # A full reduction: v holds one number. A filled array is faster than a broadcast view here.
        return np.full(x_shape, v, dtype=getattr(v, "dtype", None) or getattr(x, "dtype", None))
    if not keepdims and x_shape:
        reduced = normalize_axis(axis, len(x_shape))
        v = np.reshape(v, tuple(1 if i in reduced else n for i, n in enumerate(x_shape)))
    return np.broadcast_to(v, x_shape)


_FLOAT64 = np.dtype(np.float64)


def fill_is_exact(v, x, d):
    """Whether ``v`` op ``d`` is the very array ``np.full(x.shape, v)`` op ``d`` (``expand_reduced`` of a full
    reduction, then one elementwise operation): ``d`` a float64 ndarray of ``x``'s shape (so numpy
    broadcasts the number to that shape and the result is float64), ``v`` a float (converted to float64
    as ``np.full`` converts it), and the filled array float64. Each element is then the same IEEE
    operation on the same two float64 numbers."""
    return (type(d) is np.ndarray and d.dtype == _FLOAT64 and d.ndim and (type(v) is float or type(v) is np.float64)
            and (type(x) is Shape or type(x) is np.ndarray) and x.dtype == _FLOAT64 and d.shape == x.shape)


def fill_divide(v, x, d):
    """``expand_reduced(v, x) / d``, the cotangent of a full reduction read once, by a division: ``v / d``
    where that is the same array (see ``fill_is_exact``), without filling an array first."""
    if fill_is_exact(v, x, d):
        return v / d
    return expand_reduced(v, x) / d


def fill_multiply(v, x, d, scale=1):
    """``expand_reduced(v, x) * scale * d`` (``scale`` a number written in the code, as in ``a_bar * 2 * a``):
    ``v * scale * d`` where that is the same array (see ``fill_is_exact``)."""
    if fill_is_exact(v, x, d):
        return v * scale * d
    filled = expand_reduced(v, x)
    return (filled if scale == 1 else filled * scale) * d


def _expand_foreign(v, x, x_shape, axis, keepdims):
    """``expand_reduced`` in the namespace of ``x`` (or of ``v``): zeros like ``x`` plus ``v``, so a dask
    result keeps ``x``'s chunks and a CuPy one its device."""
    xp = namespace_of(x, v)
    if axis is not None and not keepdims and x_shape:
        reduced = normalize_axis(axis, len(x_shape))
        v = xp.reshape(v, tuple(1 if i in reduced else n for i, n in enumerate(x_shape)))
    if is_foreign(x):
        return xp.zeros_like(x) + v
    return xp.broadcast_to(v, x_shape)


def reduced_count(x, axis=None):
    """How many elements a reduction over ``axis`` combines into each result."""
    foreign = not isinstance(x, Shape) and not isinstance(x, np.ndarray) and is_foreign(x)
    if axis is None:
        return x.size if isinstance(x, Shape) or foreign else np.size(x)
    x_shape = x.shape if isinstance(x, Shape) or foreign else np.shape(x)
    count = 1
    for i in normalize_axis(axis, len(x_shape)):
        count *= x_shape[i]
    return count


def extent(x, axis=None):
    """How many entries ``x`` has along ``axis``; its size when ``axis`` is None (flattened)."""
    return np.size(x) if axis is None else np.shape(x)[axis]


def transpose_axes_inverse(axes, ndim):
    if axes is None:
        return None
    return tuple(np.argsort([a % ndim for a in axes]))


def pack_axes(first, rest):
    """``x.transpose(1, 0)`` and ``x.transpose((1, 0))`` mean the same; so do the reshape forms."""
    if not rest:
        return first
    return (first,) + tuple(rest)


def require(condition, message):
    """Raise ``UnsupportedCaseError`` with ``message`` unless ``condition``: a rule's refusal of a case it
    does not differentiate (an unsupported mode), rather than a wrong derivative."""
    if not condition:
        raise UnsupportedCaseError(f"autodiff_st: {message}")
