"""Filled cotangents whose run-time check the static kinds settle (a pass over the forward and backward
statements, run by the pipeline after compiler/filled_cotangent.py).

``fill_divide(v, s, d)`` and ``fill_multiply(v, s, d[, c])`` (runtime/shapes.py) compute ``v / d`` or
``v * c * d`` where ``fill_is_exact(v, s, d)`` holds, and fill an array first otherwise. A mean's cotangent
``e_bar = fill_divide(g / reduced_count(s, None), s, 1 + e)``, with ``s = shape_of(e)`` kept by the forward
pass, is settled before the code runs where:

- ``s`` is bound once, at the top of the forward pass, to ``shape_of(e)``, and the backward pass does not
  bind it; ``e`` is bound once in the function, a float64 numpy array of rank 1 or more (compiler/kinds.py),
  and the backward pass does not bind it either: ``s`` is ``e``'s shape and dtype where the fill is read;
- ``d`` is ``e`` itself, or ``e`` with a number constant on either side of ``+ - * /``: a float64 ndarray of
  ``e``'s shape;
- ``v`` is a float constant, or a name bound once to one, divided by ``reduced_count(s, None)``: a Python
  float.

That is every condition ``fill_is_exact`` checks. The statement becomes ``e_bar = g / e.size / (1 + e)``,
the same operations in the same order; where ``s`` is then read nowhere, the forward pass no longer keeps it.
The value ``d`` reads ``e``, so ``e`` lives no longer than before.
"""

import gast

from ..runtime.shapes import fill_divide, fill_multiply, reduced_count, shape_of
from .ir import walk_tree
from .kinds import ARRAY

_D_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)


def settle_exact_fills(forward, backward, facts, helpers, intake=()):
    """``forward`` and ``backward`` with each provable fill computed without its check (lists changed in
    place and returned)."""
    names = {helpers.given_name(f): f for f in (fill_divide, fill_multiply, reduced_count, shape_of)}
    names.pop(None, None)
    if not any(f in names.values() for f in (fill_divide, fill_multiply)):
        return forward, backward
    fills = [stmt for stmt in backward if _fill(stmt, names) is not None]
    if not fills:  # most backward passes have none: no walk over the statements
        return forward, backward
    helper = {f: name for name, f in names.items()}
    stored = _stores(list(backward) + list(intake))
    shapes = _shapes(forward, helper.get(shape_of))
    floats = _float_names(list(intake) + list(backward))
    settled = set()
    for stmt in fills:
        fn, (v, s, d, *scale) = _fill(stmt, names)
        if not (isinstance(s, gast.Name) and s.id in shapes and s.id not in stored):
            continue
        source = shapes[s.id]
        kind = facts.kinds.kind(source)
        if not (kind.kind == ARRAY and kind.rank and kind.dtype == "float64" and facts.kinds.bound_once(source)
                and source not in stored and _reads_source(d, source)):
            continue
        number = _float_over_count(v, s.id, floats, helper.get(reduced_count))
        if number is None:
            continue
        size = gast.Attribute(value=_load(source), attr="size", ctx=gast.Load())
        v = gast.BinOp(left=number, op=gast.Div(), right=size) if number is not v else v
        if fn is fill_divide:
            value = gast.BinOp(left=v, op=gast.Div(), right=d)
        elif scale and not (isinstance(scale[0], gast.Constant) and scale[0].value == 1):
            value = gast.BinOp(left=gast.BinOp(left=v, op=gast.Mult(), right=scale[0]), op=gast.Mult(), right=d)
        else:
            value = gast.BinOp(left=v, op=gast.Mult(), right=d)  # v * 1 is v, to the last bit
        stmt.value = value
        settled.add(s.id)
    read = {n.id for stmt in backward for n in walk_tree(stmt) if isinstance(n, gast.Name)}
    unread = settled - read
    if unread:
        forward[:] = [stmt for stmt in forward if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                                                       and isinstance(stmt.targets[0], gast.Name)
                                                       and stmt.targets[0].id in unread)]
    return forward, backward


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _stores(statements):
    return {n.id for stmt in statements for n in walk_tree(stmt)
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}


def _shapes(forward, shape_name):
    """``{s: e}`` for the names the forward pass binds once, at its top level, to ``shape_of(e)``."""
    count = {}
    for stmt in forward:
        for node in walk_tree(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
                count[node.id] = count.get(node.id, 0) + 1
    found = {}
    for stmt in forward:
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
                and isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Name) \
                and stmt.value.func.id == shape_name and len(stmt.value.args) == 1 and not stmt.value.keywords \
                and isinstance(stmt.value.args[0], gast.Name) and count.get(stmt.targets[0].id) == 1:
            found[stmt.targets[0].id] = stmt.value.args[0].id
    return found


def _float_names(statements):
    """Names bound once, to a float constant (the seed ``out_bar = 1.0``)."""
    values = {}
    for stmt in statements:
        for node in walk_tree(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                values.setdefault(node.id, []).append(node)
    floats = set()
    for stmt in statements:
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
                and isinstance(stmt.value, gast.Constant) and type(stmt.value.value) is float \
                and len(values.get(stmt.targets[0].id, ())) == 1:
            floats.add(stmt.targets[0].id)
    return floats


def _fill(stmt, names):
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
            and isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Name) \
            and not stmt.value.keywords:
        fn = names.get(stmt.value.func.id)
        args = stmt.value.args
        if fn is fill_divide and len(args) == 3 or fn is fill_multiply and len(args) in (3, 4):
            return fn, args
    return None


def _reads_source(d, source):
    """``d`` is ``source``, or ``source`` with a number constant on one side of ``+ - * /``."""
    if isinstance(d, gast.Name):
        return d.id == source
    if isinstance(d, gast.BinOp) and isinstance(d.op, _D_OPS):
        sides = (d.left, d.right)
        return any(isinstance(a, gast.Name) and a.id == source for a in sides) and any(
            isinstance(b, gast.Constant) and type(b.value) in (int, float) for b in sides)
    return False


def _float_over_count(v, shape, floats, count_name):
    """The float ``g`` where ``v`` is ``g / reduced_count(shape, None)`` (``g`` a float constant or a name
    bound once to one); ``v`` itself where it is a float constant; else None."""
    if isinstance(v, gast.Constant) and type(v.value) is float:
        return v
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, gast.Div) and isinstance(v.right, gast.Call)):
        return None
    call = v.right
    if not (isinstance(call.func, gast.Name) and call.func.id == count_name and not call.keywords
            and 1 <= len(call.args) <= 2 and isinstance(call.args[0], gast.Name) and call.args[0].id == shape
            and all(isinstance(a, gast.Constant) and a.value is None for a in call.args[1:])):
        return None
    g = v.left
    if isinstance(g, gast.Constant) and type(g.value) is float or isinstance(g, gast.Name) and g.id in floats:
        return g
    return None
