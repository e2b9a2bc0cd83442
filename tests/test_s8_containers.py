"""Step 8, containers: arrays built from differentiated scalars and lists of values given to numpy.

``np.array([y[1], -k * y[0] - c * y[1]])`` (an ODE's right-hand side), nested lists and tuples in
np.array, np.asarray, np.stack, np.vstack, np.hstack and np.concatenate, and np.mean, np.sum and np.max
of a list: each is checked against finite differences at orders 1 and 2, in both modes."""

import numpy as np
import pytest

import autodiff_st as ad
from tests import s8_constructs as c
from tests.s8_checks import check_construct

CONTAINER_CASES = [case for case in c.CASES if case[0] == "containers"]


@pytest.mark.parametrize("name, fn, args", [case[1:] for case in CONTAINER_CASES],
                         ids=[case[1] for case in CONTAINER_CASES])
def test_container_construct(name, fn, args):
    check_construct(fn, args)


def rk4_step(y, dt, k):
    def rhs(v):
        return np.array([v[1], -k * v[0] - 0.3 * v[1]])
    k1 = rhs(y)
    k2 = rhs(y + 0.5 * dt * k1)
    k3 = rhs(y + 0.5 * dt * k2)
    k4 = rhs(y + dt * k3)
    return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def integrate(y0, k):
    y = y0
    for _ in range(5):
        y = rk4_step(y, 0.1, k)
    return np.sum(y ** 2)


def test_an_rk4_integration_of_a_hand_written_ode():
    y0 = np.array([1.0, -0.5])
    ad.testing.check_grads(integrate, (y0, 2.0))
    gy, gk = ad.grad(integrate, grad_position=(0, 1))(y0, 2.0)
    assert type(gk) is float and gy.shape == (2,)
    h = ad.hessian(integrate)(y0, 2.0)
    eps = 1e-6
    numeric = np.stack([(ad.grad(integrate)(y0 + eps * e, 2.0) - ad.grad(integrate)(y0 - eps * e, 2.0)) / (2 * eps)
                        for e in np.eye(2)], axis=-1)
    np.testing.assert_allclose(h, numeric, rtol=1e-5, atol=1e-7)


def ode_with_parameters(y, theta):
    k, c = theta[0], theta[1]
    return np.array([y[1], -k * y[0] - c * y[1]])


def test_the_parameters_of_the_right_hand_side_are_differentiated_too():
    y, theta = np.array([0.3, -1.2]), np.array([2.0, 0.5])
    ad.testing.check_grads(ode_with_parameters, (y, theta))
    jac = ad.jacrev(ode_with_parameters, grad_position=1)(y, theta)
    np.testing.assert_allclose(jac, [[0.0, 0.0], [-y[0], -y[1]]])
    np.testing.assert_allclose(jac, ad.jacfwd(ode_with_parameters, grad_position=1)(y, theta))


def float32_pair(x):
    return np.array([x[0] * x[1], x[1]])


def test_a_float32_display_keeps_float32():
    x = np.array([0.5, 2.0], dtype=np.float32)
    g = ad.grad(float32_pair)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [2.0, 1.5])


def with_dtype_and_constants(x):
    base = np.array([1.0, 2.0, 3.0])
    made = np.array([x, 0.0, [x * x][0]], dtype=np.float64)
    return np.sum(base * made)


def test_constants_and_dtype_in_np_array():
    check_construct(with_dtype_and_constants, (0.7,))
    assert "np.array([1.0, 2.0, 3.0])" in ad.source(ad.grad(with_dtype_and_constants))


def tuple_of_tuples(x):
    m = np.asarray(((x[0], x[1]), (x[1], x[0] * 3.0)))
    return np.linalg.det(m)


def column_of_pairs(x):
    return np.column_stack([(x[0], x[1]), x[1:3]])


def min_and_prod(x):
    return np.min((x[0], x[1] ** 2)) + np.prod([x[0], x[2], 2.0])


