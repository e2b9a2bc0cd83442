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
    gast.If: ("an `if` statement", _CONTROL_FLOW_HINT),
    gast.For: ("a `for` loop", "This version differentiates straight-line code. Vectorize the loop "
               "with numpy, or unroll it."),
    gast.While: ("a `while` loop", "This version differentiates straight-line code. Vectorize the loop "
                 "with numpy."),
    gast.Try: ("a `try` statement", "Handle errors outside the differentiated function."),
    gast.With: ("a `with` block", "Move the `with` block outside the differentiated function."),
    gast.Raise: ("a `raise` statement", "Check inputs outside the differentiated function."),
    gast.Global: ("a `global` statement", "Pass the value in as an argument and return the new value."),
    gast.Nonlocal: ("a `nonlocal` statement", "Pass the value in as an argument and return the new value."),
    gast.FunctionDef: ("a nested function definition", "Define the helper at module level."),
    gast.ClassDef: ("a class definition", "Define the class at module level."),
    gast.Import: ("an `import` statement", "Import at module level."),
    gast.ImportFrom: ("an `import` statement", "Import at module level."),
    gast.IfExp: ("a conditional expression (`a if c else b`)", _CONTROL_FLOW_HINT),
    gast.BoolOp: ("`and`/`or`", _CONTROL_FLOW_HINT),
    gast.Lambda: ("a lambda inside the differentiated function", "Define the function at module level."),
    gast.ListComp: ("a list comprehension", "Use a vectorized numpy operation."),
    gast.SetComp: ("a set comprehension", "Use a vectorized numpy operation."),
    gast.DictComp: ("a dict comprehension", "Build the dict outside the differentiated function."),
    gast.GeneratorExp: ("a generator expression", "Use a vectorized numpy operation."),
    gast.Yield: ("`yield` (a generator)", "Return the values as a tuple or an array."),
    gast.YieldFrom: ("`yield from` (a generator)", "Return the values as a tuple or an array."),
    gast.Await: ("`await`", "Differentiate a plain synchronous function."),
    gast.Subscript: ("indexing (`x[...]`)", "Indexing arrives in the next version; for now use np.take, "
                     "reshape or a reduction, or index outside the differentiated function."),
    gast.Dict: ("a dict display", "Build the dict outside the differentiated function."),
    gast.Set: ("a set display", "Build the set outside the differentiated function."),
    gast.NamedExpr: ("an assignment expression (`:=`)", "Assign on its own line."),
    gast.Starred: ("a starred expression (`*args`)", "Pass the arguments one by one."),
}

_ALLOWED_STATEMENTS = (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Return, gast.Expr, gast.Pass,
                       gast.Assert, gast.Delete)


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
    elif isinstance(stmt, (gast.AugAssign, gast.AnnAssign)):
        if not isinstance(stmt.target, gast.Name):
            refuse("an augmented assignment to something other than a name", stmt,
                   "Assign to a plain variable.")
        if isinstance(stmt, gast.AnnAssign) and stmt.value is None:
            return
    for child in gast.walk(stmt):
        if child is stmt:
            continue
        for kind, (what, hint) in _REFUSED.items():
            if isinstance(child, kind):
                refuse(what, child, hint)
        if isinstance(child, gast.Call):
            if any(isinstance(a, gast.Starred) for a in child.args):
                refuse("a call with *args", child, "Pass the arguments one by one.")
            if any(k.arg is None for k in child.keywords):
                refuse("a call with **kwargs", child, "Pass the keyword arguments one by one.")


def _check_target(target):
    if isinstance(target, gast.Name):
        return
    if isinstance(target, (gast.Tuple, gast.List)) and all(isinstance(e, gast.Name) for e in target.elts):
        return
    if isinstance(target, gast.Subscript):
        refuse("assignment into an array element (`x[i] = ...`)", target,
               "Subscript assignment arrives in the next version; build the array with np.where or "
               "np.concatenate for now.")
    if isinstance(target, gast.Attribute):
        refuse("assignment to an attribute (`obj.attr = ...`)", target,
               "Mutating objects inside a differentiated function is not tracked; return the new value.")
    refuse("this assignment target", target, "Assign to plain names or a tuple of names.")
