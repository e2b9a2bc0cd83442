"""Rules for products (dot, outer, inner, vdot, tensordot, einsum, kron, cross, multi_dot) and for
np.linalg."""

import numpy as np

from ..runtime import (dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right, unbroadcast, expand_reduced, require,
                       identity_like, tensordot_left_axes, tensordot_left_order, tensordot_right_axes,
                       tensordot_right_order, kron_shape, kron_slot_shape, kron_slot_axes, swap_if,
                       from_triangle, upper_block, upper_right, multi_dot_grads, lstsq_residual_weights,
                       norm_direction, as_columns, from_columns, symmetric_from_triangle, tangent_zeros,
                       norm_axes, last_axes_swapped, inner_order, einsum_operand_grads)
from ..core.registry import vjp_rule, method, nondifferentiable, multilinear, jvp_rule


@vjp_rule(np.dot)
def dot(g, ans, a, b):
    return dot_grad_left(g, a, b), dot_grad_right(g, a, b)


@vjp_rule(np.outer)
def outer(g, ans, a, b):
    return (np.reshape(np.dot(g, np.ravel(b)), np.shape(a)),
            np.reshape(np.dot(np.ravel(a), g), np.shape(b)))


@vjp_rule(np.inner)
def inner(g, ans, a, b):
    # np.inner contracts the last axes: it is np.dot(a, b') with b' b with its last two axes swapped
    # (b itself for a scalar a, where np.inner is a * b).
    swapped = inner_order(a, b)
    return dot_grad_left(g, a, np.transpose(b, swapped)), np.transpose(dot_grad_right(g, a, np.transpose(b, swapped)),
                                                                       swapped)


method("dot", np.dot)


@vjp_rule(np.linalg.slogdet, returns_tuple=True)
def slogdet(g, ans, a):
    # d log|det a| = tr(a^-1 da); the sign is piecewise constant.
    g_sign, g_logabsdet = g
    return np.swapaxes(np.linalg.inv(a), -1, -2) * np.expand_dims(np.expand_dims(g_logabsdet, -1), -1)


# -- more products -----------------------------------------------------------------------------------

@vjp_rule(np.vdot)
def vdot(g, ans, a, b):
    # Both operands are flattened; real operands only.
    return np.reshape(g * np.ravel(b), np.shape(a)), np.reshape(g * np.ravel(a), np.shape(b))


@vjp_rule(np.tensordot)
def tensordot(g, ans, a, b, axes=2):
    # Contract the cotangent with the other operand over its free axes, then restore the axis order.
    return (np.transpose(np.tensordot(g, b, axes=tensordot_left_axes(a, b, axes)),
                         tensordot_left_order(a, b, axes)),
            np.transpose(np.tensordot(a, g, axes=tensordot_right_axes(a, b, axes)),
                         tensordot_right_order(a, b, axes)))


@vjp_rule(np.einsum)
def einsum(g, ans, *operands, out=None, optimize=False, **kwargs):
    # operands holds the subscripts string and the arrays, or (sublist form) each array followed by its
    # list of axis numbers, and the output's list last; the subscripts' cotangents are None.
    return einsum_operand_grads(g, operands)


@vjp_rule(np.kron)
def kron(g, ans, a, b):
    # kron(a, b) reshaped to (a0, b0, a1, b1, ...) is the outer product of a and b, axes interleaved.
    blocks = np.reshape(g, kron_shape(a, b))
    a_spread = np.reshape(a, kron_slot_shape(a, b, 0))
    b_spread = np.reshape(b, kron_slot_shape(a, b, 1))
    return (np.reshape(np.sum(blocks * b_spread, axis=kron_slot_axes(a, b, 1)), np.shape(a)),
            np.reshape(np.sum(blocks * a_spread, axis=kron_slot_axes(a, b, 0)), np.shape(b)))


