"""The cotangent of a full reduction, read once by a product or a quotient, left a number where numpy
gives the same array (a pass over the backward statements, run by the pipeline).

``np.mean(v)`` and ``np.sum(v)`` give ``v`` the cotangent ``a_bar = expand_reduced(g, v_shape, None,
False)``: ``np.full(v.shape, g)``, one filled array. When the statement right after it is the only one
that reads ``a_bar``, and reads it as ``a_bar / d``, ``a_bar * d``, ``d * a_bar`` or ``a_bar * c * d``
(``c`` an int or float constant, as the rule of ``x ** 2`` writes), the two become one call,
``fill_divide(g, v_shape, d)`` or ``fill_multiply(g, v_shape, d[, c])`` (runtime/shapes.py). At run time
that computes ``g / d`` (or ``g * c * d``), with no filled array, where that is provably the same array:
``d`` a float64 ndarray of ``v``'s shape and the fill float64, so that every element is the same IEEE
operation on the same numbers; anything else (float32, a ``d`` that broadcasts, a batched value) fills
the array first, exactly as before. A logistic loss ``np.mean(np.log1p(e))`` then reads
``e_bar = fill_divide(g, s, 1 + e)``, as a hand adjoint divides ``g / (1 + e)``.

Why the reader must be the next statement and the only one: then the filled array exists for nothing
else (it is not returned, indexed, reshaped, taped or read in a later iteration), and the fold keeps the
order of evaluation. The helpers have rules (rules/adjoint_helpers.py), so a gradient that reads them is
differentiated again like any other.
"""

import gast

from ..runtime.shapes import expand_reduced, fill_divide, fill_multiply
from .ir import walk_tree


def fuse_filled_cotangents(statements, helpers, protected=()):
    """``statements`` (the backward pass) with each filled cotangent read once by a ``*`` or ``/`` in the
    next statement folded into that operation. Names in ``protected`` (the gradients returned) stay."""
    counts = {}
    for stmt in statements:
        for node in walk_tree(stmt):
            if isinstance(node, gast.Name):
                counts[node.id] = counts.get(node.id, 0) + 1
    names = (helpers.name_for(expand_reduced, "expand_reduced"), helpers.name_for(fill_divide, "fill_divide"),
             helpers.name_for(fill_multiply, "fill_multiply"))
    return _rewrite(statements, counts, names, set(protected))


def _rewrite(statements, counts, names, protected):
    result = []
    skip = False
    for k, stmt in enumerate(statements):
        if skip:
            skip = False
            continue
        if isinstance(stmt, (gast.For, gast.While, gast.If)):
            stmt.body = _rewrite(stmt.body, counts, names, protected)
            stmt.orelse = _rewrite(stmt.orelse, counts, names, protected)
        filled = _filled(stmt, names[0])
        if filled is not None and k + 1 < len(statements):
            target, value, shape = filled
            if counts.get(target) == 2 and target not in protected \
                    and _fold_into(statements[k + 1], target, value, shape, names):
                result.append(statements[k + 1])
                skip = True
                continue
        result.append(stmt)
    return result


def _filled(stmt, expand):
    """``(a_bar, g, shape)`` where ``stmt`` is ``a_bar = expand_reduced(g, shape, None, False)``."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return None
    call = stmt.value
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name) and call.func.id == expand
            and not call.keywords and len(call.args) in (2, 3, 4)):
        return None
    defaults = (None, False)
    for arg, default in zip(call.args[2:], defaults):
        if not (isinstance(arg, gast.Constant) and arg.value is default):
            return None
    if any(isinstance(n, gast.Name) and n.id == stmt.targets[0].id for arg in call.args for n in walk_tree(arg)):
        return None
    return stmt.targets[0].id, call.args[0], call.args[1]


def _fold_into(stmt, target, value, shape, names):
    """Replace, in ``stmt``, the one operation ``target / d``, ``target * d`` or ``d * target`` with the fused
    call; False (and ``stmt`` unchanged) where ``target`` is read some other way."""
    if isinstance(stmt, (gast.For, gast.While, gast.If, gast.With, gast.Try)):
        return False  # read in a nested block: it may run any number of times
    for parent in walk_tree(stmt):
        for field, child, index in _children(parent):
            if not (isinstance(child, gast.BinOp) and isinstance(child.op, (gast.Div, gast.Mult))):
                continue
            left = isinstance(child.left, gast.Name) and child.left.id == target
            right = isinstance(child.right, gast.Name) and child.right.id == target
            scaled = _scaled(child.left, target)
            if isinstance(child.op, gast.Div) and left:
                helper, args = names[1], [value, shape, child.right]
            elif isinstance(child.op, gast.Mult) and (left or right) and not (left and right):
                helper, args = names[2], [value, shape, child.right if left else child.left]
            elif isinstance(child.op, gast.Mult) and scaled is not None:
                helper, args = names[2], [value, shape, child.right, scaled]  # (a_bar * 2) * d
            else:
                continue
            call = gast.Call(func=gast.Name(id=helper, ctx=gast.Load(), annotation=None, type_comment=None),
                             args=args, keywords=[])
            if index is None:
                setattr(parent, field, call)
            else:
                getattr(parent, field)[index] = call
            return True
    return False


def _scaled(node, target):
    """The constant ``c`` where ``node`` is ``target * c`` with ``c`` an int or float written in the code."""
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult) and isinstance(node.left, gast.Name) \
            and node.left.id == target and isinstance(node.right, gast.Constant) \
            and type(node.right.value) in (int, float):
        return node.right
    return None


def _children(node):
    """``(field, child, index)`` for each child node of ``node``; ``index`` None for a single child."""
    for field, value in gast.iter_fields(node):
        if isinstance(value, list):
            for index, child in enumerate(value):
                yield field, child, index
        else:
            yield field, value, None
