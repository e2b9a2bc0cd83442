"""Stage 1, parse: functions become gast trees whose every node knows the user's file, line and text."""

import functools

import gast
import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core import errors
from autodiff_st.compiler.parsing import Origin, ParsedFunction, parse_function
from tests.support import line_of

HERE = __file__




def plain(x, y):
    a = np.exp(x)
    b = a * y + (
        x * 2.0
    )
    return b


def keep(fn):
    """A decorator that returns the function itself."""
    return fn


def tagging(label):
    def decorate(fn):
        fn.label = label
        return fn
    return decorate


@keep
@tagging("twice decorated")
def decorated(x):
    return np.sin(x) * 2.0


class Model:
    scale = 3.0

    def method(self, x):
        y = self.scale * x
        return y * y

    @staticmethod
    def static(x):
        return x * 4.0


square = lambda x: x * x  # noqa: E731
pair = [lambda a: a + 1.0, lambda b: b * 2.0]
same_arguments = [lambda t: t + 1.0, lambda t: t * 2.0]
spread = dict(
    f=lambda u: u * 5.0,
)
displayed = {
    "cube": lambda v: v ** 3,
    "outer": lambda: ad.grad(lambda w: w * 7.0)(1.0),
}


def make_closure():
    w = np.array([1.0, 2.0])

    def inner(x):
        return w * x

    return inner


# --------------------------------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------------------------------

def test_parse_returns_the_def_and_its_namespace():
    parsed = parse_function(plain)
    assert isinstance(parsed, ParsedFunction)
    assert isinstance(parsed.node, gast.FunctionDef)
    assert parsed.node.name == "plain" and parsed.name == "plain"
    assert parsed.filename == HERE
    assert parsed.globals is plain.__globals__
    assert parsed.closure == {}
    assert [a.id for a in parsed.node.args.args] == ["x", "y"]


def test_every_node_has_an_origin():
    parsed = parse_function(plain)
    for node in gast.walk(parsed.node):
        assert isinstance(getattr(node, "origin", None), Origin), type(node).__name__


def test_statement_origins_point_at_the_user_lines():
    parsed = parse_function(plain)
    expected = [line_of(plain, "a = np.exp(x)"), line_of(plain, "b = a * y + ("), line_of(plain, "return b")]
    got = [(s.origin.lineno, s.origin.source_line) for s in parsed.node.body]
    assert got == expected
    for stmt in parsed.node.body:
        assert stmt.origin.filename == HERE
        assert stmt.origin.function == "plain"


def test_the_def_node_points_at_the_def_line():
    parsed = parse_function(plain)
    assert parsed.node.origin.lineno == plain.__code__.co_firstlineno
    assert parsed.node.origin.source_line == "def plain(x, y):"
    assert parsed.first_origin is parsed.node.origin


def test_nodes_inside_an_expression_carry_their_own_line():
    parsed = parse_function(plain)
    lineno, _ = line_of(plain, "x * 2.0")
    products = [n for n in gast.walk(parsed.node.body[1])
                if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Mult)
                and isinstance(n.right, gast.Constant) and n.right.value == 2.0]
    assert len(products) == 1
    assert products[0].origin.lineno == lineno
    assert products[0].origin.source_line == "x * 2.0"
    # operator and context nodes have no line of their own: they take their parent's
    assert products[0].op.origin == products[0].origin


def test_origin_formats():
    origin = parse_function(plain).node.body[0].origin
    lineno, text = line_of(plain, "a = np.exp(x)")
    assert origin.short() == f"test_parsing.py:{lineno}  {text}"
    assert origin.describe() == f'  File "{HERE}", line {lineno}, in plain\n    {text}'


# --------------------------------------------------------------------------------------------------
# Decorated functions, methods, closures
# --------------------------------------------------------------------------------------------------

def test_decorators_are_stripped():
    parsed = parse_function(decorated)
    assert parsed.node.decorator_list == []
    assert parsed.node.origin.source_line == "def decorated(x):"
    lineno, text = line_of(decorated, "return np.sin(x)")
    assert (parsed.node.body[0].origin.lineno, parsed.node.body[0].origin.source_line) == (lineno, text)


