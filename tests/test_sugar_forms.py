"""``(s := v)``, ``enumerate(xs, 1)``, ``{**d, "k": v}`` and ``functools.reduce`` at orders 1 and 2 in both
modes against finite differences, with the value oracle; the forms that stay refused say so at the user's
line."""

import numpy as np
import pytest

import autodiff_st as ad
from tests import sugar_functions as fns
from tests.support import line_of

X = np.array([0.3, -0.7, 1.1, 0.4])
SUPPORTED = [fns.walrus_in_test, fns.walrus_in_while, fns.walrus_short_circuit, fns.walrus_reused,
             fns.enumerate_from_one, fns.enumerate_negative_start_of_zip, fns.enumerate_in_comprehension,
             fns.enumerate_listed, fns.dict_merged, fns.reduce_with_lambda, fns.reduce_with_initial,
             fns.reduce_matrix_products]


@pytest.mark.parametrize("fn", SUPPORTED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [X, -X], ids=["x", "minus_x"])
def test_against_finite_differences_at_order_two(fn, x):
    ad.testing.check_grads(fn, (x,), order=2, modes=("rev", "fwd"))
    value, _ = ad.value_and_grad(fn)(x)
    assert value == fn(x)


def test_dict_merged_from_a_differentiated_dict():
    p = {"w": np.array([0.5, -1.0, 2.0, 0.1])}
    g = ad.grad(fns.dict_of_parameters)(p, X)
    np.testing.assert_allclose(g["w"], 2.0 * X, rtol=1e-12)
    np.testing.assert_allclose(ad.grad(fns.dict_of_parameters, grad_position=1)(p, X), 2.0 * p["w"], rtol=1e-12)


@pytest.mark.parametrize("fn, needle, words", [
    (fns.enumerate_computed_start, "for k, v in enumerate(x, s)", "start that is not a constant"),
    (fns.walrus_in_comprehension, "(w := v * 2.0)", "inside a comprehension or a lambda"),
])
def test_refusals_name_the_construct_and_line(fn, needle, words):
    with pytest.raises(ad.UnsupportedSyntaxError) as info:
        ad.grad(fn)(X)
    line, text = line_of(fn, needle)
    assert words in str(info.value)
    assert f"line {line}" in str(info.value) and text in str(info.value)


def test_reduce_of_an_empty_sequence_raises_pythons_error():
    with pytest.raises(TypeError, match="reduce\\(\\) of empty iterable with no initial value"):
        fns.reduce_of_nothing(X)
    with pytest.raises(TypeError, match="reduce\\(\\) of empty iterable with no initial value"):
        ad.grad(fns.reduce_of_nothing)(X)


@pytest.mark.parametrize("fn", SUPPORTED, ids=lambda f: f.__name__)
def test_vmap_of_the_function_itself(fn):
    batch = np.stack([X, X * 0.5, -X])
    np.testing.assert_allclose(ad.vmap(fn)(batch), [fn(x) for x in batch], rtol=1e-12)
