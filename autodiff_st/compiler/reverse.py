"""Reverse: turn the normal form into a forward pass and a backward pass.

Reads the normal form and its ``Facts`` (analyze.py). Produces an ``Adjoint``: the statements of the
forward pass, of the backward pass, and of the seeds, which pipeline.py assembles into functions.

The forward pass is the normal form itself (primal.py), except that calls to the user's own functions go
through ``call_vjp_forward``, which also returns the call's residuals, for ``call_vjp_backward`` in the
backward pass (see runtime/calls.py), and that a value an assignment overwrites is pushed on the tape
(tape.py) when the backward pass reads it. The backward pass (backward.py) visits the statements in
reverse and inlines the derivative rules.

A result nobody differentiates never gets an adjoint, so dead adjoint code is not generated in the first
place. Because the normal form is single-assignment, the backward pass can read every forward value by
name. The *residuals* are exactly the forward names the backward pass reads.
"""

import copy
import dataclasses

import gast

import autodiff_st.runtime as runtime
from ..core.errors import UnsupportedSyntaxError
from ..runtime.calls import call_vjp_forward
from ..runtime.weights import call_vjp_forward_weights
from .backward import Backward
from .checkpoint_loops import checkpoint_loops
from .ir import If, Loop, Op, load, store, walk_tree
from .ops import call_name, tag
from .primal import Primal, Writer
from .tape import choose_taped, own_copy, pop, push, recompute_cheap


@dataclasses.dataclass
class Adjoint:
    """The pieces the emitter assembles into a module."""

    forward: list  # statements, each with an ``origin``
    backward: list
    returned: gast.expr  # the forward's return value: an atom or a tuple of atoms
    grads: list  # expressions returned by the backward pass, one per differentiated parameter
    cotangent_param: str  # the backward pass's parameter holding the output's cotangent
    intake: list  # statements that read the output's cotangent from that parameter (vjp mode)
    seed: list  # statements that seed the backward pass with ones instead (fused mode)


