"""Helpers of the derivatives of linear algebra: matmul, dot, multi_dot, tensordot, einsum, kron, solve and
lstsq, the triangles that cholesky and eigh read, and the block matrices of matrix_power's derivative.

Each gradient is written for numpy's own conventions (1-D operands, stacks of matrices, broadcast
leading axes), so a rule can call it on whatever the forward pass saw.
"""

import numpy as np

from ..core.errors import UnsupportedCaseError
from .namespaces import as_array, is_foreign, namespace_of
from .shapes import require, unbroadcast

__all__ = [
    "identity_like", "swap_if", "matmul_grad_left", "matmul_grad_right", "check_dot_operands", "dot_grad_left",
    "dot_grad_right", "multi_dot_grads", "tensordot_left_axes", "tensordot_left_order", "tensordot_right_axes",
    "tensordot_right_order", "einsum_grads", "kron_shape", "kron_slot_shape", "kron_slot_axes", "as_columns",
    "from_columns", "lstsq_residual_weights", "lstsq_residual_weights_transpose", "from_triangle",
    "symmetric_from_triangle", "symmetric_from_triangle_transpose", "upper_block", "upper_right",
    "diagonal_blocks_sum",
]


def identity_like(x):
    """The identity matrix of size ``x.shape[-1]``, in the dtype of ``x``."""
    x = as_array(x)
    return namespace_of(x).eye(x.shape[-1], dtype=x.dtype if x.dtype.kind in "fc" else None)


def swap_if(x, flag):
    """``x`` with its last two axes swapped when ``flag``, else ``x``."""
    return np.swapaxes(x, -1, -2) if flag else x


def matmul_grad_left(v, a, b):
    """The gradient of ``a @ b`` with respect to ``a``, for cotangent ``v``."""
    a_nd, b_nd = getattr(a, "ndim", None), getattr(b, "ndim", None)
    if a_nd == 2 and b_nd == 2:
        return v @ b.T  # the common cases, without the general path's bookkeeping
    if not isinstance(b, np.ndarray) and (is_foreign(b) or is_foreign(v) or is_foreign(a)):
        return _foreign_grad_left(namespace_of(v, a, b), v, a, b)
    if a_nd == 2 and b_nd == 1:
        return np.outer(v, b)
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if b_nd == 1:
        if a_nd == 1:
            return v * b
        return unbroadcast(np.expand_dims(v, -1) * b, a)
    if a_nd == 1:
        return unbroadcast(np.matmul(np.expand_dims(v, -2), np.swapaxes(b, -1, -2))[..., 0, :], a)
    return unbroadcast(np.matmul(v, np.swapaxes(b, -1, -2)), a)


def matmul_grad_right(v, a, b):
    """The gradient of ``a @ b`` with respect to ``b``, for cotangent ``v``."""
    a_nd, b_nd = getattr(a, "ndim", None), getattr(b, "ndim", None)
    if a_nd == 2 and b_nd in (1, 2):
        return a.T @ v
    if not isinstance(a, np.ndarray) and (is_foreign(a) or is_foreign(v) or is_foreign(b)):
        return _foreign_grad_right(namespace_of(v, a, b), v, a, b)
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 1:
        if b_nd == 1:
            return v * a
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(v, -2), b)
    if b_nd == 1:
        return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), np.expand_dims(v, -1))[..., 0], b)
    return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), v), b)


def _foreign_grad_left(xp, v, a, b):
    """``matmul_grad_left`` in the namespace ``xp`` of another library's arrays (array API functions only)."""
    if b.ndim == 1:
        return v * b if a.ndim == 1 else unbroadcast(xp.expand_dims(v, axis=-1) * b, a)
    b_t = xp.matrix_transpose(b)
    if a.ndim == 1:
        return unbroadcast(xp.matmul(xp.expand_dims(v, axis=-2), b_t)[..., 0, :], a)
    return unbroadcast(xp.matmul(v, b_t), a)


def _foreign_grad_right(xp, v, a, b):
    """``matmul_grad_right`` in the namespace ``xp`` of another library's arrays."""
    if a.ndim == 1:
        return v * a if b.ndim == 1 else unbroadcast(xp.expand_dims(a, axis=-1) * xp.expand_dims(v, axis=-2), b)
    a_t = xp.matrix_transpose(a)
    if b.ndim == 1:
        return unbroadcast(xp.matmul(a_t, xp.expand_dims(v, axis=-1))[..., 0], b)
    return unbroadcast(xp.matmul(a_t, v), b)


def check_dot_operands(a, b):
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise UnsupportedCaseError(
            "autodiff_st differentiates np.dot for operands of at most two dimensions; "
            "use np.matmul or np.tensordot for stacks of matrices."
        )


def _dot_contracted(b):
    """The axis of ``b`` that ``np.dot(a, b)`` sums over: its second to last (its only one for a vector)."""
    return max(np.ndim(b) - 2, 0)


