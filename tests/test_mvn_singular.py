"""scipy.stats.multivariate_normal with allow_singular=True and a singular cov.

The density lives on the affine subspace mean + range(cov). Along it the derivatives in x and mean are
those of the formula with scipy's pseudo-inverse; off it the density is 0 (its log -inf) in a whole
neighbourhood, so they are 0. The derivative in a singular cov does not exist (a perturbation can change
the rank, and the density jumps), and its gradient is nan. Checked against finite differences of the
plain function along the support.
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal as mvn

import autodiff_st as ad
from autodiff_st.testing import check_grads

RNG = np.random.default_rng(7)
BASIS = np.linalg.qr(RNG.standard_normal((4, 2)))[0]  # an orthonormal basis of the support directions
COV = BASIS @ np.diag([1.5, 0.6]) @ BASIS.T  # rank 2 of 4, not axis-aligned


def on_support(z, mean):
    """The point of the support with coordinates z (2 numbers) around mean."""
    return mean + BASIS @ z


def pdf_on_support(z, mean):
    return mvn.pdf(on_support(z, mean), mean, COV, allow_singular=True)


def logpdf_on_support(z, mean):
    return mvn.logpdf(on_support(z, mean), mean, COV, allow_singular=True)


def logpdf_shifted_mean(z, shift):
    # the mean moves along the support too: x - mean stays in range(cov)
    mean = np.array([0.3, -0.1, 0.2, 0.5]) + BASIS @ shift
    return mvn.logpdf(mean + BASIS @ z, mean - BASIS @ (0.5 * z), COV, allow_singular=True)


@pytest.mark.parametrize("fn", [pdf_on_support, logpdf_on_support])
def test_derivatives_along_the_support(fn):
    z = np.array([0.4, -0.7])
    mean = np.array([0.3, -0.1, 0.2, 0.5])
    check_grads(fn, (z, mean), order=2)


def test_mean_moving_along_the_support():
    check_grads(logpdf_shifted_mean, (np.array([0.4, -0.7]), np.array([0.2, 0.1])), order=2)


def test_gradient_in_x_is_minus_the_pseudo_inverse_times_the_deviation():
    mean = np.array([0.3, -0.1, 0.2, 0.5])
    x = on_support(np.array([0.4, -0.7]), mean)
    g = ad.grad(lambda x: mvn.logpdf(x, mean, COV, allow_singular=True))(x)
    np.testing.assert_allclose(g, -np.linalg.pinv(COV) @ (x - mean), rtol=1e-9, atol=1e-12)
    assert np.allclose(BASIS @ (BASIS.T @ g), g)  # it lies along the support


def test_off_the_support_the_gradients_are_zero():
    mean = np.zeros(4)
    null = np.linalg.svd(COV)[0][:, 3]  # a direction the density does not reach
    x = on_support(np.array([0.4, -0.7]), mean) + 0.5 * null
    assert mvn.pdf(x, mean, COV, allow_singular=True) == 0
    assert mvn.logpdf(x, mean, COV, allow_singular=True) == -np.inf
    for method in (mvn.pdf, mvn.logpdf):
        g_x, g_mean = ad.grad(lambda x, m: method(x, m, COV, allow_singular=True), (0, 1))(x, mean)
        assert np.all(g_x == 0) and np.all(g_mean == 0)


def test_the_gradient_of_a_singular_cov_is_nan():
    mean = np.zeros(4)
    x = on_support(np.array([0.4, -0.7]), mean)
    g_cov = ad.grad(lambda c: mvn.logpdf(x, mean, c, allow_singular=True))(COV)
    lower = np.tril(np.ones((4, 4), dtype=bool))
    assert np.all(np.isnan(g_cov[lower]))  # scipy reads the lower triangle: the upper one has no gradient
    assert np.all(g_cov[~lower] == 0)
    _, t = ad.jvp(lambda c: mvn.pdf(x, mean, c, allow_singular=True), (COV,), (np.eye(4),))
    assert np.isnan(t)


def test_a_full_rank_cov_with_allow_singular_has_the_usual_gradients():
    cov = np.cov(RNG.standard_normal((4, 12)))
    x, mean = RNG.standard_normal(4), RNG.standard_normal(4)
    singular_ok = ad.grad(lambda x, m, c: mvn.logpdf(x, m, c, allow_singular=True), (0, 1, 2))(x, mean, cov)
    plain = ad.grad(lambda x, m, c: mvn.logpdf(x, m, c), (0, 1, 2))(x, mean, cov)
    for a, b in zip(singular_ok, plain):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
