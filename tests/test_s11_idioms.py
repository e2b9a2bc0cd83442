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


# -- 3. custom_vjp and custom_jvp -------------------------------------------------------------------------

@ad.custom_vjp
def sin_times(x, y):
    return np.sin(x) * y


def sin_times_fwd(x, y):
    return np.sin(x) * y, (np.cos(x), np.sin(x), y)


def sin_times_bwd(residuals, g):
    cos_x, sin_x, y = residuals
    return g * cos_x * y, g * sin_x


sin_times.defvjp(sin_times_fwd, sin_times_bwd)


def uses_sin_times(x, y):
    return np.sum(sin_times(x, y) ** 2)


def plain_sin_times(x, y):
    return np.sum((np.sin(x) * y) ** 2)


@ad.custom_vjp
def clipped(x):
    return 2.0 * x


clipped.defvjp(lambda x: (2.0 * x, None), lambda residuals, g: (np.clip(2.0 * g, -1.0, 1.0),))


def test_custom_vjp_plain_call_runs_the_original():
    np.testing.assert_allclose(sin_times(X, np.ones(3)), np.sin(X))
    assert "custom_vjp" in repr(sin_times)


def test_custom_vjp_correct_derivative_matches_finite_differences():
    ad.testing.check_grads(uses_sin_times, (X[:2], Y), order=1, modes=("rev",))
    got = ad.grad(uses_sin_times, (0, 1))(X[:2], Y)
    expected = ad.grad(plain_sin_times, (0, 1))(X[:2], Y)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(sin_times, (0, 1))(X[:2], Y)[0], np.diag(np.cos(X[:2]) * Y))


def test_custom_vjp_uses_the_users_backward():
    # the derivative of 2x is 2, but the backward function clips the cotangent to [-1, 1]
    def f(x):
        return np.sum(clipped(x) * np.array([3.0, 0.1, -5.0]))

    np.testing.assert_allclose(ad.grad(f)(X), [1.0, 0.2, -1.0])
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(clipped(x)))(X), np.ones(3))


def test_custom_vjp_second_order_differentiates_fwd_and_bwd():
    x, y = X[:2], Y
    h = ad.jacrev(ad.grad(uses_sin_times))(x, y)
    np.testing.assert_allclose(h, ad.hessian(plain_sin_times)(x, y), rtol=1e-10)
    first = ad.grad(uses_sin_times)
    e = np.eye(2)
    fd = np.stack([(first(x + EPS * e[i], y) - first(x - EPS * e[i], y)) / (2 * EPS) for i in range(2)], axis=1)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


def test_custom_vjp_nondiff_argnums():
    @ad.custom_vjp(nondiff_argnums=(0,))
    def power(n, x):
        return x ** n

    def power_fwd(n, x):
        return x ** n, x

    def power_bwd(n, x, g):
        return (g * n * x ** (n - 1),)

    power.defvjp(power_fwd, power_bwd)

    def f(x):
        return np.sum(power(3, x))

    np.testing.assert_allclose(ad.grad(f)(X), 3 * X ** 2)
    ad.testing.check_grads(f, (X,), order=1, modes=("rev",))


def test_custom_vjp_wrong_cotangents_raise_cotangent_error():
    @ad.custom_vjp
    def total(x):
        return np.sum(x)

    total.defvjp(lambda x: (np.sum(x), None), lambda residuals, g: (g,))  # shape () for an argument of (3,)
    with pytest.raises(ad.CotangentError, match=r"custom_vjp .*total.* shape \(\)"):
        ad.grad(lambda x: total(x) * 2.0)(X)
    with pytest.raises(ad.CotangentError, match="total"):
        ad.grad(total)(X)

    @ad.custom_vjp
    def pair(x, y):
        return np.sum(x * y)

    pair.defvjp(lambda x, y: (np.sum(x * y), (x, y)), lambda r, g: g * r[1])  # not a tuple of two
    with pytest.raises(ad.CotangentError, match="tuple of 2 cotangents"):
        ad.grad(lambda x: pair(x, X) * 1.0)(X)

    @ad.custom_vjp
    def as_int(x):
        return x * 1.0

    as_int.defvjp(lambda x: (x * 1.0, None), lambda r, g: (np.ones(np.shape(g), dtype=np.int64),))
    with pytest.raises(ad.CotangentError, match="dtype int64"):
        ad.grad(lambda x: np.sum(as_int(x)))(X)