def dot_grad_left(v, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``a``, for cotangent ``v``. Beyond two
    dimensions ``np.dot(a, b)[i..., j..., m] = sum_k a[i..., k] b[j..., k, m]``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(v * b, a)
    if np.ndim(a) <= 2 and np.ndim(b) <= 2:
        return matmul_grad_left(v, a, b)
    na, nb = np.ndim(a), np.ndim(b)
    kept_b = [j for j in range(nb) if j != _dot_contracted(b)]
    return np.tensordot(v, b, axes=(list(range(na - 1, na - 1 + len(kept_b))), kept_b))


def dot_grad_right(v, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``b``, for cotangent ``v``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(v * a, b)
    if np.ndim(a) <= 2 and np.ndim(b) <= 2:
        return matmul_grad_right(v, a, b)
    lead = list(range(np.ndim(a) - 1))
    return np.moveaxis(np.tensordot(a, v, axes=(lead, lead)), 0, _dot_contracted(b))


def multi_dot_grads(v, arrays):
    """The cotangent of each of ``arrays`` in ``np.linalg.multi_dot(arrays)``: the product of the
    others' transposes around ``v``."""
    shapes = [np.shape(x) for x in arrays]
    mats = [as_array(x) for x in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    v = np.reshape(v, (mats[0].shape[0], mats[-1].shape[1]))
    left = [None] * len(mats)
    acc = None
    for i, m in enumerate(mats):
        left[i] = acc
        acc = m if acc is None else acc @ m
    grads, acc = [None] * len(mats), None
    for i in range(len(mats) - 1, -1, -1):
        g = v if acc is None else v @ acc.T
        if left[i] is not None:
            g = left[i].T @ g
        grads[i] = np.reshape(g, shapes[i])
        acc = mats[i] if acc is None else mats[i] @ acc
    return grads


def _tensordot_axes(a, b, axes):
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        n = int(axes)
        ca, cb = list(range(na - n, na)), list(range(n))
    else:
        ca, cb = axes
        ca = [ca] if np.ndim(ca) == 0 else list(ca)
        cb = [cb] if np.ndim(cb) == 0 else list(cb)
        ca, cb = [i % na for i in ca], [j % nb for j in cb]
    fa = [i for i in range(na) if i not in ca]
    fb = [j for j in range(nb) if j not in cb]
    return ca, cb, fa, fb


def tensordot_left_axes(a, b, axes):
    """The axes that contract the cotangent of ``np.tensordot(a, b, axes)`` with ``b``."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    return list(range(len(fa), len(fa) + len(fb))), fb


def tensordot_left_order(a, b, axes):
    """The permutation that puts ``np.tensordot(g, b, tensordot_left_axes(...))`` in ``a``'s axis order."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    current = fa + [ca[cb.index(j)] for j in sorted(cb)]
    return tuple(int(i) for i in np.argsort(current))


def tensordot_right_axes(a, b, axes):
    """The axes that contract ``a`` with the cotangent of ``np.tensordot(a, b, axes)``."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    return fa, list(range(len(fa)))


def tensordot_right_order(a, b, axes):
    """The permutation that puts ``np.tensordot(a, g, tensordot_right_axes(...))`` in ``b``'s axis order."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    current = [cb[ca.index(i)] for i in sorted(ca)] + fb
    return tuple(int(i) for i in np.argsort(current))


_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_explicit(subscripts, shapes):
    """The input terms and the output term of an einsum, with ellipses spelled out in letters and the
    implicit output made explicit. Also the letters left unused."""
    require(isinstance(subscripts, str), "np.einsum is differentiated with a subscripts string.")
    s = subscripts.replace(" ", "")
    inputs, arrow, output = s.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} terms in {subscripts!r} for {len(shapes)} operands")
    free = [c for c in _EINSUM_LETTERS if c not in s]
    widths = [len(shape) - (len(t) - 3) if "..." in t else 0 for t, shape in zip(terms, shapes)]
    width = max(widths, default=0)
    ellipsis, free = "".join(free[:width]), free[width:]
    explicit = [t.replace("...", ellipsis[width - w:] if w else "") for t, w in zip(terms, widths)]
    if arrow:
        out = output.replace("...", ellipsis)
    else:
        letters = [c for t in terms for c in t if c.isalpha()]
        out = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return explicit, out, free


def einsum_grads(v, subscripts, operands):
    """The cotangent of each operand of ``np.einsum(subscripts, *operands)`` for the result's cotangent
    ``v``: each is itself an einsum of ``v`` with the other operands.

    An index that appears only in the operand is broadcast with a vector of ones; an index repeated in
    the operand (a diagonal) takes an identity matrix; a length-1 axis that numpy broadcast is summed.
    """
    shapes = [np.shape(x) for x in operands]
    terms, out, free = _einsum_explicit(subscripts, shapes)
    sizes = {}
    for t, shape in zip(terms, shapes):
        for c, n in zip(t, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    dtype = np.result_type(v)
    grads = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        spare = list(free)
        others = [j for j in range(len(operands)) if j != k]
        in_terms = [out] + [terms[j] for j in others]
        arrays = [v] + [operands[j] for j in others]
        present = set("".join(in_terms))
        target, seen = [], set()
        for c, n in zip(term, shape):
            if n == 1 and sizes[c] != 1:  # broadcast by numpy: the cotangent sums over it
                letter = spare.pop()
                in_terms.append(letter)
                arrays.append(np.ones(1, dtype=dtype))
            elif c in seen:  # a repeated index: the operand's diagonal
                letter = spare.pop()
                in_terms.append(c + letter)
                arrays.append(np.eye(n, dtype=dtype))
                present.add(c)
            else:
                letter = c
                seen.add(c)
            target.append(letter)
        for c in seen - present:  # summed within the operand alone: broadcast back
            in_terms.append(c)
            arrays.append(np.ones(sizes[c], dtype=dtype))
        grads.append(np.einsum(",".join(in_terms) + "->" + "".join(target), *arrays, optimize=len(arrays) > 2))
    return grads


def kron_shape(a, b):
    """The shape (a0, b0, a1, b1, ...) in which ``np.kron(a, b)``'s blocks separate."""
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + np.shape(a)
    sb = (1,) * (n - np.ndim(b)) + np.shape(b)
    return tuple(x for pair in zip(sa, sb) for x in pair)


def kron_slot_shape(a, b, slot):
    """The shape of ``a`` (slot 0) or ``b`` (slot 1) spread over the axes of ``kron_shape(a, b)``."""
    shape = kron_shape(a, b)
    return tuple(n if i % 2 == slot else 1 for i, n in enumerate(shape))


def kron_slot_axes(a, b, slot):
    """The axes of ``kron_shape(a, b)`` that belong to ``a`` (slot 0) or ``b`` (slot 1)."""
    return tuple(range(slot, len(kron_shape(a, b)), 2))


def as_columns(v, b):
    """``v`` with a trailing axis of length 1 when ``b`` is a vector: np.linalg.solve's right-hand side
    ``b`` is a vector only when it is 1-D, and a stack of matrices otherwise."""
    return np.expand_dims(v, -1) if np.ndim(b) == 1 else v


def from_columns(v, b):
    """The inverse of ``as_columns``: drop the trailing axis added when ``b`` is a vector."""
    return np.squeeze(v, -1) if np.ndim(b) == 1 else v


def lstsq_residual_weights(v, b):
    """The cotangent of np.linalg.lstsq's residuals, one per column of ``b``, shaped to multiply the
    residual vectors; zero when numpy returns no residuals."""
    v = np.asarray(v)
    if v.size == 0:
        return np.zeros((), dtype=v.dtype)
    return np.reshape(v, ()) if np.ndim(b) == 1 else np.reshape(v, (1, -1))


def lstsq_residual_weights_transpose(v, w, b):
    """The transpose of ``lstsq_residual_weights(w, b)``: ``v`` put back in the shape of ``w``."""
    w_shape = np.shape(w)
    if int(np.prod(w_shape)) == 0:
        return np.zeros(w_shape, dtype=np.result_type(v))
    return np.reshape(v, w_shape)


def from_triangle(s, triangle="L"):
    """The gradient with respect to a matrix of which only the lower ("L") or upper ("U", or True)
    triangle is read, given the symmetric gradient ``s`` with respect to the symmetric matrix that
    triangle stands for."""
    if triangle is True or triangle == "U":
        return np.triu(s) + np.triu(s, 1)
    return np.tril(s) + np.tril(s, -1)


def symmetric_from_triangle(t, triangle="L"):
    """The symmetric matrix that the lower ("L") or upper ("U", or True) triangle of ``t`` stands for:
    the tangent of the matrix that np.linalg.cholesky and eigh read, of which they see one triangle."""
    if triangle is True or triangle == "U":
        return np.triu(t) + np.swapaxes(np.triu(t, 1), -1, -2)
    return np.tril(t) + np.swapaxes(np.tril(t, -1), -1, -2)


def symmetric_from_triangle_transpose(s, triangle="L"):
    """The transpose of ``symmetric_from_triangle``: ``s``'s triangle plus the other triangle of ``s``
    mirrored onto it."""
    if triangle is True or triangle == "U":
        return np.triu(s) + np.triu(np.swapaxes(s, -1, -2), 1)
    return np.tril(s) + np.tril(np.swapaxes(s, -1, -2), -1)


def upper_block(a, e):
    """The block matrix [[a, e], [0, a]] (stacked over leading axes)."""
    a, e = np.broadcast_arrays(a, e)
    zero = np.zeros_like(a)
    return np.concatenate([np.concatenate([a, e], axis=-1), np.concatenate([zero, a], axis=-1)], axis=-2)


def upper_right(m):
    """The upper-right block of a block matrix of 2 x 2 equal blocks."""
    n = np.shape(m)[-1] // 2
    return m[..., :n, n:]


def diagonal_blocks_sum(m):
    """The sum of the two diagonal blocks of a block matrix of 2 x 2 equal blocks."""
    n = np.shape(m)[-1] // 2
    return m[..., :n, :n] + m[..., n:, n:]