class Reverse(Writer):
    """The reverse transform of one function: ``run()`` gives its ``Adjoint``. Afterwards ``restores``
    says which names the backward pass puts old values back into, and ``tape`` names the tape."""

    def __init__(self, facts, namer, helpers, value_needed=True, checkpoint=None):
        super().__init__(facts, namer, helpers)
        self.checkpoint = checkpoint  # the loop checkpointing policy (checkpoint_loops.py), or None
        self.value_needed = value_needed  # False for ad.grad: the function's value is not returned
        self.tape = namer.fresh("tape")
        self.body = facts.body
        self.restored = set()
        # The ranges of loops inside loops go on a list of their own: it never holds a differentiated
        # value, so that a for loop over a restored range stays a plain loop when the adjoint is itself
        # differentiated.
        reentered = facts.liveness.reentered & facts.range_values.keys()
        self.ranges = namer.fresh("ranges") if reentered else None
        self.primal = Primal(facts, namer, helpers, self.forward_op)
        self.primal.ranges = self.ranges

    @property
    def ops(self):
        """Every op the forward pass runs (the body's, the loop headers', the kept shapes')."""
        return self.facts.liveness.ops

    @property
    def weight_guards(self):
        return self.facts.weights.guards if self.facts.weights is not None else []

    def restores(self, names):
        """Whether the backward pass puts old values back into any of ``names`` (or their elements)."""
        return bool(set(names) & self.restored)

    def run(self):
        facts, liveness = self.facts, self.facts.liveness
        backward_writer = Backward(facts, self.namer, self.helpers, self.tape, self.value_needed, self.ranges)
        returned = facts.returned()
        cotangent_param, intake, seed = backward_writer.seed(returned)
        backward = backward_writer.block(self.body)
        if facts.weights is not None:
            backward += backward_writer.collect_roots(facts.weights.roots)
        grads = []
        for p in facts.active_params:
            if p in backward_writer.initialized:
                grads.append(load(backward_writer.adjoint_names[p]))
            else:
                grads.append(gast.Call(func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(p)],
                                       keywords=[]))
        backward = self.keep_shapes_only(backward)
        backward, recomputed = recompute_cheap(backward, facts)  # v = np.sin(a) again, rather than taped
        taped, backward, read = choose_taped(backward, intake + [gast.Tuple(elts=grads, ctx=gast.Load())],
                                             liveness.may_be_overwritten - recomputed)
        self.primal.taped = taped
        self.restored = {getattr(n, "pop_of", None) for stmt in backward for n in walk_tree(stmt)} - {None}
        self.restored |= recomputed
        restored = sorted(a for a in backward_writer.written_arrays if a in taped)
        # The backward pass writes old elements back into these arrays: work on copies, so that the
        # forward pass's arrays (the output, or residuals a vjp_fn reads again) stay as they were.
        # A name bound on some paths only is None before (see the preamble below), as is one bound to None.
        may_be_none = {op.target for op in self.ops if op.kind == "assign" and (
            isinstance(op.value, gast.Constant) and op.value.value is None
            or getattr(facts.callees.get(id(op)), "obj", None) is runtime.restored_copy)}  # generated code again
        may_be_none |= set(restored) - liveness.bound_before_nesting
        restored_copy = self.primal.helper(runtime.restored_copy, "restored_copy")
        backward = [own_copy(a, facts.parsed.node.origin, restored_copy) if a in may_be_none else tag(gast.Assign(
            targets=[store(a)], value=gast.Call(func=gast.Attribute(value=load(a), attr="copy", ctx=gast.Load()),
                                                args=[], keywords=[]), type_comment=None), facts.parsed.node.origin)
                    for a in restored] + backward
        forward = self.primal.block(self.body)
        forward, backward, snapshots = checkpoint_loops(self, forward, backward, self.checkpoint)
        self.restored |= snapshots
        preamble = []
        maybe_unbound = liveness.may_be_overwritten | liveness.ranges_not_always_bound
        unbound = sorted((maybe_unbound & read) - set(facts.params) - liveness.bound_before_nesting,
                         key=liveness.first_assignment_order)
        checked = {name for names in liveness.unbound_reads.values() for name in names}
        for name in unbound:  # names assigned only inside loops or branches may be unbound at first
            # None, or where the function may read the name before it is bound, ``unbound``, which the
            # check before that read tells from any value (see forward_op)
            value = self.helper(runtime.unbound, "unbound") if name in checked else gast.Constant(value=None, kind=None)
            start = tag(gast.Assign(targets=[store(name)], value=value, type_comment=None), facts.parsed.node.origin)
            start.pure = True
            preamble.append(start)
        restores = [stmt for node in backward for stmt in walk_tree(node) if getattr(stmt, "pop_of", None)]
        of_ranges = [stmt for stmt in restores if self.ranges and _popped_list(stmt.value) == self.ranges]
        tapes = ([self.tape] if len(of_ranges) < len(restores) else []) + ([self.ranges] if of_ranges else [])
        for tape in tapes:
            preamble.append(tag(gast.Assign(targets=[store(tape)], value=gast.List(elts=[], ctx=gast.Load()),
                                            type_comment=None), facts.parsed.node.origin))
        return Adjoint(preamble + forward, backward, returned, grads, cotangent_param, intake, seed)

    # -- the forward pass -------------------------------------------------------------------------------

    def forward_op(self, op):
        """An op of the forward pass: the values it overwrites that the backward pass reads go on the
        tape first, and a call of the user's code runs through ``call_vjp_forward``."""
        liveness = self.facts.liveness
        origin = op.origin
        if id(op) in liveness.unbound_reads:
            # Python raises UnboundLocalError where the op reads a name the function has not bound yet;
            # the statement itself may be dropped (its value unneeded) or read a placeholder instead
            check = self.helper(runtime.check_bound, "check_bound")
            checks = [tag(gast.Expr(value=gast.Call(func=check, args=[load(name), gast.Constant(value=name, kind=None)],
                                                    keywords=[])), origin) for name in liveness.unbound_reads[id(op)]]
            return checks + self.forward_op_checked(op)
        return self.forward_op_checked(op)

    def forward_op_checked(self, op):
        liveness = self.facts.liveness
        taped = self.primal.taped
        origin = op.origin
        if op.kind in ("return", "expr", "assert", "unshared", "raise", "append") or (op.kind == "assign" and op.target in self.facts.uncounted):
            return self.primal.statement(op)
        out = []
        if op.kind == "pop":
            if op.nested and op.target in taped and liveness.overwrites(op, op.target):
                out.append(tag(push(self.tape, load(op.target), op.target), origin))
            return out + self.primal.statement(op)
        if op.kind == "setitem":
            if op.target in taped and op.target in liveness.containers_written:
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot yet differentiate a write into an element of a list or dict "
                    "(`d[key] = value`) whose old element the backward pass needs.", origin=origin,
                    hint="Build the list or dict in one display once its values are computed, as "
                         "`aux = {\"loss\": loss}` or `acc = [a, b]`, or use an array made with np.zeros.")
            if op.target in taped:  # keep the elements this write replaces, not the whole array
                saved = gast.Call(func=gast.Attribute(value=op.value, attr="copy", ctx=gast.Load()), args=[],
                                  keywords=[])
                out.append(tag(push(self.tape, saved, op.target), origin))
            return out + self.primal.statement(op)
        if op.nested and id(op) not in liveness.recomputed_ids:
            for name in liveness.binds(op):  # keep the value this assignment overwrites, for the backward pass
                if name in taped and liveness.overwrites(op, name):
                    out.append(tag(push(self.tape, load(name), name), origin))
        if id(op) in self.facts.user_calls:
            return out + [tag(stmt, origin) for stmt in self.user_call_forward(op)]
        return out + self.primal.statement(op, liveness.parts_written)

    def user_call_forward(self, op):
        call = op.value
        plan = self.facts.user_calls[id(op)]
        if self.facts.weights is not None:
            forward_helper = self.helper(call_vjp_forward_weights, "call_vjp_forward_weights")
        else:
            forward_helper = self.helper(call_vjp_forward, "call_vjp_forward")
        positions = gast.Tuple(elts=[gast.Constant(value=a, kind=None) for a in plan.active_args], ctx=gast.Load())
        new_call = gast.Call(func=forward_helper, args=[call.func, positions] + call.args, keywords=call.keywords)
        results = op.target if op.kind == "assign" else self.namer.fresh(f"{call_name(call)}_results")
        out = [gast.Assign(targets=[gast.Tuple(elts=[store(results), store(plan.residuals)], ctx=gast.Store())],
                           value=new_call, type_comment=None)]
        if op.kind == "unpack":  # a, b = f(x): unpack the results in a statement of its own
            out.append(gast.Assign(targets=[gast.Tuple(elts=[store(t) for t in op.target], ctx=gast.Store())],
                                   value=load(results), type_comment=None))
        return out

    # -- shapes instead of values -----------------------------------------------------------------------

    def keep_shapes_only(self, backward):
        """Values the backward pass reads only for their shape: keep ``shape_of(value)`` instead.

        ``unbroadcast(v, z)`` needs only ``z``'s shape. Reading ``z`` itself would keep the array alive
        to the end (or put every iteration's copy on the tape); its ``Shape`` is a few numbers.
        """
        facts, liveness = self.facts, self.facts.liveness
        helpers = {self.helpers.name_for(f, f.__name__): position for f, position in
                   ((runtime.unbroadcast, 1), (runtime.expand_reduced, 1), (runtime.reduced_count, 0))}
        in_shape_position, reads = set(), {}
        for stmt in backward:
            for node in walk_tree(stmt):
                if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in helpers:
                    position = helpers[node.func.id]
                    if len(node.args) > position and isinstance(node.args[position], gast.Name):
                        in_shape_position.add(id(node.args[position]))
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                    reads.setdefault(node.id, []).append(node)
        shapes = {}
        for name, nodes in reads.items():
            # A recomputed value is a Python number, recomputed where it is read: nothing to keep.
            if liveness.keeps_only_shape(name) and all(id(n) in in_shape_position for n in nodes):
                shapes[name] = self.namer.fresh(f"{name}_shape")
                for n in nodes:
                    n.id = shapes[name]
        if not shapes:
            return backward
        shape_of = self.helper(runtime.shape_of, "shape_of")

        def insert(nodes):
            out = []
            for node in nodes:
                out.append(node)
                if isinstance(node, Op) and node.kind == "assign" and node.target in shapes:
                    source = facts.shape_source(node) or node.target
                    keep = Op("assign", shapes[node.target], gast.Call(func=copy.deepcopy(shape_of),
                              args=[load(source)], keywords=[]), node.origin, nested=node.nested)
                    out.append(keep)
                    liveness.bind_like(keep, node)
                elif isinstance(node, If):
                    node.body, node.orelse = insert(node.body), insert(node.orelse)
                elif isinstance(node, Loop):
                    node.body = insert(node.body)
            return out

        self.body = insert(self.body)
        for loop in facts.loops:
            facts.header_ops[id(loop)] = insert(facts.header_ops.get(id(loop), []))

        def add_pops(statements):  # restore the shape where the value itself would have been restored
            out = []
            for stmt in statements:
                out.append(stmt)
                if getattr(stmt, "pop_of", None) in shapes:
                    out.append(tag(pop(self.tape, shapes[stmt.pop_of]), stmt.origin))
                for field in ("body", "orelse"):
                    if isinstance(stmt, (gast.If, gast.For)) and getattr(stmt, field, None):
                        setattr(stmt, field, add_pops(getattr(stmt, field)))
            return out

        return add_pops(backward)


def _popped_list(call):
    """The name of the list ``call`` pops from (``items.pop()``), or None."""
    func = getattr(call, "func", None)
    if isinstance(func, gast.Attribute) and func.attr == "pop" and isinstance(func.value, gast.Name):
        return func.value.id
    return None