@vjp_rule(np.cross)
def cross(g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    # <g, a x b> = <a, b x g> = <b, g x a>; each result lands where its operand keeps its vectors.
    return (unbroadcast(np.cross(b, g, axisa=axisb, axisb=axisc, axisc=axisa, axis=axis), a),
            unbroadcast(np.cross(g, a, axisa=axisc, axisb=axisa, axisc=axisb, axis=axis), b))


@vjp_rule(np.vecdot, np.linalg.vecdot)
def vecdot(g, ans, x1, x2, out=None, axis=-1):
    # The dot products of the vectors along axis, broadcast over the other axes; real operands only.
    return (unbroadcast(np.expand_dims(g, axis) * x2, x1),
            unbroadcast(np.expand_dims(g, axis) * x1, x2))


@vjp_rule(np.linalg.matmul)
def linalg_matmul(g, ans, x1, x2):
    return matmul_grad_left(g, x1, x2), matmul_grad_right(g, x1, x2)


@vjp_rule(np.linalg.outer)
def linalg_outer(g, ans, x1, x2):
    return g @ x2, x1 @ g


@vjp_rule(np.linalg.tensordot)
def linalg_tensordot(g, ans, x1, x2, axes=2):
    return (np.transpose(np.tensordot(g, x2, axes=tensordot_left_axes(x1, x2, axes)),
                         tensordot_left_order(x1, x2, axes)),
            np.transpose(np.tensordot(x1, g, axes=tensordot_right_axes(x1, x2, axes)),
                         tensordot_right_order(x1, x2, axes)))


@vjp_rule(np.linalg.cross)
def linalg_cross(g, ans, x1, x2, axis=-1):
    return unbroadcast(np.cross(x2, g, axis=axis), x1), unbroadcast(np.cross(g, x1, axis=axis), x2)


@vjp_rule(np.linalg.multi_dot, sequences=("arrays",))
def multi_dot(g, ans, arrays, out=None):
    return multi_dot_grads(g, arrays)


# -- np.linalg -----------------------------------------------------------------------------------------
# Stacks of matrices work wherever numpy takes them: @ and .mT act on the last two axes. Real matrices only.

@vjp_rule(np.linalg.inv)
def inv(g, ans, a):
    # d(a^-1) = -a^-1 da a^-1
    return -ans.mT @ g @ ans.mT


@vjp_rule(np.linalg.solve)
def solve(g, ans, a, b):
    # x = a^-1 b: b's cotangent solves the transposed system; a's is minus its outer product with x.
    # (b is a vector only when it is 1-D; otherwise a stack of matrices.)
    g_b = np.linalg.solve(a.mT, as_columns(g, b))
    return unbroadcast(-g_b @ as_columns(ans, b).mT, a), unbroadcast(from_columns(g_b, b), b)


@vjp_rule(np.linalg.det)
def det(g, ans, a):
    # d det(a) = det(a) tr(a^-1 da); a must be invertible.
    return np.expand_dims(np.expand_dims(g * ans, -1), -1) * np.linalg.inv(a).mT


@vjp_rule(np.linalg.cholesky)
def cholesky(g, ans, a, upper=False):
    # a = l l^T gives dl = l phi(l^-1 da l^-T), phi taking the lower triangle with its diagonal halved; so
    # the symmetric gradient is l^-T phi(l^T l_bar) l^-1. numpy reads only one triangle of a.
    l = swap_if(ans, upper)  # the lower factor; upper=True returns its transpose
    p = l.mT @ swap_if(g, upper)
    phi = np.tril(p) - p * identity_like(p) / 2
    inv_l = np.linalg.inv(l)
    s = inv_l.mT @ phi @ inv_l
    return from_triangle((s + s.mT) / 2, upper)


@vjp_rule(np.linalg.qr, returns_tuple=True)
def qr(g, ans, a, mode="reduced"):
    # a = q r. Split a = [x | y] and r = [r1 | r2] after k = min(rows, columns) columns (y and r2 are empty
    # unless a is wide): x = q r1 is a square or tall QR, and r2 = q^T y. Then (Liao et al. 2019)
    # x_bar = (q_bar + q copyltu(m)) r1^-T with m = r1 r1_bar^T - q_bar^T q, copyltu mirroring the lower
    # triangle, where q_bar also collects y r2_bar^T; and y_bar = q r2_bar.
    require(mode == "reduced" or np.shape(a)[-2] <= np.shape(a)[-1],
            "the derivative of np.linalg.qr is implemented for mode='reduced'.")
    g_q, g_r = g
    q, r = ans
    k = min(np.shape(a)[-2], np.shape(a)[-1])
    x, y = np.split(a, [k], axis=-1)
    r1, r2 = np.split(r, [k], axis=-1)
    g_r1, g_r2 = np.split(g_r, [k], axis=-1)
    g_q = g_q + y @ g_r2.mT
    m = r1 @ g_r1.mT - g_q.mT @ q
    copyltu = np.tril(m) + np.tril(m, -1).mT
    g_x = (g_q + q @ copyltu) @ np.linalg.inv(r1).mT
    return np.append(g_x, q @ g_r2, axis=-1)


@vjp_rule(np.linalg.eigh, returns_tuple=True)
def eigh(g, ans, a, UPLO="L"):
    # a = v diag(w) v^T with distinct eigenvalues: a_bar = v (diag(w_bar) + f * (v^T v_bar)) v^T,
    # f_ij = 1 / (w_j - w_i) off the diagonal. numpy reads only one triangle of a.
    g_w, g_v = g
    w, v = ans
    eye = identity_like(v)
    f = (1 - eye) / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye)
    s = v @ (np.expand_dims(g_w, -1) * eye + f * (v.mT @ g_v)) @ v.mT
    return from_triangle((s + s.mT) / 2, UPLO)


