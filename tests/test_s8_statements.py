"""Step 8, statements: raise and assert for input validation, try/except/else/finally, with blocks,
global and nonlocal declarations. Values and derivatives are checked against finite differences at
orders 1 and 2 in both modes; an exception raised by the user's code reaches the user from the user's
line; what stays refused is a typed AutodiffError quoting the line."""

import math
import traceback
import warnings

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import AutodiffError, UnsupportedCaseError, UnsupportedSyntaxError
from tests import s8_constructs as c
from tests.s8_checks import assert_refused, check_construct
from tests.support import line_of

STATEMENT_CASES = [case for case in c.CASES if case[0] == "statements"]
TRANSFORMS = [ad.grad, ad.jacfwd, ad.jacrev, ad.hessian, lambda f: (lambda x: ad.vjp(f, x)),
              lambda f: (lambda x: ad.jvp(f, (x,), (x,)))]


@pytest.mark.parametrize("name, fn, args", [case[1:] for case in STATEMENT_CASES],
                         ids=[case[1] for case in STATEMENT_CASES])
def test_statement_construct(name, fn, args):
    check_construct(fn, args)


# --- raise and assert --------------------------------------------------------------------------------

def validated(x, scale):
    if scale <= 0.0:
        raise ValueError(f"scale must be positive, got {scale}")
    if x.ndim != 1:
        raise TypeError("x must be a vector")
    return np.sum(np.sin(x) * scale)


def validated_helper(x):
    return validated(x, 2.0) + validated(x ** 2, 0.5)


@pytest.mark.parametrize("fn", [validated, validated_helper])
def test_validation_with_raise_differentiates_the_valid_path(fn):
    args = (c.X3, 1.5) if fn is validated else (c.X3,)
    ad.testing.check_grads(fn, args)
    check_construct(fn, args)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_the_users_exception_reaches_the_user_from_the_users_line(transform):
    with pytest.raises(ValueError, match="scale must be positive, got -1.0") as info:
        transform(lambda x: validated(x, -1.0))(c.X3)
    assert not isinstance(info.value, AutodiffError)
    lineno, text = line_of(validated, "raise ValueError")
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.lineno == lineno and f.filename == validated.__code__.co_filename and text in (f.line or "")
               for f in frames), frames


def raises_from(x):
    try:
        y = np.log(x)
    except FloatingPointError as error:  # never runs: see test below
        raise ValueError("bad") from error
    if np.any(x > 100.0):
        raise ArithmeticError("too large") from None
    return np.sum(y)


def test_raise_from():
    x = np.abs(c.X3) + 0.5
    check_construct(raises_from, (x,))
    with pytest.raises(ArithmeticError, match="too large"):
        ad.grad(raises_from)(x + 200.0)


def asserted(x):
    assert np.all(np.isfinite(x)), "x must be finite"
    assert x.shape[0] == 3
    return np.sum(x ** 3)


def test_assert():
    check_construct(asserted, (c.X3,))
    with pytest.raises(AssertionError, match="x must be finite"):
        ad.grad(asserted)(np.array([1.0, np.inf, 0.0]))


# --- try ---------------------------------------------------------------------------------------------

def cholesky_or_jitter(k):
    a = k @ k.T
    try:
        chol = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        chol = np.linalg.cholesky(a + 1e-6 * np.eye(3))
    return np.sum(np.log(np.diag(chol)))


def try_else_finally(x):
    log = []
    try:
        y = np.exp(x)
    except (ValueError, TypeError):
        y = x
    else:
        y = y * 2.0
    finally:
        log.append("done")
    return np.sum(y) + len(log)


def test_try_whose_body_runs_to_its_end_is_differentiated():
    check_construct(cholesky_or_jitter, (c.M3,))
    check_construct(try_else_finally, (c.X3,))


@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian])
def test_an_except_clause_that_catches_is_refused_naming_the_line(transform):
    singular = np.zeros((3, 3))
    with pytest.raises(UnsupportedCaseError) as info:
        transform(cholesky_or_jitter)(singular)
    lineno, _ = line_of(cholesky_or_jitter, "try:")
    assert f"s8_statements.py:{lineno}" in str(info.value) or f"test_s8_statements.py:{lineno}" in str(info.value)
    assert "LinAlgError" in str(info.value)
    assert isinstance(info.value.__cause__, np.linalg.LinAlgError)


