"""Analyze: one pass over the normal form that finds the facts both transforms read.

Reads the normal form (ir.py: ``Op``, ``If``, ``Loop``), the parsed function (for the closure, globals
and builtins through which calls resolve), the differentiated parameters, which parameters are Python
numbers, and, with ``weights=``, which parameters may hold Parameters. Produces a ``Facts``:

- calls: what each call refers to, resolved by identity (``Callee``);
- activity (activity.py): which names carry a derivative, which ops differentiate, which calls of the
  user's own code run through their adjoints, and, with ``weights=``, the weight roots;
- static kinds (kinds.py): for each name, a Python number, an array (with its rank and dtype where
  known), or unknown;
- aliasing (aliasing.py): which names may share memory with which;
- liveness (liveness.py): which values an assignment may overwrite, what a loop's backward pass can
  recompute, what a value is needed for.

The pass also does the two things both transforms must see the same way, so it takes the ``Namer``: it
names the residuals of each call of the user's code that differentiates, and it lowers the header of
each ``for`` loop into ops (``x = xs[position]``) that the transforms treat like the body's.
The pass refuses what cannot be differentiated (an unknown function given a differentiated value, a
Parameter changed in place), with the user's line.
"""

import dataclasses
import functools
import inspect

import gast

from ..core import registry as rules
from ..core.model import Cell
from ..core.transform import Transform
from ..core.checkpoint import Checkpointed
from ..runtime.callables import call_unpacked
from ..runtime.calls import is_callable_object, is_generated_call
from ..runtime.vectorized import THROUGH_SOURCE
from .activity import find_activity, find_weight_roots
from .aliasing import Aliasing
from .ir import Op, load, static_path_root, walk_loops, walk_ops
from .kinds import Kinds
from .liveness import Liveness
from .ops import breaks, call_name, loop_bound, names_in, targets
from .raising import cannot_raise
from .scope import resolve_path
from .specialize import specialize_calls_on_numbers


@dataclasses.dataclass
class Callee:
    """What a call in the normal form refers to.

    kind is "rule" (a derivative rule inlines), "nondiff" (no derivative flows), "user" (a Python
    function differentiated into its own adjoint, called through ``call_vjp_forward``; also the helpers
    generated code calls other functions through, when generated code is differentiated again), "method" (a method
    of an array: ``rule`` holds the function it maps to), or "unknown" (no rule and no source).
    """

    kind: str
    obj: object = None
    rule: object = None
    pack: bool = False  # x.reshape(2, 3) packs its arguments into one tuple


def is_user_function(obj):
    if isinstance(obj, (Cell, Transform, functools.partial, Checkpointed)) or obj is call_unpacked or is_callable_object(obj):
        return True  # dispatched when the call runs (runtime/calls.py resolve_callee)
    if inspect.ismethod(obj):
        return is_user_function(obj.__func__)
    if not inspect.isfunction(obj):
        return False
    if obj in THROUGH_SOURCE:  # np.vectorize and apply_along_axis as loops: differentiated like the user's code
        return True
    module = getattr(obj, "__module__", "") or ""
    return not (module == "numpy" or module.startswith("numpy.") or module.startswith("autodiff_st."))


def classify_call(call, parsed, is_local):
    func = call.func
    root = static_path_root(func)
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and is_local(func.value.id):
        name = func.attr
        if name in rules.METHODS:
            primitive, kind = rules.METHODS[name]
            return Callee("method", primitive, rules.lookup(primitive), pack=(kind == "pack"))
        if name in rules.NONDIFF_METHODS:
            return Callee("nondiff")
        if name == "astype":
            return Callee("astype")
        return Callee("unknown_method", name)
    if root is not None and is_local(root):
        return Callee("user", None)  # a function held in a local variable: dispatched at run time
    obj = resolve_path(func, parsed)
    if obj is None:
        return Callee("unknown", None)
    rule = rules.lookup(obj)
    if rule is not None:
        return Callee("rule", obj, rule)
    if is_generated_call(obj):
        return Callee("user", obj)
    if rules.is_nondifferentiable(obj):
        return Callee("nondiff", obj)
    if is_user_function(obj):
        return Callee("user", obj)
    if inspect.isclass(obj) and issubclass(obj, (int, bool, str, BaseException)):
        return Callee("nondiff", obj)
    return Callee("unknown", obj)


@dataclasses.dataclass
class UserCall:
    """A call of the user's own code that runs through its adjoint: the name of its residuals, and the
    positions (or keywords) of its differentiated arguments."""

    residuals: str
    active_args: list