@vjp_rule(np.linalg.eigvalsh)
def eigvalsh(g, ans, a, UPLO="L"):
    # d w_i = v_i^T da v_i
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return from_triangle(v * np.expand_dims(g, -2) @ v.mT, UPLO)


@vjp_rule(np.linalg.svd, returns_tuple=True)
def svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    # Reduced SVD a = u diag(s) vh with distinct nonzero singular values (Townsend, "Differentiating the
    # singular value decomposition"), f_ij = 1 / (s_j^2 - s_i^2) off the diagonal:
    # a_bar = u [ (f * (u^T u_bar - u_bar^T u)) s + diag(s_bar) + s (f * (v^T v_bar - v_bar^T v)) ] vh
    #         + (I - u u^T) u_bar s^-1 vh + u s^-1 vh_bar (I - v vh).
    # With compute_uv=False the result is s alone: the factors are computed again, and u and vh have no
    # cotangent.
    require(not hermitian, "the derivative of np.linalg.svd is implemented for hermitian=False.")
    require(not compute_uv or not full_matrices or np.shape(a)[-2] == np.shape(a)[-1],
            "the derivative of np.linalg.svd of a non-square matrix is implemented for full_matrices=False.")
    u, s, vh = ans if compute_uv else np.linalg.svd(a, full_matrices=False)
    g_u, g_s, g_vh = g if compute_uv else (tangent_zeros(u), g, tangent_zeros(vh))
    eye = identity_like(s)
    s_row = np.expand_dims(s, -2)
    s_col = np.expand_dims(s, -1)
    f = (1 - eye) / (s_row * s_row - s_col * s_col + eye)
    ut_gu = u.mT @ g_u
    vt_gv = vh @ g_vh.mT
    core = f * (ut_gu - ut_gu.mT) * s_row + np.expand_dims(g_s, -1) * eye + s_col * (f * (vt_gv - vt_gv.mT))
    outside_u = (g_u - u @ ut_gu) / s_row @ vh
    outside_v = u @ ((g_vh - g_vh @ vh.mT @ vh) / s_col)
    return u @ core @ vh + outside_u + outside_v


@vjp_rule(np.linalg.svdvals)
def svdvals(g, ans, x):
    # d s_i = u_i^T dx v_i
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return u * np.expand_dims(g, -2) @ vh


@vjp_rule(np.linalg.norm)
def norm(g, ans, x, ord=None, axis=None, keepdims=False):
    # The derivative of the norm by each element: x / norm for the 2-norm and the Frobenius norm,
    # sign(x) |x|^(p-1) / norm^(p-1) for a p-norm, the sign of the elements attaining it for the 1 and
    # inf norms (ties share), u v^T for the nuclear norm, u_1 v_1^T for the spectral norm.
    return expand_reduced(g, x, axis, keepdims) * norm_direction(x, ans, ord, axis, keepdims)


