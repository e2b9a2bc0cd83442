"""Step 8, functions: keyword-only arguments work in the differentiated function and in helpers. The
other constructs of this group (*args, **kwargs, functools.partial, callable objects, nested defs of
several statements, a nested function passed to a helper, lambdas not bound to a name) are still
refused: each refusal is checked to be a typed AutodiffError that quotes the user's line (or, for a
callable given to a transform itself, names it)."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import (AutodiffError, MissingRuleError, SourceUnavailableError,
                                     UnsupportedSyntaxError)
from tests import s8_constructs as c
from tests.s8_checks import assert_refused, check_construct


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


@pytest.mark.parametrize("fn, needle, error", [
    (c.calls_star_args, "def star_args_helper(*parts):", UnsupportedSyntaxError),
    (c.calls_kwargs, "def kwargs_helper(x, **options):", UnsupportedSyntaxError),
    (c.calls_partial, "return scaled_by_two(x) * 2.0", MissingRuleError),
    (c.calls_callable_object, "return QUAD(x) + 1.0", MissingRuleError),
    (c.nested_def_closure, "def energy(v):", UnsupportedSyntaxError),
    (c.passes_nested_function, "return np.sum(apply_twice(step, x))", UnsupportedSyntaxError),
    (c.uses_nonlocal, "def add(v):", UnsupportedSyntaxError),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian])
def test_still_refused_with_the_line(fn, needle, error, transform):
    target = c.star_args_helper if "star_args" in needle else c.kwargs_helper if "kwargs_helper" in needle else fn
    refusal = None
    with pytest.raises(error) as info:
        transform(fn)(c.X3)
    refusal = info.value
    from tests.support import line_of
    lineno, text = line_of(target, needle)
    assert f"line {lineno}" in str(refusal) and text in str(refusal), str(refusal)


@pytest.mark.parametrize("fn", [c.sorted_with_lambda, c.map_with_lambda], ids=lambda f: f.__name__)
def test_a_lambda_given_to_sorted_or_map_is_inlined(fn):
    # Supported since the containers work of step 8 (compiler/normalize_iteration.py,
    # tests/test_s8_collections.py): map becomes a comprehension calling the inlined lambda, sorted picks
    # the items by the order of their keys.
    check_construct(fn, (c.X3,))


@pytest.mark.parametrize("fn", [c.scaled_by_two, c.QUAD])
def test_a_callable_without_source_given_to_a_transform_is_refused_naming_it(fn):
    with pytest.raises(SourceUnavailableError) as info:
        ad.grad(fn)(c.X3)
    assert isinstance(info.value, AutodiffError)
    assert type(fn).__name__ in str(info.value)


def test_star_args_in_the_differentiated_function_is_refused():
    assert_refused(ad.grad, c.star_args_helper, (c.X3, c.POS3), "def star_args_helper(*parts):",
                   UnsupportedSyntaxError)
