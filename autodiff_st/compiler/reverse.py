"""Stage 5, reverse: turn the normal form into a forward pass and a backward pass.

The forward pass is the normal form itself, except that calls to the user's own functions go through
``call_vjp_forward``, which also returns the call's residuals, for ``call_vjp_backward`` in the backward
pass (see dispatch.py). The backward pass visits the statements in
reverse. For each statement whose result has an adjoint, it inlines the derivative rule and adds the
contribution to each active operand's adjoint. The first contribution assigns (``x_bar = ...``), later
ones accumulate (``x_bar = x_bar + ...``), and nothing is ever updated in place.

A result nobody differentiates never gets an adjoint, so dead adjoint code is not generated in the first
place. Because the normal form is single-assignment, the backward pass can read every forward value by
name. The *residuals* are exactly the forward names the backward pass reads.
"""

import ast
import builtins
import copy
import dataclasses
import inspect
import operator

import gast
import numpy as np

import autodiff_st.runtime as runtime
from ..core import registry as rules
from ..core.errors import MissingRuleError, NonDifferentiableError, UnsupportedSyntaxError
from ..runtime.calls import call_vjp_backward, call_vjp_forward
from ..runtime.weights import call_vjp_forward_weights, collect_weight_grad, may_hold_parameters
from .analyze import classify_call
from .ir import Break, If, Loop, Op, is_atom, load, store, walk_loops, walk_ops
from .scope import MISSING, resolve_name
from .templates import bind_arguments, inline_vjp

FULL_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod, np.var, np.std, np.average,
                   np.nansum, np.nanmean, np.nanmax, np.nanmin}

BINARY_PRIMITIVES = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Div: operator.truediv,
    gast.MatMult: operator.matmul, gast.Pow: operator.pow, gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv, gast.BitAnd: operator.and_, gast.BitOr: operator.or_,
    gast.BitXor: operator.xor, gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
UNARY_PRIMITIVES = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
                    gast.Invert: operator.invert}


# Array methods and numpy functions that change their first argument in place.
IN_PLACE_METHODS = {"fill", "sort", "put", "resize", "itemset", "setfield", "partition", "setflags", "byteswap",
                    "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__"}
IN_PLACE_FUNCTIONS = {np.copyto, np.put, np.place, np.fill_diagonal, np.putmask}


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


def names_in(node):
    return [n.id for n in gast.walk(node) if isinstance(n, gast.Name)]


def tag(node, origin):
    node.origin = origin
    return node


