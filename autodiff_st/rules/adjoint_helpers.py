"""Rules for the runtime helpers that generated adjoints call.

With these, a generated adjoint is itself ordinary differentiable code: differentiating it again gives
second derivatives. Each helper is linear in its cotangent argument ``v``, so each rule is the helper's
transpose. The array passed only for its shape (``x`` in ``unbroadcast(v, x)``) is ``nograd``.
"""

import numpy as np

import autodiff_st.runtime as runtime
from ..runtime import (cast_like, dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right,
                       unbroadcast)
from ..core.registry import vjp_rule, nondifferentiable, diagonal, linear, multilinear, jvp_rule


@vjp_rule(runtime.unbroadcast, nograd=("x",), diff=("v",))
def unbroadcast_rule(g, ans, v, x):
    return np.broadcast_to(g, np.shape(v))


@vjp_rule(runtime.unbroadcast_to_shape, diff=("v",))
def unbroadcast_to_shape_rule(g, ans, v, x_shape):
    return np.broadcast_to(g, np.shape(v))


@vjp_rule(runtime.expand_reduced, nograd=("x", "axis", "keepdims"), diff=("v",))
def expand_reduced_rule(g, ans, v, x, axis=None, keepdims=False):
    return np.reshape(np.sum(g, axis=axis, keepdims=keepdims), np.shape(v))


# fill_divide(v, x, d) is expand_reduced(v, x) / d, and fill_multiply(v, x, d) is expand_reduced(v, x) * d
# (compiler/filled_cotangent.py): the rules are those of that composition.

@vjp_rule(runtime.fill_divide, nograd=("x",), diff=("v", "d"))
def fill_divide_rule(g, ans, v, x, d):
    return (np.reshape(np.sum(g / d), np.shape(v)),
            unbroadcast(-g * ans / d, d))


@vjp_rule(runtime.fill_multiply, nograd=("x", "scale"), diff=("v", "d"))
def fill_multiply_rule(g, ans, v, x, d, scale=1):
    return (np.reshape(np.sum(g * scale * d), np.shape(v)),
            unbroadcast(g * (runtime.expand_reduced(v, x) * scale), d))


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


@vjp_rule(runtime.restored_copy)
def restored_copy_rule(g, ans, x):
    return g


@vjp_rule(runtime.copy_of)
def copy_of_rule(g, ans, t):
    return g


linear(runtime.restored_copy, runtime.copy_of)


nondifferentiable(
    runtime.ones_like, runtime.zeros_like, runtime.reduced_count, runtime.extremum_mask,
    runtime.normalize_axis, runtime.shape_of, runtime.transpose_axes_inverse, runtime.pack_axes,
    runtime.check_dot_operands, runtime.inside_bounds, runtime.reversed_range, runtime.check_unshared,
    runtime.checkpoint_every, runtime.checkpoint_due, runtime.checkpoint_segments, runtime.check_bound,
)


@vjp_rule(runtime.real_like, nograd=("x",), diff=("v",))
def real_like_rule(g, ans, v, x):
    # Taking the real part transposes to embedding g as a complex number with imaginary part 0: g itself.
    return g


@vjp_rule(runtime.one_if_none)
def one_if_none_rule(g, ans, b):
    return g


@vjp_rule(runtime.polygamma, diff=("x",))
def polygamma_rule(g, ans, n, x):
    return g * runtime.polygamma(n + 1, x)


# The helpers of the array rules (reductions, linear algebra, shape, selection). Each linear helper's
# rule is its transpose, so pairs of helpers are each other's rules.

from ..runtime import (diagonal_blocks_sum, from_triangle, join_like, lstsq_residual_weights,  # noqa: E402
                       lstsq_residual_weights_transpose, norm_direction_vjp_norm, norm_direction_vjp_x, pad_like,
                       sum_to_weights, swap_if, unjoin, unpad, upper_block, upper_right, weights_like, zeros_like)

@vjp_rule(runtime.weights_like, nograd=("a",), diff=("w",))
def weights_like_rule(g, ans, w, a, axis=None):
    return sum_to_weights(g, w, axis)


