"""Fence: decide what the compiler supports, and refuse the rest before any transformation.

The fence and the transformer must agree: anything the fence lets through, the later stages handle.
So the fence is a whitelist, and each refusal names the construct, points at the user's line and says
what to write instead.
"""

import gast

from ..core.errors import UnsupportedSyntaxError
from .parsing import origin_of

_CONTROL_FLOW_HINT = (
    "This version differentiates straight-line code. Express the branch with np.where, "
    "np.maximum or a vectorized numpy operation, or move it outside the differentiated function."
)

_REFUSED = {
    gast.ClassDef: ("a class definition", "Define the class at module level."),
    gast.Import: ("an `import` statement", "Import at module level."),
    gast.ImportFrom: ("an `import` statement", "Import at module level."),
    gast.SetComp: ("a set comprehension", "Use a vectorized numpy operation."),
    gast.Yield: ("`yield` (a generator)", "Return the values as a tuple or an array."),
    gast.YieldFrom: ("`yield from` (a generator)", "Return the values as a tuple or an array."),
    gast.Await: ("`await`", "Differentiate a plain synchronous function."),
    gast.Set: ("a set display", "Build the set outside the differentiated function."),
    gast.NamedExpr: ("an assignment expression (`:=`) inside a comprehension or a lambda",
                     "Assign on its own line."),
    gast.Starred: ("a starred expression (`*args`)", "Pass the arguments one by one."),
}

_ALLOWED_STATEMENTS = (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Return, gast.Expr, gast.Pass,
                       gast.Assert, gast.Delete, gast.If, gast.For, gast.While, gast.Break, gast.Continue,
                       gast.FunctionDef, gast.Raise, gast.With, gast.Try, gast.Global, gast.Nonlocal)

def refuse(what, node, hint):
    raise UnsupportedSyntaxError(f"autodiff_st cannot differentiate {what}.", origin=origin_of(node), hint=hint)


def check_function(node):
    """Raise ``UnsupportedSyntaxError`` at the first construct of ``node`` the compiler does not support."""
    args = node.args
    if args.vararg is not None:
        refuse("a function with *args", node, "Name each argument, or pack them into one array.")
    # **kwargs stays only where its keywords carry no derivative (specialize.py): a plain dict parameter
    for stmt in node.body:
        _check_statement(stmt)
    _check_reads_after_del(node, node.body, [])


def _check_reads_after_del(function, statements, loops):
    """Refuse a read of a name that may come after ``del name``: the generated code keeps every value
    the backward pass needs, so it leaves ``del`` out, and the read would find the value Python deleted
    (where Python raises). A read later in the source, or anywhere in a loop around the ``del``, counts."""
    for stmt in statements:
        if isinstance(stmt, gast.Delete):
            after = (stmt.lineno, stmt.col_offset)
            for target in stmt.targets:
                around = {id(n) for loop in loops for n in _read_before_rebound(loop, target.id)}
                reads = [n for n in gast.walk(function) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
                         and n.id == target.id and (_position(n) > after or id(n) in around)]
                if reads:
                    refuse(f"a read of `{target.id}` after `del {target.id}`", reads[0],
                           f"Leave out `del {target.id}` (the generated code frees what it no longer needs), or "
                           "give the new value another name.")
        if isinstance(stmt, gast.FunctionDef):
            continue
        inner_loops = loops + [stmt] if isinstance(stmt, (gast.For, gast.While)) else loops
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                _check_reads_after_del(function, inner, inner_loops)
        for handler in getattr(stmt, "handlers", None) or []:
            _check_reads_after_del(function, handler.body, inner_loops)


def _read_before_rebound(loop, name):
    """The reads of ``name`` in ``loop`` that the next iteration may make before it binds ``name`` again:
    all of them, unless a plain assignment directly in the loop's body binds it first."""
    reads = [n for n in gast.walk(loop) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id == name]
    for stmt in loop.body:
        if isinstance(stmt, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in stmt.targets):
            inside = {id(n) for n in gast.walk(stmt.value)}
            bound_at = _position(stmt)
            return [n for n in reads if id(n) in inside or _position(n) < bound_at]
    return reads


def _position(node):
    """Where ``node`` is in the source; a node a rewrite made without one counts as after everything."""
    lineno = getattr(node, "lineno", None)
    return (float("inf"), 0) if lineno is None else (lineno, getattr(node, "col_offset", 0) or 0)


