"""The cotangent of a full reduction folded into its one reader (compiler/filled_cotangent.py):
``fill_divide(g, s, d)`` and ``fill_multiply(g, s, d, c)`` in place of ``expand_reduced(g, s) / d`` and
``expand_reduced(g, s) * c * d``.

The helpers must give the very array the unfolded code gives (bit for bit, same dtype and shape) on every
path, the number path and the filled one; the gradients of functions whose mean or sum is read in every
way (a division, a product, returned, indexed, reshaped, broadcast, over an axis, keepdims) match finite
differences at orders 1 and 2; float32 keeps float32.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.runtime import expand_reduced, fill_divide, fill_multiply, shape_of
from autodiff_st.testing import check_grads

RNG = np.random.default_rng(3)


def _same(a, b):
    assert type(a) is type(b)
    assert np.shape(a) == np.shape(b) and np.result_type(a) == np.result_type(b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("v", [0.37, np.float64(-1.3), np.array(0.25), np.float32(0.5)])
@pytest.mark.parametrize("x_shape, d_shape", [((5,), (5,)), ((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)),
                                              ((3, 1), (1, 4)), ((), ())])
@pytest.mark.parametrize("x_dtype, d_dtype", [(np.float64, np.float64), (np.float32, np.float32),
                                              (np.float64, np.float32), (np.float32, np.float64)])
def test_helpers_give_the_unfolded_array(v, x_shape, d_shape, x_dtype, d_dtype):
    x = RNG.standard_normal(x_shape).astype(x_dtype) if x_shape else x_dtype(0.5)
    d = RNG.uniform(0.5, 2.0, d_shape).astype(d_dtype) if d_shape else d_dtype(1.5)
    for shape in (shape_of(x), x):
        _same(fill_divide(v, shape, d), expand_reduced(v, shape, None, False) / d)
        _same(fill_multiply(v, shape, d), expand_reduced(v, shape, None, False) * d)
        _same(fill_multiply(v, shape, d, 3), expand_reduced(v, shape, None, False) * 3 * d)
        _same(fill_multiply(v, shape, d, 0.1), expand_reduced(v, shape, None, False) * 0.1 * d)


def test_division_by_zero_warns_as_before():
    d = np.array([1.0, 0.0])
    with pytest.warns(RuntimeWarning):
        r = fill_divide(1.0, shape_of(d), d)
    assert np.isinf(r[1])


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def squares(x):
    return np.sum(x ** 2)


def mean_scaled(x, c):
    return np.mean(x * c)


def mean_returned(x):
    return np.mean(x)


def mean_indexed(x):
    return np.mean(x[1:] * 3.0)


def mean_indexed_read(x):
    t = x * x
    return np.mean(t)


def mean_reshaped(x):
    return np.mean(np.reshape(x, (-1,)) / 2.0)


def mean_axis(x):
    return np.sum(np.mean(np.sin(x), axis=0) ** 2)


def mean_keepdims(x):
    m = np.mean(np.exp(x), axis=1, keepdims=True)
    return np.sum(m * x)


def mean_in_loop(x):
    s = 0.0
    for _ in range(3):
        s = s + np.mean(x * x) * 2.0
        x = np.sin(x)
    return s


def mean_of_mean_read_twice(x):
    t = np.tanh(x)
    return np.mean(t * t)


def test_logistic_folds_and_matches_finite_differences():
    X = RNG.standard_normal((20, 5))
    y = np.sign(RNG.standard_normal(20))
    w = RNG.standard_normal(5) * 0.3
    g = ad.grad(logistic)
    g(w, X, y)
    # the fill's check settled before the code runs (compiler/exact_fills.py): e is a float64 vector, the
    # seed a float, 1 + e of e's shape; the forward pass keeps no shape of e
    source = ad.source(g)
    assert "out_bar / exp_neg_y_times_z.size / (1 + exp_neg_y_times_z)" in source
    assert "expand_reduced" not in source and "fill_divide(" not in source and "shape_of(exp" not in source
    check_grads(logistic, (w, X, y), order=2)
    e = np.exp(-y * (X @ w))
    np.testing.assert_allclose(g(w, X, y), X.T @ (-y * e / (1.0 + e)) / X.shape[0], rtol=1e-12)


def test_squares_fold_with_the_constant():
    g = ad.grad(squares)
    x = RNG.standard_normal((3, 4))
    _same(g(x), 2.0 * x)
    assert "fill_multiply(" in ad.source(g)
    check_grads(squares, (x,), order=2)


@pytest.mark.parametrize("fn, args", [
    (mean_scaled, (RNG.standard_normal((3, 4)), RNG.standard_normal(4))),
    (mean_scaled, (RNG.standard_normal(4), RNG.standard_normal((3, 4)))),
    (mean_scaled, (RNG.standard_normal((3, 4)), 2.5)),
    (mean_returned, (RNG.standard_normal((3, 4)),)),
    (mean_indexed, (RNG.standard_normal(6),)),
    (mean_indexed_read, (RNG.standard_normal((2, 3)),)),
    (mean_reshaped, (RNG.standard_normal((2, 3)),)),
    (mean_axis, (RNG.standard_normal((3, 4)),)),
    (mean_keepdims, (RNG.standard_normal((3, 4)),)),
    (mean_in_loop, (RNG.standard_normal(5),)),
    (mean_of_mean_read_twice, (RNG.standard_normal(5),)),
    (logistic, (RNG.standard_normal(3), RNG.standard_normal((6, 3)), np.sign(RNG.standard_normal(6)))),
])
def test_orders_1_and_2_match_finite_differences(fn, args):
    check_grads(fn, args, order=1)
    check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn", [mean_returned, mean_indexed, mean_reshaped, mean_axis, mean_keepdims,
                                mean_in_loop, squares, mean_of_mean_read_twice])
def test_float32_keeps_float32_and_matches_float64(fn):
    x64 = RNG.standard_normal((2, 3)) if fn is not mean_indexed else RNG.standard_normal(6)
    x32 = x64.astype(np.float32)
    g32 = ad.grad(fn)(x32)
    assert g32.dtype == np.float32 and g32.shape == x32.shape
    np.testing.assert_allclose(g32, ad.grad(fn)(x64), rtol=1e-5, atol=1e-6)


def test_vmap_and_forward_over_the_folded_gradient():
    X = RNG.standard_normal((8, 3))
    y = np.sign(RNG.standard_normal(8))
    ws = RNG.standard_normal((4, 3))
    g = ad.grad(logistic)
    batched = ad.vmap(g, in_axes=(0, None, None))(ws, X, y)
    np.testing.assert_allclose(batched, np.stack([g(w, X, y) for w in ws]), rtol=1e-12)
    hr = ad.jacrev(g)(ws[0], X, y)
    hf = ad.jacfwd(g)(ws[0], X, y)
    np.testing.assert_allclose(hr, hf, rtol=1e-9, atol=1e-12)


def test_settled_fill_is_the_checked_fill_to_the_last_bit():
    # ad.vjp reads its cotangent from a parameter (not a float the compiler sees): it keeps fill_divide and
    # its run-time check, which takes the same path; the two gradients are the same array
    X = RNG.standard_normal((30, 4))
    y = np.sign(RNG.standard_normal(30))
    w = RNG.standard_normal(4)
    value, vjp_fn = ad.vjp(logistic, w, X, y)
    (w_bar, *_) = vjp_fn(1.0)
    grad = ad.grad(logistic)(w, X, y)
    np.testing.assert_array_equal(grad, w_bar)
    assert value == logistic(w, X, y)


def mean_broadcast(x, c):
    return np.mean(np.log1p(np.exp(x)) * 1.0) + 0.0 * np.sum(c)


def mean_of_sum_with_other(x, c):
    e = np.exp(x)
    return np.mean(np.log1p(e + c))


@pytest.mark.parametrize("fn", [mean_broadcast, mean_of_sum_with_other])
def test_fills_of_float32_keep_their_check(fn):
    # float32 arrays: the fill's dtype is not proved float64, the run-time check stays
    x, c = RNG.standard_normal(5), RNG.standard_normal(5)
    check_grads(fn, (x, c), order=2)
    g = ad.grad(fn)
    g(x.astype(np.float32), c.astype(np.float32))
    assert ".size /" not in ad.source(g) and "fill_" in ad.source(g)
