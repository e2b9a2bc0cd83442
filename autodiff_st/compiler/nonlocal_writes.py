"""Nested functions that assign a variable of the enclosing function through ``nonlocal``.

Python's nested function ``def add(v): nonlocal total; total = total + v`` changes the enclosing
function's ``total``. The normal form threads that variable as state: the lifted form of ``add``
(normalize_functions.py) takes ``total`` as one more of its first parameters, as it takes every name it
reads from the enclosing function, and gives back its new value with the result. Its body is the
user's lines with two textual changes that keep every line where it was: the ``nonlocal`` statement
becomes ``pass``, and each ``return value`` becomes ``return (value), total`` (a body that ends without
``return`` gets ``return None, total``). A call ``add(x)`` then becomes

    add_out = add(total, x)
    total = add_out[1]
    ... add_out[0] is the value of the call

so the enclosing function's ``total`` is the new value after the call, as in Python, and the
derivative flows through it like through any result of a call of the user's code.

Decided: this is done where the order of Python's reads and writes is certain. A call of such a
function must be a statement of the enclosing function itself: ``add(v)`` or ``y = add(v)`` (any
target). Refused, each with the line: a call inside a larger expression (``total + add(v)`` reads
``total`` before or after the write, by position), such a function used as a value (passed to a helper,
returned, a ``key=``: its writes would happen inside the helper, where the enclosing variable is not
followed), called from another nested function, and a ``nonlocal`` declared in a function nested inside
the nested function for a variable of the enclosing one.
"""

import gast

from ..core.errors import UnsupportedSyntaxError
from .ir import load
from .scope import helper_name

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


class NonlocalWriteError(UnsupportedSyntaxError):
    """A use of a nested function that assigns an enclosing variable (``nonlocal``) that is refused."""


def own_nodes(node):
    """The nodes of ``node``'s own scope: not those inside functions, lambdas or classes nested in it."""
    stack = list(gast.iter_child_nodes(node))
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, _SCOPES):
            stack.extend(gast.iter_child_nodes(current))


def written_nonlocals(node):
    """The names the nested function ``node`` declares ``nonlocal`` in its own scope, in order."""
    names = []
    for n in own_nodes(node):
        if isinstance(n, gast.Nonlocal):
            names += [name for name in n.names if name not in names]
    return names


