"""The derivative of ``np.linalg.norm`` (and vector_norm, matrix_norm) and its own derivatives.

One function, ``norm_direction``, covers every ``ord`` and ``axis``; the curvature helpers
differentiate it again, for second derivatives through a norm.
"""

import numpy as np

from .namespaces import as_array
from .shapes import require

__all__ = ["norm_axes", "norm_direction", "norm_direction_vjp_x", "norm_direction_vjp_norm", "norm_direction_jvp_norm"]


def _norm_layout(x, ord, axis, kind):
    """("vector", axes) or ("matrix", (row, col)) for a norm call."""
    nd = np.ndim(x)
    if kind == "matrix":
        return "matrix", tuple(a % nd for a in axis)
    if axis is None:
        if kind == "vector" or ord is None or nd == 1:
            return "vector", tuple(range(nd))
        return "matrix", (0, 1)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    if kind == "vector" or len(axes) == 1:
        return "vector", tuple(a % nd for a in axes)
    return "matrix", tuple(a % nd for a in axes)


def _norm_p(layout, ord):
    """The p of a smooth p-norm (the Frobenius norm is a 2-norm), or None for the other norms."""
    kind, _ = layout
    if kind == "vector":
        if ord is None:
            return 2.0
        if ord in (np.inf, -np.inf, 0, 1) or isinstance(ord, str):
            return None
        return float(ord)
    return 2.0 if ord in (None, "fro", "f") else None


def _expand_norm(value, x, axes, keepdims):
    return np.broadcast_to(value if keepdims else np.expand_dims(value, axes), np.shape(x))


def _split_ties(hit, axes):
    hit = hit.astype(float)
    return hit / np.sum(hit, axis=axes, keepdims=True)


def norm_axes(x, ord=None, axis=None, kind="norm"):
    """The axes that ``np.linalg.norm(x, ord, axis)`` reduces (``kind`` "vector" or "matrix" for
    np.linalg.vector_norm and matrix_norm)."""
    return _norm_layout(x, ord, axis, kind)[1]


def norm_direction(x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The derivative of ``norm = np.linalg.norm(x, ord, axis, keepdims)`` by each element of ``x``.

    ``kind`` is "vector" for np.linalg.vector_norm and "matrix" for np.linalg.matrix_norm. Where the
    norm has a kink (1 and inf norms, the largest singular value), ties share the derivative equally,
    or one of them takes it; at x = 0 the derivative is taken as 0.
    """
    x = as_array(x)
    layout = _norm_layout(x, ord, axis, kind)
    kind_, axes = layout
    dtype = x.dtype if x.dtype.kind == "f" else float
    n = _expand_norm(as_array(norm), x, axes, keepdims)
    p = _norm_p(layout, ord)
    ax = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p is not None:
            d = np.sign(x) * ax ** (p - 1) / n ** (p - 1) if p != 2 else x / n
            return np.where(n == 0, 0, d).astype(dtype)
        if kind_ == "vector":
            if ord == 1:
                return np.sign(x).astype(dtype)
            if ord == 0:
                return np.zeros_like(x, dtype=dtype)
            if ord in (np.inf, -np.inf):
                return (np.sign(x) * _split_ties(ax == n, axes)).astype(dtype)
        row, col = axes
        if ord in (1, -1, np.inf, -np.inf):
            # the largest (smallest) absolute column sum for 1 (-1), row sum for inf (-inf)
            summed = row if ord in (1, -1) else col
            sums = np.sum(ax, axis=summed, keepdims=True)
            pick = np.max(sums, axis=axes, keepdims=True) if ord in (1, np.inf) else \
                np.min(sums, axis=axes, keepdims=True)
            return (np.sign(x) * _split_ties(sums == pick, axes)).astype(dtype)
        if ord in ("nuc", 2, -2):
            moved = np.moveaxis(x, (row, col), (-2, -1))
            u, s, vh = np.linalg.svd(moved, full_matrices=False)
            if ord == "nuc":
                d = u @ vh
            else:
                i = 0 if ord == 2 else s.shape[-1] - 1
                d = u[..., :, i:i + 1] @ vh[..., i:i + 1, :]
            return np.moveaxis(d, (-2, -1), (row, col)).astype(dtype)
    raise ValueError(f"np.linalg.norm: unknown ord {ord!r}")


def _norm_curvature_parts(x, norm, ord, axis, keepdims, kind):
    x = as_array(x)
    layout = _norm_layout(x, ord, axis, kind)
    p = _norm_p(layout, ord)
    if p is None and layout[0] == "matrix" and ord in ("nuc", 2, -2):
        require(False, "second derivatives of the nuclear and spectral norms are not implemented.")
    return x, layout, p


def norm_direction_vjp_x(v, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The transpose of the derivative of ``norm_direction`` by ``x``, applied to ``v``: for a p-norm,
    v (p - 1) |x|^(p-2) / norm^(p-1); zero for the piecewise linear norms."""
    x, (kind_, axes), p = _norm_curvature_parts(x, norm, ord, axis, keepdims, kind)
    if p is None:
        return np.zeros_like(v)
    n = _expand_norm(as_array(norm), x, axes, keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = v / n if p == 2 else v * (p - 1) * np.abs(x) ** (p - 2) / n ** (p - 1)
        return np.where(n == 0, 0, d).astype(np.result_type(v))


def norm_direction_vjp_norm(v, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The transpose of the derivative of ``norm_direction`` by ``norm``, applied to ``v``: for a p-norm,
    (1 - p) sum(v sign(x) |x|^(p-1)) / norm^p; zero for the piecewise linear norms."""
    x, (kind_, axes), p = _norm_curvature_parts(x, norm, ord, axis, keepdims, kind)
    norm = as_array(norm)
    if p is None:
        return np.zeros_like(norm, dtype=np.result_type(v))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sum(v * np.sign(x) * np.abs(x) ** (p - 1), axis=axes, keepdims=keepdims)
        d = (1 - p) * s / norm ** p
        return np.reshape(np.where(norm == 0, 0, d), np.shape(norm)).astype(np.result_type(v))


def norm_direction_jvp_norm(t, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The derivative of ``norm_direction(x, norm, ...)`` by ``norm`` in the direction ``t``: for a
    p-norm, (1 - p) norm_direction t / norm; zero for the piecewise linear norms."""
    x, (kind_, axes), p = _norm_curvature_parts(x, norm, ord, axis, keepdims, kind)
    dtype = np.result_type(t, x)
    if p is None:
        return np.zeros(np.shape(x), dtype=dtype)
    n = _expand_norm(as_array(norm), x, axes, keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (1 - p) * norm_direction(x, norm, ord, axis, keepdims, kind) * _expand_norm(as_array(t), x, axes,
                                                                                            keepdims) / n
        return np.where(n == 0, 0, d).astype(dtype)
