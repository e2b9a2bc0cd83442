"""Rules for scipy.linalg: solve_triangular, cho_factor and cho_solve, lu_factor and lu_solve, expm and
solve_sylvester. Registered only when scipy is importable. Real square matrices, without stacking.

Each body is written with functions that have rules (the same scipy functions among them), so that the
gradient can be differentiated again.

Triangles: scipy's solvers read one triangle of a matrix and ignore the other, so the gradient of a
matrix lies in the triangle read, zero in the other. cho_factor returns (c, lower) where c holds the factor
in one triangle and, in the other, the entries of ``a`` that LAPACK left untouched (scipy before 1.18),
whose gradient passes through to ``a`` unchanged, or zeros (scipy 1.18), which carry none. lu_factor packs the unit lower factor (without its diagonal) and the upper
factor into one matrix, with the row pivots that scipy returns beside it; the pivots carry no gradient.

``trans`` is 0 ("N"), 1 ("T") or 2 ("C", the same as "T" for real matrices).
"""

import numpy as np
from scipy import linalg

from ..runtime import from_triangle, identity_like, upper_block, upper_right
from ..core.registry import vjp_rule, jvp_rule, nondifferentiable


def transposes(trans):
    """Whether a solver's ``trans`` solves with the transposed matrix."""
    return trans in (1, 2, "T", "C")


def pivot_rows(piv):
    """The row order of lu_factor's permutation: ``a[pivot_rows(piv)] = l @ u``, from LAPACK's sequence of
    row swaps (row i was swapped with row piv[i])."""
    rows = np.arange(len(piv))
    for i, p in enumerate(piv):
        rows[i], rows[p] = rows[p], rows[i]
    return rows


nondifferentiable(transposes, pivot_rows)


# -- solve_triangular ----------------------------------------------------------------------------------------

