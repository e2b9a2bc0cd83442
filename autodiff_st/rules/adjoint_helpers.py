"""Rules for the runtime helpers that generated adjoints call.

With these, a generated adjoint is itself ordinary differentiable code: differentiating it again gives
second derivatives. Each helper is linear in its cotangent argument ``v``, so each rule is the helper's
transpose. The array passed only for its shape (``x`` in ``unbroadcast(v, x)``) is ``nograd``.
"""

import numpy as np

from .. import runtime
from ..runtime import (cast_like, dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right,
                       unbroadcast)
from . import vjp_rule, nondifferentiable


@vjp_rule(runtime.unbroadcast, nograd=("x",), diff=("v",))
def unbroadcast_rule(g, ans, v, x):
    return np.broadcast_to(g, np.shape(v))


@vjp_rule(runtime.unbroadcast_to_shape, diff=("v",))
def unbroadcast_to_shape_rule(g, ans, v, x_shape):
    return np.broadcast_to(g, np.shape(v))


@vjp_rule(runtime.expand_reduced, nograd=("x",), diff=("v",))
def expand_reduced_rule(g, ans, v, x, axis=None, keepdims=False):
    return np.reshape(np.sum(g, axis=axis, keepdims=keepdims), np.shape(v))


@vjp_rule(runtime.matmul_grad_left, nograd=("a",), diff=("v", "b"))
def matmul_grad_left_rule(g, ans, v, a, b):
    return unbroadcast(np.matmul(g, b), v), matmul_grad_right(v, g, b)


@vjp_rule(runtime.matmul_grad_right, nograd=("b",), diff=("v", "a"))
def matmul_grad_right_rule(g, ans, v, a, b):
    return unbroadcast(np.matmul(a, g), v), matmul_grad_left(v, a, g)


@vjp_rule(runtime.dot_grad_left, nograd=("a",), diff=("v", "b"))
def dot_grad_left_rule(g, ans, v, a, b):
    return unbroadcast(np.dot(g, b), v), dot_grad_right(v, g, b)


@vjp_rule(runtime.dot_grad_right, nograd=("b",), diff=("v", "a"))
def dot_grad_right_rule(g, ans, v, a, b):
    return unbroadcast(np.dot(a, g), v), dot_grad_left(v, a, g)


@vjp_rule(runtime.cast_like, nograd=("x",), diff=("v",))
def cast_like_rule(g, ans, v, x):
    return cast_like(g, v)


@vjp_rule(runtime.split_like, nograd=("arrays",), diff=("v",), returns_tuple=True)
def split_like_rule(g, ans, v, arrays, axis=0):
    return np.concatenate(g, axis=axis)


@vjp_rule(runtime.unstack, diff=("v",), returns_tuple=True)
def unstack_rule(g, ans, v, count, axis=0):
    return np.stack(g, axis=axis)


nondifferentiable(
    runtime.ones_like, runtime.zeros_like, runtime.reduced_count, runtime.extremum_mask,
    runtime.normalize_axis, runtime.shape_of, runtime.transpose_axes_inverse, runtime.pack_axes,
    runtime.check_dot_operands, runtime.inside_bounds,
)
