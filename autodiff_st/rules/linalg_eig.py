"""Rules for np.linalg.eig and np.linalg.eigvals: the eigendecomposition of a general square matrix.

``a = u diag(e) u^-1`` with distinct eigenvalues. numpy returns each eigenvector (a column of ``u``) with
Euclidean norm 1 and its component of largest modulus real (LAPACK's ``geev`` convention). Both are
constraints on ``u``, so the derivative of numpy's ``u`` is the derivative of the eigenvector direction,
``u (f * p)`` with ``p = u^-1 da u`` and ``f_ij = 1 / (e_j - e_i)`` off the diagonal, plus the multiple
``c_k u_k`` of each column that keeps both: ``Re c_k = -Re(u_k^H r_k)`` keeps the norm, and
``Im c_k = -Im(r_jk) / u_jk``, with ``j`` the real component, keeps it real. The derivative is then that
of the values numpy returns, whatever the function reads of them (not only the phase-invariant parts,
such as ``abs(u)``). The eigenvalues alone: ``de = diag(p)``.

Complex numbers follow the convention of rules/elementwise.py: the cotangent is the transpose under the
pairing ``<a, b> = Re(sum(a * b))``. The cotangent of a real ``a`` is real.
"""

import numpy as np

from ..runtime import identity_like, real_like
from ..core.registry import vjp_rule, jvp_rule, nondifferentiable


def _real_rows(u):
    """For each column of ``u``, a one-hot column marking its real component of largest modulus: the
    component numpy's convention makes real (exactly, so it is found among the components whose
    imaginary part is 0)."""
    size = np.where(np.imag(u) == 0, np.abs(u), -1.0)
    rows = np.argmax(size, axis=-2)
    return np.arange(np.shape(u)[-2])[:, None] == np.expand_dims(rows, -2)


nondifferentiable(_real_rows)


@vjp_rule(np.linalg.eig, returns_tuple=True)
def eig(g, ans, a):
    # The transpose of the map in the module docstring: c = alpha + i beta with alpha = -Re(sum(conj(u) r))
    # and beta = -Im(r_j) / u_j, r = u (f * p), p = u^-1 da u, de = diag(p).
    g_e, g_u = g
    e, u = ans
    g_c = np.sum(u * g_u, axis=-2)  # the cotangent of c in du = r + u diag(c)
    g_alpha = np.real(g_c)
    g_beta = -np.imag(g_c)
    real_rows = _real_rows(u)
    pivot = np.sum(np.where(real_rows, np.real(u), 0), axis=-2)
    g_r = (g_u - np.expand_dims(g_alpha, -2) * np.conj(u)
           + np.where(real_rows, np.expand_dims(1j * g_beta / pivot, -2), 0))
    eye = identity_like(u)
    f = (1 - eye) / (np.expand_dims(e, -2) - np.expand_dims(e, -1) + eye)  # f_ij = 1 / (e_j - e_i), 0 on the diagonal
    g_p = f * (u.mT @ g_r) + np.expand_dims(g_e, -1) * identity_like(g_r)
    return real_like(np.linalg.inv(u).mT @ g_p @ u.mT, a)


@vjp_rule(np.linalg.eigvals)
def eigvals(g, ans, a):
    # de = diag(u^-1 da u), whose cotangent is u^-T diag(g) u^T.
    e, u = np.linalg.eig(a)
    return real_like(np.linalg.inv(u).mT @ (np.expand_dims(g, -1) * identity_like(u)) @ u.mT, a)


@jvp_rule(np.linalg.eig)
def eig_jvp(t, ans, a):
    e, u = ans
    p = np.linalg.inv(u) @ t @ u
    eye = identity_like(u)
    r = u @ ((1 - eye) / (np.expand_dims(e, -2) - np.expand_dims(e, -1) + eye) * p)
    alpha = -np.real(np.sum(np.conj(u) * r, axis=-2))
    real_rows = _real_rows(u)
    pivot = np.sum(np.where(real_rows, np.real(u), 0), axis=-2)
    beta = -np.sum(np.where(real_rows, np.imag(r), 0), axis=-2) / pivot
    # For real eigenvectors (a real a whose eigenvalues are all real) the multiple is real.
    c = alpha + 1j * beta if np.iscomplexobj(u) else alpha
    return np.diagonal(p, axis1=-2, axis2=-1), r + u * np.expand_dims(c, -2)


@jvp_rule(np.linalg.eigvals)
def eigvals_jvp(t, ans, a):
    e, u = np.linalg.eig(a)
    return np.diagonal(np.linalg.inv(u) @ t @ u, axis1=-2, axis2=-1)
