"""Calls of the user's small module-level helpers, inlined where they are called.

A call ``k = rhs(x, y)`` of a function ``def rhs(x, y): return <expression>`` (or a few assignments then a
``return``) defined in the same module
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
- its body (after an optional docstring) is assignments to names (or tuples of names), each local
  assigned before it is read, then one ``return``, all of expressions made of names, constants,
  attributes, subscripts, slices, calls, operators and displays (no lambda, comprehension,
  conditional expression or assignment expression). Its locals get fresh names in the caller; a
  parameter it assigns is first bound to a fresh name of its own, as Python binds it.

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
    """``(parameter names, statements, return expression, free names)`` of ``fn`` where the call ``call`` may be
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
    if found[3] & bound:
        return None
    return found


def _body_of(fn):
    """``(parameter names, statements, return expression, free names)`` of a helper that may be inlined,
    or None. The statements are assignments to names (or tuples of names) before the one ``return``."""
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
    if not body or not isinstance(body[-1], gast.Return) or body[-1].value is None:
        return None
    statements, expression = body[:-1], body[-1].value
    if not statements and not isinstance(expression, (gast.Call, gast.BinOp, gast.UnaryOp, gast.Subscript)):
        return None  # an operation, so that inlining emits at least one op to carry the guard
    args = node.args
    params = [a.id for a in args.posonlyargs + args.args]
    defined = set(params)
    assigned = set()
    for stmt in statements:
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and _plain(stmt.value)):
            return None
        names = _target_names(stmt.targets[0])
        if names is None:
            return None
        # a local read before this helper assigns it would be unbound in Python: not inlined
        if any(n.id in assigned - defined for n in gast.walk(stmt.value) if isinstance(n, gast.Name)):
            return None
        assigned.update(names)
        defined.update(names)
    if not _plain(expression):
        return None
    loaded = {n.id for part in statements + [expression] for n in gast.walk(part)
              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
    return params, statements, expression, frozenset(loaded - set(params) - assigned)


def _plain(expression):
    return all(isinstance(n, _ALLOWED) for n in gast.walk(expression))


def _target_names(target):
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, (gast.Tuple, gast.List)) and all(isinstance(e, gast.Name) for e in target.elts):
        return [e.id for e in target.elts]
    return None
