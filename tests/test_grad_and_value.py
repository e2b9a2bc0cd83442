"""torch.func's grad_and_value, and ad.clear_cache."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import cache

X = np.array([0.3, -1.2, 0.7])


def loss(x, w):
    return np.sum(np.sin(x) * w)


def loss_with_aux(x, w):
    y = np.sin(x) * w
    return np.sum(y), {"y": y}


def test_grad_and_value_returns_the_gradient_then_the_value():
    grad, value = ad.grad_and_value(loss)(X, 2.0)
    assert value == pytest.approx(loss(X, 2.0))
    np.testing.assert_allclose(grad, 2.0 * np.cos(X))


def test_grad_and_value_with_argnums_and_aux():
    (gx, gw), (value, aux) = ad.grad_and_value(loss_with_aux, argnums=(0, 1), has_aux=True)(X, 2.0)
    assert value == pytest.approx(loss(X, 2.0))
    np.testing.assert_allclose(aux["y"], np.sin(X) * 2.0)
    np.testing.assert_allclose(gx, 2.0 * np.cos(X))
    assert gw == pytest.approx(np.sum(np.sin(X)))


def test_grad_and_value_checks_its_options():
    with pytest.raises(TypeError):
        ad.grad_and_value(loss, has_aux="yes")(X, 2.0)
    with pytest.raises(ad.AuxError):
        ad.grad_and_value(loss, has_aux=True)(X, 2.0)


def test_grad_and_value_as_a_decorator_shows_its_source():
    assert "def loss_value_and_grad" in ad.source(ad.grad_and_value(loss))


def test_clear_cache_makes_transforms_compile_again():
    g = ad.grad(loss)
    first = g(X, 2.0)
    assert cache._COMPILED
    ad.clear_cache()
    assert not cache._COMPILED
    np.testing.assert_allclose(g(X, 2.0), first)  # the transform made before compiles again
    assert cache._COMPILED
