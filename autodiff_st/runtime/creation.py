"""Helpers of the derivatives of functions that make arrays from numbers: np.linspace, geomspace,
logspace, np.full, full_like, np.arange and tolist. Their results depend smoothly on the float
arguments (the endpoints, the fill value, the start and step) and piecewise constantly on the rest (the
count, the shape, arange's stop); a result of integer dtype carries no gradient at all.
"""

import numpy as np

from .shapes import require, unbroadcast, unbroadcast_to_shape

__all__ = [
    "inexact", "spread_fraction", "fill_grad", "fill_tangent", "arange_start_grad", "arange_start_tangent",
    "arange_positions", "logspace_base_grad", "as_list", "unlist",
]


def inexact(ans):
    """1.0 where ``ans`` has a float or complex dtype, else 0.0: an integer result is piecewise constant."""
    return 1.0 if np.issubdtype(np.asarray(ans).dtype, np.inexact) else 0.0


def spread_fraction(ans, num, endpoint=True, axis=0, retstep=False):
    """The fraction ``t`` of the way from start to stop of each value of ``np.linspace(start, stop,
    num, endpoint, axis=axis)`` (so the values are ``start * (1 - t) + stop * t``), shaped to broadcast
    against the result; zeros for an integer result."""
    require(not retstep, "the derivative of np.linspace with retstep=True is not supported; "
                         "compute the step as (stop - start) / (num - 1)")
    num = int(num)
    divisions = num - 1 if endpoint else num
    steps = np.arange(num, dtype=float) / divisions if divisions > 0 else np.zeros(num)
    ndim = np.ndim(ans)
    axis = axis % ndim if ndim else 0
    return np.reshape(steps, (num,) + (1,) * (ndim - axis - 1)) * inexact(ans)


def fill_grad(v, result, fill_value):
    """The gradient of the fill value of ``np.full`` or ``np.full_like``, from the result's ``v``."""
    return unbroadcast(v * inexact(result), fill_value)


def fill_tangent(v, result):
    """The tangent of ``np.full(shape, fill_value)`` from the fill value's tangent ``v``."""
    return np.zeros(np.shape(result), dtype=np.result_type(v, float)) + v * inexact(result)


def arange_start_grad(v, result, stop):
    """The gradient of ``start`` in ``np.arange(start, stop, step)``: every value moves with it. With one
    argument, ``np.arange(n)``, that argument is the stop, which only sets the length."""
    return 0.0 if stop is None else np.sum(v) * inexact(result)


def arange_start_tangent(v, result, stop):
    """The tangent of ``np.arange(start, stop, step)`` from the start's tangent ``v``."""
    return np.zeros(np.shape(result)) + (0.0 if stop is None else v * inexact(result))


def arange_positions(ans):
    """``i`` for each value ``start + i * step`` of ``np.arange``: the derivative by the step."""
    return np.arange(np.size(ans), dtype=float) * inexact(ans)


def logspace_base_grad(g, ans, start, stop, num, endpoint, base, axis):
    """The gradient of ``base`` in ``np.logspace``: the values are ``base ** y`` with ``y`` on a
    linspace, so each moves by ``y * ans / base``."""
    exponents = np.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    base_shape = np.shape(base)
    if base_shape:
        base = np.expand_dims(base, axis)
    part = unbroadcast_to_shape(g * exponents * ans / base, np.shape(base))
    return np.reshape(part, base_shape) * inexact(ans)


def as_list(x):
    """``x.tolist()``: the elements of ``x`` as Python numbers in nested lists."""
    return np.asarray(x).tolist()


def unlist(g, x):
    """The gradient of ``x.tolist()``: the nested list of the elements' cotangents, as an array shaped
    like ``x``."""
    if isinstance(g, (int, float)) and g == 0:
        return np.zeros(np.shape(x), dtype=np.result_type(x, float))
    return np.reshape(np.asarray(g, dtype=np.result_type(x, float)), np.shape(x))
