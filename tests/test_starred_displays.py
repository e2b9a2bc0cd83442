"""Starred items in list and tuple displays (compiler/starred_displays.py): ``[*y[2:], v]``,
``(*head, tail)``, at orders 1 and 2 in both modes against finite differences, the value oracle, and
Jacobians against each other."""

import numpy as np
import pytest

import autodiff_st as ad
from tests import starred_functions as fns

X = np.array([0.3, -0.7, 1.1, 0.4])
SCALAR = [fns.grows_in_a_loop, fns.tuple_with_a_tail, fns.helper_returns_starred_tuple, fns.concatenate_parts,
          fns.starred_only, fns.nested_starred]


@pytest.mark.parametrize("fn", SCALAR, ids=lambda f: f.__name__)
def test_against_finite_differences_at_order_two(fn):
    ad.testing.check_grads(fn, (X,), order=2, modes=("rev", "fwd"))
    value, _ = ad.value_and_grad(fn)(X)
    assert value == fn(X)


def test_state_vector_jacobians():
    rev, fwd = ad.jacrev(fns.state_vector)(X), ad.jacfwd(fns.state_vector)(X)
    expected = np.zeros((4, 4))
    expected[0, 2] = expected[1, 3] = 1.0
    expected[2, 0], expected[2, 1] = -X[1], -X[0]
    expected[3, 0] = np.cos(X[0])
    np.testing.assert_allclose(rev, expected, rtol=1e-12)
    np.testing.assert_allclose(fwd, expected, rtol=1e-12)
    second = ad.jacfwd(ad.jacrev(fns.state_vector))(X)
    np.testing.assert_allclose(second[2, 0, 1], -1.0)
    np.testing.assert_allclose(second[3, 0, 0], -np.sin(X[0]), rtol=1e-12)


def test_vmap_of_the_gradient():
    batch = np.stack([X, X * 0.5, -X])
    out = ad.vmap(ad.grad(fns.concatenate_parts))(batch)
    for row, x in zip(out, batch):
        np.testing.assert_allclose(row, ad.grad(fns.concatenate_parts)(x), rtol=1e-12)


@pytest.mark.parametrize("fn", [fns.state_vector, fns.concatenate_parts, fns.tuple_with_a_tail, fns.nested_starred],
                         ids=lambda f: f.__name__)
def test_vmap_of_the_function_itself(fn):
    # vmap rewrites the user's function (compiler/batching.py), which then calls the helpers the rewrite names
    batch = np.stack([X, X * 0.5, -X])
    out = ad.vmap(fn)(batch)
    np.testing.assert_allclose(np.asarray(out), np.stack([np.asarray(fn(x)) for x in batch]), rtol=1e-12)


def test_jacobian_of_an_empty_list_output():
    for transform in (ad.jacrev, ad.jacfwd):
        assert transform(fns.returns_nothing)(X) == []
