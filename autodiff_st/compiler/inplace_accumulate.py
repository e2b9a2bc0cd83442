"""Index gradients added in place, where the static facts prove what the run-time checks of
``accumulate_index`` would find (a pass over the backward statements, run by the pipeline).

A read ``x[index]`` accumulates ``x_bar = accumulate_index(x_bar, x_part_bar, x, np.index_exp[index])``
(backward.py). ``accumulate_index`` (runtime/indexing.py) adds into ``x_bar`` in place when it is an array
that owns its memory, that nothing else refers to, of ``x``'s shape, the index is basic and the value real.
The statement becomes ``x_bar[index] += x_part_bar`` where all of that is proved before the code runs:

- ownership: a forward scan of the backward statements follows each name bound to a fresh array,
  ``x_bar = zeros_like(x)`` or ``x_bar = index_grad(v, x, index)``, of a float64 numpy array ``x`` of
  rank 1 or more (compiler/kinds.py). The name stays owned while every statement that mentions it is
  such an accumulation into it (a loop or branch is entered with it only where its body mentions it in no
  other way) and nothing binds ``x`` again; any other mention (a read, a tape, ``del``) ends it, and so
  does an accumulation left to the helper. A fresh array that only accumulations have seen is still the
  one object its name holds, of ``x``'s shape;
- the index: integers (int constants, names of int kind) and slices of those or None, nothing else;
- the value: real, as the backward pass binds it (``_Reals``): constants, forward names the kinds prove
  real (compiler/kinds.py ``is_real``), arithmetic on real values, the rules of numbers
  (``cos_of_number``), numpy's ufuncs, and the cotangent helpers that keep the dtype of the cotangent they
  are given (``unbroadcast``, ``split_like``, ``index_grad`` into a real array, ...). A real value added
  into a real or complex array in place gives what the out-of-place sum gives, element for element.

The call, its checks and the ``np.index_exp`` tuple are then gone from each read.
"""

import gast
import numpy as np

from ..runtime import shapes
from ..runtime.cotangents import as_parts, ones_like, zeros_like
from ..runtime.indexing import accumulate_index, index_grad
from ..runtime.joining import split_like, unstack
from .ir import walk_tree
from .kinds import ARRAY, INT_KIND
from .parsing import origin_of

_REAL_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.MatMult)


def accumulate_in_place(statements, facts, helpers, intake=(), forward=()):
    """``statements`` (the backward pass, run after the statements ``intake``, which bind the seed or the
    cotangent, and after the forward pass ``forward``) with each provable accumulation made in place."""
    names = _HelperNames(helpers)
    if names.accumulate is None:
        return statements
    reals = _Reals(list(intake) + list(statements), facts, names, forward)
    _Scan(facts, names, reals).block(statements, {})
    return statements


class _HelperNames:
    """The names the generated code gives the helpers this pass reads, and the objects its names stand for."""

    def __init__(self, helpers):
        self.objects = helpers.named
        self.accumulate = helpers.given_name(accumulate_index)
        self.zeros = helpers.given_name(zeros_like)
        self.index_grad = helpers.given_name(index_grad)
        self.numbers_rules = {name for name, obj in helpers.named.items() if getattr(obj, "on_numbers", False)}
        self.given = helpers.given_name

    def obj(self, node):
        """The object a call's function names: a helper, or ``np.<name>`` through the numpy it refers to."""
        if isinstance(node, gast.Name):
            return self.objects.get(node.id)
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) \
                and self.objects.get(node.value.id) is np:
            return getattr(np, node.attr, None)
        return None


def _call_of(node, name):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == name \
        and not node.keywords


