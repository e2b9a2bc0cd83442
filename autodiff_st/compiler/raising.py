"""Which statements of the normal form cannot raise, part of the analysis (analyze.py).

A generated pass leaves out a statement whose value nothing reads: the value where only the gradient
is asked for, a tangent nobody needs. Python runs every statement, so a statement left out must be one
that cannot raise: otherwise the user's function raises (``x[k]`` out of range, ``1.0 / k`` with
``k == 0``, ``np.linalg.inv`` of a singular matrix, shapes that do not broadcast) where the transform
would return a derivative. ``cannot_raise(facts, op)`` holds only where the static kinds (kinds.py) prove
it:

- a name, a constant, a tuple or list of them, a dict of them with constant keys;
- ``.shape``, ``.ndim``, ``.size``, ``.dtype``, ``.T``, ``.real``, ``.imag`` of an array;
- a length of a shape of known rank at a constant position; a slice of an array of known rank by slices
  whose bounds are integers and whose step, if any, is a constant other than 0; ``x[i]`` where ``i``
  walks ``range(len(x))`` or ``range(x.shape[0])`` and neither ``x`` nor ``i`` is bound elsewhere;
- ``-v`` and ``+v`` of a Python number or a float64 array;
- ``+``, ``-``, ``*`` of Python numbers; any arithmetic operator between a float64 array and a Python
  number or another float64 array of rank 0 (numpy reports overflow and division by zero as warnings);
- a numpy ufunc of float64 arrays and Python numbers, one of them of rank 0 where two are arrays, and
  its forms on numbers (``sin_of_number``, rules/math_builtins.py), which give numpy's value and warning;
- ``range`` of one to three ints, with a constant step other than 0 (``range_cannot_raise``);
- ``np.sum``, ``np.mean``, ``np.prod`` (and their nan forms) of a float64 array over every axis or over
  one constant axis it has, and the methods ``.sum()``, ``.mean()``, ``.prod()`` without arguments.

Everything else is kept. numpy's error state (``np.seterr(all="raise")``) is not followed: under it a
left-out ``np.exp`` that overflows does not raise (docs/python-support.md).
"""

import gast
import numpy as np

from .kinds import ARRAY, INT_KIND, NUMBER, NUMBER_KIND, SHAPE

_ATTRIBUTES = frozenset({"shape", "ndim", "size", "dtype", "T", "real", "imag"})
_NUMBER_OPERATORS = (gast.Add, gast.Sub, gast.Mult)
_ARRAY_OPERATORS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.FloorDiv, gast.Mod)
_REDUCTIONS = frozenset({np.sum, np.mean, np.prod, np.nansum, np.nanmean, np.nanprod})
_REDUCTION_METHODS = frozenset({"sum", "mean", "prod"})


def cannot_raise(facts, op):
    """Whether the assignment ``op`` certainly runs without raising (see the module's docstring)."""
    if op.kind != "assign":
        return False
    value = op.value
    kinds = facts.kinds

    def kind(node):
        if isinstance(node, gast.Constant):
            return INT_KIND if type(node.value) is int else NUMBER_KIND if type(node.value) in (float, bool) else None
        if isinstance(node, gast.Name):
            return kinds.kind(node.id)
        return None

    def number(node):
        k = kind(node)
        return k is not None and k.kind == NUMBER

    def float64_array(node, rank=None):
        k = kind(node)
        return k is not None and k.kind == ARRAY and k.dtype == "float64" and (rank is None or k.rank == rank)

    def elementwise(operands, numbers_only=False):
        # float64 arrays and numbers that broadcast: at most one array of rank > 0
        arrays = [a for a in operands if not number(a)]
        if not arrays and not numbers_only or not all(float64_array(a) for a in arrays):
            return False
        return sum(1 for a in arrays if not float64_array(a, 0)) <= 1

    if isinstance(value, (gast.Name, gast.Constant)):
        return True
    if isinstance(value, (gast.Tuple, gast.List)):
        return all(isinstance(e, (gast.Name, gast.Constant)) for e in value.elts)
    if isinstance(value, gast.Dict):
        return all(isinstance(k, gast.Constant) for k in value.keys) and \
            all(isinstance(v, (gast.Name, gast.Constant)) for v in value.values)
    if isinstance(value, gast.Attribute):
        base = kind(value.value)
        return value.attr in _ATTRIBUTES and base is not None and base.kind == ARRAY
    if isinstance(value, gast.Subscript):
        return _safe_subscript(kind(value.value), value.slice, kind) or _in_range(facts, value)
    if isinstance(value, gast.UnaryOp):
        return isinstance(value.op, (gast.USub, gast.UAdd)) and (number(value.operand) or float64_array(value.operand))
    if isinstance(value, gast.BinOp):
        if number(value.left) and number(value.right):
            return isinstance(value.op, _NUMBER_OPERATORS)
        return isinstance(value.op, _ARRAY_OPERATORS) and elementwise([value.left, value.right])
    if isinstance(value, gast.Call):
        callee = facts.callees.get(id(op))
        if callee is None or value.keywords:
            return False
        if callee.kind == "method":
            return value.func.attr in _REDUCTION_METHODS and not value.args and float64_array(value.func.value)
        if callee.kind != "rule":
            return False
        fn = callee.obj
        if getattr(fn, "on_numbers", False):  # np.sin of a number, computed by math (rules/math_builtins.py)
            return all(number(a) for a in value.args)
        if type(fn) is np.ufunc:  # of Python numbers too: a numpy scalar, never an error
            return fn.nout == 1 and len(value.args) == fn.nin and elementwise(value.args, numbers_only=True)
        if any(fn is r for r in _REDUCTIONS) and value.args and float64_array(value.args[0]):
            if len(value.args) == 1:
                return True
            axis, rank = value.args[1], kind(value.args[0]).rank
            return len(value.args) == 2 and isinstance(axis, gast.Constant) and type(axis.value) is int \
                and rank is not None and -rank <= axis.value < rank
    return False


