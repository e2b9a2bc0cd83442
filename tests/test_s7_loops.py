"""Loops whose trip counts vary: an inner range that depends on the outer counter (and may be empty),
while loops and for loops that run zero times.

Each function is checked for its value against the plain function, its gradient against central
finite differences (order 1 and 2, reverse and forward mode), and through vjp, jacrev and hessian.
"""

import numpy as np
import pytest

import autodiff_st as ad


def pair_energy(x):
    n = x.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            e -= x[i] * x[j]
    return e


def lower_pairs(x):
    n = x.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i):
            e = e + x[i] * x[j] * x[j]
    return e


def triangle_of_arrays(x):
    n = x.shape[0]
    h = x * 0.5
    for i in range(n):
        for j in range(n - i - 1):
            h = np.sin(h) * x[j]
    return np.sum(h)


def inner_range_with_break(x):
    s = 0.0
    for i in range(4):
        for j in range(i, 4):
            if j == 2:
                break
            s = s + np.sin(x[i] * x[j])
    return s


def three_deep(x):
    s = 0.0
    for i in range(3):
        for j in range(i):
            for k in range(j, i):
                s = s + x[i] * x[j] * x[k]
    return s


def while_runs_zero_times(x):
    y = x * 1.0
    while np.sum(y) > 100.0:
        y = y * 0.5
    return np.sum(y * y)


def inner_while_varies(x):
    s = 0.0
    for i in range(3):
        y = x[i]
        while y > 0.3 * i:
            y = y * 0.5
            s = s + y * x[i]
    return s


def empty_range(x, n):
    s = np.sum(x)
    for i in range(n):
        s = s * x[0]
    return s


def inner_over_empty_rows(x, rows):
    s = 0.0
    for r in rows:
        for i in range(len(r)):
            s = s + x[r[i]] ** 2
    return s


X4 = np.array([0.5, 0.8, 1.3, 0.2])

