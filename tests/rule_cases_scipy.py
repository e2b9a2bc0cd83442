"""Rule checks for the scipy functions added in step 8 (see rule_cases.py): scipy.special, scipy.stats,
scipy.linalg and scipy.signal. Empty without scipy, whose rules are then not registered.

Each line states its input domain. Parameters a rule refuses (the shape parameters of betainc and
gammainc, the order of the Bessel functions) are passed as constants.
"""

import numpy as np

from autodiff_st import rules
from tests.rule_harness import FLOAT, OPEN01, POS, R, SPD, UNIT, Domain, case

try:
    import scipy.special as special
    from scipy import integrate
except ImportError:  # scipy is optional; without it its rules are not registered
    special = None


def BETWEEN(low, high, *shape):
    """Inside (low, high)."""
    return Domain(f"BETWEEN({low}, {high})", shape, lambda rng, s: rng.uniform(low, high, s))


CASES = []

if special is not None:
    CASES += [
        # beta functions: a, b > 0
        case(special.beta, POS(3), POS(3)), case(special.beta, POS(3, 1), POS(4)),
        case(special.betaln, POS(3), POS(3)), case(special.betaln, POS(2, 3), FLOAT(POS())),
        # incomplete beta and gamma functions in x only (a, b constants > 0); x in (0, 1) for betainc, x > 0
        case(special.betainc, 2.5, 1.5, OPEN01(4)), case(special.betainc, [1.5, 3.0, 0.7], 2.0, OPEN01(3)),
        case(special.gammainc, 2.5, POS(4)), case(special.gammainc, [0.8, 1.5, 4.0], POS(2, 3)),
        case(special.gammaincc, 1.7, POS(4)),
        # Bessel functions in x > 0 (constant orders, integer and not)
        case(special.jv, 1.5, POS(4)), case(special.jv, [0.0, 1.0, 2.5], POS(2, 3)),
        case(special.yv, 0.5, POS(4)), case(special.yn, 2, POS(4)),
        case(special.iv, 1.5, POS(4)), case(special.iv, 0.0, R(4)),
        case(special.ive, 1.5, POS(4)), case(special.ive, 2.0, BETWEEN(-2.0, -0.5, 4)),
        case(special.kv, 1.5, POS(4)),
        case(special.j0, R(4)), case(special.j1, R(4)), case(special.y0, POS(4)), case(special.y1, POS(4)),
        case(special.i0, R(4)), case(special.i1, R(4)),
        case(special.i0e, POS(4)), case(special.i0e, BETWEEN(-2.0, -0.5, 4)),
        case(special.i1e, POS(4)), case(special.i1e, BETWEEN(-2.0, -0.5, 4)),
        # inverse error functions on (-1, 1) and (0, 2); the normal cdf and its inverse, on R and (0, 1)
        case(special.erfinv, UNIT(4)), case(special.erfcinv, BETWEEN(0.1, 1.9, 4)),
        case(special.ndtr, R(4)), case(special.log_ndtr, R(4)), case(special.log_ndtr, BETWEEN(-30.0, -5.0, 3)),
        case(special.ndtri, OPEN01(4)),
        # rgamma on x > 0; multigammaln on a > (d - 1) / 2
        case(special.rgamma, POS(4)), case(special.multigammaln, BETWEEN(2.0, 4.0, 3), 3),
        case(special.multigammaln, FLOAT(BETWEEN(2.0, 4.0)), 4),
    ]


def registered(method):
    """The object a rule was registered under: a bound method such as ``stats.norm.logpdf`` is made anew at
    each attribute access (equal, but not identical, to the registered one), and test_rules.py matches
    cases to rules by identity."""
    return rules.lookup(method).primitive


