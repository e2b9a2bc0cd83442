"""Emit: assemble the generated module and print it with ``ast.unparse``.

The module holds one factory function. Its parameters are the helpers the generated code refers to
and the user's closure variables. Inside it are the generated functions. The loader never calls the
factory: it builds the inner functions straight from their code objects, with the user's own closure
cells, so a closure variable the user rebinds is seen at once. Above each block of generated
statements, a comment quotes the user's line it comes from; the same lines, as data, make the module's
line map, which the loader keeps.
"""

import ast
import math
import os
import re

import gast

from .ir import load, store
from .parsing import Origin, origin_of

_MARKER = "\x00autodiff_st comment {}\x00"


class Comments:
    """The comments above generated blocks, and the user's origins they name.

    A comment is first a marker statement in the tree; ``render`` prints it as a comment and maps every
    generated line to the origin of the comment above it.
    """

    def __init__(self):
        self.entries = []  # (text, origin)
        self._index = {}  # marker string -> position in entries

    def marker(self, text, origin):
        marker = _MARKER.format(len(self.entries))
        self._index[marker] = len(self.entries)
        self.entries.append((text, origin))
        return gast.Expr(value=gast.Constant(value=marker, kind=None))

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
                out.append(self.marker(("seed: " if id(stmt) in seeds else prefix) + origin.short(), origin))
                last = key
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                stmt.body = self.annotate(stmt.body, prefix) or [gast.Pass()]
                stmt.orelse = self.annotate(stmt.orelse, prefix)
                last = None
            out.append(stmt)
        return out

    def render(self, tree, function_origin):
        """The printed module ``tree`` (an ``ast`` module) with its markers turned into comments, and its
        line map: each line numbered from 1 to the origin of the nearest comment above it in its generated
        function, and each generated function's ``def`` line to ``function_origin``, the user's function."""
        text, positions = _print_placed(tree)
        if positions is not None:
            try:
                return self._render(text, tree, positions, function_origin)
            except (KeyError, IndexError, TypeError):  # a statement printed where _PlacingPrinter does not
                pass  # see it (a Python whose printer differs): parse the text
        return self._render(text, ast.parse(text), _Positions(), function_origin)

    def _render(self, text, tree, positions, function_origin):
        lines = [_unparenthesize_target(line) for line in text.splitlines()]
        line_map = {}
        for function in tree.body[0].body:
            if isinstance(function, ast.FunctionDef):
                first_line = positions.of(function)[0]
                if function_origin is not None:
                    line_map[first_line] = function_origin
                self._map_block(function.body, None, lines, line_map, positions)
        return "\n".join(lines) + "\n", line_map

    def _map_block(self, statements, current, lines, line_map, positions):
        """Map the lines of ``statements`` to ``current`` or the comments among them; returns the origin
        in force after them, as a reader going down the text would see it."""
        for stmt in statements:
            lineno, end_lineno, col_offset = positions.of(stmt)
            entry = self._entry(stmt)
            if entry is not None:
                text, current = self.entries[entry]
                lines[lineno - 1] = f"{' ' * col_offset}# {text}"
            if current is not None:
                line_map.update(dict.fromkeys(range(lineno, end_lineno + 1), current))
            for block in _blocks(stmt):
                current = self._map_block(block, current, lines, line_map, positions)
        return current

    def _entry(self, stmt):
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return self._index.get(stmt.value.value)
        return None


class _Positions:
    """The lines of statements as ``ast.parse`` numbers them: (first line, last line, column).

    ``table`` maps a statement's id to its positions, one per place it is printed (a ``pass`` may be
    one object in several places), in printing order; ``of`` hands them out in that order. Without a
    table, the statements are those of the parsed text, which carry their positions.
    """

    def __init__(self, table=None):
        self.table = table
        self._used = {}

    def of(self, stmt):
        if self.table is None:
            return stmt.lineno, stmt.end_lineno, stmt.col_offset
        key = id(stmt)
        used = self._used.get(key, 0)
        self._used[key] = used + 1
        return self.table[key][used]


_Printer = getattr(ast, "_Unparser", None)


def _print_placed(tree):
    """``ast.unparse(tree)`` and the lines each statement of ``tree`` takes in that text, found while
    printing (parsing the text again to number its lines costs as much as everything else in printing).
    The positions are None where this Python's printer is not the one ``_PlacingPrinter`` extends."""
    if _Printer is None:
        return ast.unparse(ast.fix_missing_locations(tree)), None
    printer = _PlacingPrinter()
    try:
        text = printer.visit(tree)
    except (AttributeError, TypeError):
        return ast.unparse(ast.fix_missing_locations(tree)), None
    if printer.pending or printer.elifs:
        return text, None
    return text, _Positions(printer.table)