@dataclasses.dataclass
class Weights:
    """With ``weights=``: the values read from outside the function that may be Parameters."""

    params: list  # parameters not differentiated that may hold Parameters
    free: list = dataclasses.field(default_factory=list)  # globals and closure variables that are roots
    source_ops: set = dataclasses.field(default_factory=set)  # ids of ops ``t = obj.attr`` giving a root
    call_ops: set = dataclasses.field(default_factory=set)  # ids of calls run for their Parameters' sake
    guards: list = dataclasses.field(default_factory=list)  # (name, object) pairs the choice depended on

    @property
    def roots(self):
        return self.params + self.free


class Facts:
    """What the analysis found, for the transforms to read. Built by ``analyze``; a fact that is not
    certain is reported as unknown (a ``Kind`` of "unknown", a rank of None, a possible alias).

    The function: ``parsed``, ``params``, ``active_params``, ``body`` (the normal form), ``body_ops`` (its
    ops in program order), ``loops``, ``returned()``, ``is_local(name)``.
    Calls:     ``callees`` (id(op) -> ``Callee``), ``is_pure(op)`` (no effect but its result).
    Activity:  ``active`` (the names that carry a derivative), ``is_active(name)``, ``any_active(node)``,
               ``active_ops`` (ids of the ops whose result differentiates), ``user_calls`` (id(op) ->
               ``UserCall``, for the calls of the user's code that run through their adjoints),
               ``residuals_of(op)``, ``weights`` (``Weights``, or None without ``weights=``).
    Loops:     ``header_ops`` (id(loop) -> the ops its header performs each iteration), ``next_names``,
               ``range_values`` (id(loop) -> the name holding a range loop's range), ``uncounted`` (counts
               of loops that always run their whole range), ``loop.indexed`` (walks a differentiated
               sequence by position).
    Kinds:     ``kinds``, a ``Kinds``: ``kind(name)``, ``is_number(name)``, ``numbers``, ``rank(name)``,
               ``dtype(name)``, ``holds_one_number(name)``; and ``shape_source(op)``.
    Aliasing:  ``aliasing``, an ``Aliasing``: ``may_share_memory(a, b)``, ``aliases(name)``,
               ``from_outside(name)``, ``roots(name)``.
    Liveness:  ``liveness``, a ``Liveness``: ``ops``, ``binds(op)``, ``overwrites(op, name)``,
               ``may_be_overwritten``, ``bound_before_nesting``, ``written_in_place``, ``parts_written``,
               ``recomputed``, ``keeps_only_shape(name)``, ``loop_carried(block)``, ``bound_names()``.
    """

    def __init__(self, parsed, body, active_params, seed_only_first):
        self.parsed = parsed
        self.body = body
        self.active_params = list(active_params)
        self.seed_only_first = seed_only_first  # with has_aux only the first output is differentiated
        args = parsed.node.args
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs + [args.kwarg] if a is not None]
        self.loops = list(walk_loops(body))
        self.body_ops = list(walk_ops(body))  # the user's ops, in program order
        self.locals = set(self.params)
        for op in self.body_ops:
            self.locals.update(targets(op))
        for loop in self.loops:
            self.locals.update(loop_bound(loop) + [loop.count])
        self.callees = {id(op): classify_call(op.value, parsed, self.is_local)
                        for op in self.body_ops if isinstance(op.value, gast.Call)}
        self.active = set(active_params)
        self.active_ops = set()
        self.user_calls = {}
        self.weights = None
        self.header_ops = {}
        self.next_names = {}  # (id(loop), name) -> the name the for statement iterates into when taped
        self.range_values = {}
        self.uncounted = set()
        self.kinds = self.aliasing = self.liveness = None

    def is_local(self, name):
        return name in self.locals

    def is_active(self, name):
        return name in self.active

    def any_active(self, node):
        return any(n in self.active for n in names_in(node))

    def returned(self):
        """The returned atom or tuple of atoms (None when the function falls off its end)."""
        last = self.body[-1] if self.body else None
        if isinstance(last, Op) and last.kind == "return":
            return last.value
        return gast.Constant(value=None, kind=None)

    def residuals_of(self, op):
        """The name of the residuals a user call binds beside its result, or None."""
        call = self.user_calls.get(id(op))
        return call.residuals if call is not None else None

    def is_pure(self, op):
        """Whether ``op`` has no effect but its result and cannot raise (raising.py), so that it may be
        dropped when nothing reads it."""
        if not cannot_raise(self, op):
            return False
        value = op.value
        if isinstance(value, gast.Call):
            callee = self.callees.get(id(op))
            return callee is not None and callee.kind in ("rule", "method", "astype") or \
                (callee is not None and callee.kind == "nondiff" and callee.obj is not None
                 and getattr(callee.obj, "__module__", "") in ("numpy", "math", "builtins"))
        return isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Name, gast.Constant,
                                  gast.Attribute, gast.Subscript, gast.Tuple, gast.List, gast.Dict))

    def shape_source(self, op):
        """For ``y = f(x)`` with ``f`` elementwise on one differentiated array, ``x``: it has ``y``'s shape
        (and dtype), so the shape can be taken before ``y`` is computed, or without computing it."""
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
        if isinstance(operand, gast.Name) and operand.id in self.active and not self.kinds.is_number(operand.id):
            return operand.id
        return None


