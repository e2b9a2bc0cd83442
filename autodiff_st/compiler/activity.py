"""Activity: which values carry a derivative, part of the analysis (analyze.py).

Reads the normal form and the classified calls of a ``Facts``; fills in its ``active`` names (those that
depend on a differentiated input through differentiable operations), ``active_ops`` (the ops whose
result differentiates), ``user_calls`` (the calls of the user's code that run through their adjoints,
with their differentiated arguments) and, with ``weights=``, its ``Weights``. Refuses what cannot be
differentiated: a differentiated value given to a function with no rule, an attribute with no
derivative, a call that may change a differentiated value where the compiler cannot follow, a Parameter
changed in place.
"""

import inspect

import gast
import numpy as np

from ..core import registry as rules
from ..runtime.callables import make_closure
from ..core.errors import MissingRuleError, NonDifferentiableError, UnsupportedSyntaxError
from ..runtime.weights import may_hold_parameters
from .ir import is_atom
from .ops import BINARY_PRIMITIVES, UNARY_PRIMITIVES, call_text, names_in, targets
from .scope import MISSING, resolve_name
from .templates import bind_arguments

# Array methods and numpy functions that change their first argument in place.
IN_PLACE_METHODS = {"fill", "sort", "put", "resize", "itemset", "setfield", "partition", "setflags", "byteswap",
                    "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__"}
IN_PLACE_FUNCTIONS = {np.copyto, np.put, np.place, np.fill_diagonal, np.putmask}


def find_activity(facts):
    """Active values, to a fixed point: a loop may make a value active in a later iteration."""
    active = facts.active
    weight_sources = facts.weights.source_ops if facts.weights else set()
    weight_calls = facts.weights.call_ops if facts.weights else set()
    changed = True
    while changed:
        changed = False
        for op in facts.body_ops:
            # Every op with an active operand is checked, also when its targets are already active
            # through another assignment, so that unsupported uses are refused.
            if op.kind == "pop":
                if facts.any_active(op.value):
                    facts.active_ops.add(id(op))
                    if op.target not in active:
                        active.add(op.target)
                        changed = True
                continue
            if op.kind in ("setitem", "append"):
                if facts.any_active(op.stored) and op.target not in active:
                    active.add(op.target)
                    changed = True
                if op.target in active:
                    facts.active_ops.add(id(op))
                continue
            if op.kind in ("assign", "unpack") and _value_is_active(facts, op, weight_sources, weight_calls):
                facts.active_ops.add(id(op))
                if not all(t in active for t in targets(op)):
                    active.update(targets(op))
                    changed = True
            elif op.kind == "expr" and facts.any_active(op.value):
                _check_effect(facts, op)
        for loop in facts.loops:
            if any(facts.any_active(src) for src in loop.sources):
                new = set(loop.targets) - active
                if new:
                    active.update(new)
                    changed = True
    for op in facts.body_ops:
        if op.kind in ("assign", "unpack") and isinstance(op.value, gast.Call):
            callee = facts.callees.get(id(op))
            if callee is not None and callee.kind == "user" and (
                    facts.any_active(op.value) or id(op) in weight_calls):
                call = op.value
                active_args = [i for i, a in enumerate(call.args) if facts.any_active(a)]
                active_args += [k.arg for k in call.keywords if facts.any_active(k.value)]
                facts.user_calls[id(op)] = active_args