class _PlacingPrinter(_Printer or object):
    """``ast.unparse``'s printer, noting where each statement starts (its first ``fill``, the call that
    begins a line) and ends (the line the printer is on once the statement is done); an ``if`` in
    ``orelse`` that prints as ``elif`` starts at its ``elif`` line and ends with the ``if`` it belongs to."""

    def __init__(self, *args, **kwargs):  # the printer makes more of itself for f-strings' insides
        super().__init__(*args, **kwargs)
        self.table = {}  # id(statement) -> [[first line, last line, column], ...], as it is printed
        self.pending = []  # statements begun whose first line is not printed yet
        self.elifs = []  # per ``if`` being printed, the ``if`` statements it prints as ``elif``, in order
        self._counted = 0
        self._newlines = 0
        self._docstring = None

    def _line(self):
        source = self._source
        for piece in source[self._counted:]:
            self._newlines += piece.count("\n")
        self._counted = len(source)
        return self._newlines + 1

    def _begin(self, stmt):
        entry = [None, None, None]
        self.table.setdefault(id(stmt), []).append(entry)
        return entry

    def fill(self, text=""):
        super().fill(text)
        if self.pending:
            line = self._line()
            for entry in self.pending:
                entry[0], entry[2] = line, 4 * self._indent
            self.pending.clear()
        elif text == "elif " and self.elifs and self.elifs[-1]:
            entry = self.elifs[-1].pop(0)
            entry[0], entry[2] = self._line(), 4 * self._indent

    def traverse(self, node):
        if isinstance(node, ast.stmt):
            entry = self._begin(node)
            self.pending.append(entry)
            super().traverse(node)
            entry[1] = self._line()
        else:
            super().traverse(node)

    def get_type_comment(self, node):  # the generated module has no ``# type: ignore``, nor line numbers
        if self._type_ignores:
            return super().get_type_comment(node)
        comment = getattr(node, "type_comment", None)
        return None if comment is None else f" # type: {comment}"

    def _write_docstring_and_traverse_body(self, node):
        self._docstring = node.body[0] if node.body else None
        super()._write_docstring_and_traverse_body(node)

    def _write_docstring(self, node):  # a body's first statement, when it is a string (a comment marker too)
        statement, self._docstring = self._docstring, None
        entry = self._begin(statement)
        self.pending.append(entry)
        super()._write_docstring(node)
        entry[1] = self._line()

    def visit_If(self, node):
        chain, link = [], node
        while link.orelse and len(link.orelse) == 1 and isinstance(link.orelse[0], ast.If):
            link = link.orelse[0]
            chain.append(link)
        entries = [self._begin(link) for link in chain]
        self.elifs.append(list(entries))
        super().visit_If(node)
        self.elifs.pop()
        end = self._line()
        for entry in entries:
            entry[1] = end


def _blocks(stmt):
    """The bodies nested in a compound statement, in the order they are printed."""
    for _, value in ast.iter_fields(stmt):
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.stmt):
                    yield value
                    break
                if isinstance(item, (ast.excepthandler, ast.match_case)):
                    yield item.body


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


def restore_guards(tree):
    """``tree`` with the ``if`` statements that stand for ``with`` blocks and ``try`` statements printed as
    such (once the passes that know only ``if`` are done). Only statements are visited: a guard is one."""
    _restore_nested(tree)
    return tree


def _restore_nested(node):
    """Restore the guards in the statement lists of ``node`` (its bodies, and its handlers' bodies)."""
    for field in node._fields:
        value = getattr(node, field, None)
        if not isinstance(value, list) or not value:
            continue
        if isinstance(value[0], gast.stmt):
            setattr(node, field, _restore_block(value))
        else:
            for item in value:
                if isinstance(item, (gast.excepthandler, gast.match_case)):
                    _restore_nested(item)


def _restore_block(statements):
    out = []
    for stmt in statements:
        _restore_nested(stmt)
        restored = _restore_if(stmt) if isinstance(stmt, gast.If) else stmt
        if isinstance(restored, list):
            out.extend(restored)
        else:
            out.append(restored)
    return out


def _restore_if(node):
    """The ``if`` standing for a ``with`` block or a ``try`` statement (``guard``, see ``ir.If`` and
    ``Primal.guard``) as what it is; other ``if`` statements as they are."""
    guard = getattr(node, "guard", None)
    if guard is None or guard[0] == "final":
        return node
    body = [s for s in node.body if not isinstance(s, gast.Pass)] or [gast.Pass()]
    if guard[0] == "with":
        return gast.copy_location(gast.With(items=[gast.withitem(context_expr=node.test, optional_vars=None)],
                                            body=body, type_comment=None), node)
    if guard[0] == "try":
        guard[1].type = node.test
        return gast.copy_location(gast.Try(body=body, handlers=[guard[1]], orelse=[], finalbody=[]), node)
    finals = [i for i, s in enumerate(body) if getattr(s, "guard", (None,))[0] == "final"]
    if not finals:  # the finally clause did nothing the generated code keeps
        return body
    last = finals[-1]
    final = [s for s in body[last].body if not isinstance(s, gast.Pass)] + body[last + 1:]
    return gast.copy_location(gast.Try(body=body[:last] or [gast.Pass()], handlers=[], orelse=[],
                                       finalbody=final or [gast.Pass()]), node)


