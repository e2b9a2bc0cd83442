"""Functions made from the user's own lines with a new signature: the source the compiler reads for a
function with ``*args`` or ``**kwargs`` specialized on a call (specialize.py), and for a nested function
or lambda lifted out of the function that defines it (normalize_functions.py).

The new function keeps the user's body text, line for line; only its ``def`` line changes, and a few
lines that bind the names the old signature bound follow it. Its source is compiled by the loader with
a line map that points each line at the user's line it comes from, so the compiler parses it like any
function, and its comments and error messages quote the user's file and line.
"""

import ast
import linecache
import types

from ..core.errors import UnsupportedSyntaxError
from ..runtime.loader import compile_module, inner_code_objects, line_map, make_function
from .parsing import Origin


def origin_at_line(filename, lineno, function):
    """The user's origin of line ``lineno`` of ``filename`` (through the line map of a generated file)."""
    mapped = line_map(filename)
    if mapped is not None:
        return mapped.get(lineno)
    lines = linecache.getlines(filename)
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    return Origin(filename, lineno, text, function)


def body_lines(filename, node, first=1, shift=0):
    """The lines of the body of ``node`` (an ``ast`` or ``gast`` def whose line numbers count from line
    ``first`` of ``filename``, and whose columns are ``shift`` characters left of the file's), as ``(text, line number in the file)``, and the indentation the body's
    statements need. A body that starts on the ``def`` line (``def f(*a): return a``) is moved to a
    line of its own."""
    lines = linecache.getlines(filename)
    start = node.body[0].lineno
    end = node.end_lineno
    first_line = lines[first + start - 2] if 0 < first + start - 1 <= len(lines) else ""
    column = node.body[0].col_offset + len(first_line[:shift].encode())
    out = []
    indent = None
    if first_line[:_byte_column(first_line, column)].strip():  # the body shares a line with the header
        out.append((first_line.encode()[column:].decode().rstrip("\n"), first + start - 1))
        start += 1
    else:
        stripped = first_line.lstrip()
        indent = first_line[:len(first_line) - len(stripped)]
    for lineno in range(start, end + 1):
        out.append((lines[first + lineno - 2].rstrip("\n") if first + lineno - 2 < len(lines) else "",
                    first + lineno - 1))
    return out, indent


def _byte_column(line, column):
    """ast columns count UTF-8 bytes: the character index of byte ``column`` of ``line``."""
    return len(line.encode()[:column].decode(errors="ignore"))


def build_function(name, filename, header_origin, signature, prefix, body, body_indent, description,
                   user_globals, cells, defaults=None, kwdefaults=None):
    """A function ``def name(signature):`` whose body is ``prefix`` (lines of generated text that bind
    what the old signature bound) then ``body`` (``(text, line)`` pairs of the user's body from
    ``filename``), made with ``user_globals`` and the closure ``cells`` (name -> cell) it reads."""
    freevars = sorted(cells)
    header_map = {}
    text = []

    def add(line, origin):
        text.append(line)
        if origin is not None:
            header_map[len(text)] = origin

    if body_indent is None:  # the body was on the def line: give it a line of its own
        body_indent = "    " if not freevars else "     "
        body = [(body_indent + line, lineno) for line, lineno in body]
    if freevars:
        if len(body_indent) < 2 or body_indent.strip():
            raise UnsupportedSyntaxError(f"autodiff_st cannot read the body of {name}: it is indented by "
                                         "less than two spaces.", origin=header_origin,
                                         hint="Indent the function's body by four spaces.")
        factory = f"make_{name}"
        add(f"def {factory}({', '.join(freevars)}):", header_origin)
        add(f" def {name}({signature}):", header_origin)
    else:
        factory = None
        add(f"def {name}({signature}):", header_origin)
    for line in prefix:
        add(body_indent + line, header_origin)
    for line, lineno in body:
        add(line, origin_at_line(filename, lineno, header_origin.function) if line.strip() else None)
    if freevars:
        add(f" return {name}", header_origin)
    source = "\n".join(text) + "\n"
    try:
        code, _ = compile_module(source, description, header_map)
    except SyntaxError as exc:  # pragma: no cover - the user's body compiled before
        raise UnsupportedSyntaxError(f"autodiff_st could not rewrite {name}: {exc.msg}.", origin=header_origin,
                                     hint="Define the function at module level.") from None
    if factory is not None:
        inner = inner_code_objects(code, factory)[name]
    else:
        inner = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    return make_function(inner, user_globals, {}, cells, defaults, kwdefaults)