class Reverse:
    def __init__(self, parsed, body, active_params, namer, helpers, seed_only_first=False, scalar_params=(),
                 value_needed=True, weight_params=None):
        self.parsed = parsed
        self.body = body
        self.ops = list(walk_ops(body))
        self.namer = namer
        self.helpers = helpers
        self.active_params = active_params
        self.seed_only_first = seed_only_first
        args = parsed.node.args
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        self.active = set(active_params)
        self.locals = set(self.params)
        self.adjoint_names = {}
        self.initialized = set()
        self.backward = []
        self.forward = []
        self.call_residuals = {}  # id(op) -> the name of a user call's Residuals
        self.callees = {}  # id(op) -> Callee
        self.user_call_args = {}  # id(op) -> the call's differentiated arguments
        self.loops = list(walk_loops(body))
        self.header_ops = {}  # id(loop) -> the ops a loop header performs each iteration
        self.next_names = {}  # (loop id, target) -> the name the for statement iterates into when it is taped
        self.nested = set()  # names assigned inside loops and branches: their old values may be overwritten
        self.tape = None
        self.taped = set()
        self.active_ops = set()  # ids of the ops whose value carries a derivative
        self.written_arrays = set()  # arrays the backward pass restores elements of
        self.scalar_params = set(scalar_params)
        self.range_values = {}  # id(loop) -> the name holding a range loop's range
        self.recomputed = {}
        self.recomputed_ids = set()
        self.value_needed = value_needed  # False for ad.grad: the function's value is not returned
        self.uncounted = set()  # counts of range loops that always run the whole range
        self.scalars = set()  # names that certainly hold Python numbers
        # weights= (see weights.py): None, or the parameters not differentiated that may hold Parameters.
        self.weights_mode = weight_params is not None
        self.weight_params = list(weight_params or ())
        self.weight_free = []  # globals and closure variables that are weight roots
        self.weight_source_ops = set()  # ids of the ops `t = obj.attr` whose result is a weight root
        self.weight_call_ops = set()  # ids of calls of the user's code that run for their weights' sake
        self.weight_guards = []  # (name, object) pairs the choice of weight roots depended on

    # -- helpers ------------------------------------------------------------------------------------

    def is_local(self, name):
        return name in self.locals

    def adjoint(self, var):
        if var not in self.adjoint_names:
            self.adjoint_names[var] = self.namer.fresh(f"{var}_bar")
        return self.adjoint_names[var]

    def helper(self, obj, name):
        return load(self.helpers.name_for(obj, name))

    def accumulate(self, var, expr, origin):
        name = self.adjoint(var)
        if var not in self.initialized:
            self.initialized.add(var)
            value = expr
        else:
            value = gast.BinOp(left=load(name), op=gast.Add(), right=expr)
        self.backward.append(tag(gast.Assign(targets=[store(name)], value=value, type_comment=None), origin))

    def adjoint_or_zeros(self, var):
        if var in self.initialized:
            return load(self.adjoint(var))
        return gast.Call(func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(var)], keywords=[])

    def is_scalar_atom(self, node):
        if isinstance(node, gast.Constant):
            return isinstance(node.value, (int, float)) or node.value is None
        return isinstance(node, gast.Name) and node.id in self.scalars

    def active_atom(self, node):
        return isinstance(node, gast.Name) and node.id in self.active

    def any_active(self, node):
        return any(n in self.active for n in names_in(node))

    # -- activity and the forward pass ----------------------------------------------------------------

    def analyze(self):
        """Locals, callees, activity, loop headers and Python-number names: what both the reverse and the
        forward (tangent) transformation need before they emit anything."""
        for op in self.ops:
            self.locals.update(_targets(op))
        for loop in self.loops:
            self.locals.update(loop.targets + ([loop.index] if loop.index else []) + [loop.count])
        for op in self.ops:
            if isinstance(op.value, gast.Call):
                self.callees[id(op)] = classify_call(op.value, self.parsed, self.is_local)
        if self.weights_mode:
            self.find_weight_roots()
        self.find_activity()
        self.build_loop_headers()
        self.scalars = self.find_scalars()

    def run(self):
        self.analyze()
        self.recomputed = self.find_recomputable()  # id(loop) -> ops its backward pass recomputes
        self.recomputed_ids = {id(op) for ops in self.recomputed.values() for op in ops}
        self.ops = list(walk_ops(self.body)) + [op for ops in self.header_ops.values() for op in ops]
        self.first_bindings = self.find_first_bindings()
        for op in self.ops:
            if op.nested or op.kind in ("setitem", "append"):  # these always change a value in place
                self.nested.update(_targets(op))
                if id(op) in self.call_residuals:
                    self.nested.add(self.call_residuals[id(op)])
            if op.kind == "pop":  # changes its list in place
                self.nested.add(op.value.id)
        for loop in self.loops:  # loop targets are bound only if the loop runs
            self.nested.update(loop.targets + ([loop.index] if loop.index else []))
        self.tape = self.namer.fresh("tape")
        self.written_in_place = {op.target for op in self.ops if op.kind in ("setitem", "append")}
        self.written_arrays_of_ops = {op.target for op in self.ops if op.kind == "setitem"}
        returned = self.ops_returned()
        cotangent_param, intake, seed = self.seed(returned)
        backward = self.backward_block(self.body)
        if self.weights_mode:
            backward += self.collect_roots(self.weight_params + self.weight_free)
        grads = []
        for p in self.active_params:
            if p in self.initialized:
                grads.append(load(self.adjoint_names[p]))
            else:
                grads.append(gast.Call(func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(p)],
                                       keywords=[]))
        backward = self.keep_shapes_only(backward)
        # A value goes on the tape when it is overwritten and the backward pass reads it. Dropping the
        # pops of other values can empty a branch, whose condition is then read no more: repeat.
        self.taped = None
        while True:
            read = set()
            for stmt in backward + intake + [gast.Tuple(elts=grads, ctx=gast.Load())]:
                for node in gast.walk(stmt):
                    if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                        read.add(node.id)
            taped = self.nested & read
            backward = resolve_pops(backward, taped)
            if taped == self.taped:
                break
            self.taped = taped
        self.restored = {getattr(n, "pop_of", None) for stmt in backward for n in gast.walk(stmt)} - {None}
        restored = sorted(a for a in self.written_arrays if a in self.taped)
        # The backward pass writes old elements back into these arrays: work on copies, so that the
        # forward pass's arrays (the output, or residuals a vjp_fn reads again) stay as they were.
        backward = [tag(gast.Assign(targets=[store(a)], value=gast.Call(
            func=gast.Attribute(value=load(a), attr="copy", ctx=gast.Load()), args=[], keywords=[]),
            type_comment=None), self.parsed.node.origin) for a in restored] + backward
        forward = self.forward_block(self.body)
        preamble = []
        unbound = sorted((self.nested & read) - set(self.params) - self.bound_before_nesting(),
                         key=self.first_assignment_order)
        for name in unbound:  # names assigned only inside loops or branches may be unbound at first
            start = tag(gast.Assign(targets=[store(name)], value=gast.Constant(value=None, kind=None),
                                    type_comment=None), self.parsed.node.origin)
            start.pure = True
            preamble.append(start)
        if any(getattr(stmt, "pop_of", None) for node in backward for stmt in gast.walk(node)):
            preamble.append(tag(gast.Assign(targets=[store(self.tape)], value=gast.List(elts=[], ctx=gast.Load()),
                                            type_comment=None), self.parsed.node.origin))
        forward = preamble + forward
        return Adjoint(forward, backward, returned, grads, cotangent_param, intake, seed)

    def find_first_bindings(self):
        """(op id, name) pairs where the op certainly binds a name that had no value before.

        Such an assignment overwrites nothing, so it needs no tape entry: the first assignment of a
        name inside a branch, outside any loop.
        """
        first = set()

        def visit(nodes, seen, in_loop):
            for node in nodes:
                if isinstance(node, Op):
                    for name in _targets(node) + ((self.call_residuals[id(node)],) if id(node) in self.call_residuals else ()):
                        if name not in seen and not in_loop:
                            first.add((id(node), name))
                        seen.add(name)
                elif isinstance(node, If):  # the branches are alternatives: each starts from what was bound
                    seen |= visit(node.body, set(seen), in_loop) | visit(node.orelse, set(seen), in_loop)
                elif isinstance(node, Loop):
                    seen |= visit(node.body, set(seen), True)
                    seen.update(node.targets + ([node.index] if node.index else []))
            return seen

        visit(self.body, set(self.params), False)
        return first

    def overwrites(self, op, name):
        if op.kind in ("setitem", "append"):
            return True
        if op.kind == "pop":
            return op.nested and (id(op), name) not in self.first_bindings
        return op.nested and (id(op), name) not in self.first_bindings

    def restores(self, names):
        """Whether the backward pass puts old values back into any of ``names`` (or their elements)."""
        return bool(set(names) & self.restored)

    def bound_before_nesting(self):
        """Names whose first assignment, in program order, is outside every loop and branch."""
        bound, seen = set(), set()
        for op in walk_ops(self.body):
            for name in _targets(op):
                if name not in seen and not op.nested:
                    bound.add(name)
                seen.add(name)
        return bound

    def first_assignment_order(self, name):
        for i, op in enumerate(self.ops):
            if name in _targets(op) or self.call_residuals.get(id(op)) == name:
                return (i, name)
        return (len(self.ops), name)

    def ops_returned(self):
        last = self.body[-1] if self.body else None
        if isinstance(last, Op) and last.kind == "return":
            return last.value
        return gast.Constant(value=None, kind=None)

    # -- weights ------------------------------------------------------------------------------------

    def find_weight_roots(self):
        """With weights=: the values read from outside the function that may be Parameters, and on which
        the output depends, become active from the start (see weights.py). They are attribute reads
        ``t = obj.attr`` of objects not derived from a differentiated input, globals and closure
        variables, and the parameters given as ``weight_params``. Calls of the user's own code whose
        result the output depends on run through their adjoints, for the Parameters they read.
        """
        varied = self.input_varied()
        useful = self.useful_names()
        sources, calls = set(), set()
        for op in self.ops:
            if op.kind != "assign" and op.kind != "unpack":
                continue
            value = op.value
            if op.kind == "assign" and isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) \
                    and value.attr not in rules.ATTRIBUTES and value.attr not in rules.NONDIFF_ATTRIBUTES \
                    and value.value.id not in varied and not self.numeric_module(value.value.id):
                sources.add(id(op))
                if op.target in useful:
                    self.active.add(op.target)
            elif isinstance(value, gast.Call):
                callee = self.callees[id(op)]
                receiver = value.func.value.id if callee.kind == "unknown_method" else None
                if callee.kind == "user" or (receiver is not None and receiver not in varied):
                    if any(t in useful for t in _targets(op)):
                        callee.kind = "user"
                        calls.add(id(op))
        self.weight_source_ops, self.weight_call_ops = sources, calls
        outside = {op.target for op in self.ops if id(op) in sources} | set(self.weight_params)
        self.refuse_parameter_writes(outside, varied)
        self.active.update(p for p in self.weight_params if p in useful)
        free = sorted({n for n in useful if not self.is_local(n)})
        for name in free:
            obj = resolve_name(name, self.parsed)
            self.weight_guards.append((name, None if obj is MISSING else obj))
            if obj is MISSING or may_hold_parameters(obj):
                self.weight_free.append(name)
                self.active.add(name)

    def refuse_parameter_writes(self, outside, varied):
        """A Parameter changed in place inside the function would make its gradient wrong: refuse calls
        that write into a value read from an object, a global or a closure."""
        for op in self.ops:
            value = op.value
            if not isinstance(value, gast.Call):
                continue

            def from_outside(node):
                return isinstance(node, gast.Name) and node.id not in varied and (
                    node.id in outside or not self.is_local(node.id))

            written = None
            func = value.func
            if isinstance(func, gast.Attribute) and func.attr in IN_PLACE_METHODS and from_outside(func.value):
                written = f".{func.attr}()"
            elif any(k.arg == "out" and from_outside(k.value) for k in value.keywords):
                written = "out="
            elif value.args and from_outside(value.args[0]) and \
                    getattr(self.callees.get(id(op)), "obj", None) in IN_PLACE_FUNCTIONS:
                written = _call_text(value)
            if written is not None:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate with weights= a function that writes into a value read "
                    f"from an object, a global or a closure (here with {written}): it may be a Parameter, "
                    "and changing a Parameter in place inside the differentiated function would make its "
                    "gradient wrong.", origin=op.origin,
                    hint="Compute a new array instead (w2 = w * 0.5), and update Parameters outside the "
                         "differentiated function, as an optimizer step does.")

    def numeric_module(self, name):
        """Whether a free name is numpy, math or the like: ``np.pi`` is no Parameter."""
        if self.is_local(name):
            return False
        obj = resolve_name(name, self.parsed)
        module = getattr(obj, "__name__", "") if type(obj).__name__ == "module" else ""
        return module.split(".")[0] in ("numpy", "math", "cmath", "scipy", "builtins")

    def input_varied(self):
        """Names that may depend on a differentiated input, through any operation (an over-estimate)."""
        varied = set(self.active_params)
        changed = True
        while changed:
            changed = False
            for op in self.ops:
                reads = set(names_in(op.value)) | (set(names_in(op.stored)) if op.stored is not None else set())
                if reads & varied and not set(_targets(op)) <= varied:
                    varied.update(_targets(op))
                    changed = True
            for loop in self.loops:
                if any(set(names_in(src)) & varied for src in loop.sources) and not set(loop.targets) <= varied:
                    varied.update(loop.targets)
                    changed = True
        return varied

    def useful_names(self):
        """Names the output may depend on through differentiable operations: the values whose cotangent
        the backward pass may compute. Found backwards from the returned value, to a fixed point."""
        returned = self.ops_returned()
        if self.seed_only_first and isinstance(returned, gast.Tuple):
            returned = returned.elts[0]
        useful = set(names_in(returned))
        changed = True
        while changed:
            changed = False
            for op in self.ops:
                if op.kind in ("return", "expr", "assert"):
                    continue
                if not set(_targets(op)) & useful:
                    continue
                if op.kind == "pop":
                    reads = {op.value.id}
                elif op.kind in ("setitem", "append"):
                    reads = set(names_in(op.stored))
                else:
                    reads = self.differentiable_reads(op)
                if not reads <= useful:
                    useful |= reads
                    changed = True
            for loop in self.loops:
                for target, src in zip(loop.targets, loop.sources):
                    if target in useful and not set(names_in(src)) <= useful:
                        useful |= set(names_in(src))
                        changed = True
        return useful

    def differentiable_reads(self, op):
        """The names ``op`` reads where a cotangent flows back to them."""
        value = op.value
        if is_atom(value):
            return set(names_in(value))
        if isinstance(value, gast.BinOp):
            return set(names_in(value.left)) | set(names_in(value.right))
        if isinstance(value, gast.UnaryOp):
            return set() if isinstance(value.op, gast.Not) else set(names_in(value.operand))
        if isinstance(value, gast.Attribute):
            return set(names_in(value.value)) if value.attr in rules.ATTRIBUTES else set()
        if isinstance(value, gast.Subscript):
            return set(names_in(value.value))
        if isinstance(value, gast.Call):
            callee = self.callees.get(id(op))
            args, keywords = list(value.args), {k.arg: k.value for k in value.keywords}
            if callee is None or callee.kind == "nondiff":
                return set()
            if callee.kind == "astype":
                return set(names_in(value.func.value))
            if callee.kind in ("rule", "method") and callee.rule is not None:
                if callee.kind == "method":
                    if callee.pack and len(args) > 1:
                        args = [gast.Tuple(elts=args, ctx=gast.Load())]
                    args = [value.func.value] + args
                try:
                    bound = bind_arguments(callee.rule, args, keywords, op.origin)
                except Exception:
                    bound = dict(enumerate(args + list(keywords.values())))
                return {n for name, node in bound.items() if name in callee.rule.diff or isinstance(name, int)
                        for n in names_in(node)}
            # the user's own code (a method's receiver is bound, not differentiated), or a function with no
            # rule: every argument
            return {n for a in args + list(keywords.values()) for n in names_in(a)}
        return set(names_in(value))

    def collect_roots(self, names, origin=None):
        """``collect_weight_grad(v, v_bar)`` for each weight root ``v`` whose cotangent is complete."""
        out = []
        for name in names:
            if name in self.initialized:
                call = gast.Call(func=self.helper(collect_weight_grad, "collect_weight_grad"),
                                 args=[load(name), load(self.adjoint(name))], keywords=[])
                out.append(tag(gast.Expr(value=call), origin or self.parsed.node.origin))
        return out

    # -- activity -----------------------------------------------------------------------------------

    def find_activity(self):
        """Active values, to a fixed point: a loop may make a value active in a later iteration."""
        changed = True
        while changed:
            changed = False
            for op in self.ops:
                targets = _targets(op)
                # Every op with an active operand is checked, also when its targets are already active
                # through another assignment, so that unsupported uses are refused.
                if op.kind == "pop":
                    if self.any_active(op.value):
                        self.active_ops.add(id(op))
                        if op.target not in self.active:
                            self.active.add(op.target)
                            changed = True
                    continue
                if op.kind in ("setitem", "append"):
                    if self.any_active(op.stored) and op.target not in self.active:
                        self.active.add(op.target)
                        changed = True
                    if op.target in self.active:
                        self.active_ops.add(id(op))
                    continue
                if op.kind in ("assign", "unpack") and self.value_is_active(op):
                    self.active_ops.add(id(op))
                    if not all(t in self.active for t in targets):
                        self.active.update(targets)
                        changed = True
                elif op.kind == "expr" and self.any_active(op.value):
                    self.check_effect(op)
            for loop in self.loops:
                if any(self.any_active(src) for src in loop.sources):
                    new = set(loop.targets) - self.active
                    if new:
                        self.active.update(new)
                        changed = True
        for op in self.ops:
            if op.kind in ("assign", "unpack") and isinstance(op.value, gast.Call):
                callee = self.callees.get(id(op))
                if callee is not None and callee.kind == "user" and (
                        self.any_active(op.value) or id(op) in self.weight_call_ops):
                    self.prepare_user_call(op)

    def find_scalars(self):
        """Names that hold a Python number on every assignment: parameters called with numbers, numeric
        constants, range and enumerate counters, math functions, and arithmetic on those.

        Where an operation's operands and result are all Python numbers, no broadcasting can happen, and
        the rules' ``unbroadcast`` calls are dropped (see ``apply_rule``).
        """
        definitions = {}
        for op in self.ops:
            for name in _targets(op):
                definitions.setdefault(name, []).append(op)
        counters = set()
        for loop in self.loops:
            counters.add(loop.count)
            if loop.index:
                counters.add(loop.index)
            if loop.range_args:
                counters.update(loop.targets)
        scalars = set(definitions) | counters | self.scalar_params
        numeric = (int, float)

        def scalar_atom(node):
            if isinstance(node, gast.Constant):
                return isinstance(node.value, numeric)
            return isinstance(node, gast.Name) and node.id in scalars

        def scalar_value(op):
            if op.kind != "assign":
                return False
            value = op.value
            if isinstance(value, (gast.Name, gast.Constant)):
                return scalar_atom(value)
            if isinstance(value, gast.BinOp):
                return scalar_atom(value.left) and scalar_atom(value.right)
            if isinstance(value, gast.UnaryOp) and not isinstance(value.op, gast.Not):
                return scalar_atom(value.operand)
            if isinstance(value, gast.Call):
                callee = self.callees.get(id(op))
                obj = callee.obj if callee is not None else None
                if getattr(obj, "__module__", None) == "math" or obj in (builtins.float, builtins.len, builtins.int):
                    return True
            return False

        changed = True
        while changed:
            changed = False
            for name in sorted(scalars):
                if name in counters or name in self.scalar_params:
                    continue
                if name in self.params or not all(scalar_value(op) for op in definitions.get(name, [])):
                    scalars.discard(name)
                    changed = True
        # Header copies (t = t_next) of range loops are counters too.
        return scalars

    def keep_shapes_only(self, backward):
        """Values the backward pass reads only for their shape: keep ``shape_of(value)`` instead.

        ``unbroadcast(v, z)`` needs only ``z``'s shape. Reading ``z`` itself would keep the array alive
        to the end (or put every iteration's copy on the tape); its ``Shape`` is a few numbers.
        """
        helpers = {self.helpers.name_for(f, f.__name__): position for f, position in
                   ((runtime.unbroadcast, 1), (runtime.expand_reduced, 1), (runtime.reduced_count, 0))}
        in_shape_position, reads = set(), {}
        for stmt in backward:
            for node in gast.walk(stmt):
                if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in helpers:
                    position = helpers[node.func.id]
                    if len(node.args) > position and isinstance(node.args[position], gast.Name):
                        in_shape_position.add(id(node.args[position]))
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                    reads.setdefault(node.id, []).append(node)
        changed_in_place = {op.target for op in self.ops if op.kind in ("setitem", "append")} | \
            {op.value.id for op in self.ops if op.kind == "pop"}
        defined = {}
        for op in self.ops:
            if op.kind == "assign" and id(op) not in self.call_residuals:
                defined.setdefault(op.target, []).append(op)
        # A shape is kept after each plain assignment: a name also bound another way (unpacked, popped,
        # a loop target, a call's result) must keep its value.
        bound_otherwise = {t for op in self.ops if op.kind != "assign" or id(op) in self.call_residuals
                           for t in _targets(op)}
        bound_otherwise |= {op.target for op in self.ops if op.kind == "pop"}
        for loop in self.loops:
            bound_otherwise.update(loop.targets + ([loop.index] if loop.index else []))
        recomputed = {op.target for ops in self.recomputed.values() for op in ops}
        shapes = {}
        for name, nodes in reads.items():
            # A recomputed value is a Python number, recomputed where it is read: nothing to keep.
            if name in defined and name not in changed_in_place and name not in self.params \
                    and name not in recomputed and name not in bound_otherwise \
                    and all(id(n) in in_shape_position for n in nodes):
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
                    source = self.same_shape_source(node) or node.target
                    keep = Op("assign", shapes[node.target], gast.Call(func=copy.deepcopy(shape_of),
                              args=[load(source)], keywords=[]), node.origin, nested=node.nested)
                    out.append(keep)
                    self.ops.append(keep)
                    if node.nested:
                        self.nested.add(keep.target)
                    if (id(node), node.target) in self.first_bindings:
                        self.first_bindings.add((id(keep), keep.target))
                elif isinstance(node, If):
                    node.body, node.orelse = insert(node.body), insert(node.orelse)
                elif isinstance(node, Loop):
                    node.body = insert(node.body)
            return out

        self.body = insert(self.body)
        for loop in self.loops:
            self.header_ops[id(loop)] = insert(self.header_ops.get(id(loop), []))

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

    def same_shape_source(self, op):
        """For ``y = f(x)`` with ``f`` elementwise on one differentiated array, ``x``: it has ``y``'s
        shape (and dtype), so the shape can be taken before ``y`` is computed, or without computing it."""
        value = op.value
        if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
            operand = value.operand
        elif isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords:
            callee = self.callees.get(id(op))
            if callee is None or callee.kind != "rule" or type(callee.obj).__name__ != "ufunc" \
                    or callee.obj.nin != 1:
                return None
            operand = value.args[0]
        else:
            return None
        if isinstance(operand, gast.Name) and operand.id in self.active and operand.id not in self.scalars:
            return operand.id
        return None

    def holds_one_number(self, name, seen=()):
        """Whether ``name`` certainly holds a single number: a Python number, a full reduction
        (``np.sum(x)``, ``x.mean()``), or arithmetic on those."""
        if name in self.scalars:
            return True
        defs = [op for op in self.ops if name in _targets(op)]
        if len(defs) != 1 or name in seen or defs[0].kind != "assign":
            return False
        value = defs[0].value
        seen = tuple(seen) + (name,)

        def number(node):
            if isinstance(node, gast.Constant):
                return isinstance(node.value, (int, float))
            return isinstance(node, gast.Name) and self.holds_one_number(node.id, seen)

        if isinstance(value, gast.BinOp):
            return number(value.left) and number(value.right)
        if isinstance(value, gast.UnaryOp):
            return number(value.operand)
        if isinstance(value, gast.Name):
            return number(value)
        if isinstance(value, gast.Call):
            callee = self.callees.get(id(defs[0]))
            full = callee is not None and callee.kind in ("rule", "method") and callee.obj in FULL_REDUCTIONS
            args = value.args[1:] if callee is not None and callee.kind == "rule" else value.args
            keywords = {k.arg: k.value for k in value.keywords}
            no_axis = not args and all(
                isinstance(keywords.get(k), gast.Constant) and keywords[k].value in (None, False)
                for k in ("axis", "keepdims") if k in keywords)
            return full and no_axis and set(keywords) <= {"axis", "keepdims", "dtype"}
        return False

    def assigned_once(self, name):
        """Whether ``name`` is assigned nowhere but by one loop header."""
        headers = sum(1 for loop in self.loops if name in loop.targets or name == loop.index)
        return headers == 1 and not any(name in _targets(op) for op in self.ops)

    def find_recomputable(self):
        """Per loop, the cheap scalar statements the backward pass can recompute instead of taping.

        ``t = x * i`` in a range loop: ``x`` does not change in the loop and the backward pass walks the
        same ``i``, so recomputing ``t`` at the top of each reversed iteration costs one multiplication,
        where taping it costs a push and a pop. Only arithmetic and math functions on Python numbers.
        """
        out = {}
        definitions = {}
        for op in self.ops:
            for name in _targets(op):
                definitions[name] = definitions.get(name, 0) + 1
        for loop in self.loops:
            assigned_in_loop = {t for op in walk_ops(loop.body) for t in _targets(op)}
            assigned_in_loop |= {t for inner in walk_loops(loop.body) for t in inner.targets}
            stable = set()
            if id(loop) in self.range_values:
                stable.add(loop.targets[0])
            ops = []
            for node in loop.body:
                if not isinstance(node, Op) or node.kind != "assign" or node.target not in self.scalars \
                        or definitions.get(node.target) != 1 or id(node) in self.call_residuals:
                    continue
                value = node.value
                if isinstance(value, gast.BinOp):
                    operands = [value.left, value.right]
                elif isinstance(value, gast.UnaryOp) and not isinstance(value.op, gast.Not):
                    operands = [value.operand]
                elif isinstance(value, gast.Call) and getattr(self.callees.get(id(node)), "obj", None) is not None \
                        and getattr(self.callees[id(node)].obj, "__module__", None) == "math" and not value.keywords:
                    operands = list(value.args)
                else:
                    continue
                if all(isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and a.id in self.scalars and (
                        a.id in stable or a.id not in assigned_in_loop)) for a in operands):
                    ops.append(node)
                    stable.add(node.target)
            if ops:
                out[id(loop)] = ops
        return out

    def check_effect(self, op):
        """A call made for its effect on a differentiated value: refuse what may mutate it untracked."""
        callee = self.callees.get(id(op))
        if callee is None or callee.kind in ("user", "rule", "nondiff", "method", "astype"):
            return
        what = f".{op.value.func.attr}()" if callee.kind == "unknown_method" else _call_text(op.value)
        raise UnsupportedSyntaxError(
            f"autodiff_st cannot differentiate the call {what} here: it is given a differentiated value and "
            "its result is not used, so it may store or change that value where the compiler cannot follow.",
            origin=op.origin, hint="Appending differentiated values to lists arrives in a later version; build "
                                   "an array with np.stack or np.concatenate instead.")

    def build_loop_headers(self):
        """The per-iteration assignments of each for loop, as ops the backward pass reverses.

        Over a differentiated sequence the loop walks positions, and each target is an indexing op
        (``x = xs[i]``), whose rule sends the target's adjoint back into the sequence's. Otherwise each
        target is a copy of what the for statement produces, so that its value can be restored.
        """
        for loop in self.loops:
            if loop.kind != "for":
                self.header_ops[id(loop)] = []
                continue
            ops = []
            indexed = any(self.any_active(src) for src in loop.sources)
            if loop.range_args and self.assigned_once(loop.targets[0]):
                # The backward pass walks the same range backwards: nothing to save per iteration.
                self.range_values[id(loop)] = self.namer.fresh(f"{loop.targets[0]}_values")
                if not _breaks(loop.body):
                    self.uncounted.add(loop.count)
                loop.indexed = False
                self.header_ops[id(loop)] = []
                continue
            if indexed and loop.index is None:
                loop.index = self.namer.fresh("position")
                self.locals.add(loop.index)
            copied = ([loop.index] if loop.index else []) + ([] if indexed else loop.targets)
            for name in copied:
                self.next_names[(id(loop), name)] = self.namer.fresh(f"{name}_next")
                ops.append(Op("assign", name, load(self.next_names[(id(loop), name)]), loop.origin, nested=True))
            if indexed:
                for target, src in zip(loop.targets, loop.sources):
                    item = Op("assign", target, gast.Subscript(value=src, slice=load(loop.index), ctx=gast.Load()),
                              loop.origin, nested=True)
                    if self.any_active(src):
                        self.active_ops.add(id(item))
                    ops.append(item)
            loop.indexed = indexed
            self.header_ops[id(loop)] = ops

    def forward_block(self, nodes):
        out = []
        for node in nodes:
            if isinstance(node, Op):
                out.extend(self.forward_op(node))
            elif isinstance(node, If):
                out.append(tag(gast.If(test=load(node.test), body=self.forward_block(node.body) or [gast.Pass()],
                                       orelse=self.forward_block(node.orelse)), node.origin))
            elif isinstance(node, Loop):
                loop = self.forward_loop(node)
                out.extend(loop if isinstance(loop, list) else [loop])
            elif isinstance(node, Break):
                out.append(tag(gast.Break(), node.origin))
        return out

    def forward_loop(self, loop):
        increment = tag(gast.AugAssign(target=store(loop.count), op=gast.Add(),
                                       value=gast.Constant(value=1, kind=None)), loop.origin)
        body = [increment]
        if loop.kind == "while":
            body += self.forward_block(loop.body)
            return tag(gast.While(test=gast.Constant(value=True, kind=None), body=body, orelse=[]), loop.origin)
        header = self.header_ops[id(loop)]
        mine = {name: next_name for (loop_id, name), next_name in self.next_names.items() if loop_id == id(loop)}
        copies = [op for op in header if isinstance(op.value, gast.Name) and op.value.id in mine.values()]

        def iterated(name):  # what the for statement assigns: the name itself, or its "next" name if taped
            return mine[name] if name in self.taped else name

        if id(loop) in self.range_values:
            values = self.range_values[id(loop)]
            before = tag(gast.Assign(targets=[store(values)], value=self.call_builtin("range", loop.range_args),
                                     type_comment=None), loop.origin)
            before.pure = True
            if not _breaks(loop.body):
                body = []  # it runs the whole range: the backward pass needs no count
            body += self.forward_block(loop.body)
            return [before, tag(gast.For(target=store(loop.targets[0]), iter=load(values), body=body, orelse=[],
                                         type_comment=None), loop.origin)]
        if loop.range_args:
            iterable = self.call_builtin("range", loop.range_args)
            targets = [iterated(loop.targets[0])]
        elif loop.indexed:
            lengths = [self.call_builtin("len", [src]) for src in loop.sources]
            count = lengths[0] if len(lengths) == 1 else self.call_builtin("min", lengths)
            iterable = self.call_builtin("range", [count])
            targets = [iterated(loop.index)]
        else:
            iterable = loop.sources[0] if len(loop.sources) == 1 else self.call_builtin("zip", loop.sources)
            targets = ([iterated(loop.index)] if loop.index else []) + [iterated(t) for t in loop.targets]
            if loop.index:
                iterable = self.call_builtin("enumerate", [iterable])
        for op in header:
            if op in copies and op.target not in self.taped:
                continue  # the for statement assigns the name directly
            body.extend(self.forward_op(op))
        body += self.forward_block(loop.body)
        target = store(targets[0]) if len(targets) == 1 else gast.Tuple(elts=[store(t) for t in targets],
                                                                         ctx=gast.Store())
        return tag(gast.For(target=target, iter=iterable, body=body, orelse=[], type_comment=None), loop.origin)

    def call_builtin(self, name, args):
        return gast.Call(func=self.helper(getattr(builtins, name), name), args=list(args), keywords=[])

    def forward_op(self, op):
        origin = op.origin
        if op.kind == "return":
            return []
        if op.kind == "assign" and op.target in self.uncounted:
            return []  # the count of a loop that always runs its whole range
        if op.kind in ("expr", "assert"):
            if op.kind == "expr":
                stmt = gast.Expr(value=op.value)
            else:
                test, *msg = op.value.elts
                stmt = gast.Assert(test=test, msg=msg[0] if msg else None)
            return [tag(stmt, origin)]
        out = []
        if op.kind == "append":
            append = gast.Attribute(value=load(op.target), attr="append", ctx=gast.Load())
            return [tag(gast.Expr(value=gast.Call(func=append, args=[op.stored], keywords=[])), origin)]
        if op.kind == "pop":
            if op.nested and op.target in self.taped and self.overwrites(op, op.target):
                out.append(tag(push(self.tape, load(op.target), op.target), origin))
            out.append(tag(pop(op.value.id, op.target), origin))
            out[-1].pop_of = None  # the user's (or a generated adjoint's) own pop, not a restore
            return out
        if op.kind == "setitem":
            if op.target in self.taped:  # keep the elements this write replaces, not the whole array
                saved = gast.Call(func=gast.Attribute(value=op.value, attr="copy", ctx=gast.Load()), args=[],
                                  keywords=[])
                out.append(tag(push(self.tape, saved, op.target), origin))
            element = gast.Subscript(value=load(op.target), slice=op.value.slice, ctx=gast.Store())
            out.append(tag(gast.Assign(targets=[element], value=op.stored, type_comment=None), origin))
            return out
        if op.nested and id(op) not in self.recomputed_ids:
            saved = [t for t in _targets(op) + ((self.call_residuals[id(op)],) if id(op) in self.call_residuals else ())
                     if t in self.taped and self.overwrites(op, t)]
            for name in saved:  # keep the value this assignment overwrites, for the backward pass
                out.append(tag(push(self.tape, load(name), name), origin))
        if id(op) in self.call_residuals:
            out += [tag(stmt, origin) for stmt in self.user_call_forward(op)]
        else:
            target = store(op.target) if op.kind == "assign" else gast.Tuple(
                elts=[store(t) for t in op.target], ctx=gast.Store())
            value = op.value
            if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) \
                    and value.value.id in self.written_arrays_of_ops:
                # A part of an array written in place: a copy, since the backward pass reads it after
                # writing old elements back into a copy of the array.
                value = gast.Call(func=gast.Attribute(value=value, attr="copy", ctx=gast.Load()), args=[],
                                  keywords=[])
            stmt = tag(gast.Assign(targets=[target], value=value, type_comment=None), origin)
            stmt.pure = self.is_pure(op)  # no effect but its result: may be dropped if nothing reads it
            out.append(stmt)
        return out

    def is_pure(self, op):
        value = op.value
        if isinstance(value, gast.Call):
            callee = self.callees.get(id(op))
            return callee is not None and callee.kind in ("rule", "method", "astype") or \
                (callee is not None and callee.kind == "nondiff" and callee.obj is not None
                 and getattr(callee.obj, "__module__", "") in ("numpy", "math", "builtins"))
        return isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Name, gast.Constant,
                                  gast.Attribute, gast.Subscript, gast.Tuple, gast.List, gast.Dict))

    def value_is_active(self, op):
        value = op.value
        if isinstance(value, gast.Call) and id(op) not in self.callees:
            self.callees[id(op)] = classify_call(value, self.parsed, self.is_local)
        if id(op) in self.weight_call_ops:
            return True
        if id(op) in self.weight_source_ops:
            return False  # a weight root: active from the start, and no operand to differentiate
        if not self.any_active(value):
            return False
        origin = op.origin
        if op.kind == "unpack":
            if isinstance(value, gast.Call):
                callee = self.callees[id(op)]
                if callee.kind == "user":
                    return True
                if callee.kind == "nondiff":
                    return False
                if callee.kind == "rule" and callee.rule.returns_tuple:
                    return self.call_is_active(callee, value, origin)
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot unpack the result of {_call_text(value)} here.", origin=origin,
                    hint="Assign the result to a name first, then unpack the name.")
            return True  # a, b = t: the elements of a differentiated tuple or list
        if is_atom(value):
            return True  # a copy, or a tuple, list or dict display holding differentiated values
        if isinstance(value, gast.BinOp):
            primitive = BINARY_PRIMITIVES.get(type(value.op))
            return self.primitive_is_active(primitive, origin, [value.left, value.right])
        if isinstance(value, gast.UnaryOp):
            primitive = UNARY_PRIMITIVES.get(type(value.op))
            return self.primitive_is_active(primitive, origin, [value.operand])
        if isinstance(value, gast.Compare):
            return False
        if isinstance(value, gast.Attribute):
            if value.attr in rules.NONDIFF_ATTRIBUTES:
                return False
            if value.attr in rules.ATTRIBUTES:
                return True
            raise NonDifferentiableError(
                f"autodiff_st has no derivative for the attribute `.{value.attr}` of a differentiated value.",
                origin=origin, hint="Use the numpy function instead, or register a rule for it.")
        if isinstance(value, gast.Subscript):
            return True
        if isinstance(value, gast.Call):
            return self.call_is_active(self.callees[id(op)], value, origin)
        raise UnsupportedSyntaxError(f"unexpected operation {type(value).__name__}", origin=origin)

    def primitive_is_active(self, primitive, origin, operands):
        if rules.lookup(primitive) is not None:
            return True
        if rules.is_nondifferentiable(primitive):
            return False
        raise MissingRuleError(f"no derivative rule for {rules.display_name(primitive)}.", origin=origin)

    def call_is_active(self, callee, call, origin):
        if callee.kind == "unknown_method" and not self.any_active(call.func.value):
            # obj.method(x) on an object that is not differentiated: one of the user's own methods,
            # differentiated through its source when it runs.
            callee.kind, callee.obj = "user", None
        if callee.kind in ("rule", "method", "astype"):
            if callee.kind == "method" and callee.rule is None:
                raise MissingRuleError(f"no derivative rule for the method .{call.func.attr}().", origin=origin)
            return True
        if callee.kind == "nondiff":
            return False
        if callee.kind == "user":
            return True
        what = f"the method .{call.func.attr}()" if callee.kind == "unknown_method" else \
            (rules.display_name(callee.obj) if callee.obj is not None else _call_text(call))
        raise MissingRuleError(
            f"no derivative rule for {what}, which is called here on a differentiated value.",
            origin=origin, hint=_registration_hint(callee, call))

    def prepare_user_call(self, op):
        call = op.value
        active_args = [i for i, a in enumerate(call.args) if self.any_active(a)]
        active_args += [k.arg for k in call.keywords if self.any_active(k.value)]
        fname = _call_name(call)
        self.call_residuals[id(op)] = self.namer.fresh(f"{fname}_residuals")
        self.user_call_args[id(op)] = active_args

    def user_call_forward(self, op):
        call = op.value
        residuals = self.call_residuals[id(op)]
        active_args = self.user_call_args[id(op)]
        if self.weights_mode:
            forward_helper = self.helper(call_vjp_forward_weights, "call_vjp_forward_weights")
        else:
            forward_helper = self.helper(call_vjp_forward, "call_vjp_forward")
        positions_node = gast.Tuple(elts=[gast.Constant(value=a, kind=None) for a in active_args], ctx=gast.Load())
        new_call = gast.Call(func=forward_helper, args=[call.func, positions_node] + call.args,
                             keywords=call.keywords)
        results = op.target if op.kind == "assign" else self.namer.fresh(f"{_call_name(call)}_results")
        out = [gast.Assign(targets=[gast.Tuple(elts=[store(results), store(residuals)], ctx=gast.Store())],
                           value=new_call, type_comment=None)]
        if op.kind == "unpack":  # a, b = f(x): unpack the results in a statement of its own
            out.append(gast.Assign(targets=[gast.Tuple(elts=[store(t) for t in op.target], ctx=gast.Store())],
                                   value=load(results), type_comment=None))
        return out

    # -- seeding ------------------------------------------------------------------------------------

    def seed(self, returned):
        """Start the backward pass at the output.

        Returns the backward pass's cotangent parameter, the statements that take the output's
        cotangent from it (vjp mode), and the statements that seed it with ones instead (fused mode).
        """
        ones_like = self.helper(runtime.ones_like, "ones_like")
        if self.seed_only_first and isinstance(returned, gast.Tuple):
            returned = returned.elts[0]  # with has_aux only the first output is differentiated
        last = self.body[-1] if self.body else None
        origin = last.origin if last is not None else self.parsed.node.origin
        if isinstance(returned, gast.Tuple):
            param = self.namer.fresh("out_bar")
            intake, seed, seeded = [], [], set()
            for path, elt in _leaves(returned):
                if self.active_atom(elt):
                    self.accumulate(elt.id, _part(param, path), origin)
                    intake.append(self.backward.pop())
                    name = self.adjoint(elt.id)
                    value = gast.Call(func=ones_like, args=[load(elt.id)], keywords=[])
                    if elt.id in seeded:  # the same value returned twice gets both seeds
                        value = gast.BinOp(left=load(name), op=gast.Add(), right=value)
                    seeded.add(elt.id)
                    seed.append(tag(gast.Assign(targets=[store(name)], value=value, type_comment=None), origin))
            return param, intake, seed
        if self.active_atom(returned):
            param = self.adjoint(returned.id)
            self.initialized.add(returned.id)
            ones = gast.Call(func=ones_like, args=[load(returned.id)], keywords=[])
            if not self.value_needed and self.holds_one_number(returned.id):
                # The output is one number and its value is not returned: seed with 1.0, so that the
                # statements computing the value itself can be dropped.
                ones = gast.Constant(value=1.0, kind=None)
            seed = [tag(gast.Assign(targets=[store(param)], value=ones, type_comment=None), origin)]
            return param, [], seed
        return self.namer.fresh("out_bar"), [], []

    # -- the backward pass --------------------------------------------------------------------------

    def backward_block(self, nodes):
        """The reversal of a block: the statements of the backward pass, in the order they run."""
        saved, self.backward = self.backward, []
        for node in reversed(nodes):
            if isinstance(node, Op):
                self.backward_op(node)
            elif isinstance(node, If):
                self.backward_if(node)
            elif isinstance(node, Loop):
                self.backward_loop(node)
        out, self.backward = self.backward, saved
        return out

    def zeros_for(self, var, origin):
        self.initialized.add(var)
        return tag(gast.Assign(targets=[store(self.adjoint(var))], value=gast.Call(
            func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(var)], keywords=[]), type_comment=None),
            origin)

    def backward_if(self, node):
        before = set(self.initialized)
        body = self.backward_block(node.body)
        after_body, self.initialized = self.initialized, set(before)
        orelse = self.backward_block(node.orelse)
        after_orelse = self.initialized
        # Both paths must leave the same adjoints defined: where one path defines an adjoint the other
        # does not, the other starts it at zero.
        for var in sorted(after_body - after_orelse):
            orelse.append(self.zeros_for(var, node.origin))
        for var in sorted(after_orelse - after_body):
            body.append(self.zeros_for(var, node.origin))
        self.initialized = after_body | after_orelse
        if body or orelse:
            self.backward.append(tag(gast.If(test=load(node.test), body=body or [gast.Pass()], orelse=orelse),
                                     node.origin))

    def backward_loop(self, loop):
        block = self.header_ops.get(id(loop), []) + loop.body
        # Adjoints that flow from one iteration to the one before must exist before the loop, so that
        # every iteration adds to them.
        for var in sorted(self.loop_carried(block) - self.initialized):
            self.backward.append(self.zeros_for(var, loop.origin))
        entry = set(self.initialized)
        body = self.backward_block(block)
        if body and id(loop) in self.recomputed:
            # Recompute this iteration's cheap values (see find_recomputable), in their forward order.
            again = [tag(gast.Assign(targets=[store(op.target)], value=copy.deepcopy(op.value), type_comment=None),
                         op.origin) for op in self.recomputed[id(loop)]]
            read = {n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name)}
            needed = set()
            for stmt in reversed(again):  # only those the reversed body reads, and what they need
                if stmt.targets[0].id in read | needed:
                    needed |= {n.id for n in gast.walk(stmt.value) if isinstance(n, gast.Name)}
                    needed.add(stmt.targets[0].id)
            body = [stmt for stmt in again if stmt.targets[0].id in needed] + body
        for var in sorted(entry - self.initialized):
            body.append(self.zeros_for(var, loop.origin))
        self.initialized = entry
        if body and id(loop) in self.range_values:
            # for i in reversed_range(i_values[:iterations]): the iterations that ran, last first.
            ran = gast.Subscript(value=load(self.range_values[id(loop)]), slice=gast.Slice(
                lower=None, upper=load(loop.count), step=None), ctx=gast.Load())
            if not _breaks(loop.body):
                ran = load(self.range_values[id(loop)])
            self.backward.append(tag(gast.For(target=store(loop.targets[0]),
                                              iter=gast.Call(func=self.helper(runtime.reversed_range,
                                                                              "reversed_range"),
                                                             args=[ran], keywords=[]),
                                              body=body, orelse=[], type_comment=None), loop.origin))
        elif body:
            step = self.namer.fresh("step")
            self.backward.append(tag(gast.For(target=store(step), iter=self.call_builtin("range", [load(loop.count)]),
                                              body=body, orelse=[], type_comment=None), loop.origin))

    def loop_carried(self, block):
        """Active names a loop body may read before assigning them: their adjoints flow between iterations."""
        exposed, _ = upward_exposed(block)
        return {v for v in exposed if v in self.active}

    def backward_setitem(self, op):
        origin = op.origin
        array = op.target
        index = gast.Subscript(value=gast.Attribute(value=self.helper(np, "np"), attr="index_exp", ctx=gast.Load()),
                               slice=op.value.slice, ctx=gast.Load())
        if id(op) in self.active_ops and array in self.initialized:
            g = load(self.adjoint(array))
            if self.active_atom(op.stored):
                self.accumulate(op.stored.id, gast.Call(func=self.helper(runtime.stored_grad, "stored_grad"),
                                                        args=[g, index, op.stored], keywords=[]), origin)
            self.backward.append(tag(gast.Assign(targets=[store(self.adjoint(array))], value=gast.Call(
                func=self.helper(runtime.zero_at, "zero_at"), args=[load(self.adjoint(array)), copy.deepcopy(index)],
                keywords=[]), type_comment=None), origin))
        element = gast.Subscript(value=load(array), slice=op.value.slice, ctx=gast.Store())
        self.backward.append(tag(pop(self.tape, array, element), origin))
        self.written_arrays.add(array)

    def backward_append(self, op):
        origin = op.origin
        items = op.target
        if id(op) in self.active_ops and items in self.initialized:
            g = load(self.adjoint(items))
            if self.active_atom(op.stored):
                last = gast.Subscript(value=g, slice=gast.Constant(value=-1, kind=None), ctx=gast.Load())
                self.accumulate(op.stored.id, last, origin)
            rest = gast.Subscript(value=load(self.adjoint(items)), slice=gast.Slice(
                lower=None, upper=gast.Constant(value=-1, kind=None), step=None), ctx=gast.Load())
            self.backward.append(tag(gast.Assign(targets=[store(self.adjoint(items))], value=rest,
                                                 type_comment=None), origin))
        undo = gast.Expr(value=gast.Call(func=gast.Attribute(value=load(items), attr="pop", ctx=gast.Load()),
                                         args=[], keywords=[]))
        undo.pop_of = items
        self.backward.append(tag(undo, origin))
        self.written_arrays.add(items)

    def backward_pop(self, op):
        origin = op.origin
        items = op.value.id
        if id(op) in self.active_ops and (op.target in self.initialized or items in self.initialized):
            tail = self.adjoint_or_zeros(op.target)
            before = load(self.adjoint(items)) if items in self.initialized else gast.Call(
                func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(items)], keywords=[])
            self.backward.append(tag(gast.Assign(targets=[store(self.adjoint(items))], value=gast.Call(
                func=self.helper(runtime.push_part, "push_part"), args=[before, tail], keywords=[]),
                type_comment=None), origin))
            self.initialized.add(items)
        # Put the value back on the list; then restore what the popped name held before.
        undo = gast.Expr(value=gast.Call(func=gast.Attribute(value=load(items), attr="append", ctx=gast.Load()),
                                         args=[load(op.target)], keywords=[]))
        undo.pop_of = items
        self.backward.append(tag(undo, origin))
        self.written_arrays.add(items)
        if self.overwrites(op, op.target):
            self.backward.append(tag(pop(self.tape, op.target), origin))
        self.initialized.discard(op.target)

    def backward_op(self, op):
        if op.kind == "pop":
            self.backward_pop(op)
            return
        if op.kind == "setitem":
            self.backward_setitem(op)
            return
        if op.kind == "append":
            self.backward_append(op)
            return
        if op.kind in ("return", "expr", "assert"):
            return
        targets = _targets(op)
        if id(op) in self.active_ops and any(t in self.initialized for t in targets):
            self.backward_contributions(op)
        if id(op) in self.weight_source_ops:
            self.backward += self.collect_roots(targets, op.origin)
        if op.nested:
            # Restore what this assignment overwrote; the old value's adjoint starts from nothing.
            restored = list(targets) + ([self.call_residuals[id(op)]] if id(op) in self.call_residuals else [])
            for name in reversed(restored):  # the tape is a stack: pop in the reverse order of the pushes
                if self.overwrites(op, name) and id(op) not in self.recomputed_ids:
                    restore = pop(self.tape, name)
                    if name in self.written_in_place:
                        # The backward pass writes old elements back into this array: into a copy, so
                        # that the forward pass's array (read again by a second vjp_fn call) stays as is.
                        restore.value = gast.Call(func=gast.Attribute(value=restore.value, attr="copy",
                                                                      ctx=gast.Load()), args=[], keywords=[])
                    self.backward.append(tag(restore, op.origin))
                self.initialized.discard(name)

    def backward_contributions(self, op):
        origin = op.origin
        value = op.value
        if id(op) in self.call_residuals:
            self.backward_user_call(op)
            return
        if op.kind == "unpack" and isinstance(value, gast.Name):
            parts = gast.Call(func=self.helper(runtime.parts, "parts"),
                              args=[self.adjoint_or_zeros(t) for t in op.target], keywords=[])
            self.accumulate(value.id, parts, origin)
            return
        if op.kind == "unpack":
            callee = self.callees[id(op)]
            g = gast.Tuple(elts=[self.adjoint_or_zeros(t) for t in op.target], ctx=gast.Load())
            ans = gast.Tuple(elts=[load(t) for t in op.target], ctx=gast.Load())
            self.apply_rule(callee.rule, list(value.args), {k.arg: k.value for k in value.keywords}, g, ans, origin)
            return
        g = self.adjoint(op.target)
        if isinstance(value, gast.Name):
            self.accumulate(value.id, load(g), origin)
            return
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            # A display: each differentiated element takes its part of the display's cotangent.
            for path, leaf in _leaves(value):
                if self.active_atom(leaf):
                    self.accumulate(leaf.id, _part(g, path), origin)
            return
        if isinstance(value, gast.BinOp):
            primitive = BINARY_PRIMITIVES[type(value.op)]
            self.apply_rule(rules.lookup(primitive), [value.left, value.right], {}, g, op.target, origin)
        elif isinstance(value, gast.UnaryOp):
            primitive = UNARY_PRIMITIVES[type(value.op)]
            self.apply_rule(rules.lookup(primitive), [value.operand], {}, g, op.target, origin)
        elif isinstance(value, gast.Subscript):
            index = gast.Subscript(value=gast.Attribute(value=self.helper(np, "np"), attr="index_exp", ctx=gast.Load()),
                                   slice=value.slice, ctx=gast.Load())
            self.apply_rule(rules.lookup(operator.getitem), [value.value, index], {}, g, op.target, origin)
        elif isinstance(value, gast.Attribute):
            rule = rules.lookup(rules.ATTRIBUTES[value.attr])
            self.apply_rule(rule, [value.value], {}, g, op.target, origin)
        elif isinstance(value, gast.Call):
            callee = self.callees[id(op)]
            args = list(value.args)
            keywords = {k.arg: k.value for k in value.keywords}
            if callee.kind == "astype":
                receiver = value.func.value
                rule = rules.lookup(runtime.astype)
                self.apply_rule(rule, [receiver] + args, keywords, g, op.target, origin)
                return
            if callee.kind == "method":
                receiver = value.func.value
                if callee.pack and len(args) > 1:
                    args = [gast.Tuple(elts=args, ctx=gast.Load())]
                args = [receiver] + args
            self.apply_rule(callee.rule, args, keywords, g, op.target, origin)

    def apply_rule(self, rule, args, keywords, g, target, origin):
        bound = bind_arguments(rule, args, keywords, origin)
        wanted = []
        for name, node in bound.items():
            if self.any_active(node) and name not in rule.nograd:
                if isinstance(node, (gast.Tuple, gast.List)) and name not in rule.sequences:
                    raise UnsupportedSyntaxError(
                        f"autodiff_st cannot differentiate this call of {rule.name}: its argument `{name}` "
                        + ("is a list or tuple of differentiated values, which this rule does not take."
                           if isinstance(node, (gast.Tuple, gast.List)) else "must be a list or tuple display."),
                        origin=origin, hint="Pass the arrays one by one, or write the list out in the call.")
                if name not in rule.diff:
                    raise NonDifferentiableError(
                        f"autodiff_st has no derivative of {rule.name} with respect to its argument "
                        f"`{name}`, and a differentiated value is passed there.", origin=origin,
                        hint=f"Wrap that argument in ad.stop_gradient(...) if it should be a constant, "
                             f"or register a rule for {rule.name} that differentiates `{name}`.")
                wanted.append(name)
        prelude, exprs = inline_vjp(rule, bound, g, target, wanted, self.namer, self.helpers)
        if isinstance(target, str) and target in self.scalars and all(
                self.is_scalar_atom(node) for node in bound.values() if not isinstance(node, gast.Constant)
                or isinstance(node.value, (int, float))):
            # Python numbers all round: unbroadcast(v, x) is v.
            prelude = [_drop_unbroadcast(stmt, self.helpers) for stmt in prelude]
            exprs = {name: _drop_unbroadcast(expr, self.helpers) for name, expr in exprs.items()}
        for stmt in prelude:
            self.backward.append(tag(stmt, origin))
        for name in wanted:
            node = bound[name]
            if isinstance(node, gast.Name):
                if name in rule.sequences:  # a list held in a variable: its cotangent is a list too
                    self.accumulate(node.id, gast.Call(func=self.helper(runtime.as_parts, "as_parts"),
                                                       args=[exprs[name]], keywords=[]), origin)
                else:
                    self.accumulate(node.id, exprs[name], origin)
                continue
            # A list of arrays: its cotangent is a list; each differentiated element takes its part.
            parts = self.namer.fresh(f"{name}_bar_parts")
            self.backward.append(tag(gast.Assign(targets=[store(parts)], value=exprs[name], type_comment=None),
                                     origin))
            for i, elt in enumerate(node.elts):
                if self.active_atom(elt):
                    self.accumulate(elt.id, gast.Subscript(value=load(parts), slice=gast.Constant(value=i, kind=None),
                                                           ctx=gast.Load()), origin)

    def backward_user_call(self, op):
        origin = op.origin
        call = op.value
        residuals = self.call_residuals[id(op)]
        active_args = self.user_call_args[id(op)]
        if op.kind == "assign":
            cotangent = load(self.adjoint(op.target))
        else:
            cotangent = gast.Tuple(elts=[self.adjoint_or_zeros(t) for t in op.target], ctx=gast.Load())
        nodes = [call.args[a] if isinstance(a, int) else next(k.value for k in call.keywords if k.arg == a)
                 for a in active_args]
        fresh_targets = []
        pending = []
        for node in nodes:
            if not isinstance(node, gast.Name):  # a display: its cotangent is split among its elements
                part = self.namer.fresh("argument_bar")
                fresh_targets.append(store(part))
                pending.append((node, part))
                continue
            var = node.id
            if var not in self.initialized and var not in [n.id for n, _ in pending if isinstance(n, gast.Name)]:
                self.initialized.add(var)
                fresh_targets.append(store(self.adjoint(var)))
            else:
                part = self.namer.fresh(f"{var}_bar_part")
                fresh_targets.append(store(part))
                pending.append((node, part))
        call = gast.Call(func=self.helper(call_vjp_backward, "call_vjp_backward"),
                         args=[load(residuals), cotangent], keywords=[])
        if not fresh_targets:  # a call run only for the Parameters it reads (weights=)
            self.backward.append(tag(gast.Expr(value=call), origin))
            return
        # The tuple of the cotangents of the call's active arguments, in order.
        target = gast.Tuple(elts=fresh_targets, ctx=gast.Store())
        self.backward.append(tag(gast.Assign(targets=[target], value=call, type_comment=None), origin))
        for node, part in pending:
            if isinstance(node, gast.Name):
                self.accumulate(node.id, load(part), origin)
                continue
            for path, leaf in _leaves(node):
                if self.active_atom(leaf):
                    self.accumulate(leaf.id, _part(part, path), origin)