def _assigned_call(stmt, name):
    """``(target, call)`` for ``target = name(...)``, else None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
            and _call_of(stmt.value, name):
        return stmt.targets[0].id, stmt.value
    return None


def _mentions(node):
    return {n.id for n in walk_tree(node) if isinstance(n, gast.Name)}


def _stores(node):
    return {n.id for n in walk_tree(node) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}


class _Scan:
    """The forward scan of ownership: ``owned`` maps each name known to hold a fresh array no one else
    refers to, to the name of the array whose shape it has."""

    def __init__(self, facts, names, reals):
        self.facts, self.names, self.reals = facts, names, reals

    def float64_array(self, node):
        """``node`` names a float64 numpy array of rank 1 or more (an array, not a numpy scalar)."""
        if not isinstance(node, gast.Name):
            return False
        kind = self.facts.kinds.kind(node.id)
        return kind.kind == ARRAY and bool(kind.rank) and kind.dtype == "float64"

    def accumulation(self, stmt, owned):
        """``(acc, v, x, index)`` for ``acc = accumulate_index(acc, v, x, index)`` into an owned ``acc`` of
        ``x``'s shape, else None."""
        found = _assigned_call(stmt, self.names.accumulate)
        if found is None or len(found[1].args) != 4:
            return None
        acc, call = found
        first, value, operand, index = call.args
        if not (isinstance(first, gast.Name) and first.id == acc and isinstance(operand, gast.Name)
                and owned.get(acc) == operand.id and acc not in _mentions(value) | _mentions(index)):
            return None
        return acc, value, operand.id, index

    def only_accumulates(self, body, acc, x):
        """Whether the statements ``body`` mention ``acc`` only in accumulations into it of a read of
        ``x``, and never bind ``x``."""
        nodes = [node for stmt in body for node in walk_tree(stmt)]
        mentions = sum(1 for node in nodes if isinstance(node, gast.Name) and node.id == acc)
        in_place = sum(1 for node in nodes if isinstance(node, gast.AugAssign) and _adds_into(node, acc))
        calls = sum(1 for node in nodes
                    if isinstance(node, gast.Assign) and self.rewritable(self.accumulation(node, {acc: x})))
        stored = any(x in _stores(stmt) for stmt in body)
        return not stored and mentions == 2 * calls + in_place

    def block(self, statements, owned):
        """Rewrite ``statements`` in place; the owned names after them."""
        for position, stmt in enumerate(statements):
            if isinstance(stmt, (gast.For, gast.While)):
                owned = self.loop(stmt, owned)
            elif isinstance(stmt, gast.If):
                owned = self.branch(stmt, owned)
            else:
                owned = self.simple(statements, position, owned)
        return owned

    def simple(self, statements, position, owned):
        stmt = statements[position]
        found = self.accumulation(stmt, owned)
        if self.rewritable(found):
            acc, value, x, index = found
            target = gast.Subscript(value=gast.Name(id=acc, ctx=gast.Load(), annotation=None, type_comment=None),
                                    slice=index.slice, ctx=gast.Store())
            new = gast.copy_location(gast.AugAssign(target=target, op=gast.Add(), value=value), stmt)
            new.origin = origin_of(stmt)  # headed by the user's line the read came from
            statements[position] = new
            return owned  # still the fresh array of x's shape no one else refers to
        if isinstance(stmt, gast.AugAssign) and any(_adds_into(stmt, acc) for acc in owned):
            return owned
        mentioned, stored = _mentions(stmt), _stores(stmt)
        owned = {acc: x for acc, x in owned.items() if acc not in mentioned and x not in stored}
        for name in (self.names.zeros, self.names.index_grad):
            fresh = _assigned_call(stmt, name)
            if fresh is not None:
                target, call = fresh
                operand = call.args[0] if name == self.names.zeros else call.args[1] if len(call.args) == 3 else None
                if len(call.args) in (1, 3) and self.float64_array(operand) and target != operand.id \
                        and target not in _mentions(call):
                    owned[target] = operand.id
        return owned

    def loop(self, stmt, owned):
        header = [stmt.target, stmt.iter] if isinstance(stmt, gast.For) else [stmt.test]
        kept = {acc: x for acc, x in owned.items()
                if not any(acc in _mentions(node) or x in _stores(node) for node in header)
                and self.only_accumulates(stmt.body + stmt.orelse, acc, x)}
        self.block(stmt.body, dict(kept))
        self.block(stmt.orelse, dict(kept))
        return kept

    def branch(self, stmt, owned):
        kept = {acc: x for acc, x in owned.items() if acc not in _mentions(stmt.test)}
        after_body = self.block(stmt.body, dict(kept))
        after_else = self.block(stmt.orelse, dict(kept))
        return {acc: x for acc, x in after_body.items() if after_else.get(acc) == x}

    def rewritable(self, found):
        """Whether an accumulation (``accumulation``'s answer) is made in place: its index is basic and its
        value real. One that is not keeps ``accumulate_index``, whose result the compiler does not follow
        (it may be ``acc`` or a new array): code differentiated again would not see an array of its own,
        so the name is not owned after it."""
        return found is not None and self.basic(found[3]) and self.reals.value(found[1])

    def basic(self, index):
        """``np.index_exp[...]`` of integers and slices of integers or None."""
        if not (isinstance(index, gast.Subscript) and isinstance(index.value, gast.Attribute)
                and index.value.attr == "index_exp" and isinstance(index.value.value, gast.Name)
                and self.names.objects.get(index.value.value.id) is np):
            return False
        parts = index.slice.elts if isinstance(index.slice, gast.Tuple) else [index.slice]
        for part in parts:
            if isinstance(part, gast.Slice):
                if not all(p is None or self.integer(p) for p in (part.lower, part.upper, part.step)):
                    return False
            elif not self.integer(part):
                return False
        return True

    def integer(self, node):
        if isinstance(node, gast.Constant):
            return type(node.value) is int
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return self.integer(node.operand)
        return isinstance(node, gast.Name) and self.facts.kinds.kind(node.id) == INT_KIND