_MISSING = object()
_PLANS = {}  # gast class -> (ast class or None, the fields both have, special conversion or None)


def to_ast(node):
    """The ``ast`` tree of the gast tree ``node``, as ``gast.gast_to_ast`` makes it but without the
    source positions (the printer does not read them) and with one object per context and operator,
    as ``ast.parse`` shares them: a third of the cost. A negative number becomes a negation, so that the
    printer puts parentheses where Python needs them: ``(-2.0) ** 2``, not ``-2.0 ** 2``, which is
    ``-(2.0 ** 2)``."""
    plan = _PLANS.get(node.__class__)
    if plan is None:
        plan = _PLANS[node.__class__] = _plan(node.__class__)
    target, fields, special = plan
    if special is not None:
        return special(node)
    if target is None:
        return None  # not a node of this Python's ast (gast_to_ast drops it too)
    values = {}
    for field in fields:
        value = getattr(node, field, _MISSING)
        if value is not _MISSING:
            values[field] = _converted(value)
    return target(**values)


def _converted(value):
    if isinstance(value, gast.AST):
        return to_ast(value)
    if value.__class__ is list:
        return [to_ast(item) if isinstance(item, gast.AST) else item for item in value]
    return value


def _plan(cls):
    target = getattr(ast, cls.__name__, None)
    if target is None or not isinstance(target, type) or not issubclass(target, ast.AST):
        return None, (), None
    fields = tuple(f for f in cls._fields if f in target._fields)
    if not fields and not cls._fields:  # a context or an operator: one shared object
        shared = target()
        return None, (), lambda node: shared
    special = {"arguments": _arguments, "ExceptHandler": _except_handler, "Name": _name,
               "Assign": _assign, "Constant": _constant}.get(cls.__name__)
    return target, fields, special


def _constant(node):
    value = node.value
    if isinstance(value, (int, float)) and value.__class__ is not bool and (
            value < 0 or value == 0 and math.copysign(1.0, value) < 0):  # -0.0 too
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value, kind=None))
    return ast.Constant(value=value, kind=getattr(node, "kind", None))


def _name(node):
    return ast.Name(id=node.id, ctx=to_ast(node.ctx))


def _assign(node):
    return ast.Assign(targets=_converted(node.targets), value=to_ast(node.value))


def _arg(node):
    if node is None:
        return None
    return ast.arg(arg=node.id, annotation=_converted(node.annotation), type_comment=node.type_comment)


def _arguments(node):
    return ast.arguments(posonlyargs=[_arg(a) for a in node.posonlyargs], args=[_arg(a) for a in node.args],
                         vararg=_arg(node.vararg), kwonlyargs=[_arg(a) for a in node.kwonlyargs],
                         kw_defaults=_converted(node.kw_defaults), kwarg=_arg(node.kwarg),
                         defaults=_converted(node.defaults))


def _except_handler(node):
    return ast.ExceptHandler(type=_converted(node.type), name=node.name.id if node.name else None,
                             body=_converted(node.body))


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


def module_source(header, factory_name, factory_params, inner_functions, comments, function_origin):
    """The generated module's text, and its line map (see ``Comments.render``) numbered as in that text.
    ``function_origin`` is the user's function the inner functions come from."""
    returns = gast.Return(value=gast.Tuple(elts=[load(f.name) for f in inner_functions], ctx=gast.Load())
                          if len(inner_functions) > 1 else load(inner_functions[0].name))
    factory = function_def(factory_name, arguments(factory_params), list(inner_functions) + [returns])
    module = gast.Module(body=[factory], type_ignores=[])
    module = restore_guards(module)
    body, body_map = comments.render(to_ast(module), function_origin)
    above = header.count("\n") + 1  # the header and the blank line after it
    return header + "\n" + body, {lineno + above: origin for lineno, origin in body_map.items()}


def header_lines(parsed, description, active, nothing="nothing"):
    """The module's header. Of generated code transformed again, it names the user's function and line,
    which the block comments quote."""
    origin = origin_of(parsed.node) or Origin(parsed.filename, "?", "", parsed.name)
    return (f"# Generated by autodiff_st from {parsed.name} ({os.path.basename(origin.filename)}:{origin.lineno}): "
            f"{description},\n"
            f"# differentiating with respect to {', '.join(active) or nothing}.\n"
            f"# Each block of statements is headed by the line of {origin.function} it comes from.\n")
