"""scipy functions inside users' functions, end to end: derivatives at orders 1 and 2 in both modes against
finite differences (check_grads, which also compares every transform's value with the plain function's),
jacrev against jacfwd, and the typed refusals of what has no derivative here (never a zero)."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

scipy = pytest.importorskip("scipy")

import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402
from scipy import linalg, signal, special  # noqa: E402
from scipy.stats import dirichlet, gamma, multivariate_normal, norm, poisson, t  # noqa: E402

RNG = np.random.default_rng(8)
X = RNG.uniform(0.5, 2.0, 4)
Y = RNG.standard_normal(4)
A = RNG.standard_normal((3, 3))
SPD3 = A @ A.T + 3 * np.eye(3)
B = RNG.standard_normal((3, 2))


# -- scipy.special ------------------------------------------------------------------------------------------

def bessel_mix(x):
    return np.sum(special.jv(1.5, x) * special.iv(0.5, x) + special.kv(2.0, x) - special.y1(x) + special.i0e(x))


def inverse_errors(p):
    return np.sum(special.erfinv(2 * p - 1) + special.ndtri(p) * special.log_ndtr(p - 0.5))


def beta_family(a, b, x):
    return np.sum(special.betaln(a, b) + special.beta(a, b) * special.betainc(2.0, 3.0, x))


def incomplete_gamma(x):
    return np.sum(special.gammainc(1.5, x) - 2.0 * special.gammaincc(2.5, x) + special.rgamma(x))


def multivariate_gamma(a):
    return special.multigammaln(a, 3) * a


# -- scipy.stats: the spellings a user writes -----------------------------------------------------------

def norm_by_keyword(x, m, s):
    return np.sum(scipy.stats.norm.logpdf(x, loc=m, scale=s))


def norm_imported(x, m, s):
    return np.sum(norm.cdf(x, m, s) * norm.logsf(x, m, s) + norm.pdf(x, m))


def student_t(x, df):
    return np.sum(t.logpdf(x, df=df, scale=1.5) + t.cdf(x, 3.0, scale=df))


def gamma_across_its_support(x, a):
    # x below loc: pdf is 0 there, and so is its gradient
    return np.sum(gamma.pdf(x, a, loc=-0.2) ** 2)


def poisson_rate(mu):
    k = np.array([0, 1, 2, 5])
    return np.sum(poisson.logpmf(k, mu) + poisson.cdf(k, mu))


def dirichlet_normalized(y, alpha):
    x = y / np.sum(y)  # scipy checks that x lies on the simplex
    return dirichlet.logpdf(x, alpha)


def gaussian_likelihood(x, mean, cov):
    return np.sum(multivariate_normal.logpdf(x, mean=mean, cov=cov))


def gaussian_density(x, mean, cov):
    return np.sum(multivariate_normal.pdf(x, mean, cov))


# -- scipy.linalg and scipy.signal -----------------------------------------------------------------------

def triangular_solves(m, b):
    return np.sum(linalg.solve_triangular(m, b, lower=True) * linalg.solve_triangular(m, b, trans="T"))


def cholesky_solve(a, b):
    factor = linalg.cho_factor(a)
    return np.sum(linalg.cho_solve(factor, b) ** 2)


def cholesky_solve_lower(a, b):
    c, lower = linalg.cho_factor(a, lower=True)
    return np.sum(np.sin(linalg.cho_solve((c, lower), b)))


def lu_solve_chain(a, b):
    lu_and_piv = linalg.lu_factor(a)
    return np.sum(linalg.lu_solve(lu_and_piv, b, trans=1) ** 2)


def factors_used_twice(a, b):
    lu_and_piv = linalg.lu_factor(a)
    factor = linalg.cho_factor(a @ a.T)
    return np.sum(linalg.lu_solve(lu_and_piv, b) + linalg.lu_solve(lu_and_piv, b, trans=1) ** 2
                  + linalg.cho_solve(factor, b) * linalg.cho_solve(factor, b[::-1]))


def exponential(a):
    return np.sum(linalg.expm(0.5 * a) ** 2)


def sylvester(a, b, q):
    return np.sum(linalg.solve_sylvester(a, b, q) ** 2)


def convolutions(x, k):
    return (np.sum(signal.convolve(x, k) ** 2) + np.sum(np.sin(signal.convolve(x, k, mode="same")))
            + np.sum(signal.convolve(x, k, mode="valid") ** 3))


def convolution_2d(x, k):
    return np.sum(np.tanh(scipy.signal.convolve(x, k, mode="same")))


MATRIX = RNG.standard_normal((3, 3)) * 0.3 + 2 * np.eye(3)

CASES = [
    (bessel_mix, (X,)),
    (inverse_errors, (RNG.uniform(0.2, 0.8, 4),)),
    (beta_family, (X, X[::-1], RNG.uniform(0.1, 0.9, 4))),
    (incomplete_gamma, (X,)),
    (multivariate_gamma, (2.7,)),
    (norm_by_keyword, (Y, 0.3, 1.4)),
    (norm_imported, (Y, Y[::-1], X)),
    (student_t, (Y, 3.5)),
    (gamma_across_its_support, (np.array([-0.9, -0.5, 0.4, 1.3, 2.2]), 3.5)),
    (poisson_rate, (X,)),
    (dirichlet_normalized, (RNG.uniform(0.5, 1.5, 3), RNG.uniform(1.0, 3.0, 3))),
    (gaussian_likelihood, (RNG.standard_normal((5, 3)), RNG.standard_normal(3), SPD3)),
    (gaussian_density, (RNG.standard_normal(3) * 0.3, np.zeros(3), SPD3)),
    (triangular_solves, (MATRIX, B)),
    (cholesky_solve, (SPD3, B)),
    (cholesky_solve_lower, (SPD3, B[:, 0])),
    (lu_solve_chain, (MATRIX, B)),
    (exponential, (A,)),
    (sylvester, (MATRIX, MATRIX.T[:2, :2] + np.eye(2), B)),
    (convolutions, (RNG.standard_normal(6), RNG.standard_normal(3))),
    (convolution_2d, (RNG.standard_normal((4, 5)), RNG.standard_normal((2, 3)))),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_derivatives_match_finite_differences(fn, args):
    check_grads(fn, args, order=1)
    check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_jacrev_matches_jacfwd(fn, args):
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, (float, np.ndarray)))
    reverse = ad.jacrev(fn, grad_position=positions)(*args)
    forward = ad.jacfwd(fn, grad_position=positions)(*args)
    for r, f in zip(reverse, forward):
        np.testing.assert_allclose(r, f, rtol=1e-7, atol=1e-9)


def test_factors_used_twice_at_first_order():
    # A factor tuple read by two solves sums two list cotangents; differentiating that sum again is not
    # supported yet by the compiler (see docs/python-support.md), so this is checked at order 1.
    check_grads(factors_used_twice, (MATRIX, B), order=1)
    reverse = ad.jacrev(factors_used_twice, grad_position=(0, 1))(MATRIX, B)
    forward = ad.jacfwd(factors_used_twice, grad_position=(0, 1))(MATRIX, B)
    for r, f in zip(reverse, forward):
        np.testing.assert_allclose(r, f, rtol=1e-7, atol=1e-9)


def test_gradient_outside_the_support_is_zero():
    g = ad.grad(gamma_across_its_support)(np.array([-0.9, -0.5, 0.4, 1.3]), 3.5)
    assert g[0] == 0.0 and g[1] == 0.0 and g[2] != 0.0


# -- refusals ----------------------------------------------------------------------------------------------

def betainc_in_a(a, x):
    return np.sum(special.betainc(a, 2.0, x))


def gammainc_in_a(a, x):
    return special.gammainc(a, x)


def bessel_in_order(v, x):
    return np.sum(special.jv(v, x))


def t_cdf_in_df(x, df):
    return np.sum(t.cdf(x, df))


@pytest.mark.parametrize("fn, args, name", [
    (betainc_in_a, (1.5, X / 3), "a"), (gammainc_in_a, (1.5, 0.7), "a"), (bessel_in_order, (1.5, X), "v"),
    (t_cdf_in_df, (Y, 3.0), "df"),
])
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd])
def test_refused_parameters_raise_a_typed_error(fn, args, name, transform):
    with pytest.raises(ad.AutodiffError, match=f"`{name}`") as info:
        transform(fn, grad_position=(0, 1))(*args)
    assert "test_s8_scipy_rules.py" in str(info.value)


def test_only_x_is_differentiated_when_the_shape_parameter_is_constant():
    g = ad.grad(betainc_in_a, grad_position=1)(1.5, X / 3)
    np.testing.assert_allclose(g, special.betainc(1.5, 2.0, X / 3 + 1e-7) / 2e-7 - special.betainc(1.5, 2.0, X / 3 - 1e-7) / 2e-7,
                               rtol=1e-5)


def frozen_distribution(x):
    return np.sum(norm(0.0, 1.0).logpdf(x))


def test_a_frozen_distribution_is_never_silently_wrong():
    try:
        g = ad.grad(frozen_distribution)(Y)
    except ad.AutodiffError:
        return
    np.testing.assert_allclose(g, -Y, rtol=1e-6)


def multivariate_normal_singular(x, cov):
    return multivariate_normal.logpdf(x, np.zeros(3), cov, allow_singular=True)


def test_multivariate_normal_allow_singular_with_a_full_rank_cov():
    # allow_singular only matters for a singular cov (tests/test_mvn_singular.py): here the gradients
    # are those of allow_singular=False
    def plain(x, cov):
        return multivariate_normal.logpdf(x, np.zeros(3), cov)

    for position in (0, 1):
        np.testing.assert_allclose(ad.grad(multivariate_normal_singular, grad_position=position)(np.ones(3), SPD3),
                                   ad.grad(plain, grad_position=position)(np.ones(3), SPD3), rtol=1e-10, atol=1e-12)
