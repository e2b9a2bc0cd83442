"""In-place updates behave as in Python, through aliases, views and out=, or are refused at the user's line."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import AliasingError, AutodiffError


def alias_in_branch(x, b, flag):
    c = x * 1.0
    t = x * 2.0
    if flag > 0:
        t = c
    t -= b
    return np.sum(c * c) + np.sum(t)


def alias_in_loop(x, b, n):
    c = x * 1.0
    t = x * 2.0
    for i in range(n):
        t = c
    t -= b
    return np.sum(c * c) + np.sum(t)


def alias_kept_by_while(x, b, n):
    c = x * 1.0
    t = c
    while n > 0:
        t = x * 3.0
        n = n - 1
    t -= b
    return np.sum(c * c) + np.sum(t)


def view_then_scale(x):
    y = x * 1.0
    b = y[1:]
    y *= 2.0
    return np.sum(b * b) + np.sum(y)


def out_into_array(x):
    y = np.zeros(3)
    np.multiply(x, 2.0, out=y)
    return np.sum(y * y)


def exp_in_place(x):
    y = x * 1.0
    np.exp(y, out=y)
    return np.sum(y)


def out_positional(x):
    y = np.zeros(3)
    np.multiply(x, 2.0, y)
    return np.sum(y * y)


def out_result_used(x):
    y = np.zeros(3)
    z = np.multiply(x, x, out=y)
    return np.sum(z) + np.sum(y)


def alias_rebound_from_itself(x, b, n):
    c = x * 1.0
    t = c
    for i in range(n):
        t = t * 2.0
    t -= b
    return np.sum(c * c) + np.sum(t)


def real_part_then_scale(x):
    y = x * 1.0
    r = y.real
    y *= 2.0
    return np.sum(r * r) + np.sum(y)


def unknown_call_then_scale(x):
    y = x * 1.0
    r = np.diagonal(np.atleast_2d(y))
    y *= 2.0
    return np.sum(r * r) + np.sum(y)


def handed_back(a):
    return a


def user_call_then_scale(x):
    y = x * 1.0
    r = handed_back(y)
    y *= 2.0
    return np.sum(r * r) + np.sum(y)


def out_tuple(x):
    y = np.zeros(3)
    np.sin(x, out=(y,))
    return np.sum(y * x)


def out_reduction(x):
    y = np.zeros(3)
    np.sum(np.outer(x, x), axis=0, out=y)
    return np.sum(y * 3.0)


def out_broadcast(x):
    y = np.zeros((2, 3))
    np.multiply(x, x, out=y)
    return np.sum(y * 2.0)


def out_into_argument(x, b):
    np.multiply(x, 2.0, out=b)
    return np.sum(b)


def out_with_where(x):
    y = np.zeros(3)
    np.exp(x, out=y, where=x > 0)
    return np.sum(y)


def copied_then_scaled(x, b, flag):
    c = x * 1.0
    t = x * 2.0
    if flag > 0:
        t = c.copy()
    t -= b
    return np.sum(c * c) + np.sum(t)


X = np.array([0.3, -0.7, 1.2])
B = np.array([0.5, 0.1, -0.4])


def _agrees(fn, args):
    """The value matches the plain function, and the gradient finite differences (both modes)."""
    value = ad.value_and_grad(fn)(*args)[0]
    assert np.allclose(value, fn(*args))
    ad.testing.check_grads(fn, args, order=1)


def _refused(fn, args, line, error=AutodiffError):
    """A typed refusal that quotes the user's line."""
    with pytest.raises(error) as caught:
        ad.grad(fn)(*args)
    assert line in str(caught.value)
    assert "test_s7_inplace.py" in str(caught.value)


# Where an alias is made on some paths only, the generated forward pass checks at run time whether the
# written array shares memory with another name (runtime/sharing.py): refused on the paths where it does,
# differentiated as Python runs it on the others.

@pytest.mark.parametrize("flag, shared", [(1, True), (-1, False)])
def test_alias_made_in_a_branch_is_checked_when_it_runs(flag, shared):
    if shared:
        _refused(alias_in_branch, (X, B, flag), "t -= b", AliasingError)
    else:
        _agrees(alias_in_branch, (X, B, flag))


@pytest.mark.parametrize("n, shared", [(0, False), (2, True)])
def test_alias_made_in_a_loop_is_checked_when_it_runs(n, shared):
    if shared:
        _refused(alias_in_loop, (X, B, n), "t -= b", AliasingError)
    else:
        _agrees(alias_in_loop, (X, B, n))


@pytest.mark.parametrize("n, shared", [(0, True), (2, False)])
def test_alias_kept_by_a_while_loop_that_may_run_zero_times_is_checked_when_it_runs(n, shared):
    if shared:
        _refused(alias_kept_by_while, (X, B, n), "t -= b", AliasingError)
    else:
        _agrees(alias_kept_by_while, (X, B, n))


@pytest.mark.parametrize("n, shared", [(0, True), (2, False)])
def test_alias_kept_by_a_loop_that_rebinds_through_a_temporary_is_checked_when_it_runs(n, shared):
    if shared:
        _refused(alias_rebound_from_itself, (X, B, n), "t -= b", AliasingError)
    else:
        _agrees(alias_rebound_from_itself, (X, B, n))


def test_view_then_scale_is_refused():
    _refused(view_then_scale, (X,), "y *= 2.0")


def test_view_attribute_then_scale_is_refused():
    _refused(real_part_then_scale, (X,), "y *= 2.0")


def test_result_of_an_unknown_call_may_be_its_argument():
    _refused(unknown_call_then_scale, (X,), "y *= 2.0")


def test_result_of_a_user_function_may_be_its_argument():
    _refused(user_call_then_scale, (X,), "y *= 2.0")


@pytest.mark.parametrize("fn", [out_into_array, exp_in_place, out_positional, out_result_used, out_tuple,
                                out_reduction, out_broadcast])
def test_out_is_a_write_into_the_out_array(fn):
    _agrees(fn, (X,))


def test_out_into_an_argument_is_refused():
    _refused(out_into_argument, (X, B), "np.multiply(x, 2.0, out=b)")


def test_out_with_where_is_refused():
    _refused(out_with_where, (X,), "np.exp(x, out=y, where=x > 0)")


def test_a_plain_copy_still_differentiates():
    _agrees(copied_then_scaled, (X, B, 1))


def write_into_a_zero_dimensional_array(x):
    s = np.sum(x * x)
    y = np.zeros(())
    y[...] = s
    return y * 2.0


def test_a_write_into_a_zero_dimensional_array():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(ad.grad(write_into_a_zero_dimensional_array)(x), 4.0 * x)
    ad.testing.check_grads(write_into_a_zero_dimensional_array, (x,))


def out_into_an_int_array(x):
    y = np.zeros(3, dtype=int)
    np.multiply(x, 2.5, out=y)
    return np.sum(y * x)


def out_into_an_array_of_unknown_dtype(x, b):
    y = b.copy()
    np.multiply(x, 2.5, out=y)
    return np.sum(y * x)


def test_out_into_an_array_not_known_to_be_floating_is_refused():
    """Python raises for a float result written into an int array with out=; a write y[...] = ... would
    truncate instead, so out= is accepted only into arrays known to be floating."""
    with pytest.raises(TypeError):
        out_into_an_int_array(X.copy())  # what Python does
    _refused(out_into_an_int_array, (X,), "np.multiply(x, 2.5, out=y)")
    _refused(out_into_an_array_of_unknown_dtype, (X, B), "np.multiply(x, 2.5, out=y)")
