"""The (pseudo-)inverse of a covariance matrix as scipy.stats.multivariate_normal computes it.

With ``allow_singular=True`` scipy takes the eigendecomposition of the symmetric matrix that ``cov``'s
lower triangle stands for, treats the eigenvalues at most ``1e6 * eps * max|s|`` (``1e3 * eps`` for float32)
as zero, and uses the pseudo-inverse on the rest. The density's derivatives in ``x`` and ``mean`` use the
same pseudo-inverse. Its derivative in a singular ``cov`` does not exist (a perturbation can change the
rank, and the density jumps): that gradient is nan, as for other functions at points where they have no
derivative. (A refusal would also stop the gradients in ``x`` and ``mean`` wherever the call's cotangents
are all computed, as through ``functools.partial``.)
"""

import numpy as np

from .linalg import symmetric_from_triangle

__all__ = ["psd_inverse", "nan_unless_full_rank"]


def _eigen(cov):
    s, u = np.linalg.eigh(symmetric_from_triangle(np.asarray(cov)))
    factor = 1e3 if s.dtype == np.float32 else 1e6
    return s, u, factor * np.finfo(s.dtype).eps * np.max(np.abs(s))


def psd_inverse(cov):
    """The pseudo-inverse scipy's multivariate_normal uses for ``cov`` with ``allow_singular=True``
    (the inverse, for a matrix of full rank)."""
    s, u, cutoff = _eigen(cov)
    kept = s > cutoff
    return (u * np.where(kept, 1 / np.where(kept, s, 1), 0)) @ u.T


def nan_unless_full_rank(p, cov, direction=None):
    """``p`` where ``cov`` has full rank by scipy's cutoff, or where ``direction`` (a tangent or
    cotangent) is all zeros; otherwise nan of ``p``'s shape."""
    if direction is not None and not np.any(direction):
        return p
    s, _, cutoff = _eigen(cov)
    return p if np.all(s > cutoff) else np.full(np.shape(p), np.nan)
