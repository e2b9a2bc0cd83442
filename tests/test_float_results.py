"""Python-float results of number rules (compiler/float_results.py): np.sin, np.cos and np.sqrt on a proven
Python number return a Python float where nothing can tell it from numpy's np.float64, and keep the
np.float64 (numpy's division by zero, overflow, nan and attributes) wherever something could."""

import math
import warnings

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.rules.math_builtins import FLOAT_FORMS, NUMBER_FORMS, number_result
from autodiff_st.testing import check_grads


def loop_sin(x):
    s = 0.0
    for i in range(20):
        s = s + np.sin(x * i) * x
    return s


def loop_all(x):
    s = 0.0
    for i in range(6):
        s = s - np.cos(x * i) * np.sqrt(x * x + 1.0) + np.sin(x) * i
    return s


def loop_branch(x):
    s = 1.0
    for i in range(5):
        t = np.cos(x + i)
        if t > 0.2:
            s = s * t
        else:
            s = s + np.sin(t) * x
    return s


def loop_two(x, y):
    s = 0.0
    for i in range(4):
        s = s + np.sin(x * i) * np.cos(y) - np.sqrt(y * y + 1.0)
    return s


def loop_index(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sin(x[i]) * w
    return s


FUNCTIONS = [(loop_sin, (0.7,)), (loop_all, (0.3,)), (loop_branch, (0.4,)), (loop_two, (0.7, 1.3)),
             (loop_index, (np.linspace(-1.0, 2.0, 5), 0.5))]


def body(transform):
    return "\n".join(line for line in ad.source(transform).splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("form", sorted(FLOAT_FORMS, key=lambda f: f.__name__), ids=lambda f: f.__name__)
def test_float_forms_give_the_number_forms_value(form):
    rng = np.random.default_rng(1)
    sample = np.concatenate([rng.uniform(-10, 10, 2000), rng.normal(size=500) * 1e-4, [0.0, -0.0, 1e300]])
    if form.__name__.startswith("sqrt"):
        sample = np.abs(sample)
    float_form = FLOAT_FORMS[form]
    for x in list(map(float, sample)) + list(sample[:200]):  # Python floats and np.float64
        assert float_form(x) == form(x)
        assert type(float_form(x)) is float
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning):  # numpy's warning outside math's domain
            float_form(math.inf if not form.__name__.startswith("sqrt") else -1.0)
    assert type(number_result(0.5)) is np.float64 and number_result(3) == 3 and type(number_result(3)) is int


@pytest.mark.parametrize("fn, args", FUNCTIONS, ids=lambda v: getattr(v, "__name__", ""))
def test_values_and_gradients(fn, args):
    expected = fn(*args)
    value, grads = ad.value_and_grad(fn, grad_position=tuple(range(len(args) - (fn is loop_index))))(*args)
    assert value == expected and type(value) is type(expected)
    check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, args", FUNCTIONS[:4], ids=lambda v: getattr(v, "__name__", ""))
def test_the_code_calls_the_float_forms_and_keeps_the_types(fn, args):
    grad = ad.grad(fn)
    g = grad(*args)
    assert type(g) is float  # the gradient of a float is a float
    text = body(grad)
    assert "sin_float(" in text or "cos_float(" in text
    vg = ad.value_and_grad(fn)
    value, g = vg(*args)
    assert type(value) is type(fn(*args)) is np.float64 and type(g) is float
    assert "number_result(" in body(vg)
    out, vjp_fn = ad.vjp(fn, *args)
    assert out == fn(*args) and type(out) is np.float64
    out, tangent = ad.jvp(fn, args, tuple(1.0 for _ in args))
    assert out == fn(*args) and type(out) is np.float64


def test_the_loop_of_the_benchmark_has_float_arithmetic_only():
    grad = ad.grad(loop_sin)
    assert grad(0.7) == pytest.approx(sum(math.sin(0.7 * i) + 0.7 * i * math.cos(0.7 * i) for i in range(20)))
    text = body(grad)
    assert "sin_float(x_times_i)" in text and "cos_float(x_times_i)" in text
    assert "_of_number" not in text


def test_an_index_loop_accumulates_in_place_with_floats():
    grad = ad.grad(loop_index)
    x = np.linspace(-1.0, 2.0, 5)
    np.testing.assert_allclose(grad(x, 0.5), np.cos(x) * 0.5, rtol=1e-15)
    text = body(grad)
    assert "x_bar[i] += " in text and "accumulate_index" not in text and "cos_float(x_i)" in text
    # the forward loop stays for the tape, without the values only the next s read
    assert "sin_x_i_times_w" not in text and "sin_float(x_i)" not in text and " s = " not in text


def test_a_loop_that_runs_zero_times_returns_an_np_float64():
    # The decision written in docs/performance.md: s is 0.0 in the plain function, np.float64(0.0) here.
    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s + np.sin(x * i)
        return s

    value, g = ad.value_and_grad(f)(0.5, 0)
    assert value == 0.0 and type(value) is np.float64 and g == 0.0 and type(g) is float
    value, g = ad.value_and_grad(f)(0.5, 3)
    assert value == f(0.5, 3) and type(value) is np.float64


# -- uses that keep numpy's np.float64 ------------------------------------------------------------------

def divided(x):
    return x / (np.sin(x) - np.sin(x))


def powered(x):
    return np.sqrt(x) ** 1000


def fractional(x):
    return (np.sin(x) - 2) ** 0.5


def shaped(x):
    y = np.sin(x) * x
    return y.shape


def printed(x):
    y = np.sin(x) * 2.0
    return len(repr(y)) * x


def stored(x):
    y = np.cos(x) + 1.0
    items = [y, x]
    return items[0] * 2.0


def modulo(x):
    return (np.sin(x) * 3.0) % 1.0 + np.cos(x) // 0.5


@pytest.mark.parametrize("fn", [divided, powered, fractional], ids=lambda f: f.__name__)
def test_unsafe_arithmetic_keeps_numpy_semantics(fn):
    x = 0.7 if fn is not powered else 1e200
    with warnings.catch_warnings(record=True) as plain_warnings:
        warnings.simplefilter("always")
        expected = fn(x)
    assert plain_warnings and issubclass(plain_warnings[0].category, RuntimeWarning)
    for transform in (ad.value_and_grad(fn), ad.grad(fn)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = transform(x)  # no ZeroDivisionError, OverflowError or complex number
        assert any(issubclass(w.category, RuntimeWarning) for w in caught)
        if isinstance(result, tuple):
            value = result[0]
            assert type(value) is type(expected) is np.float64
            assert value == expected or (math.isnan(value) and math.isnan(expected))
        # the forward value keeps the np.float64 form (a cotangent may still use the float one)
        assert "sin_of_number(" in body(transform) or "sqrt_of_number(" in body(transform)


def test_attributes_repr_and_containers_keep_np_float64():
    assert ad.value_and_grad(shaped)(0.5)[0] == ()
    assert ad.value_and_grad(printed)(0.5) == (printed(0.5), len(repr(np.sin(0.5) * 2.0)))
    value, g = ad.value_and_grad(stored)(0.5)
    assert value == stored(0.5) and g == pytest.approx(-2.0 * math.sin(0.5))
    value, g = ad.value_and_grad(modulo)(0.5)
    assert value == modulo(0.5) and type(value) is type(modulo(0.5))
    for fn in (shaped, printed, stored, modulo):
        vg = ad.value_and_grad(fn)
        vg(0.5)
        assert "_float(" not in body(vg)


def test_a_comparison_read_as_a_value_keeps_np_float64():
    def f(x):
        c = np.sin(x) > 0.5
        return c * x

    value, g = ad.value_and_grad(f)(1.0)
    assert value == f(1.0) and type(value) is type(f(1.0))


def test_float32_neighbours_keep_np_float64():
    # np.float64 * a float32 array is float64; a Python float would leave it float32 (NEP 50).
    def f(x, a):
        return np.sum(np.sin(x) * a)

    a = np.ones(3, dtype=np.float32)
    value, g = ad.value_and_grad(f)(0.5, a)
    assert value == f(0.5, a) and type(value) is type(f(0.5, a))


def test_np_float64_division_by_zero_in_the_backward_pass_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ad.grad(lambda x: np.sqrt(x) * 2.0)(0.0) == math.inf


def test_number_rules_still_equal_numpy():
    for fn, form in NUMBER_FORMS.items():
        assert FLOAT_FORMS[form](0.25) == fn(0.25)