def _adds_into(node, acc):
    return isinstance(node.op, gast.Add) and isinstance(node.target, gast.Subscript) \
        and isinstance(node.target.value, gast.Name) and node.target.value.id == acc


# helpers whose result is real where their first argument is (cotangents reshaped, summed or filled)
_KEEPS_FIRST = {shapes.unbroadcast, shapes.unbroadcast_to_shape}
# helpers whose result is a list or tuple of real arrays where their first argument is real
_PARTS_OF_FIRST = {split_like, unstack, as_parts}


class _Reals:
    """The names the backward pass binds only to real values (numbers or arrays of a real dtype), and those
    it binds only to lists or tuples of them (``parts``): the largest sets such that each assignment keeps
    the property given the others. Found at the first question: most backward passes have no
    accumulation to rewrite."""

    def __init__(self, statements, facts, names, forward=()):
        self.statements, self.facts, self.names, self.forward = statements, facts, names, forward
        self.values = self.parts = self.shapes = None

    def value(self, node):
        if self.values is None:
            self._solve()
        return self._value(node)

    def _solve(self):
        assignments, plain = {}, set()
        for stmt in self.statements:
            for node in walk_tree(stmt):
                if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
                    assignments.setdefault(node.targets[0].id, []).append(node.value)
                    plain.add(id(node.targets[0]))
        others = {node.id for stmt in self.statements for node in walk_tree(stmt)
                  if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and id(node) not in plain}
        candidates = {name for name in assignments if name not in others and not self.facts.is_local(name)}
        self.shapes = self._real_shapes(assignments)
        self.values, self.parts = set(candidates), set(candidates)
        changed = True
        while changed:
            changed = False
            for name in sorted(candidates):
                if name in self.values and not all(self._value(v) for v in assignments[name]):
                    self.values.discard(name)
                    changed = True
                if name in self.parts and not all(self._parts(v) for v in assignments[name]):
                    self.parts.discard(name)
                    changed = True

    def _real_shapes(self, backward_assignments):
        """The names that hold the ``Shape`` of a real forward value (``x_shape = shape_of(x)``, kept where the
        backward pass needs only the shape: compiler/reverse.py), or None before their first assignment,
        and that the backward pass binds only to what it pops off the tape (their earlier values)."""
        shape_of = self.names.given(shapes.shape_of)
        found = {}
        for stmt in self.forward:
            for node in walk_tree(stmt):
                if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
                    value = node.value
                    kept = isinstance(value, gast.Constant) and value.value is None or \
                        _call_of(value, shape_of) and len(value.args) == 1 and self._forward_real(value.args[0])
                    name = node.targets[0].id
                    found[name] = found.get(name, True) and kept
        return {name for name, kept in found.items() if kept and all(
            isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "pop" and not v.args
            for v in backward_assignments.get(name, ()))}

    def _forward_real(self, node):
        return isinstance(node, gast.Name) and self.facts.is_local(node.id) and self.facts.kinds.is_real(node.id)

    def _value(self, node):
        if isinstance(node, gast.Constant):
            return type(node.value) in (int, float)
        if isinstance(node, gast.Name):
            return node.id in self.values or self._forward_real(node)
        if isinstance(node, gast.BinOp):
            if isinstance(node.op, gast.Pow):
                # an array's power is real; a number's to an int power
                return self._value(node.left) and self._value(node.right) and (
                    isinstance(node.right, gast.Constant) and type(node.right.value) is int
                    or self._forward_real(node.left) and self.facts.kinds.kind(node.left.id).kind == ARRAY)
            return isinstance(node.op, _REAL_OPS) and self._value(node.left) and self._value(node.right)
        if isinstance(node, gast.UnaryOp):
            return isinstance(node.op, (gast.USub, gast.UAdd)) and self._value(node.operand)
        if isinstance(node, gast.Subscript):
            if self._value(node.value):
                return True
            return isinstance(node.value, gast.Name) and node.value.id in self.parts \
                and not isinstance(node.slice, gast.Slice)
        if isinstance(node, gast.Attribute):
            return node.attr == "T" and self._value(node.value)
        if isinstance(node, gast.Call) and not node.keywords:
            return self._call(node)
        return False

    def _call(self, node):
        obj, args = self.names.obj(node.func), node.args
        if isinstance(node.func, gast.Name) and node.func.id in self.names.numbers_rules:
            return len(args) == 1 and self._value(args[0])
        if obj is None or not args:
            return False
        if obj in _KEEPS_FIRST:
            return self._value(args[0])
        if obj in (zeros_like, ones_like):
            return len(args) == 1 and self._forward_real(args[0])
        if obj is index_grad:
            return len(args) == 3 and self._value(args[0]) and self._forward_real(args[1])
        if obj is accumulate_index:
            return len(args) == 4 and self._value(args[0]) and self._value(args[1]) and self._forward_real(args[2])
        if obj in (shapes.expand_reduced, shapes.fill_multiply, shapes.fill_divide):
            # filled with the dtype of v, or of x where v has none: x must be real
            rest = args[2:3] if obj is not shapes.expand_reduced else []
            x = args[1] if len(args) >= 2 else None
            return x is not None and self._value(args[0]) and all(self._value(a) for a in rest) and (
                self._forward_real(x) or isinstance(x, gast.Name) and x.id in self.shapes)
        if type(obj) is np.ufunc and obj.nout == 1 and getattr(np, obj.__name__, None) is obj:
            return all(self._value(a) for a in args)
        if obj in (np.outer, np.dot, np.matmul):
            return len(args) == 2 and all(self._value(a) for a in args)
        return False

    def _parts(self, node):
        if isinstance(node, gast.Name):
            return node.id in self.parts
        if isinstance(node, gast.Subscript):
            return isinstance(node.value, gast.Name) and node.value.id in self.parts \
                and isinstance(node.slice, gast.Slice)
        if isinstance(node, gast.Tuple):
            return all(self._value(e) for e in node.elts)
        if isinstance(node, gast.Call) and not node.keywords and node.args:
            obj = self.names.obj(node.func)
            if obj in _PARTS_OF_FIRST:
                return self._value(node.args[0]) or self._parts(node.args[0])
        return False
