"""Forward mode: the tangent transformation.

Reads the normal form and its ``Facts`` (analyze.py: activity, calls, loop headers, kinds). Produces the
statements of one function that runs the user's statements (primal.py) and, after each one that carries
a derivative, a statement computing the tangent of its result: ``y = np.sin(x)`` is followed by
``y_dot = x_dot * np.cos(x)``. Control flow keeps its shape, because tangents flow the same way as
values: no tape, no backward pass. Calls to the user's own functions go through ``call_jvp``, which
transforms the callee into its own tangent function.

The tangent of a primitive comes from its forward rule (see the "forward mode" section of
``rules/__init__.py``): a diagonal primitive reuses its reverse rule, a linear one is applied to the
tangents, a multilinear one gives one term per differentiated operand, and a custom rule is inlined like a
reverse rule.
"""

import copy
import dataclasses
import operator

import gast
import numpy as np

import autodiff_st.runtime as runtime
from ..core import registry as rules
from ..core.errors import MissingRuleError, NonDifferentiableError, UnsupportedSyntaxError
from ..runtime.calls import call_jvp
from .ir import load, store
from .kinds import ARRAY
from .ops import BINARY_PRIMITIVES, UNARY_PRIMITIVES, call_name, leaves, names_in, tag, targets
from .primal import Primal, Writer, drop_unbroadcast
from .templates import bind_arguments, inline_vjp


