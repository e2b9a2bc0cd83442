"""Rules for scipy.linalg.solve_banded. Registered only when scipy is importable.

``solve_banded((l, u), ab, b)`` solves ``A x = b`` for the banded matrix ``A`` stored in ``ab``, one diagonal a
row: ``A[i, j] = ab[u + i - j, j]``. The entries of ``ab`` outside the band (the corners LAPACK never reads)
have gradient zero.

The bodies are written with functions that have rules (solve_banded itself, indexing, products and sums)
and index arrays that depend only on the shapes, so that the gradient can be differentiated again:

- ``A^T`` in banded form (lower and upper widths swapped) is a gather from ``ab``: ``band_transpose``.
- b's cotangent solves with ``A^T``; ``A``'s is ``-b_bar x^T``, of which only the band is kept:
  ``ab_bar[k, j] = -sum_c b_bar[j - u + k, c] x[j, c]`` (``band_rows``).
"""

import numpy as np
from scipy import linalg

from ..core.registry import jvp_rule, nondifferentiable, vjp_rule


def band_transpose(lower, upper, n):
    """Index arrays ``(rows, columns, inside)`` such that ``ab[rows, columns] * inside`` holds ``A^T`` in banded
    form with widths ``(upper, lower)``: its row ``k`` and column ``j`` are ``A[j, j - lower + k]``."""
    k = np.arange(lower + upper + 1)[:, None]
    j = np.arange(n)[None, :]
    columns = j - lower + k
    inside = (columns >= 0) & (columns < n)
    rows = np.broadcast_to(upper + lower - k, columns.shape)
    return rows, np.clip(columns, 0, max(n - 1, 0)), inside


def band_rows(upper, size, n):
    """``(rows, inside)``: for row ``k`` of the band and column ``j``, the row ``j - upper + k`` of ``A`` that the
    entry ``ab[k, j]`` sits in (clipped), and whether it lies inside the matrix."""
    k = np.arange(size)[:, None]
    j = np.arange(n)[None, :]
    rows = j - upper + k
    inside = (rows >= 0) & (rows < n)
    return np.clip(rows, 0, max(n - 1, 0)), inside


def band_columns(upper, size, n):
    """``(k, columns, inside)``: for row ``k`` of the band and row ``i`` of ``A``, the column ``i + upper - k``
    of ``A`` that the entry ``ab[k, i + upper - k]`` sits in (clipped), and whether it lies inside."""
    k = np.arange(size)[:, None]
    i = np.arange(n)[None, :]
    columns = i + upper - k
    inside = (columns >= 0) & (columns < n)
    return np.broadcast_to(k, columns.shape), np.clip(columns, 0, max(n - 1, 0)), inside


nondifferentiable(band_transpose, band_rows, band_columns)


@vjp_rule(linalg.solve_banded, diff=("ab", "b"))
def solve_banded(g, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    # x = A^-1 b: b_bar = A^-T g, A_bar = -b_bar x^T restricted to the band.
    lower, upper = l_and_u
    n = np.shape(ab)[1]
    rows, columns, inside = band_transpose(lower, upper, n)
    g_b = linalg.solve_banded((upper, lower), ab[rows, columns] * inside, g)
    a_rows, a_inside = band_rows(upper, lower + upper + 1, n)
    g_flat = np.reshape(g_b, (n, -1))
    x_flat = np.reshape(ans, (n, -1))
    g_ab = -np.sum(g_flat[a_rows] * x_flat, axis=-1) * a_inside
    return g_ab, g_b


@jvp_rule(linalg.solve_banded, wrt="ab")
def solve_banded_jvp_ab(t, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    # dx = -A^-1 dA x, with (dA x)[i] = sum_k t[k, i + u - k] x[i + u - k].
    lower, upper = l_and_u
    n = np.shape(ab)[1]
    k, columns, inside = band_columns(upper, lower + upper + 1, n)
    x_flat = np.reshape(ans, (n, -1))
    product = np.sum((t[k, columns] * inside)[..., None] * x_flat[columns], axis=0)
    return -linalg.solve_banded(l_and_u, ab, np.reshape(product, np.shape(ans)))


@jvp_rule(linalg.solve_banded, wrt="b")
def solve_banded_jvp_b(t, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    return linalg.solve_banded(l_and_u, ab, t)
