"""Tuples returned from inside loops and branches (JAX's ``return loss, aux`` with an early exit), and
early returns inside loops reached at second order through a helper call.

Every function is checked against the plain function's value and against finite differences.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def loss_and_aux(x, s):
    if s < -0.4:
        return np.sum(np.tanh(x)) * x[2], {"scale": x * 1.0}
    for i in range(3):
        if x[i] > 5.0:
            return x[i] ** 2, {"scale": x * 2.0}
    return np.sum(np.sin(x) * x) + s, {"scale": x * 3.0}


def pair_from_loop(x, s):
    for i in range(3):
        if x[i] > 0.4:
            return x[i] * np.cos(x[0]), x[1] ** 2
    return np.sum(x ** 3) + s, np.tanh(x[2])


def first_above(x):
    for i in range(3):
        if x[i] > 0.4:
            return x[i] ** 3
    return np.sum(x ** 2)


def calls_first_above(x):
    return first_above(x) * np.sin(x[0])


def product_of_pair(x, s):
    a, b = pair_from_loop(x, s)
    return a * b


POINTS = [np.array([0.1, 0.5, -0.3]), np.array([0.2, 0.1, -0.3]), np.array([6.0, 0.1, 0.3])]


@pytest.mark.parametrize("s", [-1.0, 0.0])
@pytest.mark.parametrize("x", POINTS, ids=["second", "none", "first"])
def test_has_aux_with_early_tuple_returns(x, s):
    value, aux = loss_and_aux(x, s)
    (got_value, got_aux), grad = ad.value_and_grad(loss_and_aux, has_aux=True)(x, s)
    assert got_value == pytest.approx(value)
    np.testing.assert_allclose(got_aux["scale"], aux["scale"])
    check_grads(lambda x: loss_and_aux(x, s)[0], (x,), order=2)
    jac, jac_aux = ad.jacrev(loss_and_aux, has_aux=True)(x, s)
    np.testing.assert_allclose(jac, grad, rtol=1e-12)
    np.testing.assert_allclose(jac_aux["scale"], aux["scale"])


@pytest.mark.parametrize("x", POINTS, ids=["second", "none", "first"])
def test_tuple_returned_from_a_loop(x):
    check_grads(pair_from_loop, (x, 0.3), order=2)
    np.testing.assert_allclose(ad.jacrev(pair_from_loop)(x, 0.3), ad.jacfwd(pair_from_loop)(x, 0.3), rtol=1e-12)
    check_grads(product_of_pair, (x, 0.3), order=2)


@pytest.mark.parametrize("x", POINTS, ids=["second", "none", "first"])
def test_early_return_in_a_loop_through_a_helper_at_second_order(x):
    hess = ad.jacfwd(ad.grad(calls_first_above))(x)
    np.testing.assert_allclose(hess, ad.hessian(calls_first_above)(x), rtol=1e-10, atol=1e-12)
    check_grads(calls_first_above, (x,), order=2)


def test_tuples_of_different_lengths_are_refused_at_the_line():
    def mixed(x):
        for i in range(3):
            if x[i] > 0.0:
                return x[i], x[0]
        return x[1], x[2], x[0]

    with pytest.raises(ad.UnsupportedSyntaxError, match="same length") as info:
        ad.grad(lambda x: mixed(x)[0])(np.ones(3))
    assert "return x[i], x[0]" in str(info.value)


def test_a_path_that_falls_off_the_end_is_refused():
    def may_fall_off(x):
        if x[0] > 0.0:
            return x[0], x[1]
        y = x * 2.0  # noqa: F841 (falls off the end: returns None)

    with pytest.raises(ad.UnsupportedSyntaxError, match="same length"):
        ad.grad(lambda x: may_fall_off(x)[0])(np.ones(3))
