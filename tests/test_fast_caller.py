"""The per-kinds fast caller of a cached ``grad`` (transforms/fast_call.py): every guard it unrolls answers as
the full path does, and what it returns is what the full path returns."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import InputTypeError

scale = 2.0


def scaled(x):
    return np.sum(np.sin(x) * x) * scale


def uses_abs(x):
    return np.sum(abs(x) * x)


def test_a_closure_cell_rebound_between_calls_is_seen():
    k = 2.0

    def f(x):
        return np.sum(x * x) * k

    g = ad.grad(f)
    x = np.linspace(0.1, 1.0, 4)
    assert np.allclose(g(x), 4.0 * x) and np.allclose(g(x), 4.0 * x)
    k = 5.0  # noqa: F841 (read by f through its cell)
    assert np.allclose(g(x), 10.0 * x)


def test_a_global_rebound_between_calls_is_seen():
    global scale
    g = ad.grad(scaled)
    x = np.linspace(0.1, 1.0, 4)
    try:
        first = g(x)
        assert np.allclose(g(x), first)
        scale = 3.0
        assert np.allclose(g(x), first * 1.5)
    finally:
        scale = 2.0


def test_a_builtin_shadowed_by_a_global_is_seen():
    g = ad.grad(uses_abs)
    x = np.array([-1.0, 2.0, -3.0])
    assert np.allclose(g(x), 2 * np.abs(x)) and np.allclose(g(x), 2 * np.abs(x))
    globals()["abs"] = lambda v: v * 1.0
    try:
        assert np.allclose(g(x), 2 * x)
    finally:
        del globals()["abs"]
    assert np.allclose(g(x), 2 * np.abs(x))


@pytest.mark.parametrize("make, pick", [
    (lambda f: ad.grad(f, return_value=True), lambda r: (r[0], r[1])),
    (ad.value_and_grad, lambda r: (r[1], r[0])),
    (ad.grad_and_value, lambda r: (r[0], r[1])),
])
def test_every_result_form_is_the_full_paths(make, pick):
    transform = make(scaled)
    x = np.linspace(0.1, 1.0, 5)
    first = pick(transform(x))
    again = pick(transform(x))
    assert np.allclose(first[0], again[0]) and np.allclose(first[1], again[1])
    assert np.isclose(again[1], scaled(x))
    ad.testing.check_grads(scaled, (x,), order=1)


class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum(np.tanh(self.w * x))


def test_a_bound_method_with_ints_refused_on_the_fast_path():
    g = ad.grad(Model(np.array([0.5, 2.0])).loss)
    x = np.array([0.3, -0.2])
    expected = 0.5 * (1 - np.tanh(0.5 * 0.3) ** 2)
    assert np.isclose(g(x)[0], expected) and np.isclose(g(x)[0], expected)
    with pytest.raises(InputTypeError):
        g(np.array([1, 2]))
    assert np.isclose(g(x)[0], expected)


def test_several_positions_keep_each_inputs_type_and_dtype():
    def f(a, b, c):
        return np.sum(a * b) * c

    g = ad.grad(f, (0, 1, 2))
    a, b = np.ones(3, dtype=np.float32), np.arange(3.0)
    for _ in range(2):
        ga, gb, gc = g(a, b, 2.0)
        assert ga.dtype == np.float32 and gb.dtype == np.float64 and type(gc) is float
        assert np.allclose(ga, 2 * b) and np.allclose(gb, 2 * a) and gc == np.sum(a * b)
    with pytest.raises(InputTypeError):
        g(a, b, 2)  # an int where a float was: check_input still runs for numbers
    with pytest.raises(InputTypeError):
        g(a, b, 2.0 + 1j)


def test_a_read_only_gradient_is_copied():
    def f(x):
        return np.sum(x)

    g = ad.grad(f)
    x = np.ones(4)
    for _ in range(2):
        out = g(x)
        assert out.flags.writeable and out.shape == x.shape and np.allclose(out, 1.0)
