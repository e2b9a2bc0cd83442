"""More step-8 constructs: scipy.integrate.odeint with a right-hand side of the user's own (its rule is in
rules/scipy_integrate.py), checked at first order in both modes against finite differences and the plain
function's value, jacrev against jacfwd; its second order, full_output=True and a right-hand side that reads
a differentiated value of the enclosing function are refused with typed errors that quote the line."""

import numpy as np
import pytest
from scipy import integrate

import autodiff_st as ad
from autodiff_st.core.errors import MissingRuleError, UnsupportedCaseError, UnsupportedSyntaxError
from tests.s8_checks import assert_refused, check_construct

TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def pendulum(y, t, k, c):
    return np.array([y[1], -k * np.sin(y[0]) - c * y[1] + 0.1 * np.cos(t)])


def final_state(y0, k, c):
    ys = integrate.odeint(pendulum, y0, np.linspace(0.0, 2.0, 5), args=(k, c), **TIGHT)
    return ys[-1]


def trajectory_loss(y0, times, k):
    ys = integrate.odeint(pendulum, y0, times, (k, 0.3), rtol=1e-12, atol=1e-12)
    return np.sum(ys[:, 0] ** 2) + np.sum(ys[:, 1])


def vector_rhs(y, t, a, b):
    return -np.sqrt(t) - y + a - np.mean((y + b) ** 2)


def vector_loss(a, y0, b):
    ys = integrate.odeint(vector_rhs, y0, np.linspace(0.1, 0.2, 4), (a, b), **TIGHT)
    return np.sum(np.tanh(ys))


def time_first(t, y, w):
    return -w * y + t


def time_first_loss(w, y0):
    return np.sum(integrate.odeint(time_first, y0, np.array([0.0, 0.5, 1.0]), args=(w,), tfirst=True, **TIGHT))


def nested_rhs(y0, k):
    def rhs(y, t):  # reads nothing differentiated from here: a plain function of its arguments
        return -2.0 * y * np.cos(t)
    ys = integrate.odeint(rhs, y0 * k, np.linspace(0.0, 1.0, 3), **TIGHT)
    return np.sum(ys ** 2)


Y0 = np.array([0.4, -0.2])
V0 = np.array([0.3, -0.5, 0.8])


@pytest.mark.parametrize("fn, args", [
    (final_state, (Y0, 1.3, 0.2)),
    (trajectory_loss, (Y0, np.array([0.0, 0.4, 1.1, 1.5]), 1.7)),
    (vector_loss, (np.array([0.2, -0.1, 0.5]), V0, np.array([-0.3, 0.6, 0.1]))),
    (time_first_loss, (0.8, np.array([1.0, -1.0]))),
    (nested_rhs, (V0, 1.2)),
], ids=["final_state", "trajectory", "vector", "tfirst", "nested"])
def test_odeint_first_order(fn, args):
    check_construct(fn, args, order=1)


def test_odeint_gradient_in_closed_form():
    # y' = -w y: y(t) = y0 exp(-w t), so d/dw sum(y(t_i)) = sum(-t_i y0 exp(-w t_i)); d/dt_i = -w y0 exp(-w t_i)
    def decay(y, t, w):
        return -w * y

    def total(w, times):
        return np.sum(integrate.odeint(decay, np.array([2.0]), times, (w,), **TIGHT))

    times = np.array([0.0, 0.3, 1.0])
    g_w, g_t = ad.grad(total, argnums=(0, 1))(0.7, times)
    np.testing.assert_allclose(g_w, np.sum(-times * 2.0 * np.exp(-0.7 * times)), rtol=1e-8)
    np.testing.assert_allclose(g_t[1:], -0.7 * 2.0 * np.exp(-0.7 * times[1:]), rtol=1e-8)
    np.testing.assert_allclose(g_t[0], 0.7 * 2.0 * np.sum(np.exp(-0.7 * times[1:])), rtol=1e-8)


