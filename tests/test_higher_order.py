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


# -- through calls to the user's own functions --------------------------------------------------------
#
# The adjoint calls a helper in two steps, `y, r = call_vjp_forward(helper, ...)` and later
# `x_bar, = call_vjp_backward(r, y_bar)`; differentiating that code again differentiates the helper's
# generated forward and backward passes. Each check below is against a closed form or against central
# differences of the lower-order derivative.

def x_sin_x(x, scale=1.0):  # a default: called through call_vjp_forward, not inlined (inline_helpers.py)
    return np.sin(x) * x * scale


def sum_of_squared_helper(x):
    return np.sum(x_sin_x(x) ** 2)


def closed_form_derivatives(x):
    """f = sum(h(x)^2) with h = x sin x, elementwise: f', the Hessian's diagonal, and f'''."""
    h = x * np.sin(x)
    d1 = np.sin(x) + x * np.cos(x)
    d2 = 2 * np.cos(x) - x * np.sin(x)
    d3 = -3 * np.sin(x) - x * np.cos(x)
    return 2 * h * d1, 2 * (d1 ** 2 + h * d2), 2 * (3 * d1 * d2 + h * d3)


def scaled_tanh(x, scale=1.0):
    return np.tanh(x) * scale


def chained(x):
    return np.sin(scaled_tanh(x, scale=2.0)) * x  # a helper calling a helper, with a keyword


def through_chain(x):
    return np.sum(chained(x) ** 2)


def keyword_active(x):
    return np.sum(scaled_tanh(scale=x, x=x) ** 2)  # the differentiated value passed by keyword, twice


def apply(activation, x):
    return activation(x) * x


def through_function_argument(x):
    return np.sum(apply(np.tanh, x) ** 2)  # np.tanh is found only when the call runs


class Oscillator:
    def __init__(self, k):
        self.k = k

    def energy(self, x):
        return np.cos(self.k * x) * x


oscillator = Oscillator(1.5)


def through_method(x):
    return np.sum(oscillator.energy(x) ** 2)


class Squash(ad.nn.Cell):
    def construct(self, x):
        return np.log1p(x_sin_x(x) ** 2)


squash = Squash()


def through_cell(x):
    return np.sum(squash(x) * x)


def step(h):
    return x_sin_x(h) + 0.1 * h


def through_loop(x):
    h = x
    for _ in range(3):
        h = step(h)
    return np.sum(h)


def cell(h, c):
    return np.tanh(h) * c, 0.9 * c + np.sin(h)


def recurrent(x):
    h, c = x, np.cos(x)
    for _ in range(3):
        h, c = cell(h, c)  # the call reads the names it assigns
    return np.sum(h * c)


HELPER_FUNCTIONS = [sum_of_squared_helper, through_chain, keyword_active, through_function_argument,
                    through_method, through_cell, through_loop, recurrent]


def _central_jacobian(fn, x, eps=1e-6):
    columns = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        columns.append((np.asarray(fn(x + e)) - np.asarray(fn(x - e))) / (2 * eps))
    return np.stack(columns, axis=-1)


def test_every_second_order_transform_through_a_helper_matches_the_closed_form():
    x = np.array([0.3, -0.7, 1.1, 2.0])
    first, diagonal, _ = closed_form_derivatives(x)
    expected = np.diag(diagonal)
    np.testing.assert_allclose(ad.grad(sum_of_squared_helper)(x), first, rtol=1e-12)
    for name, transform in [("hessian", ad.hessian), ("jacrev(jacrev)", lambda f: ad.jacrev(ad.jacrev(f))),
                            ("jacfwd(jacrev)", lambda f: ad.jacfwd(ad.jacrev(f))),
                            ("jacrev(jacrev, chunk_size=1)", lambda f: ad.jacrev(ad.jacrev(f), chunk_size=1))]:
        np.testing.assert_allclose(transform(sum_of_squared_helper)(x), expected, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_second_and_third_derivatives_through_a_helper_on_a_float():
    x = 0.8
    first, second, third = (float(d) for d in closed_form_derivatives(np.array(x)))
    assert ad.grad(sum_of_squared_helper)(x) == pytest.approx(first, rel=1e-12)
    assert ad.grad(ad.grad(sum_of_squared_helper))(x) == pytest.approx(second, rel=1e-12)
    assert ad.grad(ad.grad(ad.grad(sum_of_squared_helper)))(x) == pytest.approx(third, rel=1e-11)


@pytest.mark.parametrize("fn", HELPER_FUNCTIONS, ids=[f.__name__ for f in HELPER_FUNCTIONS])
def test_hessians_through_calls_agree_with_differences_of_the_gradient(fn):
    x = np.array([0.3, -0.7, 1.1])
    expected = _central_jacobian(ad.grad(fn), x)
    hessian = ad.hessian(fn)(x)
    np.testing.assert_allclose(hessian, expected, rtol=1e-6, atol=1e-7)
    # The four ways of taking it agree with each other to rounding.
    for other in (ad.jacrev(ad.jacrev(fn))(x), ad.jacfwd(ad.jacrev(fn))(x),
                  ad.jacrev(ad.jacrev(fn), chunk_size=2)(x)):
        np.testing.assert_allclose(other, hessian, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", HELPER_FUNCTIONS, ids=[f.__name__ for f in HELPER_FUNCTIONS])
def test_third_derivatives_through_calls_agree_with_differences(fn):
    x = 0.45
    second = ad.grad(ad.grad(fn))
    third = ad.grad(second)(x)
    eps = 1e-5
    assert third == pytest.approx((second(x + eps) - second(x - eps)) / (2 * eps), rel=1e-6, abs=1e-7)


def test_check_grads_runs_order_two_through_helpers():
    for fn in HELPER_FUNCTIONS:
        ad.testing.check_grads(fn, (np.array([0.3, -0.7, 1.1]),), order=2)


def test_the_hessian_of_a_function_that_calls_a_helper_reads_plainly():
    text = ad.source(ad.hessian(sum_of_squared_helper))
    # forward mode over the generated gradient: the helper's generated forward and backward passes are
    # differentiated in turn
    assert "call_jvp(call_vjp_forward, (2,), (x_dot,), x_sin_x, (0,), x)" in text
    assert "call_jvp(call_vjp_backward, (0, 1), (x_sin_x_residuals_dot, " in text


# -- every composition of grad, jacrev and jacfwd ------------------------------------------------------

def two_inputs(x, y):
    return np.sum(np.sin(x * y) * x ** 2) + np.sum(x_sin_x(y))


def two_outputs(x, y):
    return np.sin(x) * y[0], np.sum(x_sin_x(x * y))


COMPOSITIONS = {
    "jacrev(jacrev)": lambda f, a: ad.jacrev(ad.jacrev(f, argnums=a), argnums=a),
    "jacfwd(jacrev)": lambda f, a: ad.jacfwd(ad.jacrev(f, argnums=a), argnums=a),
    "jacrev(grad)": lambda f, a: ad.jacrev(ad.grad(f, a), argnums=a),
    "jacfwd(grad)": lambda f, a: ad.jacfwd(ad.grad(f, a), argnums=a),
    "jacrev(jacfwd)": lambda f, a: ad.jacrev(ad.jacfwd(f, argnums=a), argnums=a),
    "jacfwd(jacfwd)": lambda f, a: ad.jacfwd(ad.jacfwd(f, argnums=a), argnums=a),
}


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_every_composition_gives_the_hessian_nested_like_jax(name):
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.5, 1.5, -0.4])
    expected = ad.hessian(two_inputs, argnums=(0, 1))(x, y)
    got = COMPOSITIONS[name](two_inputs, (0, 1))(x, y)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(got[i][j], expected[i][j], rtol=1e-10, atol=1e-12, err_msg=f"{name} [{i}][{j}]")
    single = COMPOSITIONS[name](two_inputs, 1)(x, y)
    np.testing.assert_allclose(single, expected[1][1], rtol=1e-10, atol=1e-12)


