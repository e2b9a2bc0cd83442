"""Stage 5, reverse: turn the normal form into a forward pass and a backward pass.

The forward pass is the normal form itself, except that calls to the user's own functions go through
``call_forward``, which also returns the call's pullback. The backward pass visits the statements in
reverse. For each statement whose result has an adjoint, it inlines the derivative rule and adds the
contribution to each active operand's adjoint. The first contribution assigns (``x_bar = ...``), later
ones accumulate (``x_bar = x_bar + ...``), and nothing is ever updated in place.

A result nobody differentiates never gets an adjoint, so dead adjoint code is not generated in the first
place. Because the normal form is single-assignment, the backward pass can read every forward value by
name. The *residuals* are exactly the forward names the backward pass reads.
"""

import dataclasses
import operator

import gast

from . import rules
from .analyze import classify_call
from .errors import MissingRuleError, NonDifferentiableError, UnsupportedSyntaxError
from .normalize import is_atom, load, store
from .parsing import origin_of
from .templates import bind_arguments, inline_vjp
from . import runtime

BINARY_PRIMITIVES = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Div: operator.truediv,
    gast.MatMult: operator.matmul, gast.Pow: operator.pow, gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv, gast.BitAnd: operator.and_, gast.BitOr: operator.or_,
    gast.BitXor: operator.xor, gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
UNARY_PRIMITIVES = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
                    gast.Invert: operator.invert}


@dataclasses.dataclass
class Adjoint:
    """The pieces the emitter assembles into a module."""

    forward: list  # statements, each with an ``origin``
    backward: list
    returned: gast.expr  # the forward's return value: an atom or a tuple of atoms
    grads: list  # expressions returned by the backward pass, one per differentiated parameter
    residuals: list  # forward names the backward pass reads
    cotangent_param: str  # the backward pass's parameter holding the output's cotangent
    intake: list  # statements that read the output's cotangent from that parameter (vjp mode)
    seed: list  # statements that seed the backward pass with ones instead (fused mode)


def names_in(node):
    return [n.id for n in gast.walk(node) if isinstance(n, gast.Name)]


def tag(node, origin):
    node.origin = origin
    return node


