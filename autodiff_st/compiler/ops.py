"""Small questions about the normal form (ir.py), asked by the analysis and by both transforms.

Reads ops, atoms and displays; produces names, paths and words for messages. Nothing here keeps state.
"""

import ast
import operator

import gast

from .ir import Break, If, load, walk_tree

BINARY_PRIMITIVES = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Div: operator.truediv,
    gast.MatMult: operator.matmul, gast.Pow: operator.pow, gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv, gast.BitAnd: operator.and_, gast.BitOr: operator.or_,
    gast.BitXor: operator.xor, gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
UNARY_PRIMITIVES = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
                    gast.Invert: operator.invert}


def names_in(node):
    return [n.id for n in walk_tree(node) if isinstance(n, gast.Name)]


def targets(op):
    """The names an op binds or changes: a "setitem", "append" or "pop" changes its target too."""
    if op.kind in ("assign", "setitem", "append", "pop"):
        return (op.target,)
    if op.kind == "unpack":
        return tuple(op.target)
    return ()


def loop_bound(loop):
    """The names a loop's header binds each iteration: its index, if any, and its targets."""
    return ([loop.index] if loop.index else []) + list(loop.targets)


def breaks(nodes):
    """Whether a loop body may leave the loop early."""
    for node in nodes:
        if isinstance(node, Break):
            return True
        if isinstance(node, If) and (breaks(node.body) or breaks(node.orelse)):
            return True
    return False


def tag(node, origin):
    node.origin = origin
    return node


def leaves(node, path=()):
    """The atoms of a (possibly nested) tuple, list or dict display, with their index paths."""
    if isinstance(node, (gast.Tuple, gast.List)):
        for i, elt in enumerate(node.elts):
            yield from leaves(elt, path + (i,))
    elif isinstance(node, gast.Dict):
        for key, value in zip(node.keys, node.values):
            yield from leaves(value, path + (key.value,))
    else:
        yield path, node


def part(name, path):
    """``name[k1][k2]...``: the cotangent of the element at ``path`` of a display's cotangent."""
    node = load(name)
    for key in path:
        node = gast.Subscript(value=node, slice=gast.Constant(value=key, kind=None), ctx=gast.Load())
    return node


def call_name(call):
    """A word for what a call calls, for the names of its results: for the helpers through which generated
    code calls a function (``call_vjp_forward(helper, ...)``), the function's name."""
    name = call.func.attr if isinstance(call.func, gast.Attribute) else getattr(call.func, "id", "call")
    if name.startswith(("call_vjp_forward", "call_jvp")) and call.args and isinstance(call.args[0], (gast.Name,
                                                                                                  gast.Attribute)):
        return call_name(gast.Call(func=call.args[0], args=[], keywords=[]))
    return name


def call_text(call):
    try:
        return ast.unparse(gast.gast_to_ast(call.func))
    except Exception:
        return "this function"