if special is not None:
    from scipy import stats

    def _stats(name, method):
        return registered(getattr(getattr(stats, name), method))

    # location-scale families: x anywhere on R (norm, t); loc and scale positional so that they are
    # differentiated; scale > 0
    for method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        CASES += [case(_stats("norm", method), R(4), R(4), POS(4)), case(_stats("norm", method), R(3, 4)),
                  case(_stats("norm", method), R(2, 3), 0.3, FLOAT(POS()))]
    for method in ("logpdf", "pdf"):  # in the shape parameters too
        CASES += [case(_stats("t", method), R(4), BETWEEN(1.0, 6.0, 4), R(4), POS(4)),
                  case(_stats("t", method), R(3, 4), FLOAT(BETWEEN(1.0, 6.0))),
                  # gamma, chi2: x - loc > 0 (x in (0.5, 2), loc < 0.3)
                  case(_stats("gamma", method), POS(4), BETWEEN(1.5, 3.0, 4), BETWEEN(-1.0, 0.3, 4), POS(4)),
                  case(_stats("gamma", method), POS(3, 4), FLOAT(BETWEEN(0.5, 3.0))),
                  case(_stats("chi2", method), POS(4), BETWEEN(1.5, 5.0, 4), BETWEEN(-1.0, 0.3, 4), POS(4)),
                  # beta: (x - loc) / scale inside (0, 1): x in (0.1, 0.9), |loc| < 0.05, scale in (1.1, 1.3)
                  case(_stats("beta", method), OPEN01(4), POS(4), POS(4), BETWEEN(-0.05, 0.05, 4),
                       BETWEEN(1.1, 1.3, 4)),
                  case(_stats("beta", method), OPEN01(3, 4), FLOAT(POS()), POS(4))]
    for method in ("cdf", "logcdf", "sf", "logsf"):  # in x, loc and scale; shape parameters constant
        CASES += [case(_stats("t", method), R(4), 3.5, R(4), POS(4)),
                  case(_stats("gamma", method), POS(4), 2.5, BETWEEN(-1.0, 0.3, 4), POS(4)),
                  case(_stats("chi2", method), POS(4), 3.0, BETWEEN(-1.0, 0.3, 4), POS(4)),
                  case(_stats("beta", method), OPEN01(4), 2.0, 3.0, BETWEEN(-0.05, 0.05, 4), BETWEEN(1.1, 1.3, 4))]
    # poisson in its rate mu > 0; k constant (integers, and for the distribution functions also non-integers
    # and negative numbers)
    for method in ("logpmf", "pmf"):
        CASES += [case(_stats("poisson", method), [0, 1, 3, 7], POS(4)),
                  case(_stats("poisson", method), [0, 2, 5], FLOAT(POS()))]
    for method in ("cdf", "logcdf", "sf", "logsf"):
        CASES += [case(_stats("poisson", method), [0, 1, 3, 7], POS(4)),
                  case(_stats("poisson", method), [0.5, 2.0, 3.7] if method == "logcdf" else [-1.0, 0.5, 2.0, 3.7],
                       FLOAT(POS()))]  # logcdf is -inf below 0, where finite differences are nan
    # dirichlet in alpha > 0 (x a constant point of the simplex: scipy refuses any other)
    for method in ("logpdf", "pdf"):
        CASES += [case(_stats("dirichlet", method), [0.2, 0.5, 0.3], POS(3)),
                  case(_stats("dirichlet", method), [[0.2, 0.6], [0.5, 0.1], [0.3, 0.3]], POS(3))]
    # multivariate_normal in x, mean and cov (symmetric positive definite; only its lower triangle is read)
    for method in ("logpdf", "pdf"):
        CASES += [case(_stats("multivariate_normal", method), R(5, 3), R(3), SPD(3)),
                  case(_stats("multivariate_normal", method), R(3), R(3), SPD(3)),
                  case(_stats("multivariate_normal", method), R(2, 2, 3), None, SPD(3)),
                  # allow_singular=True with a cov of full rank: the same derivatives (singular covs:
                  # tests/test_mvn_singular.py)
                  case(_stats("multivariate_normal", method), R(4, 3), R(3), SPD(3), allow_singular=True)]


def TRIANGULAR(n, lower):
    """A well-conditioned matrix whose lower (or upper) triangle is a triangular factor; the other triangle
    holds random numbers, which the solvers do not read."""
    return Domain("TRIANGULAR", (n, n), lambda rng, s: rng.standard_normal(s) * 0.3 + 2 * np.eye(n))