class Reverse:
    def __init__(self, parsed, ops, active_params, namer, helpers, seed_only_first=False):
        self.parsed = parsed
        self.ops = ops
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
        self.pullbacks = {}  # op index -> pullback name
        self.callees = {}  # op index -> Callee

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

    def active_atom(self, node):
        return isinstance(node, gast.Name) and node.id in self.active

    def any_active(self, node):
        return any(n in self.active for n in names_in(node))

    # -- activity and the forward pass ----------------------------------------------------------------

    def run(self):
        for index, op in enumerate(self.ops):
            self.forward_op(index, op)
        returned = self.ops[-1].value if self.ops and self.ops[-1].kind == "return" else gast.Constant(
            value=None, kind=None)
        cotangent_param, intake, seed = self.seed(returned)
        for index in reversed(range(len(self.ops))):
            self.backward_op(index, self.ops[index])
        grads = []
        for p in self.active_params:
            if p in self.initialized:
                grads.append(load(self.adjoint_names[p]))
            else:
                grads.append(gast.Call(func=self.helper(runtime.zeros_like, "zeros_like"), args=[load(p)],
                                       keywords=[]))
        read = []
        for stmt in self.backward + [gast.Tuple(elts=grads, ctx=gast.Load())]:
            for n in names_in(stmt):
                if n in self.locals and n not in read:
                    read.append(n)
        forward_names = [n for n in self.params] + [t for op in self.ops for t in _targets(op)] + \
            list(self.pullbacks.values())
        residuals = [n for n in forward_names if n in read]
        return Adjoint(self.forward, self.backward, returned, grads, residuals, cotangent_param, intake, seed)

    def forward_op(self, index, op):
        origin = op.origin
        if op.kind == "return":
            return
        if op.kind in ("expr", "assert"):
            if op.kind == "expr":
                stmt = gast.Expr(value=op.value)
            else:
                test, *msg = op.value.elts
                stmt = gast.Assert(test=test, msg=msg[0] if msg else None)
            self.forward.append(tag(stmt, origin))
            return
        targets = _targets(op)
        value = op.value
        active = self.value_is_active(index, op)
        if active and isinstance(value, gast.Call) and self.callees[index].kind == "user":
            self.forward.append(tag(self.user_call_forward(index, op), origin))
        else:
            target = store(op.target) if op.kind == "assign" else gast.Tuple(
                elts=[store(t) for t in targets], ctx=gast.Store())
            self.forward.append(tag(gast.Assign(targets=[target], value=value, type_comment=None), origin))
        self.locals.update(targets)
        if active:
            self.active.update(targets)

    def value_is_active(self, index, op):
        value = op.value
        if not self.any_active(value):
            if isinstance(value, gast.Call):
                self.callees[index] = classify_call(value, self.parsed, self.is_local)
            return False
        origin = op.origin
        if op.kind == "unpack":
            if isinstance(value, gast.Call):
                callee = classify_call(value, self.parsed, self.is_local)
                self.callees[index] = callee
                if callee.obj is _call_forward():
                    self.refuse_second_order_through_calls(origin)
                if callee.kind == "user":
                    return True
                if callee.kind == "nondiff":
                    return False
                if callee.kind == "rule" and callee.rule.returns_tuple:
                    self._unpacking = True
                    try:
                        return self.call_is_active(callee, value, origin)
                    finally:
                        self._unpacking = False
            raise UnsupportedSyntaxError(
                "autodiff_st cannot yet unpack a differentiated tuple unless it comes from a call to "
                "one of your own functions.", origin=origin,
                hint="Tuples of differentiated values arrive in the next version.")
        if is_atom(value):
            if isinstance(value, gast.Name):
                return True
            raise UnsupportedSyntaxError(
                "autodiff_st cannot yet put differentiated values into a tuple or list other than the "
                "returned one.", origin=origin, hint="Keep the values in separate variables.")
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
        if isinstance(value, gast.Call):
            callee = classify_call(value, self.parsed, self.is_local)
            self.callees[index] = callee
            return self.call_is_active(callee, value, origin)
        raise UnsupportedSyntaxError(f"unexpected operation {type(value).__name__}", origin=origin)

    def primitive_is_active(self, primitive, origin, operands):
        if rules.lookup(primitive) is not None:
            return True
        if rules.is_nondifferentiable(primitive):
            return False
        raise MissingRuleError(f"no derivative rule for {rules.display_name(primitive)}.", origin=origin)

    def call_is_active(self, callee, call, origin):
        if callee.kind in ("rule", "method", "astype"):
            if callee.kind == "method" and callee.rule is None:
                raise MissingRuleError(f"no derivative rule for the method .{call.func.attr}().", origin=origin)
            if callee.kind == "rule" and callee.rule.returns_tuple and not getattr(self, "_unpacking", False):
                raise UnsupportedSyntaxError(
                    f"{callee.rule.name} returns a tuple: unpack it where it is called, as in "
                    f"`a, b = {_call_text(call)}(...)`.", origin=origin,
                    hint="Indexing a tuple of differentiated values arrives in the next version.")
            return True
        if callee.kind == "nondiff":
            return False
        if callee.kind == "user":
            for arg in call.args + [k.value for k in call.keywords]:
                if not isinstance(arg, gast.Name) and self.any_active(arg):
                    raise UnsupportedSyntaxError(
                        "autodiff_st cannot yet pass a tuple or list of differentiated values to a function.",
                        origin=origin, hint="Pass the arrays as separate arguments; tuples, lists and dicts "
                                            "of arrays arrive in the next version.")
            return True
        if callee.obj is _call_forward():
            self.refuse_second_order_through_calls(origin)
        what = f"the method .{call.func.attr}()" if callee.kind == "unknown_method" else \
            (rules.display_name(callee.obj) if callee.obj is not None else _call_text(call))
        raise MissingRuleError(
            f"no derivative rule for {what}, which is called here on a differentiated value.",
            origin=origin, hint=_registration_hint(callee, call))

    def refuse_second_order_through_calls(self, origin):
        raise UnsupportedSyntaxError(
            "autodiff_st cannot yet differentiate a generated adjoint that calls one of your own "
            "functions: second derivatives through such calls arrive in a later version.",
            origin=origin, hint="For second derivatives now, write the computation in one function.")

    def user_call_forward(self, index, op):
        call = op.value
        callee = self.callees[index]
        active_args = [i for i, a in enumerate(call.args) if self.any_active(a)]
        active_args += [k.arg for k in call.keywords if self.any_active(k.value)]
        fname = call.func.attr if isinstance(call.func, gast.Attribute) else getattr(call.func, "id", "call")
        pullback = self.namer.fresh(f"{fname}_pullback")
        self.pullbacks[index] = pullback
        call_forward = self.helper(_call_forward(), "call_forward")
        positions_node = gast.Tuple(elts=[gast.Constant(value=a, kind=None) for a in active_args], ctx=gast.Load())
        new_call = gast.Call(func=call_forward, args=[call.func, positions_node] + call.args,
                             keywords=call.keywords)
        if op.kind == "assign":
            target = store(op.target)
        else:
            target = gast.Tuple(elts=[store(t) for t in op.target], ctx=gast.Store())
        self.user_call_args = getattr(self, "user_call_args", {})
        self.user_call_args[index] = active_args
        return gast.Assign(targets=[gast.Tuple(elts=[target, store(pullback)], ctx=gast.Store())],
                           value=new_call, type_comment=None)

    # -- seeding ------------------------------------------------------------------------------------

    def seed(self, returned):
        """Start the backward pass at the output.

        Returns the backward pass's cotangent parameter, the statements that take the output's
        cotangent from it (vjp mode), and the statements that seed it with ones instead (fused mode).
        """
        ones_like = self.helper(runtime.ones_like, "ones_like")
        if self.seed_only_first and isinstance(returned, gast.Tuple):
            returned = returned.elts[0]  # with has_aux only the first output is differentiated
        origin = self.ops[-1].origin if self.ops else None
        if isinstance(returned, gast.Tuple):
            param = self.namer.fresh("out_bar")
            intake, seed, seeded = [], [], set()
            for path, elt in _leaves(returned):
                if self.active_atom(elt):
                    part = load(param)
                    for i in path:
                        part = gast.Subscript(value=part, slice=gast.Constant(value=i, kind=None), ctx=gast.Load())
                    self.accumulate(elt.id, part, origin)
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
            seed = [tag(gast.Assign(targets=[store(param)], value=gast.Call(
                func=ones_like, args=[load(returned.id)], keywords=[]), type_comment=None), origin)]
            return param, [], seed
        return self.namer.fresh("out_bar"), [], []

    # -- the backward pass --------------------------------------------------------------------------

    def backward_op(self, index, op):
        if op.kind in ("return", "expr", "assert"):
            return
        targets = _targets(op)
        if not any(t in self.active and t in self.initialized for t in targets):
            return
        origin = op.origin
        value = op.value
        if index in self.pullbacks:
            self.backward_user_call(index, op)
            return
        if op.kind == "unpack":
            callee = self.callees[index]
            g = gast.Tuple(elts=[self.adjoint_or_zeros(t) for t in op.target], ctx=gast.Load())
            ans = gast.Tuple(elts=[load(t) for t in op.target], ctx=gast.Load())
            self.apply_rule(callee.rule, list(value.args), {k.arg: k.value for k in value.keywords}, g, ans, origin)
            return
        g = self.adjoint(op.target)
        if isinstance(value, gast.Name):
            self.accumulate(value.id, load(g), origin)
            return
        if isinstance(value, gast.BinOp):
            primitive = BINARY_PRIMITIVES[type(value.op)]
            self.apply_rule(rules.lookup(primitive), [value.left, value.right], {}, g, op.target, origin)
        elif isinstance(value, gast.UnaryOp):
            primitive = UNARY_PRIMITIVES[type(value.op)]
            self.apply_rule(rules.lookup(primitive), [value.operand], {}, g, op.target, origin)
        elif isinstance(value, gast.Attribute):
            rule = rules.lookup(rules.ATTRIBUTES[value.attr])
            self.apply_rule(rule, [value.value], {}, g, op.target, origin)
        elif isinstance(value, gast.Call):
            callee = self.callees[index]
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
                if isinstance(node, (gast.Tuple, gast.List)) != (name in rule.sequences):
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
        for stmt in prelude:
            self.backward.append(tag(stmt, origin))
        for name in wanted:
            node = bound[name]
            if isinstance(node, gast.Name):
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

    def backward_user_call(self, index, op):
        origin = op.origin
        call = op.value
        pullback = self.pullbacks[index]
        active_args = self.user_call_args[index]
        if op.kind == "assign":
            cotangent = load(self.adjoint(op.target))
        else:
            cotangent = gast.Tuple(elts=[self.adjoint_or_zeros(t) for t in op.target], ctx=gast.Load())
        nodes = [call.args[a] if isinstance(a, int) else next(k.value for k in call.keywords if k.arg == a)
                 for a in active_args]
        fresh_targets = []
        pending = []
        for node in nodes:
            var = node.id
            if var not in self.initialized and var not in [n.id for n, _ in pending]:
                self.initialized.add(var)
                fresh_targets.append(store(self.adjoint(var)))
            else:
                part = self.namer.fresh(f"{var}_bar_part")
                fresh_targets.append(store(part))
                pending.append((node, part))
        call = gast.Call(func=load(pullback), args=[cotangent], keywords=[])
        # A pullback for one argument returns its cotangent; for several, a tuple of them.
        target = fresh_targets[0] if len(fresh_targets) == 1 else gast.Tuple(elts=fresh_targets, ctx=gast.Store())
        self.backward.append(tag(gast.Assign(targets=[target], value=call, type_comment=None), origin))
        for node, part in pending:
            self.accumulate(node.id, load(part), origin)


def _leaves(node, path=()):
    """The atoms of a (possibly nested) tuple or list display, with their index paths."""
    if isinstance(node, (gast.Tuple, gast.List)):
        for i, elt in enumerate(node.elts):
            yield from _leaves(elt, path + (i,))
    else:
        yield path, node


def _targets(op):
    if op.kind == "assign":
        return (op.target,)
    if op.kind == "unpack":
        return tuple(op.target)
    return ()


def _call_forward():
    from .dispatch import call_forward
    return call_forward


def _call_text(call):
    try:
        import ast
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
        import inspect
        try:
            params = ", ".join(p for p in inspect.signature(obj).parameters if p not in ("self",))
        except (TypeError, ValueError):
            pass
    return ("Register a derivative rule for it, for example:\n\n"
            f"    @ad.register_vjp({name})\n"
            f"    def {short}_vjp(g, ans, {params}):\n"
            f"        return ...  # the gradient of each argument, given g, the gradient of the result\n\n"
            f"or, if it has no derivative, mark it with ad.nondifferentiable({name}).")
