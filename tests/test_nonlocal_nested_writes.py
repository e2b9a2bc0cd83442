"""Step 8: nested functions that assign a variable of the enclosing function through ``nonlocal``, and
writes into an element of an element of a list or dict (``rows[0][1] = v``). Each construct is checked
against finite differences at orders 1 and 2 in both modes, jacrev against jacfwd, and the value oracle
(check_construct); what stays refused is a typed AutodiffError quoting the user's line."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import AutodiffError, UnsupportedSyntaxError
from tests.s8_checks import assert_refused, check_construct

X3 = np.array([0.3, -0.7, 1.1])
W3 = np.array([0.5, 1.5, -0.25])


# --- nonlocal -------------------------------------------------------------------------------------

def nonlocal_once(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v

    add(np.sum(x ** 2))
    return total


def nonlocal_twice_and_reads(x):
    total = np.sum(x)

    def add(v):
        nonlocal total
        total = total * v + np.sin(total)

    add(np.sum(x ** 2))
    add(np.sum(np.cos(x)))
    return total * 2.0


def nonlocal_augmented_in_loop(x, w):
    total = 0.0

    def accumulate(i):
        nonlocal total
        total += x[i] * w[i]

    for i in range(x.shape[0]):
        accumulate(i)
    return total ** 2


def nonlocal_with_result(x):
    total = 1.0
    calls = 0

    def step(v):
        nonlocal total, calls
        calls += 1
        if v > 0.0:
            total = total * v
            return v ** 2
        total = total - v
        return np.exp(v)

    parts = []
    for v in x:
        y = step(v)
        parts.append(y * total)
    return sum(parts) + total * calls


def nonlocal_array_state(x):
    state = np.zeros(3)

    def push(v):
        nonlocal state
        state = 0.5 * state + np.tanh(v)

    for k in range(3):
        push(x * (k + 1.0))
    return state


def nonlocal_helper(x):
    count = 0
    acc = x * 0.0

    def bump(v):
        nonlocal count, acc
        count += 1
        acc = acc + v * count

    bump(np.sin(x))
    bump(x ** 2)
    return np.sum(acc)


def calls_nonlocal_helper(x):
    return nonlocal_helper(x) * nonlocal_helper(x * 2.0)


NONLOCAL_CASES = [
    (nonlocal_once, (X3,)),
    (nonlocal_twice_and_reads, (X3,)),
    (nonlocal_augmented_in_loop, (X3, W3)),
    (nonlocal_with_result, (X3,)),
    (nonlocal_array_state, (X3,)),
    (nonlocal_helper, (X3,)),
    (calls_nonlocal_helper, (X3,)),
]


@pytest.mark.parametrize("fn, args", NONLOCAL_CASES, ids=[f.__name__ for f, _ in NONLOCAL_CASES])
def test_nonlocal_writes(fn, args):
    check_construct(fn, args)


def test_nonlocal_value_oracle_every_transform():
    for fn, args in NONLOCAL_CASES:
        value, _ = ad.value_and_grad(lambda *a: np.sum(fn(*a)))(*args)
        assert value == pytest.approx(np.sum(fn(*args)), rel=1e-12)


def apply_twice(f, v):
    return f(f(v))


def counter_passed_to_helper(x):
    count = 0

    def step(v):
        nonlocal count
        count += 1
        return v * 2.0

    y = apply_twice(step, x)
    return np.sum(y) * count


def counter_returned(x):
    count = 0

    def step(v):
        nonlocal count
        count += 1
        return v * 2.0

    return step


def nonlocal_inside_expression(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v
        return v

    return total + add(np.sum(x))


def nonlocal_called_from_nested(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v

    def twice(v):
        add(v)
        add(v)

    twice(np.sum(x))
    return total


@pytest.mark.parametrize("fn, needle", [
    (counter_passed_to_helper, "y = apply_twice(step, x)"),
    (counter_returned, "return step"),
    (nonlocal_inside_expression, "return total + add(np.sum(x))"),
    (nonlocal_called_from_nested, "  add(v)"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian])
def test_nonlocal_refusals_quote_the_line(fn, needle, transform):
    error = assert_refused(transform, fn, (X3,), needle, UnsupportedSyntaxError)
    assert "nonlocal" in str(error)
