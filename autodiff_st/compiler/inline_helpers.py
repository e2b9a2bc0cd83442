"""Calls of the user's small module-level helpers, inlined where they are called.

A call ``k = rhs(x, y)`` of a function ``def rhs(x, y): return <expression>`` defined in the same module
as the function being differentiated would otherwise run through ``call_vjp_forward`` and
``call_vjp_backward`` (runtime/calls.py): a few microseconds of dispatch each way, and a backward pass
that returns full-size cotangents of every argument it reads. In a loop that calls the helper on every
step, that dispatch costs more than the helper's own work. Inlined, the helper's expression is
normalized into the caller with the arguments put in (as nested functions of one ``return`` already are,
normalize_expressions.py ``inline_call``), so its operations are differentiated with the caller's:
its reads of ``x[1:]`` accumulate in place into the caller's cotangent of ``x``, and the kinds the caller
knows of its arguments reach the helper's operations.

A helper is inlined only where the result is certainly the call's:

- a plain function (``types.FunctionType``), not the function being compiled, not already being inlined
  (no recursion), with no derivative rule registered for it and not marked nondifferentiable;
- no closure, no defaults, no ``*args``/``**kwargs``/keyword-only parameters, not a generator or
  coroutine, no decorators in its source; called with exactly its positional arguments and no keywords;
- defined in the caller's module (the same globals dictionary and file), so that every other name it
  reads means in the caller what it means in the helper: none of them is a name the caller binds
  (assigns, takes as a parameter, defines, or reads from a closure);
- its body (after an optional docstring) is one ``return`` of an expression made of names, constants,
  attributes, subscripts, slices, calls, operators and displays (no lambda, comprehension,
  conditional expression or assignment expression).

What keeps it right later: the caller's compiled code keeps a guard on the helper's name (pipeline.py
``_guards`` reads ``inlined_from`` on the first op of the inlined code), so rebinding the helper's name
rebuilds the caller; and a derivative rule registered for an inlined helper after the caller was
compiled clears the compiled cache (compiler/cache.py listens to the rule tables), so the rule is used
from then on, as it is for a helper called through ``call_vjp_forward``.
"""

import inspect
import types
import weakref

import gast

from ..core import registry
from ..core.errors import AutodiffError
from .parsing import parse_function

# Functions inlined into some compiled code: a rule registered for one of them clears the cache.
INLINED = weakref.WeakSet()

# code object -> (parameter names, return expression) or None: parsing is done once per helper.
_BODIES = {}

_ALLOWED = (gast.Name, gast.Constant, gast.Attribute, gast.Subscript, gast.Slice, gast.Call, gast.BinOp,
            gast.UnaryOp, gast.Tuple, gast.List, gast.Compare, gast.keyword, gast.Load,
            gast.operator, gast.unaryop, gast.cmpop, gast.expr_context)
_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS | inspect.CO_GENERATOR | inspect.CO_COROUTINE \
    | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def caller_bound_names(parsed):
    """The names the function being compiled binds anywhere: its parameters, names it stores into or
    deletes, functions and classes it defines, and the free variables of its closure."""
    names = set(parsed.closure)
    for node in gast.walk(parsed.node):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del, gast.Param)):
            names.add(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.ClassDef)) and node is not parsed.node:
            names.add(node.name)
        elif isinstance(node, (gast.Global, gast.Nonlocal)):
            names.update(node.names)
    return names


def inlinable(fn, call, parsed, bound, active):
    """``(parameter names, return expression, free names)`` of ``fn`` where the call ``call`` of it may be
    inlined into ``parsed`` (see the module docstring), else None. ``bound`` is
    ``caller_bound_names(parsed)``; ``active`` holds the functions being inlined around this call."""
    if type(fn) is not types.FunctionType or fn is parsed.fn or fn in active:
        return None
    code = fn.__code__
    if fn.__closure__ or fn.__defaults__ or fn.__kwdefaults__ or code.co_flags & _FLAGS \
            or code.co_kwonlyargcount or fn.__globals__ is not parsed.globals or code.co_filename != parsed.filename:
        return None
    if call.keywords or len(call.args) != code.co_argcount \
            or any(isinstance(a, gast.Starred) for a in call.args):
        return None
    try:
        if registry.lookup(fn) is not None or registry.is_nondifferentiable(fn):
            return None
    except TypeError:
        return None
    found = _BODIES.get(code, False)
    if found is False:
        found = _BODIES[code] = _body_of(fn)
    if found is None:
        return None
    params, body, free = found
    if free & bound:
        return None
    return params, body, free


def _body_of(fn):
    try:
        parsed = parse_function(fn)
    except (AutodiffError, OSError, SyntaxError, TypeError):
        return None
    node = parsed.node
    if not isinstance(node, gast.FunctionDef) or node.decorator_list or node.name != fn.__code__.co_name:
        return None
    body = node.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], gast.Return) or body[0].value is None:
        return None
    expression = body[0].value
    if not isinstance(expression, (gast.Call, gast.BinOp, gast.UnaryOp, gast.Subscript)):
        return None  # an operation, so that inlining emits at least one op to carry the guard
    if not all(isinstance(n, _ALLOWED) for n in gast.walk(expression)):
        return None
    args = node.args
    params = [a.id for a in args.posonlyargs + args.args]
    free = {n.id for n in gast.walk(expression) if isinstance(n, gast.Name)} - set(params)
    return params, expression, frozenset(free)