def test_odeint_second_order_is_refused():
    error = assert_refused(ad.hessian, trajectory_loss, (Y0, np.array([0.0, 0.5, 1.0]), 1.7), "integrate.odeint",
                           error=MissingRuleError)
    assert "second derivative" in str(error) and "odeint_cotangents" not in str(error)


def full_output_loss(y0):
    ys, info = integrate.odeint(pendulum, y0, np.linspace(0.0, 1.0, 3), args=(1.0, 0.1), full_output=True)
    return np.sum(ys)


def test_odeint_full_output_is_refused():
    with pytest.raises(UnsupportedCaseError, match="full_output"):
        ad.grad(full_output_loss)(Y0)


def closure_loss(y0, k):
    def rhs(y, t):
        return -k * y  # k is differentiated: the right-hand side must take it as an argument
    return np.sum(integrate.odeint(rhs, y0, np.linspace(0.0, 1.0, 3)))


def test_odeint_rhs_reading_a_differentiated_value_is_refused():
    error = assert_refused(lambda f: ad.grad(f, argnums=1), closure_loss, (V0, 1.2), "integrate.odeint(rhs",
                           error=UnsupportedSyntaxError)
    assert "pass the value it reads as an argument" in str(error)


# -- a class defined inside the differentiated function: differentiated (tests/test_local_classes.py) ----------

def local_namespace(x):
    class Physics:
        @staticmethod
        def energy(v):
            return np.sum(v ** 2)
    return Physics.energy(x)


def test_local_class_used_as_a_namespace_is_differentiated():
    np.testing.assert_allclose(ad.grad(local_namespace)(V0), 2.0 * V0)
    ad.testing.check_grads(local_namespace, (V0,), order=2)


def mixed_rhs(y, t, k, n, mode):
    return -k * y ** n if mode == "power" else -k * y


def mixed_args_loss(y0, k):
    ys = integrate.odeint(mixed_rhs, y0, np.linspace(0.0, 1.0, 3), args=(k, 2, "power"), **TIGHT)
    return np.sum(ys)


def scalar_start_loss(y0, k):
    return np.sum(integrate.odeint(lambda y, t, w: -w * y, y0, np.linspace(0.0, 1.0, 3), args=(w_of(k),), **TIGHT))


def w_of(k):
    return k * k


@pytest.mark.parametrize("fn, args", [(mixed_args_loss, (np.array([0.5, 0.7]), 1.3)), (scalar_start_loss, (0.5, 1.3))],
                         ids=["int-and-str-args", "scalar-start-lambda"])
def test_odeint_args_that_carry_no_derivative_and_a_scalar_start(fn, args):
    ad.testing.check_grads(fn, args, order=1)


# -- a write into an element of an element: refused, with two ways to write it that are differentiated --------

def nested_write(x):
    rows = [[x[0, 0], x[0, 1]], [x[1, 0], 0.0]]
    rows[0][1] = x[0, 0] * x[1, 0]
    return rows[0][0] + rows[0][1] * rows[1][0]


def array_write(x):
    rows = np.array([[x[0, 0], x[0, 1]], [x[1, 0], 0.0]])
    rows[0, 1] = x[0, 0] * x[1, 0]
    return rows[0, 0] + rows[0, 1] * rows[1, 0]


def row_write(x):
    rows = [[x[0, 0], x[0, 1]], [x[1, 0], 0.0]]
    rows[0] = [rows[0][0], x[0, 0] * x[1, 0]]
    return rows[0][0] + rows[0][1] * rows[1][0]


X2 = np.array([[0.7, -1.3], [0.4, 1.1]])


def test_nested_element_write_is_differentiated():
    check_construct(nested_write, (X2,))


@pytest.mark.parametrize("fn", [array_write, row_write])
def test_the_other_spellings_of_the_nested_write_are_differentiated(fn):
    check_construct(fn, (X2,))
    assert fn(X2) == pytest.approx(nested_write(X2), rel=1e-15)  # the same value as the nested write