CASES = [
    (pair_energy, (X4,)),
    (lower_pairs, (X4,)),
    (triangle_of_arrays, (X4,)),
    (inner_range_with_break, (X4,)),
    (three_deep, (X4,)),
    (while_runs_zero_times, (X4,)),
    (inner_while_varies, (X4,)),
    (empty_range, (X4, 0)),
    (empty_range, (X4, 3)),
    (inner_over_empty_rows, (X4, [[0, 1], [], [2], []])),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{fn.__name__}-{i}" for i, (fn, _) in enumerate(CASES)])
def test_value_and_gradient(fn, args):
    value, grad = ad.value_and_grad(fn)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    assert grad.shape == args[0].shape
    ad.testing.check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{fn.__name__}-{i}" for i, (fn, _) in enumerate(CASES)])
def test_vjp_jacrev_hessian(fn, args):
    grad = ad.grad(fn)(*args)
    if len(args) == 1:
        out, vjp_fn = ad.vjp(fn, *args)
        np.testing.assert_allclose(vjp_fn(1.0)[0], grad, rtol=1e-12)
        np.testing.assert_allclose(vjp_fn(1.0)[0], grad, rtol=1e-12)  # the tape is popped from a copy
    np.testing.assert_allclose(ad.jacrev(fn)(*args), grad, rtol=1e-12)
    hessian = ad.hessian(fn)(*args)
    np.testing.assert_allclose(hessian, ad.jacfwd(ad.grad(fn))(*args), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-9, atol=1e-12)


def test_pair_energy_gradient_by_hand():
    # e = -sum_{i<j} x_i x_j, so de/dx_k = -(sum(x) - x_k).
    np.testing.assert_allclose(ad.grad(pair_energy)(X4), -(X4.sum() - X4), rtol=1e-12)


def test_inner_range_is_restored_per_outer_iteration():
    grad = ad.grad(pair_energy)
    grad(X4)
    text = ad.source(grad)
    assert "ranges.append(j_values)" in text and "j_values = ranges.pop()" in text


# -- arrays and lists made where a loop, a branch or an early return may not bind them ---------------

def array_made_in_loop(x):
    s = 0.0
    for k in range(2):
        y = np.zeros(3)
        for i in range(3):
            y[i] = x[i] * (k + 1)
        s = s + np.sum(y * y)
    return s


def list_made_in_loop(x):
    s = 0.0
    for k in range(2):
        ys = []
        for i in range(3):
            ys.append(x[i] * (k + 1))
        s = s + np.sum(np.stack(ys) ** 2)
    return s


def array_made_in_branch(x):
    if x[0] > 0:
        y = np.zeros(3)
        y[1] = x[1] * x[2]
    else:
        y = x * 2.0
    return np.sum(y)


def list_made_in_branch(x):
    if x[0] > 0:
        ys = []
        ys.append(x[1] * x[2])
        ys.append(x[0])
    else:
        ys = [x[0], x[1]]
    return ys[0] + ys[1]


def array_after_early_return(x):
    if x[0] > 10.0:
        return np.sum(x)
    y = np.zeros(3)
    y[0] = x[0] * x[1]
    return np.sum(y)


def early_return_before_loop(x):
    if np.sum(x) > 100.0:
        return x * 0.0
    y = x
    for i in range(3):
        y = np.sin(y)
    return y


X3 = np.array([0.5, -0.8, 1.3])

MADE = [array_made_in_loop, list_made_in_loop, array_made_in_branch, list_made_in_branch,
        array_after_early_return]


@pytest.mark.parametrize("fn", MADE, ids=lambda fn: fn.__name__)
@pytest.mark.parametrize("x", [X3, -X3], ids=["positive", "negative"])
def test_made_where_not_always_bound(fn, x):
    value, grad = ad.value_and_grad(fn)(x)
    assert value == pytest.approx(fn(x), rel=1e-12)
    ad.testing.check_grads(fn, (x,), order=1)
    out, vjp_fn = ad.vjp(fn, x)
    np.testing.assert_allclose(vjp_fn(1.0)[0], grad, rtol=1e-12)
    np.testing.assert_allclose(vjp_fn(1.0)[0], grad, rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(fn)(x), grad, rtol=1e-12)


@pytest.mark.parametrize("fn", [array_made_in_loop, array_made_in_branch, array_after_early_return],
                         ids=lambda fn: fn.__name__)
def test_made_where_not_always_bound_second_order(fn):
    ad.testing.check_grads(fn, (X3,), order=2)
    np.testing.assert_allclose(ad.hessian(fn)(X3), ad.jacfwd(ad.grad(fn))(X3), rtol=1e-9, atol=1e-12)


def test_early_return_before_a_loop():
    for x in (X3, X3 + 100.0):
        np.testing.assert_allclose(ad.jacrev(early_return_before_loop)(x),
                                   ad.jacfwd(early_return_before_loop)(x), rtol=1e-12)
        out, vjp_fn = ad.vjp(early_return_before_loop, x)
        np.testing.assert_allclose(out, early_return_before_loop(x))
        ad.testing.check_grads(early_return_before_loop, (x,), order=2)


def early_return_before_loop_scalar(x):
    if np.sum(x) > 100.0:
        return np.sum(x * x)
    s = 0.0
    for i in range(3):
        s = s + np.sin(x[i]) * x[i]
    return s


def inner_while_sometimes_idle(x):
    s = 0.0
    for i in range(3):
        y = x[i]
        while y > 1.0:
            y = y * 0.5
        s = s + y * x[i]
    return s


@pytest.mark.parametrize("x", [X3, X3 + 100.0], ids=["loop", "early return"])
def test_early_return_before_a_loop_second_order(x):
    fn = early_return_before_loop_scalar
    ad.testing.check_grads(fn, (x,), order=2)
    out, vjp_fn = ad.vjp(fn, x)
    assert out == pytest.approx(fn(x), rel=1e-12)
    np.testing.assert_allclose(vjp_fn(1.0)[0], ad.grad(fn)(x), rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(fn)(x), ad.grad(fn)(x), rtol=1e-12)
    np.testing.assert_allclose(ad.hessian(fn)(x), ad.jacrev(ad.grad(fn))(x), rtol=1e-9, atol=1e-12)


def test_inner_while_that_runs_zero_times_at_some_outer_iterations():
    x = np.array([0.5, 2.5, 0.7])  # the while loop runs at i = 1 only
    fn = inner_while_sometimes_idle
    assert ad.value_and_grad(fn)(x)[0] == pytest.approx(fn(x), rel=1e-12)
    ad.testing.check_grads(fn, (x,), order=2)
    np.testing.assert_allclose(ad.hessian(fn)(x), ad.jacfwd(ad.grad(fn))(x), rtol=1e-9, atol=1e-12)
