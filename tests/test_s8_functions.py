"""Step 8, functions: keyword-only arguments, *args and **kwargs (in the differentiated function and in
helpers), calls that unpack with * and **, functools.partial, callable objects, methods of every kind and
super(), nested functions and lambdas, and recursion. Each construct is checked by check_construct
(tests/s8_checks.py): check_grads at order 2 in both modes, jacrev against jacfwd and finite differences,
and the second derivative against finite differences of the first. What is still refused is checked to
be a typed AutodiffError that quotes the user's line."""

import functools
import math

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


# --- 3. nested functions, lambdas, recursion ---------------------------------------------------------

@pytest.mark.parametrize("fn", [
    c.nested_def_closure, c.passes_nested_function, c.sorted_with_lambda, c.map_with_lambda,
    m.nested_def_with_a_loop, m.defined_before_its_capture, m.closure_in_a_loop,
    m.passes_a_lambda_and_a_nested_function, m.passes_a_closure_of_constants,
    m.map_of_a_nested_function_and_two_lists, m.sorted_by_a_key_that_reads_a_differentiated_value,
    m.list_of_map_and_sorted_plain, m.lambda_called_at_once_and_with_defaults, m.nested_function_with_star_args,
    m.passes_through_star_args, m.recursion_to_a_run_time_depth,
], ids=lambda f: f.__name__)
def test_nested_functions_lambdas_and_recursion(fn):
    check_construct(fn, (c.X3,))


def test_sum_of_a_map_of_a_math_function():
    def map_over_list(x):
        return sum(map(math.sin, x.tolist()))

    np.testing.assert_allclose(ad.grad(map_over_list)(c.X3), np.cos(c.X3))
    np.testing.assert_allclose(ad.jacfwd(map_over_list)(c.X3), np.cos(c.X3))


def test_the_nested_functions_the_fence_refused_before():
    def inner_lambda(x):
        return np.sum(np.array(list(map(lambda t: t * t, [x]))))

    def nested_def(x):
        def helper(t):
            u = t * t
            return u
        return helper(x)

    check_construct(inner_lambda, (c.X3,))
    check_construct(nested_def, (c.X3,))


def test_a_closure_reads_the_value_its_capture_has_at_each_call():
    # m.nested_def_with_a_loop rebinds `w` between its two calls of `rollout`
    def by_hand(x):
        w = np.cos(x)

        def rollout(v, steps, w):
            state = v
            for k in range(steps):
                state = np.tanh(state * w + 0.5 * k)
                if k % 2 == 1:
                    state = state * 1.5
            return np.sum(state ** 2)

        return rollout(x, 3, w) + rollout(x[::-1], 2, w * 2.0)

    assert np.isclose(m.nested_def_with_a_loop(c.X3), by_hand(c.X3))
    np.testing.assert_allclose(ad.grad(m.nested_def_with_a_loop)(c.X3), ad.grad(by_hand)(c.X3), rtol=1e-12)


def test_a_nested_function_is_lifted_with_the_users_lines():
    source = ad.source(c.nested_def_closure)
    assert "call_vjp_forward(energy" in source and "w, x)" in source
    from autodiff_st.compiler.normalize_functions import _LIFTED
    lifted = [f for (code, *_), (f, captured) in _LIFTED.items() if code is c.nested_def_closure.__code__]
    assert lifted and lifted[0].__name__ == "energy"
    lifted_source = ad.source(lifted[0])
    lineno, text = line_of(c.nested_def_closure, "y = v * w")
    assert f"s8_constructs.py:{lineno}  {text}" in lifted_source


def late_binding(x):
    w = np.sin(x)

    def g(v):
        return np.sum(v * 2.0)

    def reads_w(v):
        return np.sum(v * w)

    first = m.apply_to_each(g, [x, x])[0]
    w = w * 2.0
    return first + m.apply_to_each(reads_w, [x, x])[0]


@pytest.mark.parametrize("fn, needle, error", [
    (m.nested_recursion, "def down(v, n):", UnsupportedSyntaxError),
    (m.passes_a_closure_of_a_differentiated_value, "return apply_to_each(scaled, [x, x])[0]",
     UnsupportedSyntaxError),
    (late_binding, "return first + m.apply_to_each(reads_w, [x, x])[0]", UnsupportedSyntaxError),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian])
def test_still_refused_with_the_line(fn, needle, error, transform):
    with pytest.raises(error) as info:
        transform(fn)(c.X3)
    refusal = info.value
    lineno, text = line_of(fn, needle)
    assert f"line {lineno}" in str(refusal) and text in str(refusal), str(refusal)


def test_a_class_defined_inside_is_differentiated():  # refused before; tests/test_local_classes.py
    np.testing.assert_allclose(ad.grad(m.class_inside)(c.X3), 2.0 * np.ones(3))


def test_a_library_callable_object_stays_a_missing_rule_at_the_users_line():
    polynomial = np.polynomial.Polynomial([1.0, -2.0, 0.5])

    def uses_polynomial(x):
        return np.sum(polynomial(x))

    assert_refused(ad.grad, uses_polynomial, (c.X3,), "return np.sum(polynomial(x))", MissingRuleError)


def test_np_vectorize_is_differentiated_through_its_function():
    vectorized = np.vectorize(np.sin)  # np.vectorize is rewritten as a loop over its function (test_s8_rest.py)

    def uses_vectorize(x):
        return np.sum(vectorized(x))

    check_construct(uses_vectorize, (c.X3,))
