"""grad(grad(f)): higher derivatives by transforming generated gradient code again."""

import math

import numpy as np
import pytest

import autodiff_st as ad


def cubic_sine(x):
    return np.sin(x) * x ** 3


def derivatives_of_cubic_sine(x):
    """f = x^3 sin x and its first three derivatives, worked out by hand."""
    s, c = math.sin(x), math.cos(x)
    return (x ** 3 * s,
            3 * x ** 2 * s + x ** 3 * c,
            6 * x * s + 6 * x ** 2 * c - x ** 3 * s,
            6 * s + 18 * x * c - 9 * x ** 2 * s - x ** 3 * c)


def looped(x, y):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.tanh(x * y + i))
    return s


def test_second_and_third_derivatives_of_a_scalar_function():
    x = 0.7
    _, d1, d2, d3 = derivatives_of_cubic_sine(x)
    assert ad.grad(cubic_sine)(x) == pytest.approx(d1, rel=1e-12)
    assert ad.grad(ad.grad(cubic_sine))(x) == pytest.approx(d2, rel=1e-12)
    assert ad.grad(ad.grad(ad.grad(cubic_sine)))(x) == pytest.approx(d3, rel=1e-12)


def test_value_and_grad_of_a_grad_returns_the_first_derivative_as_its_value():
    x = 0.7
    _, d1, d2, _ = derivatives_of_cubic_sine(x)
    value, second = ad.value_and_grad(ad.grad(cubic_sine))(x)
    assert type(value) is float and value == pytest.approx(d1, rel=1e-12)
    assert second == pytest.approx(d2, rel=1e-12)


def test_grad_of_grad_through_a_loop_matches_differences_of_the_gradient():
    """d/dy sum(d looped / dx): a Hessian-vector product, here against central differences of grad."""
    x, y = np.array([0.3, -0.2]), np.array([0.5, 1.5])
    mixed = ad.grad(ad.grad(looped), 1)(x, y)
    eps = 1e-6
    grad_x = ad.grad(looped)
    expected = np.array([(grad_x(x, y + eps * e).sum() - grad_x(x, y - eps * e).sum()) / (2 * eps)
                         for e in np.eye(2)])
    np.testing.assert_allclose(mixed, expected, rtol=1e-6)


def test_grad_of_a_grad_with_aux_is_refused():
    with pytest.raises(ad.AutodiffError):
        ad.grad(ad.grad(cubic_sine, has_aux=True))
