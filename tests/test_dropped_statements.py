"""A statement the derivative does not need is left out only where it cannot raise (compiler/raising.py).

Where the user's function raises, every transform raises the same exception from the same line, also
where the statement's value is not needed for the gradient or the tangent; and the statements that
cannot raise (elementwise float64 arithmetic, ufuncs, full reductions) are still left out.
"""

import math

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def unused_index(x, k):
    t = x[k]
    return np.sum(x ** 2)


def unused_division(x, k):
    r = 1.0 / k
    return np.sum(x ** 2)


def unused_log(x, k):
    r = math.log(k)
    return np.sum(x ** 2)


def unused_inverse(x, k):
    a = np.eye(2) * k
    inv = np.linalg.inv(a)
    return np.sum(x ** 2)


def unused_reshape(x, k):
    y = x.reshape(k, 2)
    return np.sum(x ** 2)


def mismatched_shapes_in_the_value(x, k):
    # the value's last step: the gradient needs neither the sum nor its shape... the shapes fail
    return np.sum(x[:k] * x) + np.sum(x ** 2) * 0.0


def dict_lookup(x, k):
    table = {"a": 1.0}
    scale = table[k]
    return np.sum(x ** 2)


RAISING = [(unused_index, 10, IndexError), (unused_division, 0, ZeroDivisionError), (unused_log, -1.0, ValueError),
           (unused_inverse, 0.0, np.linalg.LinAlgError), (unused_reshape, 5, ValueError),
           (mismatched_shapes_in_the_value, 2, ValueError), (dict_lookup, "b", KeyError)]


def all_transforms(fn):
    return {
        "grad": ad.grad(fn),
        "value_and_grad": ad.value_and_grad(fn),
        "jacrev": ad.jacrev(fn),
        "jacfwd": ad.jacfwd(fn),
        "hessian": ad.hessian(fn),
        "jvp": lambda x, k: ad.jvp(lambda v: fn(v, k), (x,), (np.ones_like(x),)),
        "vjp": lambda x, k: ad.vjp(lambda v: fn(v, k), x)[1](1.0),
        "vmap(grad)": lambda x, k: ad.vmap(ad.grad(fn), in_axes=(0, None))(np.stack([x, x]), k),
    }


@pytest.mark.parametrize("fn, k, error", RAISING, ids=[case[0].__name__ for case in RAISING])
@pytest.mark.parametrize("transform", list(all_transforms(unused_index)))
def test_a_statement_that_raises_raises_in_every_transform(fn, k, error, transform):
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(error):
        fn(x, k)
    with pytest.raises(error):
        all_transforms(fn)[transform](x, k)


@pytest.mark.parametrize("fn, k", [(unused_index, 1), (unused_division, 2), (unused_log, 2.0),
                                   (unused_inverse, 1.0), (unused_reshape, 1), (dict_lookup, "a")])
def test_where_nothing_raises_the_derivatives_are_right(fn, k):
    x = np.array([0.5, -1.0, 2.0]) if fn is not unused_reshape else np.array([0.5, -1.0])
    check_grads(lambda v: fn(v, k), (x,), order=2)


def logistic(w, X, y):
    return np.mean(np.log1p(np.exp(-y * (X @ w))))


def test_statements_that_cannot_raise_are_still_left_out():
    rng = np.random.default_rng(0)
    X, w, y = rng.standard_normal((5, 3)), rng.standard_normal(3), np.sign(rng.standard_normal(5))
    grad = ad.grad(logistic)
    check_grads(logistic, (w, X, y), order=1)
    grad(w, X, y)
    text = "\n".join(line for line in ad.source(grad).splitlines() if not line.strip().startswith("#"))
    # log1p and mean of float64 arrays: their values are not needed, and they cannot raise
    assert "np.log1p(" not in text and "np.mean(" not in text
    assert "np.exp(" in text


def test_a_loop_of_number_arithmetic_the_gradient_does_not_need_is_left_out():
    def f(x):
        s = 0.0
        for i in range(20):
            s = s + np.sin(x * i) * x
        return s

    grad = ad.grad(f)
    assert grad(0.3) == pytest.approx(sum(math.sin(0.3 * i) + 0.3 * i * math.cos(0.3 * i) for i in range(20)))
    forward = ad.source(grad).split("seed:")[0]  # the forward pass
    assert "for i in i_values" not in forward


def test_a_reduction_over_an_axis_the_array_lacks_raises():
    def f(x):
        return np.sum(np.sum(x * 2.0, axis=1))

    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
        ad.grad(f)(np.ones(3))


def loop_nothing_reads(x, n):
    for i in range(n):
        t = x * i
    return np.sum(x ** 2)


def number_loop_nothing_reads(x, n):
    s = 0.0
    for i in range(n):
        s = s + 1.0
    return np.sum(x ** 2)


@pytest.mark.parametrize("fn", [loop_nothing_reads, number_loop_nothing_reads])
@pytest.mark.parametrize("n", [2.5, "three"])
@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"])
def test_a_range_of_something_else_than_ints_raises_also_where_the_loop_is_not_needed(fn, n, transform):
    x = np.array([0.5, -1.0])
    with pytest.raises(TypeError):
        fn(x, n)
    with pytest.raises(TypeError):
        getattr(ad, transform)(fn)(x, n)


def test_a_loop_over_a_range_of_ints_nothing_reads_is_left_out():
    def f(x):
        for i in range(x.shape[0]):
            t = x * i
        return np.sum(x ** 2)

    grad = ad.grad(f)
    np.testing.assert_allclose(grad(np.array([0.5, -1.0])), [1.0, -2.0])
    code = [line for line in ad.source(grad).splitlines() if not line.strip().startswith("#")]
    assert not any(line.strip().startswith("for ") for line in code)


def reads_past_the_end(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] * 2.0
    return np.sum(x ** 2) + s * 0.0


def reads_every_item(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * 0.5
    for j in range(len(x)):
        s = s + x[j] * 0.25
    return s


def test_an_index_past_the_end_raises_where_the_gradient_does_not_need_the_item():
    x = np.array([0.5, -1.0])
    with pytest.raises(IndexError):
        reads_past_the_end(x, 3)
    for transform in (ad.grad, ad.jacfwd, ad.value_and_grad):
        with pytest.raises(IndexError):
            transform(reads_past_the_end)(x, 3)
    check_grads(lambda v: reads_past_the_end(v, 2), (x,), order=2)


def test_items_of_a_range_over_the_first_axis_need_no_forward_loop():
    x = np.array([0.5, -1.0, 2.0])
    grad = ad.grad(reads_every_item)
    np.testing.assert_allclose(grad(x), np.full(3, 0.75))
    check_grads(reads_every_item, (x,), order=2)
    forward = [line for line in ad.source(grad).split("seed:")[0].splitlines() if not line.strip().startswith("#")]
    assert not any(line.strip().startswith("for ") for line in forward)