if special is not None:
    from scipy import linalg, signal

    CASES += [
        # solve_triangular: a's triangle well-conditioned; b a vector or a matrix
        case(linalg.solve_triangular, TRIANGULAR(3, True), R(3), lower=True),
        case(linalg.solve_triangular, TRIANGULAR(3, False), R(3, 2)),
        case(linalg.solve_triangular, TRIANGULAR(3, True), R(3, 2), trans=1, lower=True),
        case(linalg.solve_triangular, TRIANGULAR(3, False), R(3), trans="T", unit_diagonal=True),
        # cho_solve with the factor in either triangle (the other triangle is not read), and cho_factor of a
        # symmetric positive-definite matrix (the result is (c, lower): both returned)
        case(linalg.cho_solve, TRIANGULAR(3, True), R(3), path="PRIMITIVE((a0, True), a1)"),
        case(linalg.cho_solve, TRIANGULAR(3, False), R(3, 2), path="PRIMITIVE((a0, False), a1)"),
        case(linalg.cho_factor, SPD(3), unpack=2), case(linalg.cho_factor, SPD(3), lower=True, unpack=2),
        # lu_solve with a packed factor (unit lower, well-conditioned upper) and fixed pivots; lu_factor of a
        # well-conditioned matrix
        case(linalg.lu_solve, TRIANGULAR(3, True), R(3), path="PRIMITIVE((a0, np.array([2, 1, 2])), a1)"),
        case(linalg.lu_solve, TRIANGULAR(3, True), R(3, 2), path="PRIMITIVE((a0, np.array([0, 2, 2])), a1, trans=1)"),
        case(linalg.lu_factor, TRIANGULAR(3, True), unpack=2),
        # expm of any matrix (small entries); solve_sylvester with a and -b apart in spectrum
        case(linalg.expm, R(3, 3)), case(linalg.expm, R(2, 2)),
        case(linalg.solve_sylvester, TRIANGULAR(3, True), TRIANGULAR(2, False), R(3, 2)),
        # convolve in both inputs, every mode, 1-D and 2-D, either input the longer
        case(signal.convolve, R(5), R(3)), case(signal.convolve, R(3), R(5), mode="same"),
        case(signal.convolve, R(6), R(3), mode="valid"), case(signal.convolve, R(3), R(6), mode="valid"),
        case(signal.convolve, R(4, 5), R(2, 3)), case(signal.convolve, R(4, 5), R(3, 2), mode="same"),
        case(signal.convolve, R(4, 5), R(2, 3), mode="valid"), case(signal.convolve, R(6), R(3), method="fft"),
        # odeint with right-hand sides from tests/ode_examples.py: any start and parameters, times increasing 0.1 apart
        # (moved by less than 0.01); order 1: second derivatives are refused (see rules/scipy_integrate.py);
        # float64 only, as odeint computes in float64
        case(integrate.odeint, R(3), R(3), UNIT(4), order=1, float32=False,
             path="PRIMITIVE(decay, a0, "
                  "np.linspace(0.1, 0.4, 4) + 0.01 * a2, (a1,), rtol=1e-12, atol=1e-12)"),
        case(integrate.odeint, R(2), FLOAT(R()), order=1, float32=False,
             path="PRIMITIVE(oscillator, a0, "
                  "np.linspace(0.0, 1.0, 3), args=(a1,), tfirst=True, rtol=1e-12, atol=1e-12)"),
    ]


def BANDED(lower, upper, n):
    """A banded matrix in solve_banded's storage (one diagonal a row), diagonally dominant: the main diagonal
    (row ``upper``) near 3, the others small. The corners outside the matrix are random; they are not read."""
    def make(rng, s):
        ab = rng.standard_normal(s) * 0.3
        ab[upper] += 3.0
        return ab
    return Domain("BANDED", (lower + upper + 1, n), make)


if special is not None:
    CASES += [
        # solve_banded in ab and b: b a vector or a matrix, widths (1, 1), (2, 1) and (0, 2)
        case(linalg.solve_banded, BANDED(1, 1, 5), R(5), path="PRIMITIVE((1, 1), a0, a1)"),
        case(linalg.solve_banded, BANDED(2, 1, 4), R(4, 2), path="PRIMITIVE((2, 1), a0, a1)"),
        case(linalg.solve_banded, BANDED(0, 2, 4), R(4), path="PRIMITIVE((0, 2), a0, a1)"),
    ]

if special is not None:
    CASES += [
        # multivariate_normal.entropy in cov (symmetric positive definite; only its lower triangle is read);
        # the mean is passed and has no effect
        case(_stats("multivariate_normal", "entropy"), R(3), SPD(3)),
        case(_stats("multivariate_normal", "entropy"), None, SPD(2)),
    ]

if special is not None:
    from autodiff_st import runtime

    CASES += [
        # the (pseudo-)inverse of multivariate_normal with allow_singular=True, where cov has full rank
        # (symmetric positive definite; the lower triangle is read); the rank check passes p through
        case(runtime.psd_inverse, SPD(3)),
        case(runtime.nan_unless_full_rank, R(3, 3), np.eye(3) + 0.5),
    ]