def test_second_jacobians_of_a_function_with_two_outputs_agree():
    """jac[out][in][in2] with shape out.shape + in.shape + in2.shape, by four routes."""
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.5, 1.5, -0.4])
    routes = [ad.jacrev(ad.jacrev(two_outputs, argnums=(0, 1)), argnums=(0, 1)),
              ad.jacfwd(ad.jacrev(two_outputs, argnums=(0, 1)), argnums=(0, 1)),
              ad.jacrev(ad.jacfwd(two_outputs, argnums=(0, 1)), argnums=(0, 1)),
              ad.jacfwd(ad.jacfwd(two_outputs, argnums=(0, 1)), argnums=(0, 1))]
    first = routes[0](x, y)
    for out in range(2):
        for i, a in enumerate((x, y)):
            for j, b in enumerate((x, y)):
                shape = np.shape(two_outputs(x, y)[out]) + a.shape + b.shape
                assert first[out][i][j].shape == shape
                # against differences of the first Jacobian
                jac_of = ad.jacrev(two_outputs, argnums=(0, 1))
                eps = 1e-6
                columns = []
                for k in range(b.size):
                    e = np.zeros_like(b)
                    e[k] = eps
                    plus = jac_of(*[(v + e if m == j else v) for m, v in enumerate((x, y))])[out][i]
                    minus = jac_of(*[(v - e if m == j else v) for m, v in enumerate((x, y))])[out][i]
                    columns.append((plus - minus) / (2 * eps))
                np.testing.assert_allclose(first[out][i][j], np.stack(columns, axis=-1), rtol=1e-6, atol=1e-8)
                for route in routes[1:]:
                    np.testing.assert_allclose(route(x, y)[out][i][j], first[out][i][j], rtol=1e-10, atol=1e-12)


def inner_loss(x, w):
    return np.sum(np.tanh(x * w) ** 2)


def gradient_penalty(w, x):
    g = ad.grad(inner_loss)(x, w)  # a plain grad called inside the differentiated function
    return np.sum(g ** 2) + np.sum(w ** 2)


def test_a_grad_called_inside_a_differentiated_function():
    w, x = np.array([0.5, 1.5, -0.4]), np.array([0.3, -0.7, 1.1])
    ad.testing.check_grads(gradient_penalty, (w, x), order=2)


def jacobian_inside(x):
    return np.sum(ad.jacrev(np.sin)(x))


def test_other_transforms_called_inside_are_differentiated():
    """jacrev, jacfwd, hessian and value_and_grad inside (tests/test_inner_transforms.py has the rest)."""
    ad.testing.check_grads(jacobian_inside, (np.array([0.3, 0.5]),), order=2)


def keywords_inside(w, x):
    v, g = ad.value_and_grad(inner_loss)(x=x, w=w)
    return v + np.sum(g)


def test_a_transform_called_inside_with_keywords_is_refused_with_the_line():
    with pytest.raises(ad.UnsupportedCaseError, match="made inside the differentiated function with keyword") as info:
        ad.grad(keywords_inside)(np.array([0.3, 0.5]), np.array([0.1, 0.2]))
    assert "ad.value_and_grad(inner_loss)(x=x, w=w)" in str(info.value)
