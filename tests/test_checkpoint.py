"""ad.checkpoint on a function, and loop checkpointing (checkpoint= on grad and value_and_grad).

Gradients with checkpointing must equal those without, and central finite differences, at orders 1 and
2; values must equal the plain function's. The memory test asserts a property, not a timing: the peak
of a checkpointed 2,000-step loop is well under the taped one's.
"""

import tracemalloc

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

POLICIES = ["auto", "sqrt", 1, 3, 7, 1000]


def finite_difference(f, x, eps=1e-6):
    """The gradient of a scalar function of one float64 array, by central differences."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        g[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return g


def assert_gradients(f, args, policy, position=0):
    plain = ad.grad(f, position)(*args)
    checked = ad.grad(f, position, checkpoint=policy)(*args)
    np.testing.assert_allclose(checked, plain, rtol=1e-12, atol=1e-14)

    def along(x):
        return f(*args[:position], x, *args[position + 1:])

    np.testing.assert_allclose(checked, finite_difference(along, args[position]), rtol=1e-5, atol=1e-7)
    value, gradient = ad.value_and_grad(f, position, checkpoint=policy)(*args)
    assert value == f(*args)  # the value oracle
    np.testing.assert_allclose(gradient, plain, rtol=1e-12, atol=1e-14)


def second_order(f, args, policy):
    """The gradient of the sum of the checkpointed gradient, against finite differences of it."""
    inner = ad.grad(f, checkpoint=policy)

    def total(x):
        return np.sum(inner(x, *args[1:]))

    outer = ad.grad(lambda x: np.sum(ad.grad(f, checkpoint=policy)(x, *args[1:])))(args[0])
    np.testing.assert_allclose(outer, finite_difference(total, args[0], eps=1e-5), rtol=1e-4, atol=1e-6)
    plain = ad.grad(lambda x: np.sum(ad.grad(f)(x, *args[1:])))(args[0])
    np.testing.assert_allclose(outer, plain, rtol=1e-10, atol=1e-12)


# -- functions ------------------------------------------------------------------------------------------

@ad.checkpoint
def cell(w, h):
    return np.tanh(w @ h) * np.sin(h)


def through_cell(w, h):
    for _ in range(4):
        h = cell(w, h)
    return np.sum(h ** 2)


def through_plain_cell(w, h):
    for _ in range(4):
        h = np.tanh(w @ h) * np.sin(h)
    return np.sum(h ** 2)


def test_checkpointed_function_gradients():
    rng = np.random.default_rng(1)
    w, h = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    for position in (0, 1):
        np.testing.assert_allclose(ad.grad(through_cell, position)(w, h),
                                   ad.grad(through_plain_cell, position)(w, h), rtol=1e-12)
    check_grads(through_cell, (w, h), order=2)
    np.testing.assert_allclose(ad.hessian(through_cell, 1)(w, h), ad.hessian(through_plain_cell, 1)(w, h),
                               rtol=1e-10, atol=1e-12)
    assert ad.value_and_grad(through_cell)(w, h)[0] == through_plain_cell(w, h)


def test_checkpointed_function_called_plainly_and_with_keywords():
    @ad.checkpoint
    def scaled(x, *, scale):
        return np.sin(x) * scale

    def f(x):
        return np.sum(scaled(x, scale=3.0))

    x = np.linspace(-1.0, 1.0, 5)
    assert np.array_equal(scaled(x, scale=2.0), np.sin(x) * 2.0)
    np.testing.assert_allclose(ad.grad(f)(x), 3.0 * np.cos(x), rtol=1e-14)
    check_grads(f, (x,), order=2)


def test_checkpointed_function_recomputes_in_the_backward_pass():
    calls = []

    def traced(x):
        calls.append(1)
        return np.sin(x)

    marked = ad.checkpoint(traced)

    def f(x):
        return np.sum(marked(x))

    _, pullback = ad.vjp(f, np.ones(3))
    before = len(calls)
    pullback(1.0)
    pullback(1.0)  # residuals are kept: a second pullback recomputes again
    assert len(calls) == before + 2


def test_checkpoint_refuses_what_is_not_callable():
    with pytest.raises(ad.AutodiffError, match="expects a function"):
        ad.checkpoint(3)
    with pytest.raises(ad.AutodiffError, match="checkpoint="):
        ad.grad(through_cell, checkpoint="often")
    with pytest.raises(ad.AutodiffError, match="checkpoint="):
        ad.grad(through_cell, checkpoint=0)


# -- loops ----------------------------------------------------------------------------------------------

def rnn(x, w, h):
    for t in range(x.shape[0]):
        h = np.tanh(w @ h + x[t])
    return np.sum(h * h)


def with_break(x, n):
    s = 0.0
    for t in range(n):
        x = np.sin(x) * 1.3 + 0.1
        if np.sum(x) > 4.0:
            break
        s = s + np.sum(x * x)
    return s + np.sum(x)


def until(x):
    s = 0.0
    while np.sum(x) < 20.0:  # the trip count depends on the data
        x = x * 1.2 + 0.3
        s = s + np.sum(np.sin(x))
    return s + np.sum(x ** 2)


def scalar_carry(x, n):
    s = 0.0
    y = x
    for i in range(n):
        z = np.cos(y) * x
        y = y + 0.1 * z
        s = s + float(i) * np.sum(z)
    return s


@pytest.mark.parametrize("policy", POLICIES)
def test_range_loop(policy):
    rng = np.random.default_rng(2)
    x, w, h = rng.normal(size=(11, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    for position in (0, 1, 2):
        assert_gradients(rnn, (x, w, h), policy, position)


@pytest.mark.parametrize("policy", POLICIES)
def test_loop_with_break(policy):
    x = np.array([0.3, -0.2, 0.5])
    for n in (0, 1, 5, 40):
        assert_gradients(with_break, (x, n), policy)
    assert ad.grad(with_break, checkpoint=policy)(x, 40) is not None


@pytest.mark.parametrize("policy", POLICIES)
def test_data_dependent_trip_count(policy):
    for x in (np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, 3.0]), np.array([30.0, 1.0, 1.0])):
        assert_gradients(until, (x,), policy)


@pytest.mark.parametrize("policy", ["auto", 2])
def test_carried_values_and_temporaries(policy):
    assert_gradients(scalar_carry, (np.array([0.4, -0.7]), 17), policy)


@pytest.mark.parametrize("policy", ["auto", 3])
def test_second_order(policy):
    rng = np.random.default_rng(3)
    second_order(rnn, (rng.normal(size=(6, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)), policy)
    second_order(with_break, (np.array([0.3, -0.2, 0.5]), 9), policy)
    second_order(until, (np.array([0.3, -0.2, 0.5]),), policy)


def test_source_shows_the_segments():
    text = ad.source(ad.grad(rnn, checkpoint="auto"))
    assert "checkpoint_every(len(" in text and "checkpoint_segments(" in text
    assert "checkpoint_" not in ad.source(ad.grad(rnn))


def test_a_loop_writing_into_an_array_keeps_its_tape():
    def f(x):
        y = np.zeros(4)
        for i in range(4):
            y[i] = np.sin(x[i]) * x[i]
        return np.sum(y)

    x = np.array([0.1, 0.2, 0.3, 0.4])
    g = ad.grad(f, checkpoint="auto")
    np.testing.assert_allclose(g(x), np.cos(x) * x + np.sin(x), rtol=1e-14)
    assert "checkpoint_every" not in ad.source(g)  # not checkpointed: documented


# -- memory ---------------------------------------------------------------------------------------------

def long_loop(x, w, h):
    for t in range(x.shape[0]):
        h = np.tanh(w * h + x[t])
    return np.sum(h)


def peak(fn, *args):
    fn(*args)  # compile first
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checkpointing_a_long_loop_saves_memory():
    rng = np.random.default_rng(4)
    x, w, h = rng.normal(size=(2000, 500)), rng.normal(size=500) * 0.5, rng.normal(size=500)
    taped = peak(ad.grad(long_loop, 2), x, w, h)
    checked = peak(ad.grad(long_loop, 2, checkpoint="auto"), x, w, h)
    assert checked < 0.5 * taped, (checked, taped)


def early_return(x, n):
    for t in range(n):
        x = np.sin(x) * 1.3 + 0.1
        if np.sum(x) > 2.0:
            return np.sum(x ** 2)
    return np.sum(x)


@pytest.mark.parametrize("policy", ["auto", 2])
def test_loop_with_early_return(policy):
    x = np.array([0.3, -0.2, 0.5])
    for n in (0, 3, 50):
        assert_gradients(early_return, (x, n), policy)


def test_vjp_with_checkpointed_loops_runs_twice():
    rng = np.random.default_rng(5)
    x, w, h = rng.normal(size=(9, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    out, pullback = ad.vjp(rnn, x, w, h, checkpoint="auto")
    assert out == rnn(x, w, h)
    _, plain = ad.vjp(rnn, x, w, h)
    for _ in range(2):  # the backward pass pops from a copy of the tape
        for mine, theirs in zip(pullback(2.0), plain(2.0)):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
    with pytest.raises(ad.AutodiffError, match="weights="):
        ad.grad(rnn, weights=[], checkpoint="auto")


def test_checkpointed_function_under_other_transforms():
    def plain(w, h):
        return np.tanh(w @ h)

    marked = ad.checkpoint(plain)

    def f(w, h):
        return marked(w, marked(w, h))

    def g(w, h):
        return plain(w, plain(w, h))

    def total(w, h):
        return np.sum(f(w, h))

    rng = np.random.default_rng(6)
    w, h, hs = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(4, 3))
    for transform in (ad.jacrev, ad.jacfwd):
        np.testing.assert_allclose(transform(f, 1)(w, h), transform(g, 1)(w, h), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ad.vmap(f, (None, 0))(w, hs), np.stack([g(w, r) for r in hs]), rtol=1e-12)
    np.testing.assert_allclose(ad.vmap(ad.grad(total, 1), (None, 0))(w, hs),
                               np.stack([ad.grad(total, 1)(w, r) for r in hs]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ad.grad(marked)(w, h), ad.grad(plain)(w, h), rtol=1e-14)  # at the top
    np.testing.assert_allclose(ad.jacrev(marked, 1)(w, h), ad.jacrev(plain, 1)(w, h), rtol=1e-14)  # at the top


# -- tape economy ---------------------------------------------------------------------------------------

def sine_map(x, w):
    for _ in range(200):
        x = np.sin(x) * w
    return np.sum(x)


def sine_map_hand(x, w):
    """The hand adjoint: keep each x, compute sin(x) again on the way back."""
    xs = []
    for _ in range(200):
        xs.append(x)
        x = np.sin(x) * w
    x_bar, w_bar = np.ones_like(x), np.zeros_like(w)
    for _ in range(200):
        x = xs.pop()
        s = np.sin(x)
        w_bar += x_bar * s
        x_bar = x_bar * w * np.cos(x)
    return x_bar, w_bar


def test_cheap_values_are_recomputed_not_taped():
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=1000), rng.uniform(0.5, 1.2, size=1000)
    grad = ad.grad(sine_map, (0, 1))
    for mine, theirs in zip(grad(x, w), sine_map_hand(x, w)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
    assert "tape.append(sin_x)" not in ad.source(grad) and "sin_x = np.sin(x)" in ad.source(grad)
    # one array per iteration on the tape, as in the hand adjoint (loosely: allocator noise)
    assert peak(grad, x, w) < 1.25 * peak(sine_map_hand, x, w)
    small = (rng.normal(size=3), rng.uniform(0.5, 1.2, size=3))
    check_grads(sine_map, small, order=2)