@vjp_rule(runtime.sum_to_weights, nograd=("w",), diff=("v",))
def sum_to_weights_rule(g, ans, v, w, axis=None):
    return weights_like(g, v, axis)


@vjp_rule(runtime.reverse_cumsum, diff=("v",))
def reverse_cumsum_rule(g, ans, v, axis=None):
    return np.cumsum(g, axis=axis)


@vjp_rule(runtime.undiagonal, nograd=("a",), diff=("v",))
def undiagonal_rule(g, ans, v, a, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2)


@vjp_rule(runtime.diag_grad, nograd=("x",), diff=("v",))
def diag_grad_rule(g, ans, v, x, k=0):
    return np.diag(g, k)


@vjp_rule(runtime.unjoin, nograd=("arrays",), diff=("v",), returns_tuple=True)
def unjoin_rule(g, ans, v, arrays, axis=0, promote="none"):
    return join_like(g, arrays, axis, promote)


@vjp_rule(runtime.join_like, nograd=("arrays",), diff=("parts",), sequences=("parts",))
def join_like_rule(g, ans, parts, arrays, axis=0, promote="none"):
    return unjoin(g, arrays, axis, promote)


@vjp_rule(runtime.untile, nograd=("A",), diff=("v",))
def untile_rule(g, ans, v, A, reps):
    return np.tile(g, reps)


@vjp_rule(runtime.untake, nograd=("a",), diff=("v",))
def untake_rule(g, ans, v, a, indices, axis=None, mode="raise"):
    return np.take(g, indices, axis=axis, mode=mode)


@vjp_rule(runtime.untake_along_axis, nograd=("arr",), diff=("v",))
def untake_along_axis_rule(g, ans, v, arr, indices, axis=-1):
    return np.take_along_axis(g, indices, axis=axis)


@vjp_rule(runtime.unpad, nograd=("array",), diff=("v",))
def unpad_rule(g, ans, v, array, pad_width, mode="constant", reflect_type="even"):
    return pad_like(g, pad_width, mode, reflect_type)


@vjp_rule(runtime.pad_like, diff=("v",))
def pad_like_rule(g, ans, v, pad_width, mode="constant", reflect_type="even"):
    return unpad(g, v, pad_width, mode, reflect_type)


@vjp_rule(runtime.unchoose, nograd=("choices",), diff=("v",), returns_tuple=True)
def unchoose_rule(g, ans, v, a, choices, mode="raise"):
    return np.choose(a, g, mode=mode)


@vjp_rule(runtime.unselect, nograd=("choicelist",), diff=("v",), returns_tuple=True)
def unselect_rule(g, ans, v, condlist, choicelist):
    return np.select(condlist, g, 0)


@vjp_rule(runtime.swap_if, diff=("x",))
def swap_if_rule(g, ans, x, flag):
    return swap_if(g, flag)


@vjp_rule(runtime.from_triangle, diff=("s",))
def from_triangle_rule(g, ans, s, triangle="L"):
    return from_triangle(g, triangle)


@vjp_rule(runtime.upper_block)
def upper_block_rule(g, ans, a, e):
    return unbroadcast(diagonal_blocks_sum(g), a), unbroadcast(upper_right(g), e)


@vjp_rule(runtime.upper_right)
def upper_right_rule(g, ans, m):
    return upper_block(zeros_like(g), g)


@vjp_rule(runtime.diagonal_blocks_sum)
def diagonal_blocks_sum_rule(g, ans, m):
    return upper_block(g, zeros_like(g))


@vjp_rule(runtime.lstsq_residual_weights, nograd=("b",), diff=("v",))
def lstsq_residual_weights_rule(g, ans, v, b):
    return lstsq_residual_weights_transpose(g, v, b)


@vjp_rule(runtime.lstsq_residual_weights_transpose, nograd=("w", "b"), diff=("v",))
def lstsq_residual_weights_transpose_rule(g, ans, v, w, b):
    return lstsq_residual_weights(g, b)


