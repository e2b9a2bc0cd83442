"""The backward pass of a read ``x[index]`` adds its cotangent into the cotangent of ``x`` in place when it
owns that buffer (runtime.accumulate_index), for every kind of index, and makes a new array otherwise.

Each case is checked against the plain sum ``acc + index_grad(v, x, index)``; the loops are checked
against finite differences, and by counting that the backward pass never falls back to a full-size array
per read.
"""

import sys

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.runtime import indexing
from autodiff_st.runtime.indexing import accumulate_index, index_grad

RNG = np.random.default_rng(0)
X1 = RNG.standard_normal(7)
X2 = RNG.standard_normal((4, 5))
X3 = RNG.standard_normal((2, 3, 4))

# (x, index): basic indices in one, two and three dimensions, then integer-array and boolean indices
# (np.add.at: repeated positions add up).
CASES = [
    (X1, np.index_exp[3]),
    (X1, np.index_exp[-1]),
    (X1, np.index_exp[np.int64(2)]),
    (X1, np.index_exp[1:]),
    (X1, np.index_exp[:-1]),
    (X1, np.index_exp[1:6:2]),
    (X1, np.index_exp[::-1]),
    (X1, np.index_exp[...]),
    (X1, np.index_exp[None, 2:4]),
    (X2, np.index_exp[1]),
    (X2, np.index_exp[2, 3]),
    (X2, np.index_exp[:, 2]),
    (X2, np.index_exp[1:3, 0:2]),
    (X2, np.index_exp[..., -1]),
    (X3, np.index_exp[1, :, 2]),
    (X3, np.index_exp[:, 1:, ::2]),
    (X1, np.index_exp[[0, 2, 2, 5]]),
    (X2, np.index_exp[[1, 1], [0, 0]]),
    (X2, np.index_exp[:, [4, 4, 0]]),
    (X1, (X1 > 0,)),
]


def cotangent_of_read(x, index, seed=1):
    return np.random.default_rng(seed).standard_normal(np.shape(x[index]))


def generated_pattern(make_acc, v, x, index):
    """The statement the backward pass writes: the cotangent rebound to the result, no other reference.
    Returns the result and whether it is the buffer ``acc`` was. The cotangent is made here by
    ``make_acc()``, a local as in generated code: an array passed in would also be held by the caller
    (on Python 3.10, by the caller's stack while the call runs)."""
    acc = make_acc()
    before = acc.ctypes.data  # an int: no reference to acc
    acc = accumulate_index(acc, v, x, index)
    return acc, isinstance(acc, np.ndarray) and acc.ctypes.data == before


def _owned(a):
    """A fresh array that only the callee will refer to."""
    return np.array(a, copy=True)


@pytest.mark.parametrize("x, index", CASES)
def test_in_place_when_owned(x, index):
    v = cotangent_of_read(x, index)
    start = np.random.default_rng(2).standard_normal(x.shape)
    expected = start + index_grad(v, x, index)
    out, same_buffer = generated_pattern(lambda: _owned(start), v, x, index)
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)
    assert out.dtype == expected.dtype
    assert same_buffer


def test_in_place_in_a_loop_reuses_one_buffer():
    x = np.arange(6.0)
    seen = set()

    def backward(x):
        x_bar = np.zeros(x.shape)
        for i in range(x.shape[0]):
            x_bar = accumulate_index(x_bar, float(i), x, np.index_exp[i])
            seen.add(x_bar.ctypes.data)
        return x_bar

    np.testing.assert_array_equal(backward(x), np.arange(6.0))
    assert len(seen) == 1


@pytest.mark.parametrize("x, index", CASES)
def test_shared_cotangent_is_left_alone(x, index):
    v = cotangent_of_read(x, index)
    acc = np.ones(x.shape)
    other = acc  # another name holds the same array: it must not change
    out = accumulate_index(acc, v, x, index)
    np.testing.assert_array_equal(other, np.ones(x.shape))
    np.testing.assert_allclose(out, np.ones(x.shape) + index_grad(v, x, index))


@pytest.mark.parametrize("x, index", [CASES[3], CASES[11], CASES[16]])
def test_views_and_read_only_buffers_are_left_alone(x, index):
    v = cotangent_of_read(x, index)
    base = np.ones((2,) + x.shape)
    out, same_buffer = generated_pattern(lambda: base[0], v, x, index)  # a view: its base is someone else's
    np.testing.assert_array_equal(base, np.ones(base.shape))
    np.testing.assert_allclose(out, np.ones(x.shape) + index_grad(v, x, index))
    assert not same_buffer

    out, same_buffer = generated_pattern(lambda: _frozen_copy(np.ones(x.shape)), v, x, index)
    np.testing.assert_allclose(out, np.ones(x.shape) + index_grad(v, x, index))
    assert not same_buffer


def _frozen_copy(a):
    b = np.array(a, copy=True)
    b.flags.writeable = False
    return b


