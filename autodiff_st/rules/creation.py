"""Rules for functions that make arrays from numbers: np.linspace, geomspace and logspace in their
endpoints (and logspace's base), np.full and full_like in the fill value, np.arange in its start and
step, and ``x.tolist()``. The count, the shape and arange's stop set only the result's length: no
gradient flows through them.
"""

import numpy as np

from ..runtime import (arange_positions, arange_start_grad, arange_start_tangent, as_list, c_join, fill_grad,
                       fill_tangent, index_join_grad, index_join_tangent, inexact, logspace_base_grad, r_join,
                       spread_fraction, unbroadcast, unlist)
from ..core.registry import NONDIFF_METHODS, jvp_rule, linear, method, nondifferentiable, vjp_rule


@vjp_rule(np.linspace, diff=("start", "stop"))
def linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    # The values are start * (1 - t) + stop * t for fixed fractions t.
    t = spread_fraction(ans, num, endpoint, axis, retstep)
    return unbroadcast(np.sum(g * (1 - t), axis=axis), start), unbroadcast(np.sum(g * t, axis=axis), stop)


# The tangents are linspaces themselves: from the start's tangent to zero, and from zero to the stop's.

@jvp_rule(np.linspace, wrt="start")
def linspace_jvp_start(t, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return np.linspace(t, np.zeros(np.shape(stop)), num, endpoint, axis=axis) * inexact(ans)


@jvp_rule(np.linspace, wrt="stop")
def linspace_jvp_stop(t, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return np.linspace(np.zeros(np.shape(start)), t, num, endpoint, axis=axis) * inexact(ans)


@vjp_rule(np.geomspace, diff=("start", "stop"))
def geomspace(g, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    # The values are start ** (1 - t) * stop ** t: each moves by (1 - t) * ans / start and t * ans / stop.
    t = spread_fraction(ans, num, endpoint, axis)
    return (unbroadcast(np.sum(g * (1 - t) * ans, axis=axis) / start, start),
            unbroadcast(np.sum(g * t * ans, axis=axis) / stop, stop))


@jvp_rule(np.geomspace, wrt="start")
def geomspace_jvp_start(t, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return ans * np.linspace(t / start, np.zeros(np.shape(stop)), num, endpoint, axis=axis) * inexact(ans)


@jvp_rule(np.geomspace, wrt="stop")
def geomspace_jvp_stop(t, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return ans * np.linspace(np.zeros(np.shape(start)), t / stop, num, endpoint, axis=axis) * inexact(ans)


@vjp_rule(np.logspace, diff=("start", "stop", "base"))
def logspace(g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    # The values are base ** y, y on a linspace from start to stop: d ans = ans * log(base) * dy.
    t = spread_fraction(ans, num, endpoint, axis)
    scaled = g * ans * np.log(np.expand_dims(base, axis) if np.ndim(base) else base)
    return (unbroadcast(np.sum(scaled * (1 - t), axis=axis), start),
            unbroadcast(np.sum(scaled * t, axis=axis), stop),
            logspace_base_grad(g, ans, start, stop, num, endpoint, base, axis))


@jvp_rule(np.logspace, wrt="start")
def logspace_jvp_start(t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    log_base = np.log(np.expand_dims(base, axis) if np.ndim(base) else base)
    return ans * log_base * np.linspace(t, np.zeros(np.shape(stop)), num, endpoint, axis=axis) * inexact(ans)


@jvp_rule(np.logspace, wrt="stop")
def logspace_jvp_stop(t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    log_base = np.log(np.expand_dims(base, axis) if np.ndim(base) else base)
    return ans * log_base * np.linspace(np.zeros(np.shape(start)), t, num, endpoint, axis=axis) * inexact(ans)


@jvp_rule(np.logspace, wrt="base")
def logspace_jvp_base(t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    exponents = np.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    return exponents * ans * (np.expand_dims(t / base, axis) if np.ndim(base) else t / base) * inexact(ans)


@vjp_rule(np.full, diff=("fill_value",))
def full(g, ans, shape, fill_value, dtype=None, order="C", **kwargs):
    return fill_grad(g, ans, fill_value)


@vjp_rule(np.full_like, diff=("fill_value",))
def full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    # a gives only the shape and dtype.
    return fill_grad(g, ans, fill_value)


@jvp_rule(np.full, wrt="fill_value")
def full_jvp(t, ans, shape, fill_value, dtype=None, order="C", **kwargs):
    return fill_tangent(t, ans)


@jvp_rule(np.full_like, wrt="fill_value")
def full_like_jvp(t, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    return fill_tangent(t, ans)


@vjp_rule(np.arange, diff=("start", "step"))
def arange(g, ans, start, stop=None, step=None, dtype=None, **kwargs):
    # The values are start + i * step; the stop only sets how many there are.
    return arange_start_grad(g, ans, stop), np.sum(g * arange_positions(ans))


@jvp_rule(np.arange, wrt="start")
def arange_jvp_start(t, ans, start, stop=None, step=None, dtype=None, **kwargs):
    return arange_start_tangent(t, ans, stop)


@jvp_rule(np.arange, wrt="step")
def arange_jvp_step(t, ans, start, stop=None, step=None, dtype=None, **kwargs):
    return t * arange_positions(ans)


@vjp_rule(as_list)
def tolist(g, ans, x):
    return unlist(g, x)


linear(as_list)
method("tolist", as_list)
NONDIFF_METHODS.discard("tolist")



# np.r_[x, y] and np.c_[x, y]: normalize writes them as np.r_.__getitem__((x, y)), a join of the values.

@vjp_rule(r_join, sequences=("key",))
def r_join_vjp(g, ans, key):
    return index_join_grad(g, np.r_, key)


@jvp_rule(r_join, wrt="key")
def r_join_jvp(t, ans, key):
    return index_join_tangent(t, np.r_, key)


@vjp_rule(c_join, sequences=("key",))
def c_join_vjp(g, ans, key):
    return index_join_grad(g, np.c_, key)


@jvp_rule(c_join, wrt="key")
def c_join_jvp(t, ans, key):
    return index_join_tangent(t, np.c_, key)


# The helpers above, so that the rules can be differentiated again. The fractions and positions depend
# on the result only through its shape and dtype.
nondifferentiable(spread_fraction, inexact, arange_positions)


@vjp_rule(fill_grad, diff=("v",), nograd=("result", "fill_value"))
def fill_grad_rule(g, ans, v, result, fill_value):
    return fill_tangent(g, result)


@vjp_rule(fill_tangent, diff=("v",), nograd=("result",))
def fill_tangent_rule(g, ans, v, result):
    return fill_grad(g, result, v)


@vjp_rule(arange_start_grad, diff=("v",), nograd=("result",))
def arange_start_grad_rule(g, ans, v, result, stop):
    return arange_start_tangent(g, result, stop)


@vjp_rule(arange_start_tangent, diff=("v",), nograd=("result",))
def arange_start_tangent_rule(g, ans, v, result, stop):
    return arange_start_grad(g, result, stop)


linear(fill_grad, fill_tangent, arange_start_grad, arange_start_tangent)
