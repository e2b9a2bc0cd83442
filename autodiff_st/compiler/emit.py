"""Stage 7, emit: assemble the generated module and print it with ``ast.unparse``.

The module holds one factory function. Its parameters are the helpers the generated code refers to
and the user's closure variables. Inside it are the generated functions. The loader never calls the
factory: it builds the inner functions straight from their code objects, with the user's own closure
cells, so a closure variable the user rebinds is seen at once. Above each block of generated
statements, a comment quotes the user's line it comes from.
"""

import ast
import os
import re

import gast

from .ir import load, store
from .parsing import origin_of

_MARKER = "\x00autodiff_st comment {}\x00"
_MARKER_LINE = re.compile(r"^(\s*)'\\x00autodiff_st comment (\d+)\\x00'$")


class Comments:
    def __init__(self):
        self.texts = []

    def marker(self, text):
        self.texts.append(text)
        return gast.Expr(value=gast.Constant(value=_MARKER.format(len(self.texts) - 1), kind=None))

    def annotate(self, statements, prefix="", seed_statements=()):
        """Put a comment naming the user's line above each run of statements from that line.

        A ``del`` belongs to the run before it. The statements in ``seed_statements`` start the
        backward pass, and their comment says so.
        """
        out = []
        last = None
        seeds = {id(s) for s in seed_statements}
        for stmt in statements:
            origin = origin_of(stmt)
            key = (origin, id(stmt) in seeds)
            if origin is not None and key != last and not isinstance(stmt, gast.Delete):
                out.append(self.marker(("seed: " if id(stmt) in seeds else prefix) + origin.short()))
                last = key
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                stmt.body = self.annotate(stmt.body, prefix) or [gast.Pass()]
                stmt.orelse = self.annotate(stmt.orelse, prefix)
                last = None
            out.append(stmt)
        return out

    def render(self, source):
        lines = []
        for line in source.splitlines():
            m = _MARKER_LINE.match(line)
            if m:
                lines.append(f"{m.group(1)}# {self.texts[int(m.group(2))]}")
            else:
                lines.append(_unparenthesize_target(line))
        return "\n".join(lines) + "\n"


_TUPLE_TARGET = re.compile(r"^(\s*)\(([\w, ()]*)\) = (.*)$")


def _unparenthesize_target(line):
    """Print ``(a, b) = t`` as ``a, b = t`` on every Python version (3.10's unparse adds the parentheses)."""
    m = _TUPLE_TARGET.match(line)
    if not m:
        return line
    inner, depth = m.group(2), 0
    for ch in inner:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return line  # the first "(" closes before the "=": it is not around the whole target
    return f"{m.group(1)}{inner} = {m.group(3)}" if depth == 0 and "," in inner else line


class _SignedConstants(gast.NodeTransformer):
    """Write a negative number as a negation, so that the printer puts parentheses where Python needs
    them: ``(-2.0) ** 2``, not ``-2.0 ** 2``, which is ``-(2.0 ** 2)``."""

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (value < 0 or str(value) == "-0.0"):
            return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
        return node


def function_def(name, args, body, docstring=None):
    if docstring:
        body = [gast.Expr(value=gast.Constant(value=docstring, kind=None))] + body
    return gast.FunctionDef(name=name, args=args, body=body or [gast.Pass()], decorator_list=[], returns=None,
                            type_comment=None, type_params=[])


def arguments(names, template=None):
    if template is not None:
        return template
    return gast.arguments(args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                                for n in names],
                          posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def tuple_of(names, ctx):
    make = store if isinstance(ctx, gast.Store) else load
    return gast.Tuple(elts=[make(n) for n in names], ctx=ctx)


def module_source(header, factory_name, factory_params, inner_functions, comments):
    returns = gast.Return(value=gast.Tuple(elts=[load(f.name) for f in inner_functions], ctx=gast.Load())
                          if len(inner_functions) > 1 else load(inner_functions[0].name))
    factory = function_def(factory_name, arguments(factory_params), list(inner_functions) + [returns])
    module = gast.Module(body=[factory], type_ignores=[])
    module = _SignedConstants().visit(module)
    gast.fix_missing_locations(module)
    text = ast.unparse(gast.gast_to_ast(module))
    body = comments.render(text)
    return header + "\n" + body


def header_lines(parsed, description, active, nothing="nothing"):
    rel = os.path.basename(parsed.filename)
    line = parsed.node.origin.lineno if origin_of(parsed.node) else "?"
    return (f"# Generated by autodiff_st from {parsed.name} ({rel}:{line}): {description},\n"
            f"# differentiating with respect to {', '.join(active) or nothing}.\n"
            f"# Each block of statements is headed by the line of {parsed.name} it comes from.\n")
