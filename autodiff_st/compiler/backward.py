"""The backward pass of the reverse transform: the normal form's statements, reversed.

Reads the normal form and its ``Facts``. Produces the statements of the backward pass, the seed of the
output's cotangent, and which adjoints it defined. For each statement whose result has an adjoint, the
derivative rule is inlined (templates.py) and each active operand's adjoint receives its contribution:
the first contribution assigns (``x_bar = ...``), later ones accumulate (``x_bar = x_bar + ...``), and
nothing is ever updated in place. A value the statement overwrote is restored with a pop from the tape
(``tape.pop()``, see tape.py); which of those pops survive is decided later, once it is known what the
backward pass reads.
"""

import copy
import operator

import gast
import numpy as np

import autodiff_st.runtime as runtime
from ..core import registry as rules
from ..core.errors import NonDifferentiableError, UnsupportedSyntaxError
from ..runtime.calls import call_vjp_backward
from ..runtime.weights import collect_weight_grad
from .ir import If, Loop, Op, load, store
from .ops import BINARY_PRIMITIVES, UNARY_PRIMITIVES, breaks, leaves, part, tag, targets
from .primal import Writer, drop_unbroadcast
from .tape import own_copy, pop
from .templates import bind_arguments, inline_vjp


class Backward(Writer):
    """Writes the backward pass. ``initialized`` holds the names whose adjoint is defined at the point
    being written; ``adjoint(name)`` is the name of that adjoint."""

    def __init__(self, facts, namer, helpers, tape, value_needed=True, ranges=None):
        super().__init__(facts, namer, helpers)
        self.tape = tape
        self.ranges = ranges  # the tape of the ranges of loops inside loops
        self.value_needed = value_needed  # False for ad.grad: the function's value is not returned
        self.adjoint_names = {}
        self.initialized = set()
        self.statements = []
        self.written_arrays = set()  # arrays and lists the backward pass restores elements of

    # -- adjoints -------------------------------------------------------------------------------------

    def adjoint(self, var):
        if var not in self.adjoint_names:
            self.adjoint_names[var] = self.namer.fresh(f"{var}_bar")
        return self.adjoint_names[var]

    def accumulate(self, var, expr, origin):
        name = self.adjoint(var)
        if var not in self.initialized:
            self.initialized.add(var)
            value = expr
        elif self.is_index_grad(expr):
            # x_bar + index_grad(v, x, i) adds v into x_bar where no other name holds it (runtime/indexing.py)
            accumulate = self.helper(runtime.accumulate_index, "accumulate_index")
            value = gast.Call(func=accumulate, args=[load(name)] + list(expr.args), keywords=[])
        else:
            value = gast.BinOp(left=load(name), op=gast.Add(), right=expr)
        self.statements.append(tag(gast.Assign(targets=[store(name)], value=value, type_comment=None), origin))

    def is_index_grad(self, expr):
        return isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and len(expr.args) == 3 \
            and not expr.keywords and expr.func.id == self.helper(runtime.index_grad, "index_grad").id

    def adjoint_or_zeros(self, var):
        if var in self.initialized:
            return load(self.adjoint(var))
        return gast.Call(func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(var)], keywords=[])

    def zeros_for(self, var, origin):
        self.initialized.add(var)
        return tag(gast.Assign(targets=[store(self.adjoint(var))], value=gast.Call(
            func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(var)], keywords=[]), type_comment=None),
            origin)

    def active_atom(self, node):
        return isinstance(node, gast.Name) and node.id in self.facts.active

    def is_scalar_atom(self, node):
        if isinstance(node, gast.Constant):
            return isinstance(node.value, (int, float)) or node.value is None
        return isinstance(node, gast.Name) and self.facts.kinds.is_number(node.id)

    def collect_roots(self, names, origin=None):
        """``collect_weight_grad(v, v_bar)`` for each weight root ``v`` whose cotangent is complete."""
        out = []
        for name in names:
            if name in self.initialized:
                call = gast.Call(func=self.helper(collect_weight_grad, "collect_weight_grad"),
                                 args=[load(name), load(self.adjoint(name))], keywords=[])
                out.append(tag(gast.Expr(value=call), origin or self.facts.parsed.node.origin))
        return out

    # -- seeding ----------------------------------------------------------------------------------------

    def seed(self, returned):
        """Start the backward pass at the output.

        Returns the backward pass's cotangent parameter, the statements that take the output's
        cotangent from it (vjp mode), and the statements that seed it with ones instead (fused mode).
        """
        facts = self.facts
        ones_like = self.helper(runtime.ones_like, "ones_like")
        if facts.seed_only_first and isinstance(returned, gast.Tuple):
            returned = returned.elts[0]  # with has_aux only the first output is differentiated
        last = facts.body[-1] if facts.body else None
        origin = last.origin if last is not None else facts.parsed.node.origin
        if isinstance(returned, gast.Tuple):
            param = self.namer.fresh("out_bar")
            intake, seed, seeded = [], [], set()
            for path, elt in leaves(returned):
                if self.active_atom(elt):
                    self.accumulate(elt.id, part(param, path), origin)
                    intake.append(self.statements.pop())
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
            if not self.value_needed and facts.kinds.holds_one_number(returned.id):
                # The output is one number and its value is not returned: seed with 1.0, so that the
                # statements computing the value itself can be dropped.
                ones = gast.Constant(value=1.0, kind=None)
            seed = [tag(gast.Assign(targets=[store(param)], value=ones, type_comment=None), origin)]
            return param, [], seed
        return self.namer.fresh("out_bar"), [], []

    # -- blocks -----------------------------------------------------------------------------------------

    def block(self, nodes):
        """The reversal of a block: the statements of the backward pass, in the order they run."""
        saved, self.statements = self.statements, []
        for node in reversed(nodes):
            if isinstance(node, Op):
                self.op(node)
            elif isinstance(node, If):
                self.branches(node)
            elif isinstance(node, Loop):
                self.loop(node)
        out, self.statements = self.statements, saved
        return out

    def branches(self, node):
        before = set(self.initialized)
        body = self.block(node.body)
        after_body, self.initialized = self.initialized, set(before)
        orelse = self.block(node.orelse)
        after_orelse = self.initialized
        # Both paths must leave the same adjoints defined: where one path defines an adjoint the other
        # does not, the other starts it at zero.
        for var in sorted(after_body - after_orelse):
            orelse.append(self.zeros_for(var, node.origin))
        for var in sorted(after_orelse - after_body):
            body.append(self.zeros_for(var, node.origin))
        self.initialized = after_body | after_orelse
        if body or orelse:
            self.statements.append(tag(gast.If(test=load(node.test), body=body or [gast.Pass()], orelse=orelse),
                                       node.origin))

    def loop(self, loop):
        facts, liveness = self.facts, self.facts.liveness
        block = facts.header_ops.get(id(loop), []) + loop.body
        # Adjoints that flow from one iteration to the one before must exist before the loop, so that
        # every iteration adds to them.
        for var in sorted(liveness.loop_carried(block) - self.initialized):
            self.statements.append(self.zeros_for(var, loop.origin))
        entry = set(self.initialized)
        body = self.block(block)
        if body and id(loop) in liveness.recomputed:
            # Recompute this iteration's cheap values (see Liveness.recomputed), in their forward order.
            again = [tag(gast.Assign(targets=[store(op.target)], value=copy.deepcopy(op.value), type_comment=None),
                         op.origin) for op in liveness.recomputed[id(loop)]]
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
        if body and id(loop) in facts.range_values:
            # for i in reversed_range(i_values[:iterations]): the iterations that ran, last first.
            ran = gast.Subscript(value=load(facts.range_values[id(loop)]), slice=gast.Slice(
                lower=None, upper=load(loop.count), step=None), ctx=gast.Load())
            if not breaks(loop.body):
                ran = load(facts.range_values[id(loop)])
            self.statements.append(tag(gast.For(target=store(loop.targets[0]),
                                                iter=gast.Call(func=self.helper(runtime.reversed_range,
                                                                                "reversed_range"),
                                                               args=[ran], keywords=[]),
                                                body=body, orelse=[], type_comment=None), loop.origin))
            self.statements[-1].loop_of = id(loop)  # for loop checkpointing (checkpoint_loops.py)
            if id(loop) in liveness.reentered:  # the range of the outer iteration before
                self.statements.append(tag(pop(self.ranges, facts.range_values[id(loop)]), loop.origin))
        elif body:
            step = self.namer.fresh("step")
            self.statements.append(tag(gast.For(target=store(step),
                                                iter=self.call_builtin("range", [load(loop.count)]),
                                                body=body, orelse=[], type_comment=None), loop.origin))
            self.statements[-1].loop_of = id(loop)

    # -- ops --------------------------------------------------------------------------------------------

    def op(self, op):
        if op.kind == "pop":
            self.pop(op)
            return
        if op.kind == "setitem":
            self.setitem(op)
            return
        if op.kind == "append":
            self.append(op)
            return
        if op.kind in ("return", "expr", "assert", "unshared", "raise"):
            return
        facts, liveness = self.facts, self.facts.liveness
        names = targets(op)
        if id(op) in facts.active_ops and any(t in self.initialized for t in names):
            self.contributions(op)
        if facts.weights is not None and id(op) in facts.weights.source_ops:
            self.statements += self.collect_roots(names, op.origin)
        if op.nested:
            # Restore what this assignment overwrote; the old value's adjoint starts from nothing.
            for name in reversed(liveness.binds(op)):  # the tape is a stack: pop in the reverse order of the pushes
                if liveness.overwrites(op, name) and id(op) not in liveness.recomputed_ids:
                    self.statements.append(tag(pop(self.tape, name), op.origin))
                    if name in liveness.written_in_place:
                        # The backward pass writes old elements back into this array: into a copy, so
                        # that the forward pass's array (read again by a second vjp_fn call) stays as is.
                        self.statements.append(own_copy(name, op.origin, self.helper(runtime.restored_copy, "restored_copy")))
                self.initialized.discard(name)

    def setitem(self, op):
        origin = op.origin
        array = op.target
        index = gast.Subscript(value=gast.Attribute(value=self.helper(np, "np"), attr="index_exp", ctx=gast.Load()),
                               slice=op.value.slice, ctx=gast.Load())
        if id(op) in self.facts.active_ops and array in self.initialized:
            g = load(self.adjoint(array))
            if self.active_atom(op.stored):
                self.accumulate(op.stored.id, gast.Call(func=self.helper(runtime.stored_grad, "stored_grad"),
                                                        args=[g, index, op.stored], keywords=[]), origin)
            self.statements.append(tag(gast.Assign(targets=[store(self.adjoint(array))], value=gast.Call(
                func=self.helper(runtime.zero_at, "zero_at"), args=[load(self.adjoint(array)), copy.deepcopy(index)],
                keywords=[]), type_comment=None), origin))
        element = gast.Subscript(value=load(array), slice=op.value.slice, ctx=gast.Store())
        self.statements.append(tag(pop(self.tape, array, element), origin))
        self.written_arrays.add(array)

    def append(self, op):
        origin = op.origin
        items = op.target
        if id(op) in self.facts.active_ops and items in self.initialized:
            g = load(self.adjoint(items))
            if self.active_atom(op.stored):
                last = gast.Subscript(value=g, slice=gast.Constant(value=-1, kind=None), ctx=gast.Load())
                self.accumulate(op.stored.id, last, origin)
            rest = gast.Subscript(value=load(self.adjoint(items)), slice=gast.Slice(
                lower=None, upper=gast.Constant(value=-1, kind=None), step=None), ctx=gast.Load())
            self.statements.append(tag(gast.Assign(targets=[store(self.adjoint(items))], value=rest,
                                                   type_comment=None), origin))
        undo = gast.Expr(value=gast.Call(func=gast.Attribute(value=load(items), attr="pop", ctx=gast.Load()),
                                         args=[], keywords=[]))
        undo.pop_of = items
        self.statements.append(tag(undo, origin))
        self.written_arrays.add(items)

    def pop(self, op):
        origin = op.origin
        items = op.value.id
        if id(op) in self.facts.active_ops and (op.target in self.initialized or items in self.initialized):
            tail = self.adjoint_or_zeros(op.target)
            before = load(self.adjoint(items)) if items in self.initialized else gast.Call(
                func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(items)], keywords=[])
            self.statements.append(tag(gast.Assign(targets=[store(self.adjoint(items))], value=gast.Call(
                func=self.helper(runtime.push_part, "push_part"), args=[before, tail], keywords=[]),
                type_comment=None), origin))
            self.initialized.add(items)
        # Put the value back on the list; then restore what the popped name held before.
        undo = gast.Expr(value=gast.Call(func=gast.Attribute(value=load(items), attr="append", ctx=gast.Load()),
                                         args=[load(op.target)], keywords=[]))
        undo.pop_of = items
        self.statements.append(tag(undo, origin))
        self.written_arrays.add(items)
        if self.facts.liveness.overwrites(op, op.target):
            self.statements.append(tag(pop(self.tape, op.target), origin))
        self.initialized.discard(op.target)

    def contributions(self, op):
        origin = op.origin
        value = op.value
        if id(op) in self.facts.user_calls:
            self.user_call(op)
            return
        if op.kind == "unpack" and isinstance(value, gast.Name):
            # The rows of an array, or the elements of a tuple or list: the helper tells them apart.
            parts = gast.Call(func=self.helper(runtime.unpacked_cotangent, "unpacked_cotangent"),
                              args=[load(value.id)] + [self.adjoint_or_zeros(t) for t in op.target], keywords=[])
            self.accumulate(value.id, parts, origin)
            return
        if op.kind == "unpack":
            callee = self.facts.callees[id(op)]
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
            for path, leaf in leaves(value):
                if self.active_atom(leaf):
                    self.accumulate(leaf.id, part(g, path), origin)
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
            if value.attr in rules.ATTRIBUTES:
                self.apply_rule(rules.lookup(rules.ATTRIBUTES[value.attr]), [value.value], {}, g, op.target, origin)
            else:  # a field of a pytree object
                field = gast.Constant(value=value.attr, kind=None)
                self.apply_rule(rules.lookup(runtime.tree_field), [value.value, field], {}, g, op.target, origin)
        elif isinstance(value, gast.Call):
            callee = self.facts.callees[id(op)]
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
            if self.facts.any_active(node) and name not in rule.nograd:
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
        self.matmul_of_known_ranks(rule, bound, g, exprs)
        self.number_with_array(rule, bound, exprs)
        if isinstance(target, str) and self.facts.kinds.is_number(target) and all(
                self.is_scalar_atom(node) for node in bound.values() if not isinstance(node, gast.Constant)
                or isinstance(node.value, (int, float))):
            # Python numbers all round: unbroadcast(v, x) is v.
            prelude = [drop_unbroadcast(stmt, self.helpers) for stmt in prelude]
            exprs = {name: drop_unbroadcast(expr, self.helpers) for name, expr in exprs.items()}
        for stmt in prelude:
            self.statements.append(tag(stmt, origin))
        check = _checks_cotangents(rule)
        for name in wanted:
            node = bound[name]
            if isinstance(node, gast.Name) and check and name not in rule.sequences:
                # a user's rule: its cotangent must have the argument's shape, not be broadcast into it
                checked = self.namer.fresh(f"{name}_cotangent")
                self.statements.append(tag(gast.Assign(targets=[store(checked)], value=exprs[name],
                                                       type_comment=None), origin))
                call = gast.Call(func=self.helper(runtime.check_rule_cotangent, "check_rule_cotangent"),
                                 args=[load(checked), load(node.id), gast.Constant(value=rule.name, kind=None),
                                       gast.Constant(value=name, kind=None)], keywords=[])
                self.statements.append(tag(gast.Expr(value=call), origin))
                exprs[name] = load(checked)
            if isinstance(node, gast.Name):
                if name in rule.sequences:  # a list held in a variable: its cotangent is a list too
                    self.accumulate(node.id, gast.Call(func=self.helper(runtime.as_parts, "as_parts"),
                                                       args=[exprs[name]], keywords=[]), origin)
                else:
                    self.accumulate(node.id, exprs[name], origin)
                continue
            # A list of arrays: its cotangent is a list; each differentiated element takes its part.
            parts = self.namer.fresh(f"{name}_bar_parts")
            self.statements.append(tag(gast.Assign(targets=[store(parts)], value=exprs[name], type_comment=None),
                                       origin))
            for path, leaf in leaves(node):  # a nested display's elements take their parts in turn
                if self.active_atom(leaf):
                    self.accumulate(leaf.id, part(parts, path), origin)

    def matmul_of_known_ranks(self, rule, bound, g, exprs):
        """``W @ h`` with ``W`` a matrix and ``h`` a vector, both proven numpy arrays of those ranks (kinds.py):
        the cotangents are ``np.outer(g, h)`` and ``W.T @ g``, written out where the generic rule calls
        ``matmul_grad_left``/``matmul_grad_right`` (which reach the same two expressions for these ranks
        after checking them at run time)."""
        if rule.primitive not in _MATMULS or set(bound) != {"x", "y"}:
            return
        left, right = bound["x"], bound["y"]
        if not (isinstance(left, gast.Name) and isinstance(right, gast.Name)):
            return
        kinds = self.facts.kinds
        if kinds.kind(left.id).kind != "array" or kinds.kind(right.id).kind != "array" \
                or kinds.rank(left.id) != 2 or kinds.rank(right.id) != 1:
            return
        cotangent = load(g) if isinstance(g, str) else g
        if "x" in exprs:
            outer = gast.Attribute(value=self.helper(np, "np"), attr="outer", ctx=gast.Load())
            exprs["x"] = gast.Call(func=outer, args=[cotangent, load(right.id)], keywords=[])
        if "y" in exprs:
            transposed = gast.Attribute(value=load(left.id), attr="T", ctx=gast.Load())
            exprs["y"] = gast.BinOp(left=transposed, op=gast.MatMult(), right=copy.deepcopy(cotangent))

    def number_with_array(self, rule, bound, exprs):
        """``a * c`` (or ``+ - / ** // %``) of an array ``a`` and a number ``c`` (kinds.py): the result has
        ``a``'s shape, so ``a``'s cotangent ``unbroadcast(v, a)`` is ``v`` itself. (The number's own
        cotangent is still summed down.)"""
        if rule.primitive not in _ELEMENTWISE_OPERATORS or len(bound) != 2:
            return
        kinds = self.facts.kinds
        (first, left), (second, right) = bound.items()
        for name, node, other in ((first, left, right), (second, right, left)):
            expr = exprs.get(name)
            if not (isinstance(node, gast.Name) and kinds.kind(node.id).kind == "array"
                    and kinds.rank(node.id) is not None and self.is_number_atom(other)):
                continue
            if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and len(expr.args) == 2 \
                    and expr.func.id == self.helper(runtime.unbroadcast, "unbroadcast").id \
                    and isinstance(expr.args[1], gast.Name) and expr.args[1].id == node.id:
                exprs[name] = expr.args[0]

    def is_number_atom(self, node):
        if isinstance(node, gast.Constant):
            return type(node.value) in (int, float, bool)
        return isinstance(node, gast.Name) and self.facts.kinds.is_number(node.id)

    def user_call(self, op):
        origin = op.origin
        call = op.value
        plan = self.facts.user_calls[id(op)]
        if op.kind == "assign":
            cotangent = load(self.adjoint(op.target))
        else:
            cotangent = gast.Tuple(elts=[self.adjoint_or_zeros(t) for t in op.target], ctx=gast.Load())
        nodes = [call.args[a] if isinstance(a, int) else next(k.value for k in call.keywords if k.arg == a)
                 for a in plan.active_args]
        fresh_targets = []
        pending = []
        for node in nodes:
            if not isinstance(node, gast.Name):  # a display: its cotangent is split among its elements
                name = self.namer.fresh("argument_bar")
                fresh_targets.append(store(name))
                pending.append((node, name))
                continue
            var = node.id
            if var not in self.initialized and var not in [n.id for n, _ in pending if isinstance(n, gast.Name)]:
                self.initialized.add(var)
                fresh_targets.append(store(self.adjoint(var)))
            else:
                name = self.namer.fresh(f"{var}_bar_part")
                fresh_targets.append(store(name))
                pending.append((node, name))
        call = gast.Call(func=self.helper(call_vjp_backward, "call_vjp_backward"),
                         args=[load(plan.residuals), cotangent], keywords=[])
        if not fresh_targets:  # a call run only for the Parameters it reads (weights=)
            self.statements.append(tag(gast.Expr(value=call), origin))
            return
        # The tuple of the cotangents of the call's active arguments, in order.
        target = gast.Tuple(elts=fresh_targets, ctx=gast.Store())
        self.statements.append(tag(gast.Assign(targets=[target], value=call, type_comment=None), origin))
        for node, name in pending:
            if isinstance(node, gast.Name):
                self.accumulate(node.id, load(name), origin)
                continue
            for path, leaf in leaves(node):
                if self.active_atom(leaf):
                    self.accumulate(leaf.id, part(name, path), origin)


_MATMULS = (operator.matmul, np.matmul)
_ELEMENTWISE_OPERATORS = (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
                          operator.floordiv, operator.mod)


def _checks_cotangents(rule):
    """Whether generated code checks the cotangents of ``rule``: a rule the user registered, not one of
    autodiff_st's own (nor a custom_vjp's, which checks its own)."""
    module = getattr(rule.vjp, "__module__", None) or ""
    return not rule.checked and not module.startswith("autodiff_st.")
