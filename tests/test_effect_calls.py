"""A call of the user's own code made for its effect (its result not used) and given a differentiated value
runs through its adjoint: a write into an argument or an append to a list it was given is refused, where
it used to run untracked and the gradient came out zero. A call that only checks or prints its argument
still differentiates, to the plain function's value and finite differences.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def put(buf, v):
    buf[0] = v[0] * 2.0


def push(items, v):
    items.append(v)


def writes_an_array_argument(x):
    buf = np.zeros(2)
    put(buf, x)
    return np.sum(buf * x)


def appends_to_a_list_argument(x):
    rows = []
    push(rows, x)
    push(rows, x * 2.0)
    return np.sum(np.stack(rows) ** 2)


def appends_through_a_closure(x):
    rows = []

    def add(v):
        rows.append(v)

    add(x)
    add(np.sin(x) * 2.0)
    return np.sum(np.stack(rows) ** 2)


def writes_through_a_closure(x):
    buf = np.zeros(2)

    def fill(v):
        buf[1] = v[1] * 3.0

    fill(x)
    return np.sum(buf * x)


@pytest.mark.parametrize("fn", [writes_an_array_argument, appends_to_a_list_argument, appends_through_a_closure,
                                writes_through_a_closure])
def test_a_call_that_changes_what_it_is_given_is_refused(fn):
    x = np.array([0.3, 0.7])
    with pytest.raises(ad.AutodiffError) as info:
        ad.grad(fn)(x)
    message = str(info.value)
    assert "test_effect_calls.py" in message and ("write into" in message or "append to" in message)


def check_finite(x):
    if np.any(np.isnan(x)):
        raise ValueError("not a number")


def checked(x):
    check_finite(x)
    y = np.sin(x)
    check_finite(y)
    return np.sum(y * x)


def test_a_call_that_only_checks_its_argument_differentiates():
    x = np.array([0.3, 0.7, -1.2])
    value, grad = ad.value_and_grad(checked)(x)
    assert value == checked(x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-13)
    check_grads(checked, (x,), order=2)


def test_the_checks_error_still_comes_from_the_users_line():
    with pytest.raises(ValueError, match="not a number"):
        ad.grad(checked)(np.array([np.nan, 1.0]))