def test_register_vjp_wrong_shape_raises_cotangent_error():
    def weighted(x, w):
        return np.sum(x * w)

    @ad.register_vjp(weighted)
    def weighted_vjp(g, ans, x, w):
        return g, g * x  # x's cotangent should be g * w, with x's shape

    with pytest.raises(ad.CotangentError, match=r"rule registered for .*weighted.* `x` with shape \(\)"):
        ad.grad(lambda x, w: weighted(x, w) ** 2)(X, V)
    with pytest.raises(ad.CotangentError, match="weighted"):
        ad.grad(weighted)(X, V)


def test_register_vjp_right_shape_still_works_at_order_two():
    def dot(x, w):
        return np.sum(x * w)

    @ad.register_vjp(dot)
    def dot_vjp(g, ans, x, w):
        return g * w, g * x

    def f(x, w):
        return dot(x, w) ** 2

    np.testing.assert_allclose(ad.grad(f)(X, V), 2 * np.dot(X, V) * V)
    np.testing.assert_allclose(ad.jacrev(ad.grad(f))(X, V), 2 * np.outer(V, V), rtol=1e-12)
    assert "check_rule_cotangent" in ad.source(ad.grad(f))


@ad.custom_jvp
def sin_times_j(x, y):
    return np.sin(x) * y


@sin_times_j.defjvp
def sin_times_j_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    return np.sin(x) * y, np.cos(x) * y * tx + np.sin(x) * ty


def uses_sin_times_j(x, y):
    return np.sum(sin_times_j(x, y) ** 2)


def test_custom_jvp_forward_and_reverse():
    x, y = X[:2], Y
    out, tangent = ad.jvp(sin_times_j, (x, y), (V[:2], W))
    np.testing.assert_allclose(out, np.sin(x) * y)
    np.testing.assert_allclose(tangent, np.cos(x) * y * V[:2] + np.sin(x) * W)
    jf = ad.jacfwd(sin_times_j, (0, 1))(x, y)
    jr = ad.jacrev(sin_times_j, (0, 1))(x, y)
    for a, b in zip(jf, jr):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    ad.testing.check_grads(uses_sin_times_j, (x, y), order=1)
    for a, b in zip(ad.grad(uses_sin_times_j, (0, 1))(x, y), ad.grad(plain_sin_times, (0, 1))(x, y)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_custom_jvp_uses_the_users_jvp_and_second_order():
    @ad.custom_jvp
    def f(x):
        return np.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return np.sin(x), 3.0 * t  # deliberately not cos(x): the user's derivative is used

    np.testing.assert_allclose(ad.grad(lambda x: np.sum(f(x)))(X), 3.0 * np.ones(3))
    np.testing.assert_allclose(ad.jvp(f, (X,), (V,))[1], 3.0 * V)
    x, y = X[:2], Y
    h = ad.hessian(uses_sin_times_j)(x, y)
    np.testing.assert_allclose(h, ad.hessian(plain_sin_times)(x, y), rtol=1e-10)
    np.testing.assert_allclose(ad.jacrev(ad.grad(uses_sin_times_j))(x, y), h, rtol=1e-10)


def test_custom_jvp_nondiff_argnums():
    @ad.custom_jvp(nondiff_argnums=(0,))
    def scaled_tanh(k, x):
        return k * np.tanh(x)

    @scaled_tanh.defjvp
    def scaled_tanh_jvp(k, primals, tangents):
        (x,), (t,) = primals, tangents
        return k * np.tanh(x), k * (1 - np.tanh(x) ** 2) * t

    def f(x):
        return np.sum(scaled_tanh(3.0, x))

    np.testing.assert_allclose(ad.grad(f)(X), 3.0 * (1 - np.tanh(X) ** 2), rtol=1e-12)
    ad.testing.check_grads(f, (X,), order=2)


def test_custom_decorators_refuse_what_they_cannot_do():
    with pytest.raises(ad.OptionValueError, match="plain positional"):
        ad.custom_vjp(lambda x, y=1.0: x * y)
    with pytest.raises(ad.OptionValueError, match="rename"):
        ad.custom_jvp(lambda g: g)
    with pytest.raises(ad.OptionValueError, match="nondiff_argnums"):
        ad.custom_vjp(lambda x: x, nondiff_argnums=(2,))
    with pytest.raises(ad.MissingRuleError, match="forward-mode"):
        ad.jvp(lambda x: np.sum(clipped(x)), (X,), (V,))


@pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed")
def test_custom_vjp_against_jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    @jax.custom_vjp
    def jclipped(x):
        return 2.0 * x

    jclipped.defvjp(lambda x: (2.0 * x, None), lambda r, g: (jnp.clip(2.0 * g, -1.0, 1.0),))
    weights = np.array([3.0, 0.1, -5.0])
    expected = jax.grad(lambda x: jnp.sum(jclipped(x) * weights))(X)
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(clipped(x) * weights))(X), np.asarray(expected))


