"""Specialisations of loops that call helpers, and of the RNN's matrix-vector product.

- A module-level helper of one ``return`` is inlined where it is called (compiler/inline_helpers.py):
  checked at orders 1 and 2 against finite differences, the value oracle, the generated source (no
  ``call_vjp_forward``), and the cases where it must not be inlined (a default, a global the caller binds
  itself, a helper from another module, recursion) or must be undone (the helper's name rebound, a rule
  registered for it after the caller was compiled).
- ``W @ h`` with ``W`` proven 2-d and ``h`` proven 1-d (compiler/kinds.py, with the kind of ``x.shape``)
  differentiates as ``np.outer(g, h)`` and ``W.T @ g`` (compiler/backward.py); other ranks keep the
  generic helpers.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core import registry
from autodiff_st.testing import check_grads
from tests.golden_functions import sigmoid as foreign_sigmoid

RNG = np.random.default_rng(11)
X = RNG.uniform(0.2, 1.0, 6)
W = RNG.normal(size=(5, 5)) * 0.4
XS = RNG.normal(size=(4, 5))
G = RNG.normal(size=(3, 6))


def called_grad(fn, *args, **options):
    grad = ad.grad(fn, **options)
    grad(*args)  # compiled for these argument kinds: ad.source shows that code
    return grad


# -- inlined helpers ----------------------------------------------------------------------------------

def rhs(x, y):
    return np.concatenate((x[0:1], x[1:] * y[:-1]))


def solve(x):
    y = np.zeros(x.shape[0])
    for _ in range(3):
        k1 = rhs(x, y)
        k2 = rhs(x, y + 0.25 * k1)
        y = y + 0.5 * (k1 + k2)
    return y[-1] + np.sum(y * y)


def sigmoid(z):
    """A docstring first is allowed."""
    return 1.0 / (1.0 + np.exp(-z))


def gated(x, w):
    total = 0.0
    for i in range(w.shape[0]):
        x = sigmoid(w[i] * x) * x
        total = total + np.sum(x)
    return total


def two_levels(v):
    return sigmoid(v) * v


def nested_inline(x):
    return np.sum(two_levels(x) ** 2)


@pytest.mark.parametrize("fn, args", [(solve, (X,)), (gated, (X, G)), (nested_inline, (X,))],
                         ids=["solve", "gated", "nested"])
def test_inlined_helpers_match_finite_differences_orders_1_and_2(fn, args):
    check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, args", [(solve, (X,)), (nested_inline, (X,))], ids=["solve", "nested"])
def test_inlined_helpers_value_oracle(fn, args):
    value, _ = ad.value_and_grad(fn)(*args)
    assert value == fn(*args)


def test_the_helper_is_inlined_and_keeps_its_own_line():
    text = ad.source(called_grad(solve, X))
    assert "call_vjp_forward" not in text and "call_vjp_backward" not in text
    assert "return np.concatenate((x[0:1], x[1:] * y[:-1]))" in text  # the helper's line heads its code
    text = ad.source(called_grad(nested_inline, X))
    assert "call_vjp_forward" not in text and "np.exp" in text


def with_default(v, k=2.0):
    return v * k


def calls_with_default(x):
    return np.sum(with_default(x))


def reads_scale(v):
    return v * scale  # noqa: F821  (a global the caller below shadows with a local)


scale = 3.0


def binds_scale(x):
    scale = 0.5
    return np.sum(reads_scale(x)) * scale


def countdown(v):
    return countdown(v)  # never called: recursion is not inlined


def calls_foreign(x):
    return np.sum(foreign_sigmoid(x))  # a helper of another module


def test_helpers_that_must_not_be_inlined_take_the_call_path():
    for fn, expected in ((calls_with_default, 2.0 * np.ones(6)), (binds_scale, 1.5 * np.ones(6)),
                         (calls_foreign, foreign_sigmoid(X) * (1.0 - foreign_sigmoid(X)))):
        grad = called_grad(fn, X)
        np.testing.assert_allclose(grad(X), expected, rtol=1e-12)
        assert "call_vjp_forward" in ad.source(grad), fn.__name__
        check_grads(fn, (X,), order=2)


def loop_calling_countdown(x):
    if x.shape[0] > 100:
        return np.sum(countdown(x))
    return np.sum(x * x)


def test_a_recursive_helper_is_not_inlined():
    np.testing.assert_allclose(called_grad(loop_calling_countdown, X)(X), 2.0 * X, rtol=1e-12)


def swapped(v):
    return v * 2.0


def calls_swapped(x):
    total = 0.0
    for _ in range(2):
        total = total + np.sum(swapped(x))
    return total


def test_rebinding_an_inlined_helper_rebuilds_the_caller():
    global swapped
    grad = called_grad(calls_swapped, X)
    np.testing.assert_allclose(grad(X), 4.0 * np.ones(6), rtol=1e-12)
    original = swapped
    try:
        swapped = lambda v: v * v  # noqa: E731
        np.testing.assert_allclose(grad(X), 4.0 * X, rtol=1e-12)
    finally:
        swapped = original
    np.testing.assert_allclose(grad(X), 4.0 * np.ones(6), rtol=1e-12)


def ruled(v):
    return np.sin(v)


def calls_ruled(x):
    return np.sum(ruled(x))


def test_a_rule_registered_for_an_inlined_helper_is_used():
    grad = called_grad(calls_ruled, X)
    np.testing.assert_allclose(grad(X), np.cos(X), rtol=1e-12)
    assert "call_vjp_forward" not in ad.source(grad)

    @ad.register_vjp(ruled)
    def doubled(g, ans, v):  # twice the true cotangent: the rule must be what runs
        return 2.0 * g * np.cos(v)

    try:
        np.testing.assert_allclose(grad(X), 2.0 * np.cos(X), rtol=1e-12)
    finally:
        registry._RULES.pop(ruled, None)
        ad.clear_cache()
    np.testing.assert_allclose(grad(X), np.cos(X), rtol=1e-12)


# -- the RNN's matrix-vector product --------------------------------------------------------------------

def rnn(W, xs):
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)


def rnn_shared(W, xs):
    V = W  # W under another name as well: both names are the same matrix
    h = np.ones(W.shape[1]) * 0.1
    for t in range(xs.shape[0]):
        h = np.tanh(V @ h + W @ h * 0.5 + xs[t])
    return np.sum(h ** 2)


def batched_matmul(A, xs):
    h = np.ones((A.shape[0], A.shape[2])) * 0.1  # a stack of vectors: A is 3-d, no outer product
    for t in range(xs.shape[0]):
        h = np.tanh(np.matmul(A, h[:, :, None])[:, :, 0] + xs[t])
    return np.sum(h ** 2)


def broadcast_rows(W, xs):
    h = np.ones((2, W.shape[1])) * 0.1  # two rows: h is 2-d, the generic helper stays
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W.T + xs[t])
    return np.sum(h ** 2)


@pytest.mark.parametrize("fn, args", [(rnn, (W, XS)), (rnn_shared, (W, XS)),
                                      (broadcast_rows, (W, XS))], ids=["rnn", "shared", "rows"])
def test_matmul_gradients_orders_1_and_2(fn, args):
    check_grads(fn, args, order=2)
    value, _ = ad.value_and_grad(fn, grad_position=(0, 1))(*args)
    assert value == fn(*args)


def test_a_matrix_times_a_vector_is_written_out():
    text = ad.source(called_grad(rnn, W, XS))
    assert "np.outer(" in text and "W.T @ " in text
    assert "matmul_grad_left" not in text and "matmul_grad_right" not in text
    np.testing.assert_allclose(ad.grad(rnn)(W, XS), _rnn_hand(W, XS), rtol=1e-12)


def test_other_ranks_keep_the_generic_helpers():
    text = ad.source(called_grad(broadcast_rows, W, XS))
    assert "matmul_grad_left" in text or "matmul_grad_right" in text
    assert "np.outer(" not in text
    A = RNG.normal(size=(3, 4, 4)) * 0.3
    check_grads(batched_matmul, (A, RNG.normal(size=(2, 3, 4))), order=1)
    assert "np.outer(" not in ad.source(called_grad(batched_matmul, A, RNG.normal(size=(2, 3, 4))))


def test_without_argument_kinds_the_generic_helpers_stay():
    text = ad.source(ad.grad(rnn))  # not called: compiled for any arguments
    assert "matmul_grad_left" in text


def _rnn_hand(W, xs):
    hs = [np.zeros(W.shape[0])]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(W @ hs[-1] + xs[t]))
    dh = 2.0 * hs[-1]
    dW = np.zeros_like(W)
    for t in range(xs.shape[0], 0, -1):
        da = dh * (1.0 - hs[t] ** 2)
        dW += np.outer(da, hs[t - 1])
        dh = W.T @ da
    return dW


# -- an array combined with a number ------------------------------------------------------------------

def scaled_steps(x, w):
    y = x
    for i in range(w.shape[0]):
        y = ((y * 0.5 - 1.0) ** 2 / 3.0 + w[i, 0]) * w[i, 1]  # w[i, 0] is one float64: a number
    return np.sum(y)


def broadcast_sum(x, c):
    y = x
    for _ in range(2):
        y = y + c * 2.0  # c of shape (1,) or (n,): the sum broadcasts, its cotangents are summed down
    return np.sum(y * y)


def test_an_array_with_a_number_needs_no_unbroadcast():
    grad = called_grad(scaled_steps, X, G)  # with respect to x: every operation is an array with a number
    check_grads(scaled_steps, (X, G), order=2)
    assert "unbroadcast" not in ad.source(grad)
    value, _ = ad.value_and_grad(scaled_steps)(X, G)
    assert value == scaled_steps(X, G)


def test_arrays_that_may_broadcast_keep_unbroadcast():
    for c in (np.array([0.3]), RNG.normal(size=6)):
        check_grads(broadcast_sum, (X, c), order=2)
        assert "unbroadcast" in ad.source(called_grad(broadcast_sum, X, c, grad_position=(0, 1)))