@vjp_rule(np.linalg.vector_norm)
def vector_norm(g, ans, x, axis=None, keepdims=False, ord=2):
    return expand_reduced(g, x, axis, keepdims) * norm_direction(x, ans, ord, axis, keepdims, "vector")


@vjp_rule(np.linalg.matrix_norm)
def matrix_norm(g, ans, x, keepdims=False, ord="fro"):
    return expand_reduced(g, x, (-2, -1), keepdims) * norm_direction(x, ans, ord, (-2, -1), keepdims, "matrix")


@vjp_rule(np.linalg.pinv)
def pinv(g, ans, a, rcond=None, hermitian=False):
    # For a of constant (full) rank, with p = pinv(a) (Golub and Pereyra):
    # a_bar = -p^T g p^T + (I - a p) g^T p p^T + p^T p g^T (I - p a).
    require(not hermitian, "the derivative of np.linalg.pinv is implemented for hermitian=False.")
    p = ans
    gt_ppt = g.mT @ (p @ p.mT)
    ptp_gt = p.mT @ p @ g.mT
    return -p.mT @ g @ p.mT + gt_ppt - a @ (p @ gt_ppt) + ptp_gt - ptp_gt @ p @ a


@vjp_rule(np.linalg.lstsq, returns_tuple=True, diff=("a", "b"))
def lstsq(g, ans, a, b, rcond=None):
    # For a of full rank: the solution x = pinv(a) b, differentiated through pinv's rule with
    # p_bar = x_bar b^T; the residuals ||b - a x||^2 are at their minimum in x, so they depend on a and b
    # only directly; the singular values as in svdvals; the rank not at all.
    g_x, g_res, g_rank, g_s = g
    x, res, rank, s = ans
    require(rank == min(np.shape(a)), "the derivative of np.linalg.lstsq is implemented for a of full rank.")
    p = np.linalg.pinv(a)
    g_p = matmul_grad_left(g_x, p, b)
    gpt_ppt = g_p.mT @ (p @ p.mT)
    ptp_gpt = p.mT @ p @ g_p.mT
    from_x = -p.mT @ g_p @ p.mT + gpt_ppt - a @ (p @ gpt_ppt) + ptp_gpt - ptp_gpt @ p @ a
    residual = (b - a @ x) * lstsq_residual_weights(g_res, b)
    u, sv, vh = np.linalg.svd(a, full_matrices=False)
    from_s = u * np.expand_dims(g_s, -2) @ vh
    return from_x - 2 * matmul_grad_left(residual, a, x) + from_s, p.mT @ g_x + 2 * residual


@vjp_rule(np.linalg.matrix_power, diff=("a",))
def matrix_power(g, ans, a, n):
    # The derivative of a -> a^n in direction e is the upper-right block of [[a, e], [0, a]]^n, and its
    # transpose is the same with a transposed.
    return upper_right(np.linalg.matrix_power(upper_block(a.mT, g), n))


nondifferentiable(np.linalg.matrix_rank)


# -- forward rules ---------------------------------------------------------------------------------------
# Products are linear in each operand: one term per operand with a tangent. The factorizations follow
# from differentiating their defining identities (a = q r, a = v diag(w) v^T, ...).

multilinear(np.dot, np.outer, np.inner, np.vdot, np.tensordot, np.einsum, np.kron, np.cross, np.vecdot,
            np.linalg.vecdot, np.linalg.matmul, np.linalg.outer, np.linalg.tensordot, np.linalg.cross,
            np.linalg.multi_dot)


@jvp_rule(np.linalg.slogdet)
def slogdet_jvp(t, ans, a):
    # d log|det a| = tr(a^-1 da); the sign is piecewise constant.
    return tangent_zeros(ans[0]), np.sum(np.linalg.inv(a).mT * t, axis=(-2, -1))


@jvp_rule(np.linalg.inv)
def inv_jvp(t, ans, a):
    return -ans @ t @ ans