@vjp_rule(linalg.solve_triangular, diff=("a", "b"))
def solve_triangular(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    # x = m^-1 b with m = op(triangle of a): b's cotangent solves with m^T; m's is -b_bar x^T.
    g_b = linalg.solve_triangular(a, g, trans=0 if transposes(trans) else 1, lower=lower, unit_diagonal=unit_diagonal)
    g_m = -np.reshape(g_b, (np.shape(b)[0], -1)) @ np.reshape(ans, (np.shape(b)[0], -1)).T
    g_a = g_m.T if transposes(trans) else g_m
    # only the triangle read (without the diagonal when it is taken to be 1)
    return (np.tril(g_a, -1 if unit_diagonal else 0) if lower else np.triu(g_a, 1 if unit_diagonal else 0)), g_b


@jvp_rule(linalg.solve_triangular, wrt="a")
def solve_triangular_jvp_a(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                           check_finite=True):
    # dx = -m^-1 dm x
    d_m = np.tril(t, -1 if unit_diagonal else 0) if lower else np.triu(t, 1 if unit_diagonal else 0)
    return -linalg.solve_triangular(a, (d_m.T if transposes(trans) else d_m) @ ans, trans=trans, lower=lower,
                                    unit_diagonal=unit_diagonal)


@jvp_rule(linalg.solve_triangular, wrt="b")
def solve_triangular_jvp_b(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                           check_finite=True):
    return linalg.solve_triangular(a, t, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


# -- cho_factor and cho_solve --------------------------------------------------------------------------------

# scipy before 1.18 leaves a's entries in the triangle of c that the factor does not use; scipy 1.18
# zeroes it. Which one this scipy does decides whether that triangle's gradient passes through to a.
_OTHER_TRIANGLE_KEPT = bool(linalg.cho_factor(np.array([[4.0, 2.0], [2.0, 3.0]]))[0][1, 0] != 0)


def cho_factor(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    # The factor's triangle: the gradient of the Cholesky factor l (a = l l^T), l^-T phi(l^T l_bar) l^-1
    # symmetrized, phi taking the lower triangle with its diagonal halved; the other triangle is a's own.
    g_c, g_lower = g
    c, is_lower = ans
    factor = np.tril(c) if lower else np.triu(c).T  # the lower factor l
    g_factor = np.tril(g_c) if lower else np.triu(g_c).T
    p = factor.T @ g_factor
    phi = np.tril(p) - p * identity_like(p) / 2
    inverse = np.linalg.inv(factor)
    s = inverse.T @ phi @ inverse
    return from_triangle((s + s.T) / 2, "L" if lower else "U") + (np.triu(g_c, 1) if lower else np.tril(g_c, -1))


def cho_factor_zeroed_triangle(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    # As cho_factor above, where scipy zeroes the other triangle: nothing passes through it.
    g_c, g_lower = g
    c, is_lower = ans
    factor = np.tril(c) if lower else np.triu(c).T  # the lower factor l
    g_factor = np.tril(g_c) if lower else np.triu(g_c).T
    p = factor.T @ g_factor
    phi = np.tril(p) - p * identity_like(p) / 2
    inverse = np.linalg.inv(factor)
    s = inverse.T @ phi @ inverse
    return from_triangle((s + s.T) / 2, "L" if lower else "U")


def cho_factor_jvp(t, ans, a, lower=False, overwrite_a=False, check_finite=True):
    # dl = l phi(l^-1 da l^-T), da the symmetric matrix the triangle read stands for.
    c, is_lower = ans
    factor = np.tril(c) if lower else np.triu(c).T
    inverse = np.linalg.inv(factor)
    d_a = np.tril(t) + np.tril(t, -1).T if lower else np.triu(t) + np.triu(t, 1).T
    m = inverse @ d_a @ inverse.T
    d_factor = factor @ (np.tril(m) - m * identity_like(m) / 2)
    return (d_factor + np.triu(t, 1) if lower else d_factor.T + np.tril(t, -1)), 0.0


def cho_factor_zeroed_triangle_jvp(t, ans, a, lower=False, overwrite_a=False, check_finite=True):
    c, is_lower = ans
    factor = np.tril(c) if lower else np.triu(c).T
    inverse = np.linalg.inv(factor)
    d_a = np.tril(t) + np.tril(t, -1).T if lower else np.triu(t) + np.triu(t, 1).T
    m = inverse @ d_a @ inverse.T
    d_factor = factor @ (np.tril(m) - m * identity_like(m) / 2)
    return (d_factor if lower else d_factor.T), 0.0


if _OTHER_TRIANGLE_KEPT:
    vjp_rule(linalg.cho_factor, diff=("a",), returns_tuple=True)(cho_factor)
    jvp_rule(linalg.cho_factor)(cho_factor_jvp)
else:
    vjp_rule(linalg.cho_factor, diff=("a",), returns_tuple=True)(cho_factor_zeroed_triangle)
    jvp_rule(linalg.cho_factor)(cho_factor_zeroed_triangle_jvp)


@vjp_rule(linalg.cho_solve, diff=("c_and_lower", "b"), sequences=("c_and_lower",))
def cho_solve(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    # x = (l l^T)^-1 b: b's cotangent is the same solve of g; the matrix's is -b_bar x^T, symmetric in
    # effect, and reaches the factor l as (m_bar + m_bar^T) l, in the triangle c holds it in.
    c, lower = c_and_lower
    g_b = linalg.cho_solve(c_and_lower, g)
    g_m = -np.reshape(g_b, (np.shape(b)[0], -1)) @ np.reshape(ans, (np.shape(b)[0], -1)).T
    factor = np.tril(c) if lower else np.triu(c).T
    g_factor = (g_m + g_m.T) @ factor
    return [np.tril(g_factor) if lower else np.triu(g_factor.T), 0.0], g_b


@jvp_rule(linalg.cho_solve, wrt="c_and_lower")
def cho_solve_jvp_c(t, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    # dx = -m^-1 dm x with m = l l^T: dm = dl l^T + l dl^T.
    c, lower = c_and_lower
    t_c, t_lower = t
    factor = np.tril(c) if lower else np.triu(c).T
    d_factor = np.tril(t_c) if lower else np.triu(t_c).T
    d_m = d_factor @ factor.T + factor @ d_factor.T
    return -linalg.cho_solve(c_and_lower, np.reshape(d_m @ np.reshape(ans, (np.shape(b)[0], -1)), np.shape(b)))


@jvp_rule(linalg.cho_solve, wrt="b")
def cho_solve_jvp_b(t, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    return linalg.cho_solve(c_and_lower, t)


# -- lu_factor and lu_solve ----------------------------------------------------------------------------------

@vjp_rule(linalg.lu_factor, diff=("a",), returns_tuple=True)
def lu_factor(g, ans, a, overwrite_a=False, check_finite=True):
    # a[rows] = l u. With f = l^-1 d(a[rows]) u^-1: dl = l tril(f, -1), du = triu(f) u, so the cotangent
    # of a[rows] is l^-T (tril(l^T l_bar, -1) + triu(u_bar u^T)) u^-T; it goes back to a's rows.
    g_lu, g_piv = g
    lu, piv = ans
    middle = np.tril((np.tril(lu, -1) + identity_like(lu)).T @ np.tril(g_lu, -1), -1) + np.triu(np.triu(g_lu) @ np.triu(lu).T)
    left = linalg.solve_triangular(lu, middle, trans=1, lower=True, unit_diagonal=True)
    g_rows = linalg.solve_triangular(lu, left.T, lower=False).T
    return g_rows[np.argsort(pivot_rows(piv))]


@jvp_rule(linalg.lu_factor)
def lu_factor_jvp(t, ans, a, overwrite_a=False, check_finite=True):
    lu, piv = ans
    right = linalg.solve_triangular(lu, t[pivot_rows(piv)], lower=True, unit_diagonal=True)
    f = linalg.solve_triangular(lu, right.T, trans=1, lower=False).T  # l^-1 da[rows] u^-1
    return (np.tril(lu, -1) + identity_like(lu)) @ np.tril(f, -1) + np.triu(f) @ np.triu(lu), np.zeros(np.shape(piv))


@vjp_rule(linalg.lu_solve, diff=("lu_and_piv", "b"), sequences=("lu_and_piv",))
def lu_solve(g, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    # x = op(a)^-1 b with a[rows] = l u: b's cotangent solves with op(a)^T; a's is -b_bar x^T (or its
    # transpose), which reaches l and u as tril(a_bar[rows] u^T, -1) and triu(l^T a_bar[rows]).
    lu, piv = lu_and_piv
    g_b = linalg.lu_solve(lu_and_piv, g, trans=0 if transposes(trans) else 1)
    g_m = -np.reshape(g_b, (np.shape(b)[0], -1)) @ np.reshape(ans, (np.shape(b)[0], -1)).T
    g_rows = (g_m.T if transposes(trans) else g_m)[pivot_rows(piv)]
    return ([np.tril(g_rows @ np.triu(lu).T, -1) + np.triu((np.tril(lu, -1) + identity_like(lu)).T @ g_rows),
             0.0], g_b)


@jvp_rule(linalg.lu_solve, wrt="lu_and_piv")
def lu_solve_jvp_lu(t, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    # dx = -op(a)^-1 op(da) x with da[rows] = dl u + l du.
    lu, piv = lu_and_piv
    t_lu, t_piv = t
    d_rows = np.tril(t_lu, -1) @ np.triu(lu) + (np.tril(lu, -1) + identity_like(lu)) @ np.triu(t_lu)
    d_a = d_rows[np.argsort(pivot_rows(piv))]
    x = np.reshape(ans, (np.shape(b)[0], -1))
    return -linalg.lu_solve(lu_and_piv, np.reshape((d_a.T if transposes(trans) else d_a) @ x, np.shape(b)), trans=trans)


@jvp_rule(linalg.lu_solve, wrt="b")
def lu_solve_jvp_b(t, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    return linalg.lu_solve(lu_and_piv, t, trans=trans)


# -- expm and solve_sylvester --------------------------------------------------------------------------------

@vjp_rule(linalg.expm)
def expm(g, ans, A):
    # The adjoint of the Fréchet derivative at A is the Fréchet derivative at A^T: the upper-right block of
    # expm([[A^T, g], [0, A^T]]).
    return upper_right(linalg.expm(upper_block(np.swapaxes(A, -1, -2), g)))


@jvp_rule(linalg.expm)
def expm_jvp(t, ans, A):
    return upper_right(linalg.expm(upper_block(A, t)))


@vjp_rule(linalg.solve_sylvester)
def solve_sylvester(g, ans, a, b, q):
    # a x + x b = q. The cotangent of q solves a^T y + y b^T = g; then a_bar = -y x^T, b_bar = -x^T y.
    y = linalg.solve_sylvester(a.T, b.T, g)
    return -y @ ans.T, -ans.T @ y, y


@jvp_rule(linalg.solve_sylvester, wrt="a")
def solve_sylvester_jvp_a(t, ans, a, b, q):
    return linalg.solve_sylvester(a, b, -t @ ans)


@jvp_rule(linalg.solve_sylvester, wrt="b")
def solve_sylvester_jvp_b(t, ans, a, b, q):
    return linalg.solve_sylvester(a, b, -ans @ t)


@jvp_rule(linalg.solve_sylvester, wrt="q")
def solve_sylvester_jvp_q(t, ans, a, b, q):
    return linalg.solve_sylvester(a, b, t)
