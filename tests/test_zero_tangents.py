"""Second derivatives through a helper whose constant argument is an exponent.

The backward pass of a helper keeps its constants among its residuals; differentiating that backward
pass again gives them zero tangents. A zero tangent of an exponent must contribute 0, not
``0 * log(negative base) = nan``. Checked against finite differences of the gradient.
"""

import math

import numpy as np
import pytest

import autodiff_st as ad

X = np.array([0.5, -1.0, 2.0, -0.3])


def power_sum(x, p, q=1.0):  # a default keeps it a call (not inlined)
    return np.sum((x * q) ** p)


def keyword_power(x, *, power=3.0):
    return np.sum(x ** power)


def calls_with_a_constant_power(x):
    return power_sum(x, 2.0) + keyword_power(x, power=2.0) + keyword_power(x)


def float_power_helper(x, p, q=1.0):
    return np.sum(np.float_power(x * q, p))


def calls_float_power(x):
    return float_power_helper(x, 3.0)


def math_pow_helper(t, p, q=1.0):
    return math.pow(t * q, p)


def calls_math_pow(t):
    return math_pow_helper(t, 3.0)


def _hessian_by_differences(fn, x, eps=1e-5):
    g = ad.grad(fn)
    return np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(len(x))], axis=1)


@pytest.mark.parametrize("fn", [calls_with_a_constant_power, calls_float_power])
def test_hessian_at_negative_bases(fn):
    expected = _hessian_by_differences(fn, X)
    for hess in (ad.hessian(fn)(X), ad.jacfwd(ad.grad(fn))(X), ad.jacrev(ad.grad(fn))(X)):
        assert np.all(np.isfinite(hess))
        np.testing.assert_allclose(hess, expected, rtol=1e-6, atol=1e-6)


def test_hessian_by_hand():
    # d2/dx2 of x**2 + x**2 + x**3 is 4 + 6x on the diagonal
    np.testing.assert_allclose(ad.hessian(calls_with_a_constant_power)(X), np.diag(4 + 6 * X), rtol=1e-12)


def test_second_derivative_of_math_pow_at_a_negative_base():
    assert ad.grad(ad.grad(calls_math_pow))(-1.5) == pytest.approx(6 * -1.5, rel=1e-12)


def test_a_differentiated_exponent_at_a_negative_base_is_still_nan():
    # (-2) ** y has no real derivative in y: nan, as before (only a zero tangent gives 0)
    with np.errstate(invalid="ignore"):
        g = ad.grad(lambda y: np.sum(np.array([-2.0, 3.0]) ** y))(2.0)
    assert math.isnan(g)