def refuse_deeper_nonlocal(node, name, origin_of):
    """A ``nonlocal`` inside a function nested in ``node`` that names no variable ``node`` binds."""
    bound = {a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs
             + [node.args.vararg, node.args.kwarg] if a} | {
        n.id for n in own_nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    for inner in gast.walk(node):
        if isinstance(inner, gast.Nonlocal) and inner not in list(own_nodes(node)):
            outer = [n for n in inner.names if n not in bound]
            if outer:
                raise NonlocalWriteError(
                    f"autodiff_st cannot differentiate the nested function `{name}`: a function nested inside it "
                    f"declares `{outer[0]}` nonlocal, a variable two functions out.", origin=origin_of(inner),
                    hint=f"Declare `nonlocal {outer[0]}` in `{name}` itself, or return the new value.")


def threaded_body(body, node, first, shift, names, indent, origin_of, name):
    """The lifted body ``body`` (``(text, line)`` pairs from rewritten.body_lines) of the nested function
    ``node`` that writes ``names`` through ``nonlocal``: each ``nonlocal`` statement as ``pass``, each
    ``return value`` as ``return (value), n1, n2``, and a last ``return None, n1, n2``."""
    if indent is None:
        raise NonlocalWriteError(
            f"autodiff_st cannot differentiate the nested function `{name}`, which declares `nonlocal`, with "
            "its body on the `def` line.", origin=origin_of(node), hint="Write the body on lines of its own.")
    lines = {lineno: i for i, (_, lineno) in enumerate(body)}
    texts = [text.encode() for text, _ in body]
    tail = ", ".join(names)
    edits = []  # (line index, byte column, end line index, end byte column, replacement of that span)
    for n in own_nodes(node):
        if isinstance(n, gast.Nonlocal):
            edits.append((n, "pass"))
        elif isinstance(n, gast.Return):
            edits.append((n, None))
    # Later spans first, so that earlier columns stay where they are.
    edits.sort(key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True)
    for stmt, replacement in edits:
        start, end = lines.get(first + stmt.lineno - 1), lines.get(first + stmt.end_lineno - 1)
        if start is None or end is None:  # pragma: no cover - a statement outside the body's lines
            raise NonlocalWriteError(f"autodiff_st cannot read the body of the nested function `{name}`.",
                                     origin=origin_of(stmt), hint="Define the function at module level.")
        if replacement == "pass":
            if start != end:
                raise NonlocalWriteError(
                    f"autodiff_st cannot read the `nonlocal` declaration of `{name}` over several lines.",
                    origin=origin_of(stmt), hint="Write the declaration on one line.")
            begin, finish = stmt.col_offset + shift, stmt.end_col_offset + shift
            texts[start] = texts[start][:begin] + b"pass" + texts[start][finish:]
            continue
        if stmt.value is None:
            begin, finish = stmt.col_offset + shift, stmt.end_col_offset + shift
            texts[start] = texts[start][:begin] + f"return None, {tail}".encode() + texts[start][finish:]
            continue
        value = stmt.value
        v_start, v_end = lines[first + value.lineno - 1], lines[first + value.end_lineno - 1]
        at = value.end_col_offset + shift
        texts[v_end] = texts[v_end][:at] + f"), {tail}".encode() + texts[v_end][at:]
        at = value.col_offset + shift
        texts[v_start] = texts[v_start][:at] + b"(" + texts[v_start][at:]
    out = [(t.decode(), lineno) for t, (_, lineno) in zip(texts, body)]
    return out + [(f"{indent}return None, {tail}", body[-1][1])]


def check_calls(function, name, origin_of):
    """Refuse each use of the nested function ``name`` (which writes through ``nonlocal``) in the
    enclosing ``function`` other than a call that is a statement of its own scope: ``name(...)`` or
    ``target = name(...)``."""
    allowed = set()
    for stmt in own_nodes(function):
        if isinstance(stmt, (gast.Expr, gast.Assign)) and isinstance(stmt.value, gast.Call) \
                and isinstance(stmt.value.func, gast.Name) and stmt.value.func.id == name:
            allowed.add(id(stmt.value.func))
    for n in gast.walk(function):
        if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load) and id(n) not in allowed:
            raise NonlocalWriteError(
                f"autodiff_st cannot differentiate this use of the nested function `{name}`, which assigns a "
                "variable of the enclosing function (`nonlocal`): the compiler follows that write only for a "
                f"call that is a statement of its own, `{name}(...)` or `y = {name}(...)`, in the enclosing "
                "function (not passed as a value, inside a larger expression, or called from another nested "
                "function).", origin=origin_of(n) or origin_of(function),
                hint=f"Call `{name}` on a line of its own, or return the new value from `{name}` and assign it "
                     "in the enclosing function.")


class NonlocalLowering:
    """Mixed into ``Normalizer``: a call of a nested function that writes through ``nonlocal``."""

    def threaded_call(self, call, lifted, name, captured, origin):
        """``name(args)`` as ``out = lifted(captured..., args)``, each written name bound to its part of
        ``out``, and ``out[0]`` for the value of the call."""
        args = [self.atom(a, origin) for a in call.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, origin)) for k in call.keywords]
        callee = gast.Call(func=helper_name(lifted, name), args=[load(self.env.get(c, c)) for c in captured] + args,
                           keywords=keywords)
        callee.origin = origin
        out = self.into_temporary(callee, origin)
        for position, written in enumerate(lifted.nonlocal_writes, 1):
            self.assign_to(written, gast.Subscript(value=load(out), slice=gast.Constant(value=position, kind=None),
                                                   ctx=gast.Load()), origin)
        return gast.Subscript(value=load(out), slice=gast.Constant(value=0, kind=None), ctx=gast.Load())
