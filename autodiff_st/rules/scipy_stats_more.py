"""Rules for scipy.stats beyond the densities of scipy_stats.py: the entropy of multivariate_normal.
Registered only when scipy is importable.

``multivariate_normal.entropy(mean, cov) = d (1 + log 2 pi) / 2 + log det C / 2``, which does not depend on
the mean: its gradient there is zero. As for the densities, scipy reads only the lower triangle of cov, so
C is the symmetric matrix that triangle stands for, and cov's gradient lies in its lower triangle. A
singular cov (scipy then uses the pseudo-determinant) is refused when differentiated.
"""

import numpy as np
from scipy import stats

from ..runtime import require, symmetric_from_triangle, symmetric_from_triangle_transpose
from ..core.registry import jvp_rule, nondifferentiable, vjp_rule

_MVN_ENTROPY_CASES = ("the derivative of scipy.stats.multivariate_normal.entropy is implemented for a (d, d) "
                      "cov of full rank.")


def _full_rank_entropy(ans, cov):
    """Whether scipy's entropy ``ans`` is the full-rank formula's for ``cov`` (not a pseudo-determinant's)."""
    sign, logdet = np.linalg.slogdet(symmetric_from_triangle(cov))
    d = np.shape(cov)[-1]
    return bool(sign > 0 and np.isclose(ans, (d * (1 + np.log(2 * np.pi)) + logdet) / 2))


nondifferentiable(_full_rank_entropy)


@vjp_rule(stats.multivariate_normal.entropy, diff=("cov",), nograd=("mean",))
def multivariate_normal_entropy(g, ans, mean=None, cov=1):
    # d entropy = tr(C^-1 dC) / 2.
    require(np.ndim(cov) == 2 and _full_rank_entropy(ans, cov), _MVN_ENTROPY_CASES)
    return symmetric_from_triangle_transpose(g * np.linalg.inv(symmetric_from_triangle(cov)) / 2)


@jvp_rule(stats.multivariate_normal.entropy, wrt="cov")
def multivariate_normal_entropy_jvp_cov(t, ans, mean=None, cov=1):
    require(np.ndim(cov) == 2 and _full_rank_entropy(ans, cov), _MVN_ENTROPY_CASES)
    return np.sum(np.linalg.inv(symmetric_from_triangle(cov)) * symmetric_from_triangle(t)) / 2
