"""``np.vectorize`` and ``np.apply_along_axis`` of the user's own functions, written as Python loops.

The compiler rewrites ``np.vectorize(f)(a, b)`` as ``vectorized_call_2(f, a, b)`` and
``np.apply_along_axis(f, axis, arr)`` as ``apply_along_axis_call(f, axis, arr)`` (compiler/
normalize_functions.py). These functions are differentiated through their source like the user's own:
each element's (or lane's) derivative goes through ``f``'s generated adjoint, at every order. The
results are numpy's: vectorize broadcasts its arguments and calls ``f`` on each element; apply_along_axis
calls ``f`` on each 1-D lane along ``axis`` and puts the result's axes where ``axis`` was. As in numpy,
the result has the type of ``f``'s first result (an int first result makes an int array), and an
empty input raises.
"""

import numpy as np

from .shapes import require

__all__ = ["vectorized_call_1", "vectorized_call_2", "vectorized_call_3", "apply_along_axis_call", "lane_last_order",
           "lane_result_order", "is_inexact"]


_NOT_FLOAT = ("the function given to np.vectorize or np.apply_along_axis returned something other than a float "
              "(or float array) for the first element: numpy then makes an array of that type, which carries no "
              "derivative. Return floats, or apply the function in a loop.")


def is_inexact(value):
    """Whether ``value`` is a float or complex number or array (what a differentiated result can be)."""
    return np.issubdtype(np.asarray(value).dtype, np.inexact)


def vectorized_call_1(f, a):
    """``np.vectorize(f)(a)`` for a function of one float returning one float."""
    flat_a = np.ravel(a)
    first = f(flat_a[0])
    require(is_inexact(first), _NOT_FLOAT)
    out = np.zeros(flat_a.shape, np.asarray(first).dtype)  # numpy's type: its first result's
    out[0] = first
    for i in range(1, flat_a.shape[0]):
        out[i] = f(flat_a[i])
    return np.reshape(out, np.shape(a))


def vectorized_call_2(f, a, b):
    """``np.vectorize(f)(a, b)``: the arguments broadcast, then ``f`` on each pair of elements."""
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    flat_a = np.ravel(np.broadcast_to(a, shape))
    flat_b = np.ravel(np.broadcast_to(b, shape))
    first = f(flat_a[0], flat_b[0])
    require(is_inexact(first), _NOT_FLOAT)
    out = np.zeros(flat_a.shape, np.asarray(first).dtype)
    out[0] = first
    for i in range(1, flat_a.shape[0]):
        out[i] = f(flat_a[i], flat_b[i])
    return np.reshape(out, shape)


def vectorized_call_3(f, a, b, c):
    """``np.vectorize(f)(a, b, c)``."""
    shape = np.broadcast_shapes(np.shape(a), np.shape(b), np.shape(c))
    flat_a = np.ravel(np.broadcast_to(a, shape))
    flat_b = np.ravel(np.broadcast_to(b, shape))
    flat_c = np.ravel(np.broadcast_to(c, shape))
    first = f(flat_a[0], flat_b[0], flat_c[0])
    require(is_inexact(first), _NOT_FLOAT)
    out = np.zeros(flat_a.shape, np.asarray(first).dtype)
    out[0] = first
    for i in range(1, flat_a.shape[0]):
        out[i] = f(flat_a[i], flat_b[i], flat_c[i])
    return np.reshape(out, shape)


def apply_along_axis_call(f, axis, arr):
    """``np.apply_along_axis(f, axis, arr)``: ``f`` on each lane of ``arr`` along ``axis``; the axes of its
    result take the place of ``axis``."""
    moved = np.transpose(arr, lane_last_order(np.ndim(arr), axis))
    outer = np.shape(moved)[:-1]
    lanes = np.reshape(moved, (-1, np.shape(moved)[-1]))
    first = f(lanes[0])
    require(is_inexact(first), _NOT_FLOAT)
    out = np.zeros((lanes.shape[0],) + np.shape(first), np.asarray(first).dtype)  # as numpy: first result's type
    out[0] = first
    for i in range(1, lanes.shape[0]):
        out[i] = f(lanes[i])
    result = np.reshape(out, outer + np.shape(first))
    return np.transpose(result, lane_result_order(np.ndim(arr), axis, np.ndim(first)))


def lane_last_order(ndim, axis):
    """The transpose that moves ``axis`` last."""
    where = axis % ndim
    return tuple([i for i in range(ndim) if i != where] + [where])


def lane_result_order(ndim, axis, result_ndim):
    """The transpose that moves a lane result's axes (last, after the ``ndim - 1`` outer axes) to where
    ``axis`` was, as np.apply_along_axis puts them."""
    where = axis % ndim
    outer = list(range(ndim - 1))
    inner = list(range(ndim - 1, ndim - 1 + result_ndim))
    return tuple(outer[:where] + inner + outer[where:])

THROUGH_SOURCE = frozenset({vectorized_call_1, vectorized_call_2, vectorized_call_3, apply_along_axis_call})
