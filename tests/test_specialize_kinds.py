"""Specialisation on what the call shows: Python numbers, 0-d arrays and n-d arrays of each dtype get
code of their own, and code specialized for one kind is never run on another.

On a Python number, np.sin, np.cos and np.sqrt call math's function (rules/math_builtins.py); that is
only right where math gives numpy's value, which is checked here on a sample.
"""

import math
import warnings

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.rules.math_builtins import NUMBER_FORMS
from autodiff_st.testing import check_grads


def loop_np(x):
    s = 0.0
    for i in range(5):
        s = s + np.sin(x * i) * x + np.cos(x) * np.sqrt(x * x + 1.0)
    return s


def mixed(x):
    return np.sum(np.sin(x) * x + np.sqrt(x * x + 2.0))


@pytest.mark.parametrize("fn", sorted(NUMBER_FORMS, key=lambda f: f.__name__), ids=lambda f: f.__name__)
def test_number_forms_give_numpys_value_to_the_last_bit(fn):
    rng = np.random.default_rng(0)
    sample = np.concatenate([rng.uniform(-10, 10, 3000), rng.uniform(-1e4, 1e4, 1000), rng.normal(size=1000) * 1e-4,
                             [0.0, -0.0, 1e-300, 1e300, math.pi, -math.pi / 2]])
    if fn is np.sqrt:
        sample = np.abs(sample)
    form = NUMBER_FORMS[fn]
    different = [x for x in map(float, sample) if form(x) != fn(x)]
    assert not different, f"{form.__name__} differs from {fn.__name__} at {different[:5]}"
    assert type(form(0.5)) is type(fn(0.5))  # np.float64, as numpy returns


def test_number_forms_outside_maths_domain_give_numpys_result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert math.isnan(NUMBER_FORMS[np.sin](math.inf)) and math.isnan(NUMBER_FORMS[np.cos](-math.inf))
        assert math.isnan(NUMBER_FORMS[np.sqrt](-1.0))
        value, grad = ad.value_and_grad(lambda x: np.sqrt(x * 1.0))(-1.0)
    assert math.isnan(value) and math.isnan(grad)


def test_number_forms_divide_by_zero_and_overflow_as_numpy_does():
    # The code after np.sqrt(0.0) divides by its result (the derivative, or the user's own 1 / y): numpy
    # gives inf with a warning, where Python floats would raise ZeroDivisionError.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ad.grad(lambda x: np.sqrt(x))(0.0) == math.inf
        value, grad = ad.value_and_grad(lambda x: 1.0 / np.sin(x))(0.0)
        assert value == math.inf and math.isinf(grad)
        assert ad.value_and_grad(lambda x: np.cos(x) ** 2000.0)(0.0)[0] == 1.0
        assert ad.value_and_grad(lambda x: (np.sin(x) * 1e300) ** 2)(1.0)[0] == math.inf
    assert ad.value_and_grad(lambda x: np.sin(x).shape)(0.5)[0] == ()


def test_float_code_has_no_shape_bookkeeping_and_calls_math():
    grad = ad.grad(loop_np)
    assert type(grad(0.7)) is float
    text = "\n".join(line for line in ad.source(grad).splitlines() if not line.lstrip().startswith("#"))
    assert ("sin_of_number(" in text or "sin_float(" in text) and "sqrt_of_number(" in text
    assert "unbroadcast" not in text and "shape_of" not in text and "np.sin" not in text


def test_array_code_keeps_numpy():
    grad = ad.grad(mixed)
    grad(np.ones(3))
    text = "\n".join(line for line in ad.source(grad).splitlines() if not line.lstrip().startswith("#"))
    assert "np.sin(" in text and "sin_of_number" not in text


@pytest.mark.parametrize("fn", [loop_np, mixed])
def test_float_then_arrays_then_float_each_get_their_own_code(fn):
    transform = ad.value_and_grad(fn)
    calls = [0.7, np.array(0.7), np.array([0.3, 0.7, 1.1]), 0.4, np.array([[0.5, 0.6]]), 0.9]
    for x in calls:
        value, grad = transform(x)
        expected = fn(x)
        np.testing.assert_allclose(value, expected, rtol=1e-14)
        assert np.shape(grad) == np.shape(x)
        assert isinstance(grad, float) if isinstance(x, float) else isinstance(grad, np.ndarray)
        check_grads(fn, (x,), order=2)


def test_float_value_equals_the_plain_functions():
    value, _ = ad.value_and_grad(loop_np)(0.7)
    assert value == loop_np(0.7)


@pytest.mark.parametrize("fn", [loop_np, mixed])
def test_float32_arrays_keep_float32(fn):
    transform = ad.grad(fn)
    transform(0.5)  # the float specialisation exists first
    for x in (np.array(0.7, dtype=np.float32), np.array([0.3, 0.7], dtype=np.float32)):
        grad = transform(x)
        assert grad.dtype == np.float32
        np.testing.assert_allclose(grad, transform(x.astype(np.float64)), rtol=1e-5)
