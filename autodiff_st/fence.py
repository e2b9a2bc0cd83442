"""Stage 2, fence: decide what the compiler supports, and refuse the rest before any transformation.

The fence and the transformer must agree: anything the fence lets through, the later stages handle.
So the fence is a whitelist, and each refusal names the construct, points at the user's line and says
what to write instead.
"""

import gast

from .errors import UnsupportedSyntaxError
from .parsing import origin_of

_CONTROL_FLOW_HINT = (
    "This version differentiates straight-line code. Express the branch with np.where, "
    "np.maximum or a vectorized numpy operation, or move it outside the differentiated function."
)

_REFUSED = {
    gast.Try: ("a `try` statement", "Handle errors outside the differentiated function."),
    gast.With: ("a `with` block", "Move the `with` block outside the differentiated function."),
    gast.Raise: ("a `raise` statement", "Check inputs outside the differentiated function."),
    gast.Global: ("a `global` statement", "Pass the value in as an argument and return the new value."),
    gast.Nonlocal: ("a `nonlocal` statement", "Pass the value in as an argument and return the new value."),
    gast.FunctionDef: ("a nested function definition", "Define the helper at module level."),
    gast.ClassDef: ("a class definition", "Define the class at module level."),
    gast.Import: ("an `import` statement", "Import at module level."),
    gast.ImportFrom: ("an `import` statement", "Import at module level."),
    gast.Lambda: ("a lambda inside the differentiated function", "Define the function at module level."),
    gast.ListComp: ("a list comprehension", "Use a vectorized numpy operation."),
    gast.SetComp: ("a set comprehension", "Use a vectorized numpy operation."),
    gast.DictComp: ("a dict comprehension", "Build the dict outside the differentiated function."),
    gast.GeneratorExp: ("a generator expression", "Use a vectorized numpy operation."),
    gast.Yield: ("`yield` (a generator)", "Return the values as a tuple or an array."),
    gast.YieldFrom: ("`yield from` (a generator)", "Return the values as a tuple or an array."),
    gast.Await: ("`await`", "Differentiate a plain synchronous function."),
    gast.Dict: ("a dict display", "Build the dict outside the differentiated function."),
    gast.Set: ("a set display", "Build the set outside the differentiated function."),
    gast.NamedExpr: ("an assignment expression (`:=`)", "Assign on its own line."),
    gast.Starred: ("a starred expression (`*args`)", "Pass the arguments one by one."),
}

_ALLOWED_STATEMENTS = (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Return, gast.Expr, gast.Pass,
                       gast.Assert, gast.Delete, gast.If, gast.For, gast.While, gast.Break, gast.Continue)


def refuse(what, node, hint):
    raise UnsupportedSyntaxError(f"autodiff_st cannot differentiate {what}.", origin=origin_of(node), hint=hint)


def check_function(node):
    """Raise ``UnsupportedSyntaxError`` at the first construct of ``node`` the compiler does not support."""
    args = node.args
    if args.vararg is not None:
        refuse("a function with *args", node, "Name each argument, or pack them into one array.")
    if args.kwarg is not None:
        refuse("a function with **kwargs", node, "Name each keyword argument.")
    for stmt in node.body:
        _check_statement(stmt)


def _check_statement(stmt):
    for kind, (what, hint) in _REFUSED.items():
        if isinstance(stmt, kind):
            refuse(what, stmt, hint)
    if not isinstance(stmt, _ALLOWED_STATEMENTS):
        refuse(f"a `{type(stmt).__name__}` statement", stmt, "Rewrite it as assignments and calls.")
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
    if isinstance(stmt, (gast.If, gast.For, gast.While)):
        if isinstance(stmt, gast.For) and not isinstance(stmt.target, (gast.Name, gast.Tuple, gast.List)):
            refuse("this loop target", stmt, "Loop over plain names.")
        for inner in stmt.body + stmt.orelse:
            _check_statement(inner)
        header = stmt.test if isinstance(stmt, (gast.If, gast.While)) else stmt.iter
        _check_expression(header)
        return
    _check_expression(stmt)


def _check_expression(root):
    for child in gast.walk(root):
        if child is root and isinstance(root, gast.stmt):
            continue
        for kind, (what, hint) in _REFUSED.items():
            if isinstance(child, kind):
                refuse(what, child, hint)
        if isinstance(child, (gast.stmt,)) and child is not root:
            continue
        if isinstance(child, gast.Call):
            if any(isinstance(a, gast.Starred) for a in child.args):
                refuse("a call with *args", child, "Pass the arguments one by one.")
            if any(k.arg is None for k in child.keywords):
                refuse("a call with **kwargs", child, "Pass the keyword arguments one by one.")


def _is_element(target):
    return isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)


def _check_target(target):
    if isinstance(target, gast.Name) or _is_element(target):
        return
    if isinstance(target, (gast.Tuple, gast.List)) and all(isinstance(e, gast.Name) for e in target.elts):
        return
    if isinstance(target, gast.Subscript):
        refuse("assignment into an element of something other than a named array", target,
               "Give the array a name first: `y = ...; y[i] = v`.")
    if isinstance(target, gast.Attribute):
        refuse("assignment to an attribute (`obj.attr = ...`)", target,
               "Mutating objects inside a differentiated function is not tracked; return the new value.")
    refuse("this assignment target", target, "Assign to plain names or a tuple of names.")
