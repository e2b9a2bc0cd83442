"""Loop-invariant slices of array arguments are bound once before their loop (compiler/hoist_slices.py).

Each case is checked at orders 1 and 2 against finite differences, with the value oracle, in reverse and
forward mode; the generated source shows where the slice is made; and the cases where hoisting must not
apply keep the slice in the loop.
"""

import numpy as np
import pytest

import autodiff_st as ad
from tests import hoist_functions as fns

X = np.array([0.3, -0.7, 1.1, 0.4, -0.2, 0.9])
W = np.array([[0.2, -0.4, 0.1, 0.5], [0.3, 0.1, -0.2, 0.4], [-0.5, 0.2, 0.3, 0.1], [0.1, 0.3, -0.1, -0.2]])

CASES = [
    (fns.rk_like, (X, 4)), (fns.two_dimensional, (W, 3)), (fns.bound_from_outside, (X, 4)),
    (fns.index_changes, (X,)), (fns.argument_rebound, (X,)), (fns.read_after_loop, (X, 3)),
    (fns.zero_trips, (X, 0)), (fns.zero_trips, (X, 2)), (fns.writes_in_place, (X,)), (fns.nested_loops, (X,)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_against_finite_differences_at_order_two(fn, args):
    ad.testing.check_grads(fn, args, order=2, modes=("rev", "fwd"))
    value, grad = ad.value_and_grad(fn)(*args)
    assert value == fn(*args)
    assert grad.shape == args[0].shape


def _backward_source(fn, args):
    grad = ad.grad(fn)
    grad(*args)
    return str(ad.source(grad))


def _slice_before_loop(fn, args, text):
    source = _backward_source(fn, args)
    text = f" = {text}\n"  # an assignment, not the comment quoting the user's line
    first_loop = source.index("\n        for ")  # the forward pass's loop comes first
    assert text in source, text
    return text in source[:first_loop]


@pytest.mark.parametrize("fn, args, text", [
    (fns.rk_like, (X, 4), "x[1:]"), (fns.rk_like, (X, 4), "x[0:1]"), (fns.rk_like, (X, 4), "x[:-1]"),
    (fns.two_dimensional, (W, 3), "W[:, 1:]"), (fns.two_dimensional, (W, 3), "W[1:3, ::2]"),
    (fns.bound_from_outside, (X, 4), "x[1:m]"), (fns.zero_trips, (X, 2), "x[1:]"),
], ids=lambda c: c if isinstance(c, str) else getattr(c, "__name__", ""))
def test_invariant_slices_are_made_before_the_loop(fn, args, text):
    assert _slice_before_loop(fn, args, text)


@pytest.mark.parametrize("fn, args, text", [
    (fns.index_changes, (X,), "x[i:]"),  # the bound is the loop's own variable
    (fns.argument_rebound, (X,), "x[1:]"),  # x is bound again in the loop
    (fns.read_after_loop, (X, 3), "x[1:]"),  # `part` is read after the loop: unbound there if it never ran
    (fns.writes_in_place, (X,), "x[1:]"),  # a write into an array anywhere: left alone
    (fns.two_dimensional, (W, 3), "W[:, 0]"),  # an integer index may raise: left in the loop
    (fns.bound_from_outside, (X, 4), "x[neg_m:]"),  # -m is computed in the loop's body
], ids=lambda c: c if isinstance(c, str) else getattr(c, "__name__", ""))
def test_slices_that_must_stay_in_the_loop(fn, args, text):
    assert not _slice_before_loop(fn, args, text)


def test_plain_source_is_unchanged():
    # ad.source of a transform not yet called compiles for general arguments: no kinds, no hoisting
    source = str(ad.source(ad.grad(fns.rk_like)))
    first_loop = source.index("\n        for ")
    assert "x[1:]" not in source[:first_loop]
