"""``a and b`` / ``a or b`` is one of the operand objects itself, so the result shares what that operand
shares: a list appended to later through either name is seen through the other, which the normal form
must know (it once took the result for a new object, and the backward pass crashed on a taped list that
grew). Short-circuits of numbers and arrays still differentiate.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def appends_its_own_short_circuit(x):
    rows = [x]
    for i in range(2):
        rows.append(rows and np.cos(x) * i)
    return np.sum(np.stack(rows) ** 2)


def appends_through_an_or(x):
    rows = []
    other = rows or None
    rows.append(x * 2.0)
    return np.sum(np.stack(other) * x)


@pytest.mark.parametrize("fn", [appends_its_own_short_circuit, appends_through_an_or])
def test_a_list_shared_through_a_short_circuit_is_not_appended_to_untracked(fn):
    with pytest.raises(ad.AutodiffError, match="append to `rows`"):
        ad.grad(fn)(np.array([0.1, 0.2]))


def scalar_choice(x, scale):
    s = scale or 1.0
    t = (x > 0.0) and x * s
    return np.sin(t) * x


def test_short_circuits_of_numbers_differentiate():
    value, grad = ad.value_and_grad(scalar_choice)(0.7, 2.5)
    assert value == scalar_choice(0.7, 2.5)
    check_grads(scalar_choice, (0.7, 2.5), order=2)
    # scale = 0.0 takes the constant 1.0 (finite differences across 0 would cross that branch)
    value, grad = ad.value_and_grad(scalar_choice)(0.7, 0.0)
    assert value == scalar_choice(0.7, 0.0)
    np.testing.assert_allclose(grad, np.cos(0.7) * 0.7 + np.sin(0.7), rtol=1e-14)