def _drop_unbroadcast(node, helpers):
    name = helpers.name_for(runtime.unbroadcast, "unbroadcast")

    class Drop(gast.NodeTransformer):
        def visit_Call(self, call):
            self.generic_visit(call)
            if isinstance(call.func, gast.Name) and call.func.id == name and len(call.args) == 2:
                return call.args[0]
            return call

    return Drop().visit(node)


def _breaks(nodes):
    """Whether a loop body may leave the loop early."""
    for node in nodes:
        if isinstance(node, Break):
            return True
        if isinstance(node, If) and (_breaks(node.body) or _breaks(node.orelse)):
            return True
    return False


def push(tape, value, name):
    stmt = gast.Expr(value=gast.Call(func=gast.Attribute(value=load(tape), attr="append", ctx=gast.Load()),
                                     args=[value], keywords=[]))
    stmt.push_of = name
    return stmt


def pop(tape, name, target=None):
    stmt = gast.Assign(targets=[target or store(name)], value=gast.Call(
        func=gast.Attribute(value=load(tape), attr="pop", ctx=gast.Load()), args=[], keywords=[]), type_comment=None)
    stmt.pop_of = name
    return stmt


def resolve_pops(statements, taped):
    """Keep the tape pops of the taped names; drop the others, and loops or branches left empty."""
    out = []
    for stmt in statements:
        if getattr(stmt, "pop_of", None) is not None and stmt.pop_of not in taped:
            continue
        if isinstance(stmt, gast.If):
            stmt.body = resolve_pops(stmt.body, taped)
            stmt.orelse = resolve_pops(stmt.orelse, taped)
            if not stmt.body and not stmt.orelse:
                continue
            stmt.body = stmt.body or [gast.Pass()]
        elif isinstance(stmt, gast.For):
            stmt.body = resolve_pops(stmt.body, taped)
            if not stmt.body:
                continue
        out.append(stmt)
    return out


