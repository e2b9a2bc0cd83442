"""Step 11 idioms: jvp of a grad or jacrev (Hessian-vector products), linearize, custom_vjp and
custom_jvp, jacfwd(chunk_size=), and the "autodiff_st" logging channel.

Every derivative is checked against an independent oracle: the Hessian from ad.hessian, central finite
differences of a first derivative, ad.testing.check_grads, and JAX where it is installed."""

import importlib.util
import logging

import numpy as np
import pytest

import autodiff_st as ad

HAS_JAX = importlib.util.find_spec("jax") is not None
EPS = 1e-6


def central(fn, x, v):
    """Central finite difference of ``fn`` at ``x`` along ``v`` (arrays or tuples of them)."""
    plus, minus = fn(x + EPS * v), fn(x - EPS * v)
    if isinstance(plus, tuple):
        return tuple((p - m) / (2 * EPS) for p, m in zip(plus, minus))
    return (plus - minus) / (2 * EPS)


def loss(x):
    return np.sum(np.sin(x) * x ** 2) + np.prod(x[:2])


def two(x, y):
    return np.sum(np.sin(x)[:2] * y ** 3) + x[0] * y[1]


def vector_out(x):
    return np.sin(x) * x[0] + np.exp(x[1]) * x


X = np.array([0.3, 0.5, 0.9])
V = np.array([1.0, -2.0, 0.5])
Y = np.array([1.5, -0.2])
W = np.array([0.7, 0.1])


# -- 1. jvp of a grad: forward-over-reverse Hessian-vector products ------------------------------------

def test_hvp_matches_hessian_and_finite_differences():
    g, hv = ad.jvp(ad.grad(loss), (X,), (V,))
    np.testing.assert_allclose(g, ad.grad(loss)(X), rtol=1e-12)
    np.testing.assert_allclose(hv, ad.hessian(loss)(X) @ V, rtol=1e-10)
    np.testing.assert_allclose(hv, central(ad.grad(loss), X, V), rtol=1e-6, atol=1e-8)


def test_hvp_two_positions():
    (gx, gy), (hx, hy) = ad.jvp(ad.grad(two, (0, 1)), (X, Y), (V, W))
    h = ad.hessian(two, (0, 1))(X, Y)
    np.testing.assert_allclose(hx, h[0][0] @ V + h[0][1] @ W, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hy, h[1][0] @ V + h[1][1] @ W, rtol=1e-10, atol=1e-12)
    gxs, gys = ad.grad(two, (0, 1))(X, Y)
    np.testing.assert_allclose(gx, gxs)
    np.testing.assert_allclose(gy, gys)


def test_hvp_of_float_and_third_order():
    # d/dt of the second derivative of t**4 (12 t**2) is 24 t
    value, tangent = ad.jvp(ad.grad(ad.grad(lambda t: t ** 4)), (1.5,), (1.0,))
    assert value == pytest.approx(12 * 1.5 ** 2)
    assert tangent == pytest.approx(24 * 1.5)


def test_jvp_of_jacrev():
    jac, tangent = ad.jvp(ad.jacrev(vector_out), (X,), (V,))
    np.testing.assert_allclose(jac, ad.jacrev(vector_out)(X))
    np.testing.assert_allclose(tangent, central(ad.jacrev(vector_out), X, V), rtol=1e-6, atol=1e-8)


def test_jvp_of_jacrev_two_inputs():
    def f(x, y):
        return np.sin(x[:2]) * y ** 2

    (jx, jy), (tx, ty) = ad.jvp(ad.jacrev(f, (0, 1)), (X, Y), (V, W))
    ex = ((ad.jacrev(f, (0, 1))(X + EPS * V, Y + EPS * W)), ad.jacrev(f, (0, 1))(X - EPS * V, Y - EPS * W))
    np.testing.assert_allclose(tx, (ex[0][0] - ex[1][0]) / (2 * EPS), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ty, (ex[0][1] - ex[1][1]) / (2 * EPS), rtol=1e-6, atol=1e-8)


def test_jvp_of_grad_with_options_is_refused_clearly():
    with pytest.raises(ad.AutodiffError, match="plain grad"):
        ad.jvp(ad.value_and_grad(loss), (X,), (V,))
    with pytest.raises(ad.AutodiffError, match="has_aux"):
        ad.jvp(ad.grad(loss), (X,), (V,), has_aux=True)


@pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed")
def test_hvp_against_jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def jloss(x):
        return jnp.sum(jnp.sin(x) * x ** 2) + jnp.prod(x[:2])

    _, expected = jax.jvp(jax.grad(jloss), (X,), (V,))
    np.testing.assert_allclose(ad.jvp(ad.grad(loss), (X,), (V,))[1], np.asarray(expected), rtol=1e-10)


# -- 2. linearize ----------------------------------------------------------------------------------------

def test_linearize_value_and_tangents_match_jvp_and_finite_differences():
    out, f_jvp = ad.linearize(vector_out, X)
    np.testing.assert_allclose(out, vector_out(X))
    for v in (V, np.array([0.0, 1.0, 0.0]), -3 * V):
        np.testing.assert_allclose(f_jvp(v), ad.jvp(vector_out, (X,), (v,))[1], rtol=1e-14)
        np.testing.assert_allclose(f_jvp(v), central(vector_out, X, v), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(f_jvp(V), ad.jacfwd(vector_out)(X) @ V, rtol=1e-12)


def test_linearize_two_inputs_and_aux():
    def f(x, y):
        return np.sum(np.sin(x)[:2] * y), y * 2

    out, f_jvp, aux = ad.linearize(f, X, Y, has_aux=True)
    assert out == pytest.approx(f(X, Y)[0])
    np.testing.assert_allclose(aux, 2 * Y)
    expected = (f(X + EPS * V, Y + EPS * W)[0] - f(X - EPS * V, Y - EPS * W)[0]) / (2 * EPS)
    assert f_jvp(V, W) == pytest.approx(expected, rel=1e-6)


def test_linearize_of_grad_is_a_hessian_vector_product():
    g, hvp = ad.linearize(ad.grad(loss), X)
    np.testing.assert_allclose(g, ad.grad(loss)(X))
    np.testing.assert_allclose(hvp(V), ad.hessian(loss)(X) @ V, rtol=1e-10)


def test_linearize_checks_tangents():
    _, f_jvp = ad.linearize(vector_out, X)
    with pytest.raises(ValueError, match="shape"):
        f_jvp(np.ones(2))
    with pytest.raises(ValueError, match="1 tangent"):
        f_jvp(V, V)


@pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed")
def test_linearize_against_jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    _, jf = jax.linearize(lambda x: jnp.sin(x) * x[0] + jnp.exp(x[1]) * x, X)
    np.testing.assert_allclose(ad.linearize(vector_out, X)[1](V), np.asarray(jf(V)), rtol=1e-12)