def _check_statement(stmt):
    if isinstance(stmt, gast.ClassDef):
        # a class made anew at every call: its methods would be new functions each time, compiled again
        refuse(f"the definition of class `{stmt.name}` inside the differentiated function", stmt,
               f"Define `{stmt.name}` at module level and use it here: its methods, properties, super() calls "
               "and dataclass or NamedTuple fields are differentiated there. For a class used only as a "
               "namespace of helpers, write the helpers as nested functions instead.")
    for kind, (what, hint) in _REFUSED.items():
        if isinstance(stmt, kind):
            refuse(what, stmt, hint)
    if not isinstance(stmt, _ALLOWED_STATEMENTS):
        refuse(f"a `{type(stmt).__name__}` statement", stmt, "Rewrite it as assignments and calls.")
    if isinstance(stmt, gast.FunctionDef):
        if stmt.decorator_list:
            refuse("a decorated nested function", stmt, "Define the function at module level.")
        body = [s for s in stmt.body if not _is_docstring(s)]
        if len(body) == 1 and isinstance(body[0], gast.Return) and body[0].value is not None:
            _check_expression(body[0].value)  # inlined where it is called; otherwise compiled on its own
        return
    if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Lambda):
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], gast.Name):
            refuse("a lambda assigned to something other than one name", stmt,
                   "Assign the lambda to one name, or define the function with def.")
        _check_expression(stmt.value.body)
        return
    if isinstance(stmt, gast.Delete):
        if not all(isinstance(t, gast.Name) for t in stmt.targets):
            refuse("`del` of something other than a name", stmt, "Leave it in place; only `del name` is supported.")
        return
    if isinstance(stmt, gast.Assign):
        for target in stmt.targets:
            _check_target(target)
        if len(stmt.targets) > 1 and any(isinstance(t, gast.Subscript) for t in stmt.targets):
            refuse("a chained assignment into array elements", stmt, "Write one assignment per line.")
    elif isinstance(stmt, (gast.AugAssign, gast.AnnAssign)):
        if not isinstance(stmt.target, gast.Name) and not _is_element(stmt.target):
            refuse("an augmented assignment to something other than a name or an array element", stmt,
                   "Assign to a plain variable.")
        if isinstance(stmt, gast.AnnAssign) and stmt.value is None:
            return
    if isinstance(stmt, gast.With):
        for item in stmt.items:
            _check_expression(item.context_expr)
        for inner in stmt.body:
            _check_statement(inner)
        return
    if isinstance(stmt, gast.Try):
        for inner in stmt.body + stmt.orelse + stmt.finalbody:
            _check_statement(inner)
        return  # the except clauses never run in generated code: a catch is refused when it happens
    if isinstance(stmt, (gast.Global, gast.Nonlocal)):
        return
    if isinstance(stmt, (gast.If, gast.For, gast.While)):
        if isinstance(stmt, gast.For) and not isinstance(stmt.target, (gast.Name, gast.Tuple, gast.List)):
            refuse("this loop target", stmt, "Loop over plain names.")
        for inner in stmt.body + stmt.orelse:
            _check_statement(inner)
        header = stmt.test if isinstance(stmt, (gast.If, gast.While)) else stmt.iter
        _check_expression(header)
        return
    _check_expression(stmt)


def _is_docstring(stmt):
    return isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)


def _check_expression(root):
    # f(*xs) and f(**d) are calls of call_unpacked in the normal form (normalize_functions.py)
    unpacked = {id(a) for n in gast.walk(root) if isinstance(n, gast.Call) for a in n.args
                if isinstance(a, gast.Starred)}
    scoped = None
    for child in gast.walk(root):
        if child is root and isinstance(root, gast.stmt):
            continue
        if isinstance(child, gast.Starred) and (isinstance(child.ctx, gast.Store) or id(child) in unpacked):
            continue  # a starred assignment target: `a, *rest = xs`, or an argument unpacked in a call
        if isinstance(child, gast.NamedExpr) and isinstance(child.target, gast.Name):
            # `(s := expr)` binds s in the function (normalize_expressions.py); inside a comprehension or a
            # lambda it binds in another scope than where it is written, which stays refused
            if scoped is None:
                scoped = {id(n) for scope in gast.walk(root) if isinstance(
                    scope, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda))
                    for n in gast.walk(scope) if isinstance(n, gast.NamedExpr)}
            if id(child) not in scoped:
                continue
        for kind, (what, hint) in _REFUSED.items():
            if isinstance(child, kind):
                refuse(what, child, hint)
        if isinstance(child, (gast.stmt,)) and child is not root:
            continue
        if isinstance(child, (gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            for generator in child.generators:
                if generator.is_async:
                    refuse("an async comprehension", child, "Write the loops out, appending to a list.")
                if not isinstance(generator.target, (gast.Name, gast.Tuple)):
                    refuse("this comprehension target", child, "Loop over plain names.")
        if isinstance(child, gast.Dict) and any(k is not None and not isinstance(k, gast.Constant) for k in child.keys):
            refuse("a dict display with computed keys", child, "Use constant keys.")


def _is_element(target):
    """``y[i]``, or an element of an element, ``rows[i][j]`` (refused by normalize unless ``rows`` is a
    list or dict made in the function, normalize_collections.py)."""
    while isinstance(target, gast.Subscript):
        target = target.value
    return isinstance(target, gast.Name)


def _names_only(target):
    """A target of names, unpacked: ``a, b``, ``a, *rest``, ``(a, b), c``."""
    if isinstance(target, gast.Name):
        return True
    if isinstance(target, gast.Starred):
        return isinstance(target.value, gast.Name)
    return isinstance(target, (gast.Tuple, gast.List)) and all(_names_only(e) for e in target.elts)


def _check_target(target):
    if isinstance(target, gast.Name) or _is_element(target):
        return
    if isinstance(target, (gast.Tuple, gast.List)) and _names_only(target):
        return
    if isinstance(target, gast.Subscript):
        refuse("assignment into an element of something other than a named array (a write into an element "
               "of an element, as `rows[0][1] = v`, whose inner list may be shared with other rows, as in "
               "`[[0.0] * 3] * 3`)", target,
               "Build an array and write into it by index (`a = np.array(rows); a[0, 1] = v`), or replace the "
               "whole row (`rows[0] = [rows[0][0], v]`).")
    if isinstance(target, gast.Attribute):
        refuse("assignment to an attribute (`obj.attr = ...`)", target,
               "Mutating objects inside a differentiated function is not tracked; return the new value.")
    refuse("this assignment target", target, "Assign to plain names or a tuple of names.")