@jvp_rule(np.linalg.solve, wrt="a")
def solve_jvp_a(t, ans, a, b):
    # d x = -a^-1 da x
    return from_columns(-np.linalg.solve(a, t @ as_columns(ans, b)), b)


@jvp_rule(np.linalg.solve, wrt="b")
def solve_jvp_b(t, ans, a, b):
    return np.linalg.solve(a, t)


@jvp_rule(np.linalg.det)
def det_jvp(t, ans, a):
    # d det(a) = det(a) tr(a^-1 da)
    return ans * np.sum(np.linalg.inv(a).mT * t, axis=(-2, -1))


@jvp_rule(np.linalg.cholesky)
def cholesky_jvp(t, ans, a, upper=False):
    # dl = l phi(l^-1 da l^-T), phi taking the lower triangle with its diagonal halved; da is the
    # symmetric matrix of the triangle numpy reads.
    l = swap_if(ans, upper)
    inv_l = np.linalg.inv(l)
    m = inv_l @ symmetric_from_triangle(t, upper) @ inv_l.mT
    phi = np.tril(m) - m * identity_like(m) / 2
    return swap_if(l @ phi, upper)


@jvp_rule(np.linalg.qr)
def qr_jvp(t, ans, a, mode="reduced"):
    # For x = q r1 (the first k columns): m = q^T dx r1^-1 = q^T dq + dr1 r1^-1, the first skew-symmetric
    # and the second upper triangular, so omega = q^T dq is the skew part of m's strict lower triangle:
    # dr1 = (m - omega) r1 and dq = dx r1^-1 - q (m - omega). The remaining columns y give r2 = q^T y.
    require(mode == "reduced" or np.shape(a)[-2] <= np.shape(a)[-1],
            "the derivative of np.linalg.qr is implemented for mode='reduced'.")
    q, r = ans
    k = min(np.shape(a)[-2], np.shape(a)[-1])
    r1, r2 = np.split(r, [k], axis=-1)
    dx, dy = np.split(t, [k], axis=-1)
    inv_r1 = np.linalg.inv(r1)
    m = q.mT @ dx @ inv_r1
    upper = m - (np.tril(m, -1) - np.tril(m, -1).mT)
    dq = dx @ inv_r1 - q @ upper
    y = np.split(a, [k], axis=-1)[1]
    return dq, np.append(upper @ r1, dq.mT @ y + q.mT @ dy, axis=-1)


@jvp_rule(np.linalg.eigh)
def eigh_jvp(t, ans, a, UPLO="L"):
    # With distinct eigenvalues and p = v^T da v: dw = diag(p), dv = v (f * p), f_ij = 1 / (w_j - w_i) off
    # the diagonal.
    w, v = ans
    eye = identity_like(v)
    f = (1 - eye) / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye)
    p = v.mT @ symmetric_from_triangle(t, UPLO) @ v
    return np.diagonal(p, axis1=-2, axis2=-1), v @ (f * p)


@jvp_rule(np.linalg.eigvalsh)
def eigvalsh_jvp(t, ans, a, UPLO="L"):
    # d w_i = v_i^T da v_i
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return np.sum(v * (symmetric_from_triangle(t, UPLO) @ v), axis=-2)


