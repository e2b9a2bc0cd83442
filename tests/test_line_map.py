"""The loader's line map: the user's line behind each generated line, kept as data when generated code is
compiled, so that code generated from generated code, error messages and vmap's fallback reports name
the user's file and line."""

import logging
import os

import gast
import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import cache
from autodiff_st.compiler.parsing import parse_function
from autodiff_st.runtime.loader import line_map, origin_at
from tests.support import line_of

HERE = os.path.basename(__file__)


def sine_square(x):
    y = np.sin(x) * x
    z = y ** 2
    return np.sum(z)


def sorted_pairs(x):
    z = np.sort(x)
    return np.sum(z[:2] * x[1:3])


def kron_rows(x, y):
    return np.kron(x, y)


def _quoted(fn, needle):
    """A line of ``fn`` as the comments above generated blocks quote it."""
    lineno, text = line_of(fn, needle)
    return f"{HERE}:{lineno}  {text}"


def test_the_line_map_of_a_grad_maps_the_backward_pass_to_the_user_lines():
    compiled = cache.compiled_adjoint(sine_square, (0,), "grad")
    (backward_line,) = [i for i, line in enumerate(compiled.source.splitlines(), start=1)
                        if line.strip().startswith("y_bar = ")]  # the cotangent of y, from z = y ** 2
    origin = origin_at(compiled.filename, backward_line)
    assert (origin.filename, origin.lineno) == (__file__, line_of(sine_square, "z = y ** 2")[0])
    assert origin.source_line == "z = y ** 2" and origin.function == "sine_square"
    assert origin_at(compiled.filename, 1) is None  # the header comes from no user line
    def_line = next(i for i, line in enumerate(compiled.source.splitlines(), start=1)
                    if line.strip().startswith("def sine_square_"))
    assert origin_at(compiled.filename, def_line).lineno == sine_square.__code__.co_firstlineno


def test_every_comment_line_maps_to_the_line_it_quotes():
    compiled = cache.compiled_adjoint(sine_square, (0,), "vjp")
    lines = compiled.source.splitlines()
    mapped = line_map(compiled.filename)
    comments = [i for i, line in enumerate(lines, start=1)
                if line.lstrip().startswith("# ") and not line.startswith("#")]
    assert comments
    for lineno in comments:
        assert lines[lineno - 1].strip() == f"# {mapped[lineno].short()}"
        assert mapped[lineno + 1] == mapped[lineno]  # and so does the statement below it


def test_unpacking_the_residuals_comes_from_no_user_line():
    _, backward = cache.adjoint_functions(sine_square, (0,), "vjp")
    parsed = parse_function(backward)
    unpacking = parsed.node.body[1]  # after the docstring
    assert isinstance(unpacking, gast.Assign) and unpacking.value.id == "residuals"
    assert getattr(unpacking, "origin", None) is None
    assert parsed.node.origin.filename == __file__
    assert parsed.node.origin.lineno == sine_square.__code__.co_firstlineno


def test_source_of_a_hessian_names_the_user_lines():
    text = ad.source(ad.hessian(sine_square))
    assert "<autodiff_st" not in text
    assert f"({HERE}:{sine_square.__code__.co_firstlineno})" in text.splitlines()[0]
    assert "headed by the line of sine_square it comes from" in text
    for needle in ("y = np.sin(x) * x", "z = y ** 2", "return np.sum(z)"):
        assert f"# {_quoted(sine_square, needle)}" in text


@pytest.mark.parametrize("outer, mode", [(ad.jacrev, "vjp"), (ad.jacfwd, "jvp")])
def test_source_of_a_jacobian_of_a_grad_names_the_user_lines(outer, mode):
    """What ``jacrev(grad(f))`` differentiates: the generated gradient function, transformed again."""
    text = ad.source(outer(ad.grad(sine_square)))
    (gradient,) = cache.adjoint_functions(sine_square, (0,), "grad_only")
    assert text == cache.compiled_adjoint(gradient, (0,), mode).source
    assert "<autodiff_st" not in text
    for needle in ("y = np.sin(x) * x", "z = y ** 2", "return np.sum(z)"):
        assert f"# {_quoted(sine_square, needle)}" in text
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(ad.jacrev(ad.grad(sine_square))(x), ad.hessian(sine_square)(x), rtol=1e-12)


def test_source_of_a_jacobian_of_a_jacobian_is_refused_with_advice():
    with pytest.raises(ad.AutodiffError, match="built for each call"):
        ad.source(ad.jacrev(ad.jacrev(sine_square)))


def test_a_third_transform_still_names_the_user_lines():
    (gradient,) = cache.adjoint_functions(sine_square, (0,), "grad_only")
    (second,) = cache.adjoint_functions(gradient, (0,), "jvp")
    text = cache.compiled_adjoint(second, (1,), "vjp").source
    assert "<autodiff_st" not in text
    assert f"# {_quoted(sine_square, 'z = y ** 2')}" in text


def test_vmap_fallback_report_names_the_user_line(caplog):
    with caplog.at_level(logging.DEBUG, logger="autodiff_st"):
        ad.vmap(kron_rows)(np.ones((2, 3)), np.ones((2, 3)))
    messages = [r.getMessage() for r in caplog.records if "runs once per batch element" in r.getMessage()]
    assert any(_quoted(kron_rows, "return np.kron(x, y)") in m for m in messages), messages


def test_fallback_in_generated_code_names_the_user_line(caplog):
    """jacrev(grad(f)) runs a batched version of generated code; a fallback there names f's line."""
    x = np.array([0.5, -1.0, 2.0, 0.1, 3.0])
    with caplog.at_level(logging.DEBUG, logger="autodiff_st"):
        ad.jacrev(ad.grad(sorted_pairs))(x)
    messages = [r.getMessage() for r in caplog.records if "runs once per batch element" in r.getMessage()]
    assert any(_quoted(sorted_pairs, "z = np.sort(x)") in m for m in messages), messages
    assert not any("<autodiff_st" in m for m in messages), messages