@pytest.mark.parametrize("fn", [tuple_of_tuples, column_of_pairs, min_and_prod])
def test_more_displays(fn):
    check_construct(fn, (c.X3,))


def vjp_and_jvp_of_rhs(y):
    return np.array([y[1] * y[0], -2.0 * y[0]])


def test_vjp_and_jvp():
    y = np.array([0.3, -1.2])
    out, vjp_fn = ad.vjp(vjp_and_jvp_of_rhs, y)
    np.testing.assert_allclose(out, vjp_and_jvp_of_rhs(y))
    (g,) = vjp_fn(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [y[1] - 4.0, y[0]])
    _, tangent = ad.jvp(vjp_and_jvp_of_rhs, (y,), (np.array([1.0, 0.0]),))
    np.testing.assert_allclose(tangent, [y[1], -2.0])


# --- unpacking -------------------------------------------------------------------------------------

UNPACK_CASES = [case for case in c.CASES if case[0] == "unpacking" and case[1] not in ("unpack_svd", "unpack_lstsq")]


@pytest.mark.parametrize("name, fn, args", [case[1:] for case in UNPACK_CASES], ids=[case[1] for case in UNPACK_CASES])
def test_unpacking_construct(name, fn, args):
    check_construct(fn, args)


@pytest.mark.parametrize("fn", [c.unpack_svd, c.unpack_lstsq])
def test_unpacking_the_results_of_svd_and_lstsq(fn):
    # jacfwd of np.linalg.svd and np.linalg.lstsq themselves is not batched yet (a limitation of their
    # forward rules, not of unpacking): check reverse mode, forward mode through jvp, and second order.
    ad.testing.check_grads(fn, (c.M3,))
    jac = ad.jacrev(fn)(c.M3)
    for i in np.ndindex(3, 3):
        e = np.zeros((3, 3))
        e[i] = 1.0
        assert np.isclose(ad.jvp(fn, (c.M3,), (e,))[1], jac[i])
    eps = 1e-6
    numeric = np.zeros((3, 3, 3, 3))
    for i in np.ndindex(3, 3):
        e = np.zeros((3, 3))
        e[i] = eps
        numeric[(...,) + i] = (ad.grad(fn)(c.M3 + e) - ad.grad(fn)(c.M3 - e)) / (2 * eps)
    np.testing.assert_allclose(ad.hessian(fn)(c.M3), numeric, rtol=1e-5, atol=1e-6)


def rows_of_a_matrix(x):
    m = np.outer(x, x[:2])
    first, second, third = m
    return np.sum(first * second) + np.sum(third)


def nested_targets(x):
    (a, b), c3 = (x[0], x[1] * 2.0), x[2]
    return a * b * c3


def star_in_the_middle(x):
    first, *middle, last = np.sin(x * 2.0)
    return first * last + np.sum(np.array(middle) ** 2)


def star_from_a_tuple_of_arrays(x):
    pair = (x, x ** 2, np.cos(x))
    head, *tail = pair
    return np.sum(head * tail[0] + tail[1])


def star_takes_nothing(x):
    a, b, *rest, c3 = x
    return a * b * c3 + len(rest)


@pytest.mark.parametrize("fn", [rows_of_a_matrix, nested_targets, star_in_the_middle, star_from_a_tuple_of_arrays,
                                star_takes_nothing])
def test_more_unpacking(fn):
    check_construct(fn, (c.X3,))


def unpacks_too_few(x):
    a, b, *rest = x[:1]
    return a + b


def unpacks_too_many(x):
    a, b = np.exp(x)
    return a + b


@pytest.mark.parametrize("fn, message", [(unpacks_too_few, "not enough values to unpack"),
                                         (unpacks_too_many, "too many values to unpack")])
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian])
def test_unpacking_errors_are_pythons(fn, message, transform):
    with pytest.raises(ValueError, match=message) as info:
        fn(c.X3)
    with pytest.raises(ValueError, match=message) as info:
        transform(fn)(c.X3)
    assert not isinstance(info.value, ad.AutodiffError)
