"""Liveness, part of the analysis (analyze.py): what the backward pass may need that the forward pass
overwrites, and what it can have more cheaply.

Reads the normal form with its lowered loop headers, the user calls' residual names, the static kinds
and the classified calls. Produces a ``Liveness``:

- ``ops``: every op the forward pass runs, the body's in program order, then the loop headers';
- ``overwrites(op, name)``: whether binding ``name`` at ``op`` may replace a value the backward pass
  reads (then the old value goes on the tape); ``may_be_overwritten``: the names for which that can
  happen anywhere; ``bound_before_nesting``: the names first bound outside every loop and branch;
  ``reentered``: the loops inside another loop, whose range is bound anew at each outer iteration;
  ``ranges_not_always_bound``: the ranges of loops inside loops or branches;
- ``written_in_place`` (arrays and lists changed by ``y[i] = v`` or ``append``) and ``parts_written``
  (arrays changed by ``y[i] = v``), of which ``containers_written`` are Python lists and dicts;
- ``recomputed``: per loop, the cheap Python-number statements its backward pass recomputes instead of
  taping;
- ``keeps_only_shape(name)``: whether the backward pass may keep just the shape of ``name`` where it
  reads nothing else of it;
- ``upward_exposed(block)``: what a block may read before it binds it;
- ``unbound_reads``: id(op) -> the local names the op reads that may have no value yet when it runs (a
  name bound only inside a loop that may run no times, or in one branch), which Python would refuse
  with ``UnboundLocalError``.

The reverse transform inserts ``shape_of`` ops of its own; it registers each with ``bind_like`` so that
these facts stay true of the ops the generated code runs.
"""

import gast

from .ir import If, Loop, Op, walk_loops, walk_ops
from .ops import loop_bound, names_in, targets