def analyze(parsed, body, active_params, namer, *, seed_only_first=False, scalar_params=(), array_params=None,
            weight_params=None, helpers=None):
    """The facts about ``body``, the normal form of ``parsed`` differentiated in ``active_params``.

    ``scalar_params`` names the parameters called with Python numbers, ``array_params`` maps those called
    with an ``np.ndarray`` to its ``(ndim, dtype)``; ``weight_params`` is None, or (with
    ``weights=``) the parameters not differentiated that may hold Parameters. Given the ``helpers`` of the
    generated code, calls whose arguments are proved Python numbers are specialized (specialize.py).
    """
    facts = Facts(parsed, body, active_params, seed_only_first)
    _results_of_effect_calls(facts, namer)
    if weight_params is not None:
        facts.weights = Weights(list(weight_params))
        find_weight_roots(facts)
    find_activity(facts)
    for op in facts.body_ops:
        if id(op) in facts.user_calls:
            facts.user_calls[id(op)] = UserCall(namer.fresh(f"{call_name(op.value)}_residuals"),
                                                facts.user_calls[id(op)])
    _lower_loop_headers(facts, namer)
    facts.kinds = Kinds(facts, scalar_params, array_params)
    if helpers is not None:
        specialize_calls_on_numbers(facts, helpers)
    facts.aliasing = Aliasing(facts)
    facts.liveness = Liveness(facts)
    return facts


def _results_of_effect_calls(facts, namer):
    """A call of the user's own code made for its effect (``add(x)``, its result not used) gets a result
    name, so that it runs through its adjoint like any call of the user's code where it is given a
    differentiated value: what it does to its arguments is then the callee's own code, compiled, where a
    write into an argument or an append to a list it was given is refused or checked (normalize.py), as
    the derivative would not follow it. Run as it is, such a call could store a differentiated value
    where no derivative follows it: a gradient of zero where Python's has none."""
    for op in facts.body_ops:
        callee = facts.callees.get(id(op))
        if op.kind == "expr" and callee is not None and callee.kind == "user":
            op.kind = "assign"
            op.target = namer.fresh(f"{call_name(op.value)}_result")
            facts.locals.add(op.target)


def _lower_loop_headers(facts, namer):
    """The per-iteration assignments of each for loop, as ops the backward pass reverses.

    Over a differentiated sequence the loop walks positions, and each target is an indexing op
    (``x = xs[i]``), whose rule sends the target's adjoint back into the sequence's. Otherwise each
    target is a copy of what the for statement produces, so that its value can be restored.
    """
    for loop in facts.loops:
        if loop.kind != "for":
            facts.header_ops[id(loop)] = []
            continue
        ops = []
        indexed = any(facts.any_active(src) for src in loop.sources)
        if loop.range_args and _assigned_once(facts, loop.targets[0]):
            # The backward pass walks the same range backwards: nothing to save per iteration.
            facts.range_values[id(loop)] = namer.fresh(f"{loop.targets[0]}_values")
            if not breaks(loop.body):
                facts.uncounted.add(loop.count)
            loop.indexed = False
            facts.header_ops[id(loop)] = []
            continue
        if indexed and loop.index is None:
            loop.index = namer.fresh("position")
            facts.locals.add(loop.index)
        copied = ([loop.index] if loop.index else []) + ([] if indexed else loop.targets)
        for name in copied:
            facts.next_names[(id(loop), name)] = namer.fresh(f"{name}_next")
            ops.append(Op("assign", name, load(facts.next_names[(id(loop), name)]), loop.origin, nested=True))
        if indexed:
            for target, src in zip(loop.targets, loop.sources):
                item = Op("assign", target, gast.Subscript(value=src, slice=load(loop.index), ctx=gast.Load()),
                          loop.origin, nested=True)
                if facts.any_active(src):
                    facts.active_ops.add(id(item))
                ops.append(item)
        loop.indexed = indexed
        facts.header_ops[id(loop)] = ops


def _assigned_once(facts, name):
    """Whether ``name`` is assigned nowhere but by one loop header."""
    headers = sum(1 for loop in facts.loops if name in loop.targets or name == loop.index)
    return headers == 1 and not any(name in targets(op) for op in facts.body_ops)
