"""The generated module's printer (compiler/emit.py): it numbers the lines while printing, where it used to
parse the printed text again, and converts gast to ast itself. Both must give what the slow way gives."""

import ast
import textwrap

import gast

from autodiff_st.compiler import emit

SOURCE = textwrap.dedent('''
    def make(a, b=2, *rest, c, **more):
        def inner(x, y):
            """A docstring
            on two lines."""
            if x:
                y = 1
            elif y:
                y = 2
            elif x < y:
                if y:
                    pass
                else:
                    y = f"{x!r:>{y}} and {y}"
            else:
                y = -3
            for i in range(3):
                while y:
                    y -= 1
                else:
                    pass
            with open(x) as f, open(y):
                z = [u for u in f]
            try:
                z = x[1:2, ::3]
            except (ValueError, TypeError) as error:
                raise error from None
            except KeyError:
                pass
            else:
                z = lambda t, *s: t
            finally:
                del z
            return x, y
        def other(x):
            "step"
            return x
        return inner, other
''')


def _placed_and_parsed(tree):
    text, positions = emit._print_placed(tree)
    assert positions is not None
    assert text == ast.unparse(ast.fix_missing_locations(ast.parse(text)))
    parsed = ast.parse(text)
    # Both trees walked in the same (printing) order: one position per printed statement.
    mine = [tuple(positions.of(s)) for s in _statements(tree)]
    theirs = [(s.lineno, s.end_lineno, s.col_offset) for s in _statements(parsed)]
    return text, mine, theirs


def _statements(tree):
    out = []

    def visit(statements):
        for stmt in statements:
            out.append(stmt)
            for block in emit._blocks(stmt):
                visit(block)

    visit(tree.body)
    return out


def test_conversion_matches_gast_to_ast():
    tree = gast.parse(SOURCE)
    assert ast.dump(emit.to_ast(tree)) == ast.dump(gast.gast_to_ast(tree))


def test_positions_noted_while_printing_are_those_of_the_parsed_text():
    text, mine, theirs = _placed_and_parsed(emit.to_ast(gast.parse(SOURCE)))
    assert "elif" in text and "finally" in text and '"""A docstring' in text
    assert mine == theirs


def test_one_statement_object_printed_in_several_places_gets_each_place():
    tree = gast.parse("def f(x):\n    if x:\n        x = 1\n    if x:\n        x = 2\n")
    shared = gast.Pass()
    tree.body[0].body[0].body = [shared]
    tree.body[0].body[1].body = [shared]
    _, mine, theirs = _placed_and_parsed(emit.to_ast(tree))
    assert mine == theirs


def test_a_negative_number_is_printed_as_a_negation():
    tree = gast.parse("y = x ** 2\nz = x * 1")
    tree.body[0].value.left = gast.Constant(value=-2.0, kind=None)
    tree.body[1].value.right = gast.Constant(value=-0.0, kind=None)
    text, _ = emit._print_placed(emit.to_ast(tree))
    assert text == "y = (-2.0) ** 2\nz = x * -0.0"
    assert eval("(-2.0) ** 2") == 4.0