class Tangent(Writer):
    """The forward transform of one function: ``run()`` gives its statements, returned value and the
    tangent of the returned value; ``tangent(name)`` names the tangent of ``name``."""

    def __init__(self, facts, namer, helpers):
        super().__init__(facts, namer, helpers)
        self.tangent_names = {}
        self.primal = Primal(facts, namer, helpers, self.op_statements, self.loop_zeros)

    def tangent(self, var):
        if var not in self.tangent_names:
            self.tangent_names[var] = self.namer.fresh(f"{var}_dot")
        return self.tangent_names[var]

    def zeros(self, node):
        return gast.Call(func=self.helper(runtime.tangent_zeros, "tangent_zeros"), args=[copy.deepcopy(node)],
                         keywords=[])

    def tangent_of(self, node):
        """The tangent of an atom (or a display of atoms) as an expression."""
        if isinstance(node, gast.Name):
            return load(self.tangent(node.id)) if node.id in self.facts.active else self.zeros(node)
        if isinstance(node, gast.Constant):
            return gast.Constant(value=0.0, kind=None)
        if isinstance(node, (gast.Tuple, gast.List)):
            return type(node)(elts=[self.tangent_of(e) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Dict):
            return gast.Dict(keys=[copy.deepcopy(k) for k in node.keys], values=[self.tangent_of(v) for v in node.values])
        return self.zeros(node)

    # -- the transformation --------------------------------------------------------------------------

    def run(self):
        """Returns (statements, returned value, tangent of the returned value)."""
        facts = self.facts
        statements = []
        origin = facts.parsed.node.origin
        for p in facts.params:  # a parameter that becomes differentiated by an assignment starts at zero
            if p in facts.active and p not in facts.active_params:
                statements.append(tag(gast.Assign(targets=[store(self.tangent(p))], value=self.zeros(load(p)),
                                                  type_comment=None), origin))
        written = {op.target for op in facts.body_ops if op.kind == "setitem"}
        for p in facts.active_params:  # the function writes into this argument: not into the caller's tangent
            if p in written:
                statements.append(tag(gast.Assign(targets=[store(self.tangent(p))], value=gast.Call(
                    func=gast.Attribute(value=load(self.tangent(p)), attr="copy", ctx=gast.Load()), args=[],
                    keywords=[]), type_comment=None), origin))
        statements += self.primal.block(facts.body)
        returned = facts.returned()
        return statements, returned, self.tangent_of(returned)

    def loop_zeros(self, loop):
        """A for loop over a sequence that is not differentiated: its targets' tangents start at zero."""
        if loop.indexed:
            return []
        return [tag(gast.Assign(targets=[store(self.tangent(t))], value=self.zeros(load(t)), type_comment=None),
                    loop.origin) for t in loop.targets if t in self.facts.active]

    def op_statements(self, op):
        if id(op) in self.facts.user_calls:
            return [tag(stmt, op.origin) for stmt in self.user_call_jvp(op)]
        primal = self.primal.statement(op)
        if op.kind in ("return", "expr", "assert", "unshared", "raise") or (op.kind == "assign" and op.target in self.facts.uncounted):
            return primal
        names = targets(op)
        reads = set(names_in(op.value)) | (set(names_in(op.stored)) if op.stored is not None else set())
        tangent = [tag(stmt, op.origin) for stmt in self.tangent_statements(op)]
        if not tangent:
            return primal
        if op.kind in ("assign", "unpack") and set(names) & reads and len(primal) == 1:
            # x = x * y: the tangent reads the old x, and the rule may read the new one. Compute the new
            # value under a fresh name, then the tangent, then rebind.
            fresh = {t: self.namer.fresh(f"{t}_new") for t in names}
            renamed = _rename_stores(primal[0], fresh)
            tangent = [_read_results_renamed(s, fresh) for s in tangent]
            rebind = [tag(gast.Assign(targets=[store(t)], value=load(fresh[t]), type_comment=None), op.origin)
                      for t in names]
            return [renamed] + tangent + rebind
        return primal + tangent

    def tangent_statements(self, op):
        """The statements giving the tangents of what ``op`` binds or changes."""
        facts = self.facts
        names = targets(op)
        if op.kind == "setitem":
            if op.target not in facts.active:
                return []
            element = gast.Subscript(value=load(self.tangent(op.target)), slice=copy.deepcopy(op.value.slice),
                                     ctx=gast.Store())
            return [gast.Assign(targets=[element], value=self.tangent_of(op.stored), type_comment=None)]
        if op.kind == "append":
            if op.target not in facts.active:
                return []
            append = gast.Attribute(value=load(self.tangent(op.target)), attr="append", ctx=gast.Load())
            return [gast.Expr(value=gast.Call(func=append, args=[self.tangent_of(op.stored)], keywords=[]))]
        if op.kind == "pop":
            if op.target not in facts.active:
                return []
            items = op.value.id
            if items not in facts.active:
                return [self.assign(op.target, self.zeros(load(op.target)))]
            pop = gast.Attribute(value=load(self.tangent(items)), attr="pop", ctx=gast.Load())
            return [self.assign(op.target, gast.Call(func=pop, args=[], keywords=[]))]
        active_targets = [t for t in names if t in facts.active]
        if not active_targets:
            return []
        if id(op) not in facts.active_ops:  # a constant bound to a name that is differentiated elsewhere
            if op.kind == "assign" and isinstance(op.value, gast.Constant) and isinstance(op.value.value, (int, float)):
                return [self.assign(op.target, gast.Constant(value=0.0, kind=None))]
            return [self.assign(t, self.zeros(load(t))) for t in active_targets]
        value = op.value
        if isinstance(value, (gast.Name, gast.Tuple, gast.List, gast.Dict)):
            if op.kind == "unpack":
                return [gast.Assign(targets=[gast.Tuple(elts=[store(self.tangent(t)) for t in names], ctx=gast.Store())],
                                    value=self.tangent_of(value), type_comment=None)]
            return [self.assign(op.target, self.tangent_of(value))]
        prelude, expr = self.rule_tangent(op)
        if op.kind == "unpack":
            target = gast.Tuple(elts=[store(self.tangent(t)) for t in names], ctx=gast.Store())
            return prelude + [gast.Assign(targets=[target], value=expr, type_comment=None)]
        if op.target in facts.liveness.parts_written:  # the tangent is written into element by element: own it
            expr = gast.Call(func=self.helper(runtime.owned, "owned"), args=[expr], keywords=[])
        return prelude + [self.assign(op.target, expr)]

    def assign(self, name, value):
        return gast.Assign(targets=[store(self.tangent(name))], value=value, type_comment=None)

    # -- rules ---------------------------------------------------------------------------------------

    def rule_tangent(self, op):
        """(prelude, expression) for the tangent of an operation handled by a derivative rule."""
        value = op.value
        origin = op.origin
        ans = load(op.target) if op.kind == "assign" else gast.Tuple(elts=[load(t) for t in op.target], ctx=gast.Load())
        for node in gast.walk(ans):  # so that x = f(x) can read the new x where the rule reads the result
            if isinstance(node, gast.Name):
                node.is_ans = True
        if isinstance(value, gast.BinOp):
            return self.apply_forward(rules.lookup(BINARY_PRIMITIVES[type(value.op)]), [value.left, value.right], {},
                                      value, ans, op)
        if isinstance(value, gast.UnaryOp):
            return self.apply_forward(rules.lookup(UNARY_PRIMITIVES[type(value.op)]), [value.operand], {}, value, ans, op)
        if isinstance(value, gast.Subscript):
            index = gast.Subscript(value=gast.Attribute(value=self.helper(np, "np"), attr="index_exp", ctx=gast.Load()),
                                   slice=value.slice, ctx=gast.Load())
            return self.apply_forward(rules.lookup(operator.getitem), [value.value, index], {}, value, ans, op)
        if isinstance(value, gast.Attribute):
            if value.attr in rules.ATTRIBUTES:
                return self.apply_forward(rules.lookup(rules.ATTRIBUTES[value.attr]), [value.value], {}, None, ans, op)
            field = gast.Constant(value=value.attr, kind=None)  # a field of a pytree object
            return self.apply_forward(rules.lookup(runtime.tree_field), [value.value, field], {}, None, ans, op)
        if isinstance(value, gast.Call):
            callee = self.facts.callees[id(op)]
            args = list(value.args)
            keywords = {k.arg: k.value for k in value.keywords}
            if callee.kind == "astype":
                return self.apply_forward(rules.lookup(runtime.astype), [value.func.value] + args, keywords, None, ans, op)
            if callee.kind == "method":
                if callee.pack and len(args) > 1:
                    args = [gast.Tuple(elts=args, ctx=gast.Load())]
                # ``items.copy()`` of a list or dict: np.copy would make the tangent an array. A list or dict
                # made here copies its tangent the same way; a receiver of unknown kind (a list unpacked from
                # a generated adjoint's residuals, say) copies its tangent as the receiver's own type does.
                receiver = value.func.value
                original = None
                if callee.obj is np.copy and isinstance(receiver, gast.Name):
                    if any(op.kind == "assign" and op.target == receiver.id
                           and isinstance(op.value, (gast.List, gast.Dict)) for op in self.facts.body_ops):
                        original = value
                    elif self.facts.kinds.kind(receiver.id).kind != ARRAY:
                        original = gast.Call(func=self.helper(runtime.copy_of, "copy_of"), args=[receiver],
                                             keywords=[])
                return self.apply_forward(callee.rule, [value.func.value] + args, keywords, original, ans, op)
            return self.apply_forward(callee.rule, args, keywords, value, ans, op)
        raise UnsupportedSyntaxError(f"autodiff_st cannot take the tangent of {type(value).__name__}", origin=origin)

    def apply_forward(self, rule, args, keywords, original, ans, op):
        origin = op.origin
        bound = bind_arguments(rule, args, keywords, origin)
        wanted = []
        for name, node in bound.items():
            if self.facts.any_active(node) and name not in rule.nograd:
                if name not in rule.diff:
                    raise NonDifferentiableError(
                        f"autodiff_st has no derivative of {rule.name} with respect to its argument "
                        f"`{name}`, and a differentiated value is passed there.", origin=origin,
                        hint="Wrap that argument in ad.stop_gradient(...) if it should be a constant.")
                wanted.append(name)
        forward = rules.lookup_forward(rule.primitive)
        if forward is None:
            raise MissingRuleError(
                f"no forward-mode rule for {rule.name}.", origin=origin,
                hint=f"Register one with @ad.register_jvp({rule.name.split('.')[-1]}), or use reverse mode "
                     "(ad.grad, ad.vjp, ad.jacrev).")
        if original is None:  # a method or attribute: call the function it stands for
            original = gast.Call(func=self.helper(rule.primitive, _helper_name(rule.primitive)), args=list(args),
                                 keywords=[gast.keyword(arg=k, value=v) for k, v in keywords.items()])
        prelude, terms = [], []
        if forward.kind == "diagonal":
            for name in wanted:
                pre, exprs = inline_vjp(rule, bound, self.tangent_of(bound[name]), ans, [name], self.namer, self.helpers)
                prelude += [drop_unbroadcast(s, self.helpers) for s in pre]
                terms.append(drop_unbroadcast(exprs[name], self.helpers))
        elif forward.kind == "linear":
            memo = {}
            for name in rule.diff:
                node = bound.get(name)
                if node is None or name in rule.nograd or (isinstance(node, gast.Constant) and node.value is None):
                    continue
                if isinstance(node, (gast.Tuple, gast.List)) and name in rule.sequences:
                    for _, leaf in leaves(node):
                        memo[id(leaf)] = self.tangent_of(leaf)
                else:
                    memo[id(node)] = self.tangent_of(node)
            terms.append(_without_offset(copy.deepcopy(original, memo), bound, rule, origin))
        elif forward.kind == "multilinear":
            for name in wanted:
                node = bound[name]
                if isinstance(node, (gast.Tuple, gast.List)) and name in rule.sequences:
                    for _, leaf in leaves(node):
                        if self.facts.any_active(leaf):
                            terms.append(copy.deepcopy(original, {id(leaf): self.tangent_of(leaf)}))
                elif name in rule.sequences:
                    raise UnsupportedSyntaxError(
                        f"autodiff_st takes the tangent of {rule.name} only for operands written out in the call.",
                        origin=origin, hint="Pass the arrays one by one.")
                else:
                    terms.append(copy.deepcopy(original, {id(node): self.tangent_of(node)}))
        else:
            for name in wanted:
                jvp_fn = forward.custom.get(name)
                if jvp_fn is None:
                    raise MissingRuleError(f"no forward-mode rule of {rule.name} for its argument `{name}`.",
                                           origin=origin, hint="Register one with @ad.register_jvp(f, wrt=...).")
                as_rule = dataclasses.replace(rule, vjp=jvp_fn, diff=(name,))
                pre, exprs = inline_vjp(as_rule, bound, self.tangent_of(bound[name]), ans, [name], self.namer,
                                        self.helpers)
                prelude += pre
                terms.append(exprs[name])
        if not terms:
            return prelude, self.zeros(ans)
        if rule.returns_tuple:
            if len(terms) == 1:
                return prelude, terms[0]
            return prelude, gast.Call(func=self.helper(runtime.add_tangents, "add_tangents"), args=terms, keywords=[])
        total = terms[0]
        for term in terms[1:]:
            total = gast.BinOp(left=total, op=gast.Add(), right=term)
        # A term has its operand's shape; where an operand without a tangent is broadcast against it, the
        # result is larger: broadcast the tangent to the result's shape.
        numbers = self.facts.kinds.numbers
        constants = [n for n in bound.values() if isinstance(n, gast.Name) and n.id not in self.facts.active
                     and n.id not in numbers]
        if forward.kind == "diagonal" and constants and not (isinstance(ans, gast.Name) and ans.id in numbers):
            total = gast.Call(func=self.helper(runtime.broadcast_like, "broadcast_like"), args=[total, ans], keywords=[])
        return prelude, total

    # -- calls to the user's functions ---------------------------------------------------------------

    def user_call_jvp(self, op):
        call = op.value
        active_args = self.facts.user_calls[id(op)].active_args
        positions = gast.Tuple(elts=[gast.Constant(value=a, kind=None) for a in active_args], ctx=gast.Load())
        tangents = []
        for a in active_args:
            node = call.args[a] if isinstance(a, int) else next(k.value for k in call.keywords if k.arg == a)
            tangents.append(self.tangent_of(node))
        tangents = gast.Tuple(elts=tangents, ctx=gast.Load())
        new_call = gast.Call(func=self.helper(call_jvp, "call_jvp"),
                             args=[call.func, positions, tangents] + call.args, keywords=call.keywords)
        if op.kind == "assign":
            results, results_dot = op.target, self.tangent(op.target)
        else:  # a, b = f(x): the results and their tangents, unpacked in statements of their own
            results = self.namer.fresh(f"{call_name(call)}_results")
            results_dot = self.namer.fresh(f"{results}_dot")
        out = [gast.Assign(targets=[gast.Tuple(elts=[store(results), store(results_dot)], ctx=gast.Store())],
                           value=new_call, type_comment=None)]
        if op.kind == "unpack":
            for names, source in ((list(op.target), results), ([self.tangent(t) for t in op.target], results_dot)):
                out.append(gast.Assign(targets=[gast.Tuple(elts=[store(t) for t in names], ctx=gast.Store())],
                                       value=load(source), type_comment=None))
        return out


def _without_offset(call, bound, rule, origin):
    """The tangent of a linear reduction given ``initial=`` (``np.sum(x, initial=c)`` is ``c`` plus a linear
    function of ``x``): the same call without it."""
    given = bound.get("initial")
    if given is None or isinstance(given, gast.Constant) and given.value is None:
        return call
    kept = [k for k in call.keywords if k.arg != "initial"]
    if len(kept) == len(call.keywords):
        raise UnsupportedSyntaxError(f"autodiff_st takes the tangent of {rule.name} with `initial` passed by keyword "
                                     "only.", origin=origin, hint="Write initial=... .")
    call.keywords = kept
    return call


def _helper_name(obj):
    return getattr(obj, "__name__", "primitive")


def _rename_stores(stmt, mapping):
    stmt = copy.deepcopy(stmt)
    for node in gast.walk(stmt):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and node.id in mapping:
            node.id = mapping[node.id]
    return stmt


def _read_results_renamed(stmt, mapping):
    """In a tangent statement, read the new value (the result) under its fresh name where a rule reads
    the result, and the old value where it reads an operand: results appear in rules only as ``ans``,
    which the inliner substituted by a fresh Load of the target. Operands keep the old name."""
    for node in gast.walk(stmt):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and getattr(node, "is_ans", False):
            node.id = mapping.get(node.id, node.id)
    return stmt