def _value_is_active(facts, op, weight_sources, weight_calls):
    value = op.value
    if id(op) in weight_calls:
        return True
    if id(op) in weight_sources:
        return False  # a weight root: active from the start, and no operand to differentiate
    if not facts.any_active(value):
        return False
    origin = op.origin
    if op.kind == "unpack":
        if isinstance(value, gast.Call):
            callee = facts.callees[id(op)]
            if callee.kind == "user":
                return True
            if callee.kind == "nondiff":
                return False
            if callee.kind == "rule" and callee.rule.returns_tuple:
                return _call_is_active(facts, callee, value, origin)
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot unpack the result of {call_text(value)} here.", origin=origin,
                hint="Assign the result to a name first, then unpack the name.")
        return True  # a, b = t: the elements of a differentiated tuple or list
    if is_atom(value):
        return True  # a copy, or a tuple, list or dict display holding differentiated values
    if isinstance(value, gast.BinOp):
        return _primitive_is_active(BINARY_PRIMITIVES.get(type(value.op)), origin)
    if isinstance(value, gast.UnaryOp):
        return _primitive_is_active(UNARY_PRIMITIVES.get(type(value.op)), origin)
    if isinstance(value, gast.Compare):
        return False
    if isinstance(value, gast.Attribute):
        if value.attr in rules.NONDIFF_ATTRIBUTES:
            return False
        # An array attribute with a rule (x.T), or the field of a pytree object (p.w, a dataclass's, a
        # NamedTuple's or a registered class's child), which runtime.tree_field's rules differentiate
        # and check when they run (an attribute that is not a child is refused there).
        return True
    if isinstance(value, gast.Subscript):
        # An index changes the result only in steps: no derivative flows through it.
        return facts.any_active(value.value)
    if isinstance(value, gast.Call):
        return _call_is_active(facts, facts.callees[id(op)], value, origin)
    raise UnsupportedSyntaxError(f"unexpected operation {type(value).__name__}", origin=origin)


def _primitive_is_active(primitive, origin):
    if rules.lookup(primitive) is not None:
        return True
    if rules.is_nondifferentiable(primitive):
        return False
    raise MissingRuleError(f"no derivative rule for {rules.display_name(primitive)}.", origin=origin)


def _call_is_active(facts, callee, call, origin):
    if callee.kind == "unknown_method" and not facts.any_active(call.func.value):
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
    if callee.obj is make_closure:
        function = getattr(getattr(call.args[0], "helper", None), "__name__", "nested function")
        raise UnsupportedSyntaxError(
            f"autodiff_st cannot differentiate this use of the nested function or lambda `{function}` as a value: "
            "it reads a differentiated value from the enclosing function, and a function passed on this way "
            "keeps that value as a constant.", origin=origin,
            hint="Call it here, or pass the value it reads as an argument (`helper(f, x, w)` with "
                 "`def f(v, w): ...`).")
    reason = getattr(callee.obj, "missing_rule_reason", None)  # a library helper that says why it has none
    if reason is not None:
        raise MissingRuleError(reason, origin=origin)
    what = f"the method .{call.func.attr}()" if callee.kind == "unknown_method" else \
        (rules.display_name(callee.obj) if callee.obj is not None else call_text(call))
    raise MissingRuleError(
        f"no derivative rule for {what}, which is called here on a differentiated value.",
        origin=origin, hint=_registration_hint(callee, call))


def _check_effect(facts, op):
    """A call made for its effect on a differentiated value: refuse what may mutate it untracked."""
    callee = facts.callees.get(id(op))
    if callee is None or callee.kind in ("user", "rule", "nondiff", "method", "astype"):
        return
    what = f".{op.value.func.attr}()" if callee.kind == "unknown_method" else call_text(op.value)
    raise UnsupportedSyntaxError(
        f"autodiff_st cannot differentiate the call {what} here: it is given a differentiated value and "
        "its result is not used, so it may store or change that value where the compiler cannot follow.",
        origin=op.origin, hint="Appending differentiated values to lists arrives in a later version; build "
                               "an array with np.stack or np.concatenate instead.")


# -- weights= --------------------------------------------------------------------------------------------

def find_weight_roots(facts):
    """With weights=: the values read from outside the function that may be Parameters, and on which
    the output depends, become active from the start (see weights.py). They are attribute reads
    ``t = obj.attr`` of objects not derived from a differentiated input, globals and closure
    variables, and the parameters given as ``weights.params``. Calls of the user's own code whose
    result the output depends on run through their adjoints, for the Parameters they read.
    """
    weights = facts.weights
    varied = input_varied(facts)
    useful = useful_names(facts)
    sources, calls = set(), set()
    for op in facts.body_ops:
        if op.kind != "assign" and op.kind != "unpack":
            continue
        value = op.value
        if op.kind == "assign" and isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) \
                and value.attr not in rules.ATTRIBUTES and value.attr not in rules.NONDIFF_ATTRIBUTES \
                and value.value.id not in varied and not _numeric_module(facts, value.value.id):
            sources.add(id(op))
            if op.target in useful:
                facts.active.add(op.target)
        elif isinstance(value, gast.Call):
            callee = facts.callees[id(op)]
            receiver = value.func.value.id if callee.kind == "unknown_method" else None
            if callee.kind == "user" or (receiver is not None and receiver not in varied):
                if any(t in useful for t in targets(op)):
                    callee.kind = "user"
                    calls.add(id(op))
    weights.source_ops, weights.call_ops = sources, calls
    outside = {op.target for op in facts.body_ops if id(op) in sources} | set(weights.params)
    _refuse_parameter_writes(facts, outside, varied)
    facts.active.update(p for p in weights.params if p in useful)
    for name in sorted({n for n in useful if not facts.is_local(n)}):
        obj = resolve_name(name, facts.parsed)
        weights.guards.append((name, None if obj is MISSING else obj))
        if obj is MISSING or may_hold_parameters(obj):
            weights.free.append(name)
            facts.active.add(name)