def upward_exposed(nodes):
    """(names a block may read before it assigns them, names it assigns on every path)."""
    exposed, defined = set(), set()
    for node in nodes:
        if isinstance(node, Op):
            reads = set(names_in(node.value))
            if node.stored is not None:
                reads |= set(names_in(node.stored))
            if node.kind == "setitem":
                reads.add(node.target)  # a write into part of an array keeps the rest
            exposed |= reads - defined
            defined |= set(_targets(node))
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


def _part(name, path):
    """``name[k1][k2]...``: the cotangent of the element at ``path`` of a display's cotangent."""
    part = load(name)
    for key in path:
        part = gast.Subscript(value=part, slice=gast.Constant(value=key, kind=None), ctx=gast.Load())
    return part


def _leaves(node, path=()):
    """The atoms of a (possibly nested) tuple, list or dict display, with their index paths."""
    if isinstance(node, (gast.Tuple, gast.List)):
        for i, elt in enumerate(node.elts):
            yield from _leaves(elt, path + (i,))
    elif isinstance(node, gast.Dict):
        for key, value in zip(node.keys, node.values):
            yield from _leaves(value, path + (key.value,))
    else:
        yield path, node


def _targets(op):
    if op.kind in ("assign", "setitem", "append", "pop"):
        return (op.target,)
    if op.kind == "unpack":
        return tuple(op.target)
    return ()


