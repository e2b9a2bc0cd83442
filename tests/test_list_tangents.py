"""Lists built in loops and list or dict outputs, at first and second order in every pairing of modes.

Second order differentiates generated code again: a backward pass that copies and pops a taped list
(``ys = ys.copy()``, ``ys.pop()``), and tangent code that starts a list with ``tangent_zeros`` and
appends to it. Each result is checked against finite differences of the first-order Jacobian, and the
four second-order pairings against each other. Functions returning lists and dicts give Jacobians in
the same structure, as JAX's pytrees do.
"""

import numpy as np
import pytest

import autodiff_st as ad
from tests import list_tangent_functions as fns

X = np.array([0.3, 0.7, 1.1, -0.4])
LOOPS = [fns.appended, fns.extended, fns.extended_by_tuple, fns.copied_list]


def _numeric_jacobian(fn, x, eps=1e-6):
    columns = [(np.asarray(fn(x + eps * e)) - np.asarray(fn(x - eps * e))) / (2 * eps) for e in np.eye(x.size)]
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("fn", LOOPS, ids=lambda f: f.__name__)
def test_first_order_against_finite_differences(fn):
    ad.testing.check_grads(lambda x: np.sum(fn(x) ** 2), (X,), order=2, modes=("rev", "fwd"))
    numeric = _numeric_jacobian(fn, X)
    np.testing.assert_allclose(ad.jacrev(fn)(X), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ad.jacfwd(fn)(X), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("outer", [ad.jacrev, ad.jacfwd], ids=["rev", "fwd"])
@pytest.mark.parametrize("inner", [ad.jacrev, ad.jacfwd], ids=["rev", "fwd"])
@pytest.mark.parametrize("fn", LOOPS, ids=lambda f: f.__name__)
def test_second_order_every_pairing(fn, inner, outer):
    second = outer(inner(fn))(X)
    numeric = _numeric_jacobian(ad.jacrev(fn), X)
    assert second.shape == (np.size(fn(X)), X.size, X.size)
    np.testing.assert_allclose(second, numeric, rtol=1e-5, atol=1e-7)


def test_list_output_jacobians_are_lists():
    y = fns.returns_list(X)
    numeric = [_numeric_jacobian(lambda x, k=k: fns.returns_list(x)[k], X) for k in range(len(y))]
    for transform in (ad.jacrev, ad.jacfwd):
        jac = transform(fns.returns_list)(X)
        assert type(jac) is list and len(jac) == len(y)
        for block, expected in zip(jac, numeric):
            np.testing.assert_allclose(block, expected, rtol=1e-6, atol=1e-8)


def test_nested_dict_and_list_output_with_dict_input():
    p = {"w": np.array([1.0, 2.0, 3.0])}
    x = np.array([0.5, -0.2, 0.1])
    for transform in (ad.jacrev, ad.jacfwd):
        jac = transform(fns.returns_nested, grad_position=(0, 1))(p, x)
        assert set(jac) == {"a", "b"} and type(jac["a"]) is list and len(jac["a"]) == 2
        # d (w * x) / d w and d (w * x) / d x: diagonal matrices
        np.testing.assert_allclose(jac["a"][0][0]["w"], np.diag(x), rtol=1e-12)
        np.testing.assert_allclose(jac["a"][0][1], np.diag(p["w"]), rtol=1e-12)
        np.testing.assert_allclose(jac["a"][1][0]["w"], np.zeros((3, 3)))
        np.testing.assert_allclose(jac["a"][1][1], np.diag(np.cos(x)), rtol=1e-12)
        np.testing.assert_allclose(jac["b"][0]["w"], np.full(3, x[0]), rtol=1e-12)
        np.testing.assert_allclose(jac["b"][1], [p["w"].sum(), 0.0, 0.0], rtol=1e-12)


def test_list_output_with_aux_and_return_value():
    x = X[:3]
    for transform in (ad.jacrev, ad.jacfwd):
        jac, aux = transform(fns.returns_list_with_aux, has_aux=True)(x)
        assert aux == "aux" and type(jac) is list
        np.testing.assert_allclose(jac[0], 2.0 * np.eye(3))
        expected = np.diag(-np.sin(x) * x[0])  # d (cos(x) * x[0]) / dx
        expected[:, 0] += np.cos(x)
        np.testing.assert_allclose(jac[1], expected, rtol=1e-12)
    jac, value = ad.jacrev(fns.returns_list, return_value=True)(X)
    assert type(value) is list and np.allclose(value, fns.returns_list(X))
    assert type(jac) is list


def test_tuple_holding_a_list():
    jac = ad.jacrev(fns.returns_tuple_of_lists)(X)
    assert type(jac) is tuple and type(jac[0]) is list
    np.testing.assert_allclose(jac[0][0], [X[1], X[0], 0.0, 0.0])
    np.testing.assert_allclose(jac[1], np.diag(np.exp(X)), rtol=1e-12)
    fwd = ad.jacfwd(fns.returns_tuple_of_lists)(X)
    np.testing.assert_allclose(fwd[0][0], jac[0][0])


HELPER_READERS = [fns.reads_helper_list, fns.reads_helper_dict, fns.reads_helper_nested, fns.reads_lambda_list,
                  fns.reads_early_display, fns.reads_display_from_loop]


@pytest.mark.parametrize("fn", HELPER_READERS, ids=lambda f: f.__name__)
def test_helpers_returning_list_and_dict_displays(fn):
    # ``return [a, b]`` and ``return {"k": v}`` in a helper: the caller's reads of the result carry their
    # cotangents back (these were once dropped, giving zero gradients).
    ad.testing.check_grads(fn, (X[:3],), order=2, modes=("rev", "fwd"))
    assert np.any(ad.grad(fn)(X[:3]) != 0.0)


def test_vjp_of_a_function_returning_a_display():
    x = X[:3]
    out, vjp_fn = ad.vjp(fns.returns_display, x)
    assert type(out) is list and type(out[1]) is dict
    (g,) = vjp_fn([1.0, {"s": 2.0}])
    np.testing.assert_allclose(g, [x[1], x[0], 2.0 * np.cos(x[2])], rtol=1e-12)