@jvp_rule(np.linalg.svd)
def svd_jvp(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    # Reduced SVD a = u diag(s) vh with distinct nonzero singular values, p = u^T da v, f_ij = 1 / (s_j^2 -
    # s_i^2) off the diagonal: ds = diag(p), du = u (f * (p s + s p^T)) + (I - u u^T) da v / s,
    # dv = v (f * (s p + p^T s)) + (I - v v^T) da^T u / s.
    require(not hermitian, "the derivative of np.linalg.svd is implemented for hermitian=False.")
    require(not compute_uv or not full_matrices or np.shape(a)[-2] == np.shape(a)[-1],
            "the derivative of np.linalg.svd of a non-square matrix is implemented for full_matrices=False.")
    u, s, vh = ans if compute_uv else np.linalg.svd(a, full_matrices=False)
    v = vh.mT
    eye = identity_like(s)
    s_row = np.expand_dims(s, -2)
    s_col = np.expand_dims(s, -1)
    f = (1 - eye) / (s_row * s_row - s_col * s_col + eye)
    p = u.mT @ t @ v
    du = u @ (f * (p * s_row + s_col * p.mT)) + (t @ v - u @ p) / s_row
    dv = v @ (f * (s_col * p + p.mT * s_row)) + (t.mT @ u - v @ p.mT) / s_row
    return (du, np.diagonal(p, axis1=-2, axis2=-1), dv.mT) if compute_uv else np.diagonal(p, axis1=-2, axis2=-1)


@jvp_rule(np.linalg.svdvals)
def svdvals_jvp(t, ans, x):
    # d s_i = u_i^T dx v_i
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(u * (t @ vh.mT), axis=-2)


@jvp_rule(np.linalg.norm)
def norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    # The tangent summed with the norm's derivative by each element over the axes the norm reduces.
    return np.sum(norm_direction(x, ans, ord, axis, keepdims) * t, axis=norm_axes(x, ord, axis), keepdims=keepdims)


@jvp_rule(np.linalg.vector_norm)
def vector_norm_jvp(t, ans, x, axis=None, keepdims=False, ord=2):
    return np.sum(norm_direction(x, ans, ord, axis, keepdims, "vector") * t, axis=norm_axes(x, ord, axis, "vector"),
                  keepdims=keepdims)


@jvp_rule(np.linalg.matrix_norm)
def matrix_norm_jvp(t, ans, x, keepdims=False, ord="fro"):
    return np.sum(norm_direction(x, ans, ord, (-2, -1), keepdims, "matrix") * t, axis=(-2, -1), keepdims=keepdims)


@jvp_rule(np.linalg.pinv)
def pinv_jvp(t, ans, a, rcond=None, hermitian=False):
    # For a of constant (full) rank, p = pinv(a) (Golub and Pereyra):
    # dp = -p da p + p p^T da^T (I - a p) + (I - p a) da^T p^T p.
    require(not hermitian, "the derivative of np.linalg.pinv is implemented for hermitian=False.")
    p = ans
    pp_t = p @ p.mT @ t.mT
    t_pp = t.mT @ p.mT @ p
    return -p @ t @ p + pp_t - pp_t @ a @ p + t_pp - p @ a @ t_pp


@jvp_rule(np.linalg.lstsq, wrt="a")
def lstsq_jvp_a(t, ans, a, b, rcond=None):
    # For a of full rank: x = pinv(a) b; the residuals ||b - a x||^2 are at their minimum in x, so only
    # their direct dependence on a counts: -2 (b - a x) . (da x); the singular values as in svdvals.
    x, res, rank, s = ans
    require(rank == min(np.shape(a)), "the derivative of np.linalg.lstsq is implemented for a of full rank.")
    p = np.linalg.pinv(a)
    pp_t = p @ p.mT @ t.mT
    t_pp = t.mT @ p.mT @ p
    dp = -p @ t @ p + pp_t - pp_t @ a @ p + t_pp - p @ a @ t_pp
    d_res = -2 * np.sum((b - a @ x) * (t @ x), axis=0)
    u, sv, vh = np.linalg.svd(a, full_matrices=False)
    return (dp @ b, np.reshape(d_res, np.shape(res)) if np.size(res) else tangent_zeros(res), tangent_zeros(rank),
            np.sum(u * (t @ vh.mT), axis=-2))


@jvp_rule(np.linalg.lstsq, wrt="b")
def lstsq_jvp_b(t, ans, a, b, rcond=None):
    x, res, rank, s = ans
    require(rank == min(np.shape(a)), "the derivative of np.linalg.lstsq is implemented for a of full rank.")
    d_res = 2 * np.sum((b - a @ x) * t, axis=0)
    return (np.linalg.pinv(a) @ t, np.reshape(d_res, np.shape(res)) if np.size(res) else tangent_zeros(res),
            tangent_zeros(rank), tangent_zeros(s))


@jvp_rule(np.linalg.matrix_power)
def matrix_power_jvp(t, ans, a, n):
    # The derivative of a -> a^n in direction t is the upper-right block of [[a, t], [0, a]]^n.
    return upper_right(np.linalg.matrix_power(upper_block(a, t), n))