def _call_name(call):
    """A word for what a call calls, for the names of its results: for the helpers through which generated
    code calls a function (``call_vjp_forward(helper, ...)``), the function's name."""
    name = call.func.attr if isinstance(call.func, gast.Attribute) else getattr(call.func, "id", "call")
    if name.startswith(("call_vjp_forward", "call_jvp")) and call.args and isinstance(call.args[0], (gast.Name,
                                                                                                  gast.Attribute)):
        return _call_name(gast.Call(func=call.args[0], args=[], keywords=[]))
    return name


def _call_text(call):
    try:
        return ast.unparse(gast.gast_to_ast(call.func))
    except Exception:
        return "this function"


def _registration_hint(callee, call):
    name = _call_text(call)
    short = name.split(".")[-1]
    params = "x"
    obj = callee.obj
    if type(obj).__name__ == "ufunc":
        params = ", ".join(f"x{i + 1}" for i in range(obj.nin)) if obj.nin > 1 else "x"
    elif obj is not None:
        try:
            params = ", ".join(p for p in inspect.signature(obj).parameters if p not in ("self",))
        except (TypeError, ValueError):
            pass
    return ("Register a derivative rule for it, for example:\n\n"
            f"    @ad.register_vjp({name})\n"
            f"    def {short}_vjp(g, ans, {params}):\n"
            f"        return ...  # the gradient of each argument, given g, the gradient of the result\n\n"
            f"or, if it has no derivative, mark it with ad.nondifferentiable({name}).")