@vjp_rule(runtime.norm_direction, diff=("x", "norm"))
def norm_direction_rule(g, ans, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    # Second derivatives of the p-norms (Frobenius and 2 included); zero for the piecewise linear norms;
    # refused for the nuclear and spectral norms.
    return (norm_direction_vjp_x(g, x, norm, ord, axis, keepdims, kind),
            norm_direction_vjp_norm(g, x, norm, ord, axis, keepdims, kind))


nondifferentiable(
    runtime.require, runtime.identity_like, runtime.nan_count, runtime.cumulative_axis,
    runtime.before_first_zero, runtime.at_first_zero, runtime.quantile_weights, runtime.diagonal_mask,
    runtime.hstack_axis, runtime.hsplit_axis, runtime.repeat_indices, runtime.arrangement, runtime.extent,
    runtime.select_default_mask, runtime.tensordot_left_axes, runtime.tensordot_left_order,
    runtime.tensordot_right_axes, runtime.tensordot_right_order, runtime.kron_shape, runtime.kron_slot_shape,
    runtime.kron_slot_axes,
)


@vjp_rule(runtime.index_grad, nograd=("x", "index"), diff=("v",))
def index_grad_rule(g, ans, v, x, index):
    return runtime.at_index(g, index)


@vjp_rule(runtime.accumulate_index, nograd=("x", "index"), diff=("acc", "v"))
def accumulate_index_rule(g, ans, acc, v, x, index):
    return g, runtime.at_index(g, index)


@vjp_rule(runtime.at_index, diff=("v",), nograd=("index",))
def at_index_rule(g, ans, v, index):
    return runtime.index_grad(g, v, index)


@vjp_rule(runtime.parts)
def parts_rule(g, ans, *cotangents):
    return list(g)


@vjp_rule(runtime.unpacked_cotangent, nograd=("value",), diff=("cotangents",))
def unpacked_cotangent_rule(g, ans, value, *cotangents):
    # The rows of g (an array), or its parts: each cotangent has the shape of its row.
    return list(g)


@vjp_rule(runtime.as_parts, sequences=("cotangents",))
def as_parts_rule(g, ans, cotangents):
    # as_parts is the identity on the cotangents it is given (a list as Parts, a dict's as they are).
    return runtime.as_parts(g)


@vjp_rule(runtime.as_columns, nograd=("b",), diff=("v",))
def as_columns_rule(g, ans, v, b):
    return runtime.from_columns(g, b)


@vjp_rule(runtime.from_columns, nograd=("b",), diff=("v",))
def from_columns_rule(g, ans, v, b):
    return runtime.as_columns(g, b)


@vjp_rule(runtime.prod_others)
def prod_others_rule(g, ans, a, axis=None):
    # prod_others is a polynomial in a: its transpose derivative is again a sum of products of the others.
    return runtime.prod_others_vjp(g, a, axis)


@vjp_rule(runtime.undiff, nograd=("a",), diff=("v",))
def undiff_rule(g, ans, v, a, n=1, axis=-1):
    return np.diff(g, n, axis)


@vjp_rule(runtime.push_part, sequences=("v",), returns_tuple=True)
def push_part_rule(g, ans, v, x_bar):
    return g[:-1], g[-1]


# -- writes into arrays (y[i] = v): differentiated again --------------------------------------------------

@vjp_rule(runtime.stored_grad, nograd=("index", "value"), diff=("v",))
def stored_grad_rule(g, ans, v, index, value):
    return runtime.stored_grad_transpose(g, v, index)


@vjp_rule(runtime.stored_grad_transpose, nograd=("v", "index"), diff=("u",))
def stored_grad_transpose_rule(g, ans, u, v, index):
    return runtime.stored_grad(g, index, u)


@vjp_rule(runtime.zero_at, nograd=("index",), diff=("v",))
def zero_at_rule(g, ans, v, index):
    # Zeroing the written positions is a mask: its own transpose.
    return runtime.zero_at(g, index)


# -- the helpers of generated tangent code: forward mode differentiated again (jacrev(jacfwd(f))) -------------

@vjp_rule(runtime.broadcast_like, nograd=("result",), diff=("t",))
def broadcast_like_rule(g, ans, t, result):
    return unbroadcast(g, t)


@vjp_rule(runtime.owned)
def owned_rule(g, ans, t):
    return g


nondifferentiable(runtime.tangent_zeros, runtime.guarded_context, runtime.caught_in_try)
nondifferentiable(runtime.check_rule_cotangent, runtime.check_custom_cotangents)


# -- forward rules ---------------------------------------------------------------------------------------
# Forward mode over generated backward code goes through these helpers. Nearly all are linear in their
# cotangent argument (``linear``); the gradients of products are linear in the cotangent and in the other
# operand separately (``multilinear``).

linear(runtime.unbroadcast, runtime.unbroadcast_to_shape, runtime.expand_reduced, runtime.cast_like,
       runtime.split_like, runtime.unstack, runtime.real_like, runtime.one_if_none, runtime.weights_like,
       runtime.sum_to_weights, runtime.reverse_cumsum, runtime.undiagonal, runtime.diag_grad, runtime.unjoin,
       runtime.join_like, runtime.untile, runtime.untake, runtime.untake_along_axis, runtime.unpad, runtime.pad_like,
       runtime.unchoose, runtime.unselect, runtime.swap_if, runtime.from_triangle, runtime.upper_block,
       runtime.upper_right, runtime.diagonal_blocks_sum, runtime.lstsq_residual_weights,
       runtime.lstsq_residual_weights_transpose, runtime.index_grad, runtime.accumulate_index, runtime.at_index, runtime.parts,
       runtime.unpacked_cotangent, runtime.as_parts, runtime.as_columns, runtime.from_columns, runtime.undiff, runtime.push_part,
       runtime.broadcast_like, runtime.owned, runtime.stored_grad, runtime.zero_at,
       runtime.stored_grad_transpose)
multilinear(runtime.matmul_grad_left, runtime.matmul_grad_right, runtime.dot_grad_left, runtime.dot_grad_right)
diagonal(runtime.polygamma)


@jvp_rule(runtime.fill_divide, wrt="v")
def fill_divide_jvp_v(t, ans, v, x, d):
    return runtime.fill_divide(t, x, d)


@jvp_rule(runtime.fill_divide, wrt="d")
def fill_divide_jvp_d(t, ans, v, x, d):
    return -ans * t / d


@jvp_rule(runtime.fill_multiply, wrt="v")
def fill_multiply_jvp_v(t, ans, v, x, d, scale=1):
    return runtime.fill_multiply(t, x, d, scale)


@jvp_rule(runtime.fill_multiply, wrt="d")
def fill_multiply_jvp_d(t, ans, v, x, d, scale=1):
    return runtime.expand_reduced(v, x) * scale * t


@jvp_rule(runtime.prod_others)
def prod_others_jvp(t, ans, a, axis=None):
    # The second derivatives of a product form a symmetric matrix: its transpose is itself.
    return runtime.prod_others_vjp(t, a, axis)


@jvp_rule(runtime.norm_direction, wrt="x")
def norm_direction_jvp_x(t, ans, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    # Elementwise in x for a p-norm: its own transpose.
    return norm_direction_vjp_x(t, x, norm, ord, axis, keepdims, kind)


@jvp_rule(runtime.norm_direction, wrt="norm")
def norm_direction_jvp_norm(t, ans, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    return runtime.norm_direction_jvp_norm(t, x, norm, ord, axis, keepdims, kind)


# The helpers of forward rules, so that forward code can be differentiated in reverse mode.

@vjp_rule(runtime.symmetric_from_triangle, diff=("t",))
def symmetric_from_triangle_rule(g, ans, t, triangle="L"):
    return runtime.symmetric_from_triangle_transpose(g, triangle)


@vjp_rule(runtime.symmetric_from_triangle_transpose, diff=("s",))
def symmetric_from_triangle_transpose_rule(g, ans, s, triangle="L"):
    return runtime.symmetric_from_triangle(g, triangle)


linear(runtime.symmetric_from_triangle, runtime.symmetric_from_triangle_transpose)
nondifferentiable(runtime.norm_axes)
