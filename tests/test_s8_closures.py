"""A gradient of a nested function that reads a differentiated value of the enclosing function, called
inside the differentiated function (closure conversion, runtime/closures.py): ``grad(inner)(v)`` with
``inner = lambda y: x * y``. Checked against finite differences at orders 1 and 2 in both modes, the
plain function's value, and a hand-derived formula."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def scalar_lambda(x):
    inner = lambda y: x * y  # noqa: E731
    return x * ad.grad(inner)(2.0)  # x * x


def scalar_lambda_reversed(x):
    inner = lambda y: y * x  # noqa: E731
    return x * ad.grad(inner)(2.0)


def array_def(w):
    def g(v):
        return np.sum(np.sin(w * v))
    return np.sum(w * ad.grad(g)(w ** 2))  # sum(w**2 cos(w**3))


def several_statements(w, b):
    def energy(v, s):
        t = v * w + b
        u = np.tanh(t) * s
        return np.sum(u ** 2)
    gv, gs = ad.grad(energy, argnums=(0, 1))(w, 1.5)
    return np.sum(gv * w) + gs * b


def second_argument(x, c):
    def h(a, v):
        return a * np.sin(v * x) + c * v * v
    return ad.grad(h, argnums=1)(0.5, x) * c  # (0.5 x cos(x^2) + 2 c x) c


def inline_lambda(x):
    return np.sum(ad.grad(lambda y: np.sum(np.exp(x * y)))(x))


def _hand_array_def(w):
    return 2 * w * np.cos(w ** 3) - 3 * w ** 4 * np.sin(w ** 3)


CASES = [
    (scalar_lambda, (1.3,)),
    (scalar_lambda_reversed, (-0.7,)),
    (array_def, (np.array([0.3, -0.8, 1.1]),)),
    (several_statements, (np.array([0.2, -0.5, 0.9]), 0.4)),
    (second_argument, (0.8, 1.7)),
    (inline_lambda, (np.array([0.1, -0.3]),)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_against_finite_differences_orders_1_and_2(fn, args):
    check_grads(fn, args, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_value_oracle(fn, args):
    value, _ = ad.value_and_grad(fn)(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)


def test_hand_derived_scalar():
    for x in (1.3, -0.4, 2.0):
        np.testing.assert_allclose(ad.grad(scalar_lambda)(x), 2 * x, rtol=1e-12)
        np.testing.assert_allclose(ad.grad(scalar_lambda_reversed)(x), 2 * x, rtol=1e-12)
        np.testing.assert_allclose(ad.grad(ad.grad(scalar_lambda))(x), 2.0, rtol=1e-12)


def test_hand_derived_array():
    w = np.array([0.3, -0.8, 1.1])
    np.testing.assert_allclose(ad.grad(array_def)(w), _hand_array_def(w), rtol=1e-10)
    # jacrev against jacfwd, and the Hessian (diagonal: each term depends on one w_i)
    np.testing.assert_allclose(ad.jacrev(array_def)(w), ad.jacfwd(array_def)(w), rtol=1e-12)
    second = 2 * np.cos(w ** 3) - 18 * w ** 3 * np.sin(w ** 3) - 9 * w ** 6 * np.cos(w ** 3)
    np.testing.assert_allclose(ad.hessian(array_def)(w), np.diag(second), rtol=1e-10, atol=1e-12)


def test_hand_derived_second_argument():
    x, c = 0.8, 1.7
    dx = c * (0.5 * np.cos(x * x) - x * x * np.sin(x * x) + 2 * c)
    dc = 0.5 * x * np.cos(x * x) + 4 * c * x
    gx, gc = ad.grad(second_argument, argnums=(0, 1))(x, c)
    np.testing.assert_allclose([gx, gc], [dx, dc], rtol=1e-10)


def test_plain_call_unchanged():
    """Undifferentiated, the rewritten call is the same call."""
    assert scalar_lambda(1.5) == pytest.approx(1.5 * 1.5)


def make_grad(fun, argnum=0):
    return ad.grad(fun, argnums=argnum)


def through_wrapper(x):
    inner = lambda y: np.sin(x * y)  # noqa: E731
    return x * make_grad(inner)(0.5)  # x^2 cos(x/2)


def test_gradient_made_by_a_helper():
    x = 0.9
    expected = 2 * x * np.cos(x / 2) - x * x * np.sin(x / 2) / 2
    np.testing.assert_allclose(ad.grad(through_wrapper)(x), expected, rtol=1e-10)
    check_grads(through_wrapper, (x,), order=2, modes=("rev",))


def twice(f):
    return lambda y: f(f(y))


def other_maker_constant_capture(x):
    k = 0.5
    inner = lambda y: k * np.sin(y)  # noqa: E731
    return twice(inner)(x)


def other_maker_differentiated_capture(x):
    inner = lambda y: x * y  # noqa: E731
    return twice(inner)(2.0)


def test_other_maker_with_constant_capture_is_differentiated():
    x = 0.7
    expected = 0.5 * np.cos(0.5 * np.sin(x)) * 0.5 * np.cos(x)
    np.testing.assert_allclose(ad.grad(other_maker_constant_capture)(x), expected, rtol=1e-10)


def test_other_maker_with_differentiated_capture_is_refused():
    with pytest.raises(ad.MissingRuleError, match="needs G to make a gradient") as caught:
        ad.grad(other_maker_differentiated_capture)(0.7)
    assert "test_s8_closures.py" in str(caught.value) and "inner = lambda y: x * y" in str(caught.value)


def gradient_kept_for_later(x):
    inner = lambda y: x * y  # noqa: E731
    d = ad.grad(inner)
    return d(2.0)


def test_gradient_kept_and_called_later_is_still_refused():
    with pytest.raises(ad.UnsupportedSyntaxError, match="as a value"):
        ad.grad(gradient_kept_for_later)(0.7)


def with_default(x):
    def inner(y, s=2.0):
        return x * y * s
    return ad.grad(inner)(1.0)


def test_nested_function_with_default_is_refused_not_wrong():
    with pytest.raises(ad.MissingRuleError, match="needs G to make a gradient"):
        ad.grad(with_default)(0.7)


def jacobian_inside(x):
    inner = lambda y: x * y  # noqa: E731
    return ad.jacrev(inner)(2.0)


def test_a_jacrev_of_a_closure_inside_is_differentiated():
    """jacrev of a nested function reading x: closure conversion, as for grad (inner_jacobians.py)."""
    assert float(ad.grad(jacobian_inside)(0.7)) == pytest.approx(1.0)
    ad.testing.check_grads(jacobian_inside, (0.7,), order=2)