def test_read_only_owned_buffer_with_repeated_indices_is_not_written():
    # np.add.at writes into a read-only array; accumulate_index must not use it there.
    x = X1
    index = np.index_exp[[0, 0, 3]]
    out, same_buffer = generated_pattern(lambda: _frozen_copy(np.zeros(7)), np.ones(3), x, index)
    np.testing.assert_array_equal(out, index_grad(np.ones(3), x, index))
    assert out[0] == 2.0 and not same_buffer


def test_dtypes_follow_the_sum():
    x = X1.astype(np.float32)
    out, same_buffer = generated_pattern(lambda: np.zeros(7, dtype=np.float32), np.float32(2.0), x, np.index_exp[1])
    assert out.dtype == np.float32 and out[1] == 2.0 and same_buffer
    # a float64 cotangent and a float32 read: the sum is float64, in place
    out, same_buffer = generated_pattern(lambda: np.zeros(7), np.float32(2.0), x, np.index_exp[1])
    assert out.dtype == np.float64 and out[1] == 2.0 and same_buffer
    # a float32 cotangent of a float64 array: the sum is float64, a new array
    out, same_buffer = generated_pattern(lambda: np.zeros(7, dtype=np.float32), 2.0, X1, np.index_exp[1])
    assert out.dtype == np.float64 and out[1] == 2.0 and not same_buffer
    # a complex cotangent into a real one: complex, never truncated
    out, same_buffer = generated_pattern(lambda: np.zeros(7), 1.0 + 2.0j, X1, np.index_exp[4])
    assert out.dtype == np.complex128 and out[4] == 1.0 + 2.0j and not same_buffer


def test_containers_and_shape_mismatch_use_the_sum():
    parts = (1.0, 2.0, 3.0)
    out = accumulate_index(index_grad(5.0, parts, np.index_exp[0]), 1.0, parts, np.index_exp[0])
    assert list(out) == [6.0, 0.0, 0.0]
    # a cotangent smaller than x (broadcast) is never updated in place
    acc = np.zeros(1)
    out = accumulate_index(acc, 3.0, X1, np.index_exp[2])
    assert out.shape == (7,) and out[2] == 3.0 and acc[0] == 0.0


# --------------------------------------------------------------------------------------------------
# Loops: correct gradients, and no read falls back to a full-size array.

def loop_int(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * w
    return s


def loop_window(x):
    s = 0.0
    for i in range(x.shape[0] - 2):
        s = s + np.sum(np.sin(x[i:i + 3]) * x[i + 1])
    return s


def loop_columns(W, v):
    s = 0.0
    for j in range(W.shape[1]):
        s = s + np.sum(np.tanh(W[:, j] * v[j]))
    return s


def loop_rows_and_elements(W):
    s = 0.0
    for i in range(W.shape[0]):
        s = s + np.sum(W[i, 1:] * W[i, :-1]) + W[i, 0] ** 2
    return s


def loop_gates(w, h):
    n = h.shape[0]
    for t in range(4):
        gates = w * np.concatenate((h, h, h))
        h = np.tanh(gates[0:n]) * gates[n:2 * n] + np.sin(gates[2 * n:3 * n])
    return np.sum(h)


LOOPS = [
    (loop_int, (RNG.standard_normal(9), 0.7)),
    (loop_window, (RNG.standard_normal(8),)),
    (loop_columns, (RNG.standard_normal((3, 4)), RNG.standard_normal(4))),
    (loop_rows_and_elements, (RNG.standard_normal((4, 3)),)),
    (loop_gates, (0.5 * RNG.standard_normal(9), RNG.standard_normal(3))),
]


@pytest.mark.parametrize("fn, args", LOOPS, ids=[f.__name__ for f, _ in LOOPS])
def test_loops_match_finite_differences(fn, args):
    ad.testing.check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, args", LOOPS, ids=[f.__name__ for f, _ in LOOPS])
def test_loops_never_fall_back_to_a_full_array_per_read(fn, args, monkeypatch):
    fallbacks = []
    general = indexing._accumulate_index_general

    def counted(*a):
        fallbacks.append(a[3])
        return general(*a)

    monkeypatch.setattr(indexing, "_accumulate_index_general", counted)
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray))
    grad = ad.grad(fn, grad_position=positions)
    grad(*args)
    source = ad.source(grad)
    if fn is loop_int:  # one element of a float64 array: added in place (compiler/inplace_accumulate.py)
        assert "x_bar[i] += x_i_bar" in source and "accumulate_index(" not in source
    else:  # the reads go through the helper, or in place where the compiler proves what it checks
        assert "accumulate_index(" in source or "_bar[" in source and "] += " in source
    assert fallbacks == []


def test_sole_owner_count_tells_a_second_name_apart():
    # The count accumulate_index trusts, measured at import, against the generated statement itself: one
    # name holding the cotangent is in place, a second name is not (Python 3.10 once counted one more).
    seen = []

    def probe(acc, v, x, index):
        seen.append(sys.getrefcount(acc))
        return acc

    acc, x = np.zeros(1), np.zeros(1)
    acc = probe(acc, 0.0, x, (0,))
    other = acc
    acc = probe(acc, 0.0, x, (0,))
    assert other is acc and seen[0] <= indexing._SOLE_REFERENCES < seen[1]