SEEN = []


def finally_runs_on_an_error(x):
    try:
        y = np.sqrt(x)
        if np.any(y > 10.0):
            raise OverflowError("too large")
    finally:
        SEEN.append("finally")
    return np.sum(y)


def test_finally_runs_when_the_body_raises():
    SEEN.clear()
    with pytest.raises(OverflowError):
        ad.grad(finally_runs_on_an_error)(np.array([400.0, 1.0]))
    assert SEEN == ["finally"]
    assert np.allclose(ad.grad(finally_runs_on_an_error)(np.array([4.0, 1.0])), [0.25, 0.5])
    assert SEEN == ["finally", "finally"]


def returns_inside_try(x):
    try:
        return np.sum(x)
    finally:
        pass


def test_a_return_inside_try_is_refused():
    assert_refused(ad.grad, returns_inside_try, (c.X3,), "return np.sum(x)", UnsupportedSyntaxError)


# --- with --------------------------------------------------------------------------------------------

def silenced_log(x):
    with np.errstate(divide="ignore"):
        y = np.log(np.abs(x))
        z = np.where(np.isfinite(y), y, 0.0)
    return np.sum(z * x)


def nested_managers(x):
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = np.exp(x) * x
    return np.sum(y)


def test_with_blocks():
    check_construct(silenced_log, (c.X3,))
    check_construct(nested_managers, (c.X3,))
    before = np.geterr()
    ad.grad(silenced_log)(c.X3)
    assert np.geterr() == before  # the manager was left


def suppresses(x):
    from contextlib import suppress  # noqa: F401 - refused: imports are made at module level
    return x


class Suppressing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


SUPPRESSING = Suppressing()


def suppressed(x):
    y = x * 2.0
    with SUPPRESSING:
        y = np.sqrt(x)
        if np.any(y > 10.0):
            raise OverflowError("suppressed in Python")
        y = y * 3.0
    return np.sum(y)


def test_a_manager_that_suppresses_an_exception_is_refused_when_it_does():
    x = np.array([1.0, 4.0])
    ad.testing.check_grads(suppressed, (x,))
    with pytest.raises(UnsupportedCaseError, match="suppressed an exception") as info:
        ad.grad(suppressed)(np.array([400.0, 1.0]))
    assert isinstance(info.value.__cause__, OverflowError)


def with_as(x):
    with np.errstate(all="ignore") as state:
        y = np.log(x)
    return np.sum(y) + len(str(state))


def test_with_as_is_refused():
    assert_refused(ad.grad, with_as, (c.X3,), "as state", UnsupportedSyntaxError)


# --- global and nonlocal -----------------------------------------------------------------------------

OFFSET = 0.25


def reads_two_globals(x):
    global OFFSET, SCALE_HERE
    return np.sum((x + OFFSET) ** 2) * SCALE_HERE


SCALE_HERE = 3.0


def writes_a_global(x):
    global OFFSET
    OFFSET = 1.0
    return np.sum(x)


def test_global_reads():
    check_construct(reads_two_globals, (c.X3,))


def test_a_write_to_a_global_is_refused():
    assert_refused(ad.grad, writes_a_global, (c.X3,), "OFFSET = 1.0", UnsupportedSyntaxError)
    assert OFFSET == 0.25


def make_counter_reader():
    scale = 2.0

    def read(x):
        nonlocal scale
        return np.sum(x * scale)

    def write(x):
        nonlocal scale
        scale = 3.0
        return np.sum(x * scale)

    return read, write


def test_nonlocal_reads_and_refused_writes():
    read, write = make_counter_reader()
    check_construct(read, (c.X3,))
    assert_refused(ad.grad, write, (c.X3,), "scale = 3.0", UnsupportedSyntaxError)


def test_math_is_untouched():
    assert math.isclose(ad.grad(lambda x: x * OFFSET)(1.0), OFFSET)