def _refuse_parameter_writes(facts, outside, varied):
    """A Parameter changed in place inside the function would make its gradient wrong: refuse calls
    that write into a value read from an object, a global or a closure."""
    def from_outside(node):
        return isinstance(node, gast.Name) and node.id not in varied and (
            node.id in outside or not facts.is_local(node.id))

    for op in facts.body_ops:
        value = op.value
        if not isinstance(value, gast.Call):
            continue
        written = None
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr in IN_PLACE_METHODS and from_outside(func.value):
            written = f".{func.attr}()"
        elif any(k.arg == "out" and from_outside(k.value) for k in value.keywords):
            written = "out="
        elif value.args and from_outside(value.args[0]) and \
                getattr(facts.callees.get(id(op)), "obj", None) in IN_PLACE_FUNCTIONS:
            written = call_text(value)
        if written is not None:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate with weights= a function that writes into a value read "
                f"from an object, a global or a closure (here with {written}): it may be a Parameter, "
                "and changing a Parameter in place inside the differentiated function would make its "
                "gradient wrong.", origin=op.origin,
                hint="Compute a new array instead (w2 = w * 0.5), and update Parameters outside the "
                     "differentiated function, as an optimizer step does.")


def _numeric_module(facts, name):
    """Whether a free name is numpy, math or the like: ``np.pi`` is no Parameter."""
    if facts.is_local(name):
        return False
    obj = resolve_name(name, facts.parsed)
    module = getattr(obj, "__name__", "") if type(obj).__name__ == "module" else ""
    return module.split(".")[0] in ("numpy", "math", "cmath", "scipy", "builtins")


def input_varied(facts):
    """Names that may depend on a differentiated input, through any operation (an over-estimate)."""
    varied = set(facts.active_params)
    changed = True
    while changed:
        changed = False
        for op in facts.body_ops:
            reads = set(names_in(op.value)) | (set(names_in(op.stored)) if op.stored is not None else set())
            if reads & varied and not set(targets(op)) <= varied:
                varied.update(targets(op))
                changed = True
        for loop in facts.loops:
            if any(set(names_in(src)) & varied for src in loop.sources) and not set(loop.targets) <= varied:
                varied.update(loop.targets)
                changed = True
    return varied


def useful_names(facts):
    """Names the output may depend on through differentiable operations: the values whose cotangent
    the backward pass may compute. Found backwards from the returned value, to a fixed point."""
    returned = facts.returned()
    if facts.seed_only_first and isinstance(returned, gast.Tuple):
        returned = returned.elts[0]
    useful = set(names_in(returned))
    changed = True
    while changed:
        changed = False
        for op in facts.body_ops:
            if op.kind in ("return", "expr", "assert", "unshared", "raise"):
                continue
            if not set(targets(op)) & useful:
                continue
            if op.kind == "pop":
                reads = {op.value.id}
            elif op.kind in ("setitem", "append"):
                reads = set(names_in(op.stored))
            else:
                reads = differentiable_reads(facts, op)
            if not reads <= useful:
                useful |= reads
                changed = True
        for loop in facts.loops:
            for target, src in zip(loop.targets, loop.sources):
                if target in useful and not set(names_in(src)) <= useful:
                    useful |= set(names_in(src))
                    changed = True
    return useful


def differentiable_reads(facts, op):
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
        callee = facts.callees.get(id(op))
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


def _registration_hint(callee, call):
    name = call_text(call)
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
