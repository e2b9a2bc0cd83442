"""Step 8, functions: keyword-only arguments, *args and **kwargs (in the differentiated function and in
helpers), calls that unpack with * and **, functools.partial, callable objects, methods of every kind and
super(), nested functions and lambdas, and recursion. Each construct is checked by check_construct
(tests/s8_checks.py): check_grads at order 2 in both modes, jacrev against jacfwd and finite differences,
and the second derivative against finite differences of the first. What is still refused is checked to
be a typed AutodiffError that quotes the user's line."""

import functools

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import (AutodiffError, MissingRuleError, SourceUnavailableError,
                                     UnsupportedSyntaxError)
from tests import s8_constructs as c
from tests import s8_function_constructs as m
from tests.s8_checks import assert_refused, check_construct
from tests.support import line_of


def test_keyword_only_arguments():
    check_construct(c.keyword_only, (c.POS3,))
    ad.testing.check_grads(lambda x: c.keyword_only(x, power=2.0), (c.POS3,))
    np.testing.assert_allclose(ad.grad(c.calls_keyword_only)(c.POS3), 2 * c.POS3 + 3 * c.POS3 ** 2)
    check_construct(c.calls_keyword_only, (c.POS3,))


@pytest.mark.xfail(strict=True, reason="KNOWN BUG: the forward-over-reverse of x ** p with a float p passed to a "
                                       "helper gives p a zero tangent times log(x), nan where x < 0")
def test_hessian_of_a_power_with_a_float_exponent_at_negative_values():
    np.testing.assert_allclose(ad.hessian(c.calls_keyword_only)(c.X3),
                               np.diag(2.0 + 6.0 * c.X3), rtol=1e-10)


# --- 1. *args and **kwargs -----------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [c.calls_star_args, c.calls_kwargs, m.calls_mixed_signature,
                                m.calls_mixed_signature_short, m.unpacks_in_calls,
                                m.unpacks_a_list_and_plain_arguments, m.unpacks_an_array_into_arguments],
                         ids=lambda f: f.__name__)
def test_star_args_and_kwargs_in_helpers_and_calls_that_unpack(fn):
    check_construct(fn, (c.X3,))


def test_star_args_in_the_differentiated_function():
    check_construct(c.star_args_helper, (c.X3, c.POS3))
    gx, gy = ad.grad(c.star_args_helper, grad_position=(0, 1))(c.X3, c.POS3)
    np.testing.assert_allclose(gx, c.POS3)
    np.testing.assert_allclose(gy, c.X3)
    # a positional argument that lands in *parts, differentiated alone, and a keyword passed through **
    np.testing.assert_allclose(ad.grad(m.star_args_sum, grad_position=2)(c.X3, c.POS3, 2.0 * c.X3), 4.0 * c.X3)
    np.testing.assert_allclose(ad.grad(m.keyword_helper)(c.X3, scale=2.0, shift=1.0), 2.0 * np.ones(3))
    np.testing.assert_allclose(ad.jacfwd(functools.partial(m.mixed_signature, weight=3.0), argnums=2)(
        c.X3, 2.0, c.POS3), np.diag(3.0 * np.cos(c.POS3)))


def test_the_uses_of_star_args_that_the_fence_refused_before():
    def star_args_identity(*args):
        return args

    def star_call(x):
        return np.add(*(x, x))

    def double_star_call(x):
        return np.sum(x, **{"axis": 0})

    assert ad.grad(star_args_identity)(1.5) == 1.0
    check_construct(star_call, (c.X3,))
    check_construct(double_star_call, (c.X3,))


def test_an_error_inside_a_specialized_function_quotes_the_users_line():
    def kwargs_with_unknown(x, **options):
        return np.sum(x * options["scale"] + UNKNOWN_METHOD.apply(x))  # noqa: F821

    def calls(x):
        return kwargs_with_unknown(x, scale=2.0)

    with pytest.raises(AutodiffError) as info:
        ad.grad(calls)(c.X3)
    lineno, text = line_of(kwargs_with_unknown, "UNKNOWN_METHOD")
    assert f"line {lineno}" in str(info.value) and text in str(info.value)
    assert __file__ in str(info.value)


def test_a_keyword_that_hides_a_global_is_refused():
    def reads_np(x, **options):
        return np.sum(x * options["np"])

    def calls(x):
        return reads_np(x, np=2.0)

    with pytest.raises(UnsupportedSyntaxError) as info:
        ad.grad(calls)(c.X3)
    assert "`np`" in str(info.value)


# --- 2. partials, callable objects, methods, super() -----------------------------------------------------

@pytest.mark.parametrize("fn", [c.scaled_by_two, c.calls_partial, m.PARTIAL_POSITIONAL, m.PARTIAL_OF_PARTIAL,
                                m.calls_partials, c.QUAD, c.calls_callable_object, m.SCALED, m.calls_methods],
                         ids=["partial_itself", "calls_partial", "partial_keyword", "partial_of_partial",
                              "calls_partials", "callable_object", "calls_callable_object", "subclass_with_super",
                              "calls_methods"])
def test_partials_callable_objects_and_methods(fn):
    check_construct(fn, (c.X3,))


def test_a_keyword_given_at_the_call_replaces_the_partials():
    np.testing.assert_allclose(ad.grad(m.PARTIAL_OF_PARTIAL)(c.X3, s=5.0), 5.0 * np.cos(c.X3))
    np.testing.assert_allclose(ad.grad(functools.partial(c.scaled, c.X3), argnums=0)(2.0),
                               np.sum(np.sin(c.X3)))


@pytest.mark.parametrize("fn, needle, error", [
    (c.nested_def_closure, "def energy(v):", UnsupportedSyntaxError),
    (c.passes_nested_function, "return np.sum(apply_twice(step, x))", UnsupportedSyntaxError),
    (c.sorted_with_lambda, "key=lambda t: t[0]", UnsupportedSyntaxError),
    (c.map_with_lambda, "lambda t: t * 2.0", UnsupportedSyntaxError),
    (c.uses_nonlocal, "def add(v):", UnsupportedSyntaxError),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian])
def test_still_refused_with_the_line(fn, needle, error, transform):
    with pytest.raises(error) as info:
        transform(fn)(c.X3)
    refusal = info.value
    lineno, text = line_of(fn, needle)
    assert f"line {lineno}" in str(refusal) and text in str(refusal), str(refusal)


def test_a_library_callable_object_stays_a_missing_rule_at_the_users_line():
    vectorized = np.vectorize(np.sin)

    def uses_vectorize(x):
        return np.sum(vectorized(x))

    assert_refused(ad.grad, uses_vectorize, (c.X3,), "return np.sum(vectorized(x))", MissingRuleError)
