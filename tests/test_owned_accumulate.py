"""Reads of slices and rows add their cotangent in place (``x_bar[a:b] += v``) where the compiler proves the
cotangent buffer is a fresh array no one else refers to and the value is real
(compiler/inplace_accumulate.py); lists the function makes and only stacks keep the kinds of their items
(compiler/kinds.py); ``y[a:b] += v`` in generated or user code differentiates again.

Every case is checked against finite differences (second order where the code is differentiated again)
and against the plain function's value.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

RNG = np.random.default_rng(3)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cells(weights, state, inputs):
    """A gated recurrence: gates read as four slices of one vector, parameters as rows, the new state
    stacked from a list."""
    b = state.shape[1]
    total = 0.0
    for t in range(inputs.shape[0]):
        rows = []
        for k in range(state.shape[0]):
            gates = np.concatenate((inputs[t], state[k], inputs[t], state[k])) * weights[k]
            forget = sigmoid(gates[0:b])
            change = np.tanh(gates[b:2 * b]) * sigmoid(gates[2 * b:3 * b])
            rows.append(state[k] * forget + change * np.tanh(gates[3 * b:4 * b]))
        state = np.stack(rows)
        total = total + np.sum(state ** 2)
    return total


def cells_args():
    return (RNG.uniform(-1, 1, (2, 12)), RNG.uniform(-1, 1, (2, 3)), RNG.uniform(-1, 1, (3, 3)))


def test_slices_and_rows_are_added_in_place():
    grad = ad.grad(cells, grad_position=(0, 1))
    grad(*cells_args())
    source = ad.source(grad)
    assert "gates_bar[0:b] += " in source and "gates_bar[b:two_times_b] += " in source
    assert "weights_bar[k] += " in source
    assert "accumulate_index(" not in source


def test_in_place_slices_match_finite_differences():
    check_grads(cells, cells_args(), order=1)
    weights, state, inputs = cells_args()
    check_grads(lambda w: cells(w, state, inputs), (weights,), order=2)  # hessian over the in-place code


def test_in_place_slices_value_and_vmap():
    weights, state, inputs = cells_args()
    value, grads = ad.value_and_grad(cells, grad_position=(0, 1))(weights, state, inputs)
    assert value == cells(weights, state, inputs)
    batch = RNG.uniform(-1, 1, (3,) + weights.shape)
    batched = ad.vmap(ad.grad(cells), in_axes=(0, None, None))(batch, state, inputs)
    for row, expected in zip(batched, [ad.grad(cells)(w, state, inputs) for w in batch]):
        np.testing.assert_allclose(row, expected, rtol=1e-12, atol=1e-14)


def complex_slice(x):
    z = x[0:2] * (1.0 + 1.0j)
    return np.real(np.sum(z * z * x[1:3]))


def test_a_complex_cotangent_is_not_added_in_place():
    # the cotangent of x[0:2] is complex: its sum with the float64 buffer is left to accumulate_index
    x = RNG.uniform(0.5, 1.5, 4)
    grad = ad.grad(complex_slice)
    grad(x)
    assert "+= " not in ad.source(grad).split("backward")[-1] or "accumulate_index(" in ad.source(grad)
    check_grads(complex_slice, (x,), order=1)


def indexed_list(x):
    rows = []
    rows.append(x * 2.0)
    rows.append(np.sin(x))
    return np.sum(np.stack(rows) * x) + np.sum(rows[0])


def test_a_list_read_by_index_keeps_its_value():
    x = RNG.uniform(-1, 1, 3)
    assert ad.value_and_grad(indexed_list)(x)[0] == indexed_list(x)
    check_grads(indexed_list, (x,), order=2)


def list_in_a_test(x):
    rows = [x]
    for i in range(3):
        if rows:
            rows.append(np.cos(x) * i)
    return np.sum(np.stack(rows) ** 2)


def test_a_list_read_in_a_test_keeps_its_value():
    x = RNG.uniform(-1, 1, 4)
    assert ad.value_and_grad(list_in_a_test)(x)[0] == list_in_a_test(x)
    check_grads(list_in_a_test, (x,), order=2)


def root_times(x, a):
    return a ** 0.5 * x


def test_a_number_to_a_float_power_may_be_complex():
    # (-4.0) ** 0.5 is a complex number: not a real number the compiler may treat as a float
    x = np.array([1.0, 2.0])
    value, grad = ad.value_and_grad(root_times)(x, -4.0)
    np.testing.assert_array_equal(value, root_times(x, -4.0))
    np.testing.assert_allclose(grad, np.real((-4.0) ** 0.5) * np.ones(2))


def window_adds(x):
    y = np.zeros(5)
    for i in range(3):
        y[i:i + 2] += x[i] * x[i:i + 2]
    y[1:3] -= x[1:3] ** 2
    return np.sum(np.sin(y))


def window_products(x):
    y = np.ones(5)
    for i in range(2):
        y[i:i + 2] *= x[i:i + 2]
    return np.sum(y)


@pytest.mark.parametrize("fn", [window_adds, window_products])
def test_augmented_writes_into_slices_differentiate_twice(fn):
    check_grads(fn, (RNG.uniform(0.2, 1.0, 5),), order=2)


def test_a_view_read_before_an_add_and_used_after_is_still_refused():
    def aliased(x):
        y = np.ones(5)
        t = y[1:3]
        y[1:3] += x[1:3]
        return np.sum(t * x[0])

    with pytest.raises(ad.AutodiffError, match="view"):
        ad.grad(aliased)(np.arange(5.0))