def test_decorated_function_is_differentiated_and_the_decorator_is_not_in_the_source():
    assert ad.grad(decorated)(0.5) == pytest.approx(2.0 * np.cos(0.5))
    text = ad.source(ad.grad(decorated))
    assert "@keep" not in text and "tagging" not in text


def test_method_is_parsed_from_its_indented_source():
    parsed = parse_function(Model.method)
    assert parsed.node.name == "method"
    assert [a.id for a in parsed.node.args.args] == ["self", "x"]
    lineno, text = line_of(Model.method, "y = self.scale * x")
    assert (parsed.node.body[0].origin.lineno, parsed.node.body[0].origin.source_line) == (lineno, text)
    assert parsed.filename == HERE


def test_bound_method_and_staticmethod_are_differentiated():
    # (3x)^2 = 9 x^2
    assert ad.grad(Model().method)(2.0) == pytest.approx(36.0)
    assert ad.grad(Model.static)(2.0) == pytest.approx(4.0)
    parsed = parse_function(Model.static)
    assert parsed.node.decorator_list == []


def test_closure_cells_are_recorded():
    inner = make_closure()
    parsed = parse_function(inner)
    assert set(parsed.closure) == {"w"}
    np.testing.assert_array_equal(parsed.closure["w"].cell_contents, [1.0, 2.0])
    assert parsed.node.name == "inner"


# --------------------------------------------------------------------------------------------------
# Lambdas
# --------------------------------------------------------------------------------------------------

def test_lambda_becomes_a_function_returning_its_body():
    parsed = parse_function(square)
    lineno = square.__code__.co_firstlineno
    assert isinstance(parsed.node, gast.FunctionDef)
    assert parsed.node.name == f"lambda_line{lineno}"
    assert [a.id for a in parsed.node.args.args] == ["x"]
    assert len(parsed.node.body) == 1 and isinstance(parsed.node.body[0], gast.Return)
    origin = parsed.node.body[0].origin
    assert origin.lineno == lineno
    assert "lambda x: x * x" in origin.source_line
    assert ad.grad(square)(3.0) == pytest.approx(6.0)


def test_the_right_lambda_is_picked_from_a_line_with_several():
    parsed = parse_function(pair[1])
    assert [a.id for a in parsed.node.args.args] == ["b"]
    assert ad.grad(pair[0])(3.0) == pytest.approx(1.0)
    assert ad.grad(pair[1])(3.0) == pytest.approx(2.0)


def test_ambiguous_lambdas_are_refused():
    with pytest.raises(errors.SourceUnavailableError) as info:
        parse_function(same_arguments[0])
    assert info.value.hint


def test_lambda_in_a_multi_line_call():
    parsed = parse_function(spread["f"])
    assert parsed.filename == HERE
    assert parsed.node.body[0].origin.lineno == spread["f"].__code__.co_firstlineno
    assert ad.grad(spread["f"])(1.0) == pytest.approx(5.0)


def test_lambda_in_a_dict_display_and_inside_another_lambda():
    # The line is a fragment ("cube": lambda v: v ** 3,) that also parses, as a string, without the lambda.
    assert ad.grad(displayed["cube"])(2.0) == pytest.approx(12.0)
    assert displayed["outer"]() == pytest.approx(7.0)


def test_lambda_written_inside_a_call():
    assert ad.grad(lambda x: np.cos(x) * 3.0)(0.5) == pytest.approx(-3.0 * np.sin(0.5))


# --------------------------------------------------------------------------------------------------
# What cannot be parsed
# --------------------------------------------------------------------------------------------------

def test_no_source():
    namespace = {}
    exec("def f(x):\n    return x\n", namespace)
    with pytest.raises(errors.SourceUnavailableError):
        parse_function(namespace["f"])


def test_not_a_python_function():
    with pytest.raises(errors.SourceUnavailableError):
        parse_function(np.sin)
    with pytest.raises(errors.SourceUnavailableError):
        parse_function(functools.partial(plain, 1.0))