class Liveness:
    def __init__(self, facts):
        self._facts = facts
        self.params = list(facts.params)
        self.ops = facts.body_ops + [op for ops in facts.header_ops.values() for op in ops]
        self.recomputed = self._recomputable()  # id(loop) -> ops its backward pass recomputes
        self.recomputed_ids = {id(op) for ops in self.recomputed.values() for op in ops}
        self.first_bindings = self._first_bindings()
        self.may_be_overwritten = set()
        for op in self.ops:
            if op.nested or op.kind in ("setitem", "append"):  # these always change a value in place
                self.may_be_overwritten.update(self.binds(op))
            if op.kind == "pop":  # changes its list in place
                self.may_be_overwritten.add(op.value.id)
        for loop in facts.loops:  # loop targets are bound only if the loop runs
            self.may_be_overwritten.update(loop_bound(loop))
        # A loop inside another loop starts afresh at each outer iteration: its range (which may differ
        # from one outer iteration to the next, and be empty) overwrites the one before.
        self.reentered = {id(inner) for loop in facts.loops for inner in walk_loops(loop.body)}
        self.may_be_overwritten.update(values for loop_id, values in facts.range_values.items()
                                       if loop_id in self.reentered)
        # The range of a loop inside a branch (or after an early return) is bound on some paths only.
        top_level = {id(node) for node in facts.body if isinstance(node, Loop)}
        self.ranges_not_always_bound = {values for loop_id, values in facts.range_values.items()
                                        if loop_id not in top_level}
        self.written_in_place = {op.target for op in self.ops if op.kind in ("setitem", "append")}
        self.parts_written = {op.target for op in self.ops if op.kind == "setitem"}
        displays = {}  # whether every binding of a name makes a Python list or dict
        for op in self.ops:
            if op.kind == "assign":
                displays[op.target] = displays.get(op.target, True) and self._makes_container(op)
            elif op.kind in ("unpack", "pop"):
                displays.update((name, False) for name in targets(op))
        self.containers_written = {name for name in self.parts_written if displays.get(name)}
        self.bound_before_nesting, self._seen = set(), set()
        for op in walk_ops(facts.body):
            for name in targets(op):
                if name not in self._seen and not op.nested:
                    self.bound_before_nesting.add(name)
                self._seen.add(name)
        self._shape_candidates = self._names_with_plain_values()
        self.unbound_reads = self._unbound_reads()

    def _makes_container(self, op):
        """Whether ``op`` certainly makes a Python list or dict: a display, ``[0.0] * n``, ``list(...)``,
        ``dict(...)``."""
        value = op.value
        if isinstance(value, (gast.List, gast.Dict)):
            return True
        if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Mult, gast.Add)):
            return isinstance(value.left, gast.List) or isinstance(value.right, gast.List)
        callee = self._facts.callees.get(id(op))
        return isinstance(value, gast.Call) and callee is not None and (callee.obj is list or callee.obj is dict)

    def binds(self, op):
        """The names ``op`` binds: its targets, and the residuals of a user call."""
        residuals = self._facts.residuals_of(op)
        return targets(op) + ((residuals,) if residuals is not None else ())

    def overwrites(self, op, name):
        """Whether binding ``name`` at ``op`` may replace a value the function computed before."""
        if op.kind in ("setitem", "append"):
            return True
        return op.nested and (id(op), name) not in self.first_bindings

    def first_assignment_order(self, name):
        """A sort key: the position of the first op that binds ``name``."""
        for i, op in enumerate(self.ops):
            if name in self.binds(op):
                return (i, name)
        return (len(self.ops), name)

    def keeps_only_shape(self, name):
        """Whether the backward pass may keep ``shape_of(name)`` instead of ``name``, where it reads it only
        for its shape: ``name`` is bound only by plain assignments, never changed in place, not a parameter
        and not recomputed. (A name bound otherwise, by unpacking, a pop, a loop header or a call of the
        user's code, must keep its value.)"""
        return name in self._shape_candidates

    def bind_like(self, new_op, like):
        """Register ``new_op``, inserted right after ``like`` and binding a new name at the same place."""
        self.ops.append(new_op)
        if like.nested:
            self.may_be_overwritten.add(new_op.target)
        if (id(like), like.target) in self.first_bindings:
            self.first_bindings.add((id(new_op), new_op.target))
        if new_op.target not in self._seen and not like.nested:
            self.bound_before_nesting.add(new_op.target)
        self._seen.add(new_op.target)

    def bound_names(self):
        """Every name the forward pass binds, in order: parameters, ops, residuals, loop counts, indices and
        targets, range values."""
        facts = self._facts
        names = list(self.params) + [t for op in self.ops for t in targets(op)]
        names += [call.residuals for call in facts.user_calls.values()]
        for loop in facts.loops:
            names += [loop.count] + loop_bound(loop)
        return names + list(facts.range_values.values())

    def loop_carried(self, block):
        """Active names a loop body may read before binding them: their adjoints flow between iterations."""
        exposed, _ = upward_exposed(block)
        return {v for v in exposed if v in self._facts.active}

    # -- the analyses -----------------------------------------------------------------------------------

    def _first_bindings(self):
        """(op id, name) pairs where the op certainly binds a name that had no value before.

        Such an assignment overwrites nothing, so it needs no tape entry: the first assignment of a
        name inside a branch, outside any loop.
        """
        first = set()

        def visit(nodes, seen, in_loop):
            for node in nodes:
                if isinstance(node, Op):
                    for name in self.binds(node):
                        if name not in seen and not in_loop:
                            first.add((id(node), name))
                        seen.add(name)
                elif isinstance(node, If):  # the branches are alternatives: each starts from what was bound
                    seen |= visit(node.body, set(seen), in_loop) | visit(node.orelse, set(seen), in_loop)
                elif isinstance(node, Loop):
                    seen |= visit(node.body, set(seen), True)
                    seen.update(loop_bound(node))
            return seen

        visit(self._facts.body, set(self.params), False)
        return first

    def _recomputable(self):
        """Per loop, the cheap scalar statements the backward pass can recompute instead of taping.

        ``t = x * i`` in a range loop: ``x`` does not change in the loop and the backward pass walks the
        same ``i``, so recomputing ``t`` at the top of each reversed iteration costs one multiplication,
        where taping it costs a push and a pop. Only arithmetic and math functions on Python numbers.
        """
        facts = self._facts
        numbers = facts.kinds.numbers
        out = {}
        definitions = {}
        for op in facts.body_ops:
            for name in targets(op):
                definitions[name] = definitions.get(name, 0) + 1
        for loop in facts.loops:
            assigned_in_loop = {t for op in walk_ops(loop.body) for t in targets(op)}
            assigned_in_loop |= {t for inner in walk_loops(loop.body) for t in inner.targets}
            stable = set()
            if id(loop) in facts.range_values:
                stable.add(loop.targets[0])
            ops = []
            for node in loop.body:
                if not isinstance(node, Op) or node.kind != "assign" or node.target not in numbers \
                        or definitions.get(node.target) != 1 or id(node) in facts.user_calls:
                    continue
                value = node.value
                callee = facts.callees.get(id(node))
                if isinstance(value, gast.BinOp):
                    operands = [value.left, value.right]
                elif isinstance(value, gast.UnaryOp) and not isinstance(value.op, gast.Not):
                    operands = [value.operand]
                elif isinstance(value, gast.Call) and getattr(callee, "obj", None) is not None \
                        and (getattr(callee.obj, "__module__", None) == "math"
                             or getattr(callee.obj, "on_numbers", False)) and not value.keywords:
                    operands = list(value.args)
                else:
                    continue
                if all(isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and a.id in numbers and (
                        a.id in stable or a.id not in assigned_in_loop)) for a in operands):
                    ops.append(node)
                    stable.add(node.target)
            if ops:
                out[id(loop)] = ops
        return out

    def _unbound_reads(self):
        """id(op) -> the names, bound somewhere in the function, that ``op`` reads where no path has bound
        them yet for certain: a definite-assignment pass over the normal form, in program order."""
        facts = self._facts
        local = set(self.bound_names()) - set(self.params)
        found = {}

        def visit(nodes, bound):
            for node in nodes:
                if isinstance(node, Op):
                    missing = sorted({n for n in _reads(node) if n in local} - bound)
                    if missing:
                        found[id(node)] = missing
                    bound |= set(self.binds(node))
                elif isinstance(node, If):
                    bound |= visit(node.body, set(bound)) & visit(node.orelse, set(bound))
                elif isinstance(node, Loop):
                    inside = set(bound) | set(loop_bound(node)) | {node.count}
                    if id(node) in facts.range_values:
                        inside.add(facts.range_values[id(node)])
                    visit(facts.header_ops.get(id(node), []) + node.body, inside)
                    # a loop may run no times: after it, only what was bound before it is certain
            return bound

        visit(facts.body, set(self.params))
        return found

    def _names_with_plain_values(self):
        changed_in_place = {op.target for op in self.ops if op.kind in ("setitem", "append")} | \
            {op.value.id for op in self.ops if op.kind == "pop"}
        user_calls = self._facts.user_calls
        defined = {op.target for op in self.ops if op.kind == "assign" and id(op) not in user_calls}
        bound_otherwise = {t for op in self.ops if op.kind != "assign" or id(op) in user_calls for t in targets(op)}
        bound_otherwise |= {op.target for op in self.ops if op.kind == "pop"}
        for loop in self._facts.loops:
            bound_otherwise.update(loop_bound(loop))
        recomputed = {op.target for ops in self.recomputed.values() for op in ops}
        return defined - changed_in_place - set(self.params) - recomputed - bound_otherwise


def _reads(op):
    reads = set(names_in(op.value))
    if op.stored is not None:
        reads |= set(names_in(op.stored))
    if op.kind == "setitem":
        reads.add(op.target)  # a write into part of an array keeps the rest
    return reads


def upward_exposed(nodes):
    """(names a block may read before it assigns them, names it assigns on every path)."""
    exposed, defined = set(), set()
    for node in nodes:
        if isinstance(node, Op):
            exposed |= _reads(node) - defined
            defined |= set(targets(node))
        elif isinstance(node, If):
            body_exposed, body_defined = upward_exposed(node.body)
            else_exposed, else_defined = upward_exposed(node.orelse)
            exposed |= ({node.test} | body_exposed | else_exposed) - defined
            defined |= body_defined & else_defined
        elif isinstance(node, Loop):
            loop_exposed, _ = upward_exposed(node.body)  # a loop may run no iterations
            sources = {n for src in node.sources + node.range_args for n in names_in(src)}
            exposed |= (loop_exposed | sources | {node.count}) - defined
    return exposed, defined