def range_cannot_raise(facts, args):
    """Whether ``range(*args)`` certainly runs: one to three ints (``range(2.5)`` raises TypeError)."""
    return 1 <= len(args) <= 3 and all(
        isinstance(a, gast.Constant) and type(a.value) is int
        or isinstance(a, gast.Name) and facts.kinds.kind(a.id) == INT_KIND for a in args) and not (
        len(args) == 3 and not (isinstance(args[2], gast.Constant) and args[2].value != 0))


def _in_range(facts, value):
    """``x[i]`` (or ``x[i, a:b]``) where ``i`` walks ``range(len(x))`` or ``range(x.shape[0])``: ``x`` an array
    bound once, ``i`` bound by that loop alone, so that every ``i`` indexes ``x``'s first axis."""
    base, index = value.value, value.slice
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    if not (isinstance(base, gast.Name) and isinstance(parts[0], gast.Name)):
        return False
    kinds = facts.kinds
    kind = kinds.kind(base.id)
    if kind.kind != ARRAY or kind.rank is None or len(parts) > kind.rank or not kinds.bound_once(base.id):
        return False
    if not all(_safe_subscript(kind, gast.Tuple(elts=[p], ctx=gast.Load()), kinds.kind) for p in parts[1:]):
        return False
    return base.id in _range_over_first_axis(facts).get(parts[0].id, ())


def _range_over_first_axis(facts):
    """loop target -> the arrays whose first axis its range walks: ``for i in range(len(x))`` and
    ``for i in range(x.shape[0])`` with ``i`` and the length bound nowhere else, and the position of a loop
    over arrays (computed once per facts)."""
    found = getattr(facts, "_range_over_first_axis", None)
    if found is not None:
        return found
    found = {}
    ops = facts.body_ops + [op for ops in facts.header_ops.values() for op in ops]
    bindings = {}
    for op in ops:
        for name in (op.target,) if op.kind == "assign" else ():
            bindings.setdefault(name, []).append(op)
    counts = {}
    for loop in facts.loops:
        for name in list(loop.targets) + ([loop.index] if loop.index else []):
            counts[name] = counts.get(name, 0) + 1

    def single(name):
        defs = bindings.get(name, [])
        return defs[0] if len(defs) == 1 and counts.get(name, 0) == 0 else None

    for loop in facts.loops:
        if getattr(loop, "indexed", False) and loop.index and counts.get(loop.index) == 1 \
                and loop.index not in bindings:  # the user's `for i, row in enumerate(xs)` may rebind i
            # ``for row in xs`` over a differentiated sequence: ``row = xs[position]``, ``position`` walking
            # ``range(len(xs))`` (the shortest of them, for zip)
            found[loop.index] = {src.id for src in loop.sources if isinstance(src, gast.Name)}
            continue
        if len(loop.range_args) != 1 or not isinstance(loop.range_args[0], gast.Name) or len(loop.targets) != 1:
            continue
        target = loop.targets[0]
        if counts.get(target) != 1 or target in bindings or target in facts.params:
            continue
        stop = single(loop.range_args[0].id)
        if stop is None:
            continue
        array = None
        callee = facts.callees.get(id(stop))
        if isinstance(stop.value, gast.Call) and callee is not None and callee.obj is len \
                and len(stop.value.args) == 1 and isinstance(stop.value.args[0], gast.Name):
            array = stop.value.args[0].id
        elif isinstance(stop.value, gast.Subscript) and isinstance(stop.value.value, gast.Name) \
                and isinstance(stop.value.slice, gast.Constant) and stop.value.slice.value == 0:
            shape = single(stop.value.value.id)
            if shape is not None and isinstance(shape.value, gast.Attribute) and shape.value.attr == "shape" \
                    and isinstance(shape.value.value, gast.Name):
                array = shape.value.value.id
        if array is not None:
            found[target] = {array}
    facts._range_over_first_axis = found
    return found


def _safe_subscript(base, index, kind):
    if base is None:
        return False
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    if base.kind == SHAPE:
        return len(parts) == 1 and isinstance(index, gast.Constant) and type(index.value) is int \
            and -base.rank <= index.value < base.rank
    if base.kind != ARRAY or base.rank is None or len(parts) > base.rank:
        return False

    def integer(bound):
        if bound is None:
            return True
        if isinstance(bound, gast.Constant):
            return bound.value is None or type(bound.value) is int
        return isinstance(bound, gast.Name) and kind(bound) == INT_KIND

    def step(bound):  # a step of 0 raises
        return bound is None or isinstance(bound, gast.Constant) and (
            bound.value is None or type(bound.value) is int and bound.value != 0)

    return all(isinstance(p, gast.Slice) and integer(p.lower) and integer(p.upper) and step(p.step) for p in parts)