# -- 4. jacfwd(chunk_size=) ------------------------------------------------------------------------------

def test_jacfwd_chunk_size_bounds_the_columns_pushed_at_once(monkeypatch):
    from autodiff_st.transforms import jacobians

    x = np.linspace(0.1, 1.0, 7)
    expected = ad.jacrev(vector_out)(x)
    real = jacobians.call_batched_any
    widths = []

    def recording(fn, args, kwargs):
        widths.append(np.shape(args[0][0].value)[0])
        return real(fn, args, kwargs)

    monkeypatch.setattr(jacobians, "call_batched_any", recording)
    for chunk, most in ((None, 7), (3, 3), (1, 0), (7, 7), (100, 7)):
        widths.clear()
        np.testing.assert_allclose(ad.jacfwd(vector_out, chunk_size=chunk)(x), expected, rtol=1e-12)
        assert sum(widths) == (0 if chunk == 1 else 7)
        assert max(widths, default=0) == most


def test_jacfwd_chunk_size_tuple_output_two_inputs_and_nested():
    def f(x, y):
        return np.sin(x) * y[0], np.sum(x ** 2) * y

    for chunk in (None, 1, 2):
        jf = ad.jacfwd(f, (0, 1), chunk_size=chunk)(X, Y)
        jr = ad.jacrev(f, (0, 1))(X, Y)
        for a, b in zip(jf, jr):
            for c, d in zip(a, b):
                np.testing.assert_allclose(c, d, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ad.jacfwd(ad.grad(loss), chunk_size=chunk)(X), ad.hessian(loss)(X), rtol=1e-10)


def test_jacfwd_chunk_size_is_checked():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ad.ChunkSizeError):
            ad.jacfwd(loss, chunk_size=bad)


# -- 5. the "autodiff_st" logger --------------------------------------------------------------------------

def logged_function(x, scale):
    return np.sum(np.tanh(x) * scale)


def test_compilation_is_logged_at_debug(caplog):
    ad.clear_cache()
    with caplog.at_level(logging.DEBUG, logger="autodiff_st"):
        ad.grad(logged_function)(X, 2.0)
        first = [r for r in caplog.records if r.name == "autodiff_st" and "compiled" in r.getMessage()]
        ad.grad(logged_function)(X, 2.0)  # cached: nothing more is compiled
        second = [r for r in caplog.records if r.name == "autodiff_st" and "compiled" in r.getMessage()]
    assert len(first) >= 1 and len(second) == len(first)
    message = first[0].getMessage()
    assert first[0].levelno == logging.DEBUG
    assert "logged_function" in message and "test_s11_idioms.py" in message
    assert "mode=grad_only" in message and "positions=(0,)" in message
    assert "kinds=(float64[1], number)" in message  # rank and dtype of an ndarray argument
    assert message.rstrip().endswith(" s") and " in " in message


def test_nothing_is_logged_above_debug(caplog):
    ad.clear_cache()
    with caplog.at_level(logging.INFO, logger="autodiff_st"):
        ad.jacfwd(logged_function)(X, 2.0)
    assert not [r for r in caplog.records if r.name == "autodiff_st"]
