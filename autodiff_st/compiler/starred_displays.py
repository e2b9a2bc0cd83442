"""Starred items in list and tuple displays, ``[*xs, y]`` and ``(*head, tail)``, written with the helpers
of lists before the rest of the compiler reads the function.

Python builds ``[*a, b, *c]`` as ``list(a) + [b] + list(c)``: each starred item is walked into the new list
in order, the others are put in as they are. The rewrite says exactly that, with ``list`` and
``concatenated`` (runtime/containers.py, the normal form's ``+`` of lists, which has derivative rules in
both modes), and a tuple display becomes ``tuple`` of that list. The items are evaluated left to right, as
Python evaluates them. What the normal form then does with lists (``np.array([*y[:2], v])`` stacks the
items, ``xs = [*xs, v]`` is a new list) follows from there.

Only displays that are read are rewritten: a starred assignment target (``a, *rest = xs``) and an argument
unpacked in a call (``f(*args)``) have their own lowering, and a set display keeps its refusal.
"""

import builtins

import gast

from ..runtime.containers import concatenated
from .scope import helper_name


def lower_starred_displays(node):
    """Rewrite, in place, every list or tuple display under ``node`` that holds a starred item."""
    _Lowering().visit(node)


class _Lowering(gast.NodeTransformer):
    def visit_List(self, node):
        self.generic_visit(node)
        return _lowered(node) if _has_starred(node) else node

    def visit_Tuple(self, node):
        self.generic_visit(node)
        return _lowered(node) if _has_starred(node) else node


def _has_starred(node):
    return isinstance(node.ctx, gast.Load) and any(isinstance(e, gast.Starred) for e in node.elts)


def _lowered(node):
    pieces, run = [], []
    for element in node.elts:
        if isinstance(element, gast.Starred):
            if run:
                pieces.append(gast.List(elts=run, ctx=gast.Load()))
                run = []
            pieces.append(_call(builtins.list, "list", [element.value]))
        else:
            run.append(element)
    if run:
        pieces.append(gast.List(elts=run, ctx=gast.Load()))
    result = pieces[0]
    for piece in pieces[1:]:
        result = _call(concatenated, "concatenated", [result, piece])
    if isinstance(node, gast.Tuple):
        return _call(builtins.tuple, "tuple", [result])
    return result


def _call(obj, name, args):
    return gast.Call(func=helper_name(obj, name), args=args, keywords=[])
