"""Specialisation on the rank and dtype of array arguments (runtime/calls.py argument_kinds, compiler/kinds.py).

One element ``x[i]`` of a 1-d float64 ndarray is an np.float64, a number: the code built for that call keeps
no shapes for it. A call with another rank or dtype, or with a float, compiles code of its own, and each is
checked against finite differences (order 2, float64); float32 keeps float32.
"""

import numpy as np

import autodiff_st as ad
from autodiff_st.runtime.calls import argument_kinds
from autodiff_st.testing import check_grads


def index_loop(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * w
    return np.sum(s)


def flat_loop(x, w):
    flat = np.reshape(x, (-1,))
    s = np.sum(np.sin(x) * w)
    for i in range(flat.shape[0]):
        s = s + flat[i] * flat[i] * w
    return s


def test_argument_kinds_carry_rank_and_dtype():
    kinds = argument_kinds((np.ones(3), np.ones((2, 2), np.float32), 1.5, 2, np.float64(1.0), np.array(1.0), [1.0]))
    assert kinds == ((1, np.dtype("float64")), (2, np.dtype("float32")), True, True, True,
                     (0, np.dtype("float64")), False)
    assert argument_kinds((np.ma.masked_array([1.0]),)) == (False,)  # a subclass is not an array kind


def test_same_transform_over_ranks_dtypes_and_numbers():
    rng = np.random.default_rng(0)
    grad = ad.grad(index_loop)
    sources = {}
    for label, x in [("1d", rng.normal(size=5)), ("2d", rng.normal(size=(4, 3))),
                     ("f32", rng.normal(size=5).astype(np.float32)), ("1d again", rng.normal(size=6))]:
        g = grad(x, 0.5)
        assert g.dtype == x.dtype and g.shape == x.shape
        assert np.allclose(g, 0.5)
        sources[label] = grad.source()
        if x.dtype == np.float64:
            check_grads(index_loop, (x, 0.5), order=2)
    # The 1-d float64 element is a number: no shape tape, no unbroadcast for it.
    assert "x_i_shape" not in sources["1d"] and "unbroadcast" not in sources["1d"]
    # A row of a 2-d array and an element of a float32 array are arrays: the sum's shapes are kept (but
    # x[i] * w, an array times a number, has x[i]'s shape: its cotangent is not unbroadcast).
    assert "x_i_times_w_shape" in sources["2d"] and "x_i_times_w_shape" in sources["f32"]
    assert "x_i_shape" not in sources["2d"] and "x_i_bar = x_i_times_w_bar * w" in sources["2d"]
    assert sources["1d again"] == sources["1d"]


def test_flat_loop_over_ranks_dtypes_and_a_float():
    rng = np.random.default_rng(1)
    grad = ad.grad(flat_loop)
    for x in [rng.normal(size=4), rng.normal(size=(2, 3)), rng.normal(size=4).astype(np.float32), 0.7,
              rng.normal(size=3)]:
        g = grad(x, 0.5)
        expected = np.cos(x) * 0.5 + 2 * np.asarray(x) * 0.5
        if isinstance(x, float):
            assert np.isclose(g, expected)
            check_grads(flat_loop, (x, 0.5), order=2)
        else:
            assert g.dtype == x.dtype and g.shape == x.shape
            assert np.allclose(g, expected, rtol=1e-5 if x.dtype == np.float32 else 1e-12)
            if x.dtype == np.float64:
                check_grads(flat_loop, (x, 0.5), order=2)


def elements_2d(W, w):
    s = 0.0
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            s = s + W[i, j] * W[i, j] * w
    return s


def element_and_whole(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * np.sum(x)
    return s


def test_element_adds_in_place_where_proved_and_stay_correct():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(3, 4))
    grad = ad.grad(elements_2d)
    assert np.allclose(grad(W, 0.5), W)
    assert "W_bar[i, j] += " in grad.source() and "accumulate_index(" not in grad.source()
    check_grads(elements_2d, (W, 0.5), order=2)
    # float32: the element is not a float64 number; the run-time helper decides, and float32 stays
    g32 = grad(W.astype(np.float32), 0.5)
    assert g32.dtype == np.float32 and "W_bar[i, j] += " not in grad.source()
    x = rng.normal(size=5)
    check_grads(element_and_whole, (x,), order=2)


def test_element_adds_under_vjp_jacrev_and_vmap():
    rng = np.random.default_rng(3)
    x = rng.normal(size=5)
    out, vjp_fn = ad.vjp(index_loop, x, 0.5)
    assert np.allclose(vjp_fn(2.0)[0], 1.0)
    assert np.allclose(ad.jacrev(index_loop)(x, 0.5), np.full(5, 0.5))
    xs = rng.normal(size=(3, 5))
    assert np.allclose(ad.vmap(ad.grad(index_loop), in_axes=(0, None))(xs, 0.5), np.full((3, 5), 0.5))
    assert np.allclose(ad.hessian(elements_2d)(rng.normal(size=(2, 2)), 0.5).reshape(4, 4), np.eye(4))
