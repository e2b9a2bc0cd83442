"""Python-float results of number rules, where no one can tell (a pass over the generated functions, run
by the pipeline last, before they are emitted).

``np.sin(t)`` on a proven Python number calls ``sin_of_number(t)`` (specialize.py), which returns the
``np.float64`` numpy returns. That conversion, and the ``np.float64`` arithmetic after it, cost several
times what the math call does. Here each such call (``sin_of_number``, ``cos_of_number``,
``sqrt_of_number``, in the forward pass, in the backward pass and in tangent code) becomes its float form
(``sin_float``, rules/math_builtins.py) where the generated code proves that a Python float in place of
the ``np.float64`` cannot be observed. The float value may only flow, through names, into

- ``+``, ``-`` and ``*`` (unary or binary) with *wide numbers*: constants, Python numbers and ``np.float64``
  values (see ``_wide``), never an array or a narrower numpy scalar, whose result type would change
  (NEP 50: ``0.5 * float32_array`` stays float32, ``np.float64(0.5) * float32_array`` does not). The
  result is itself followed;
- a comparison whose result is only ever an ``if`` or ``while`` test (``bool`` and ``np.bool_`` test the
  same);
- an argument of a number rule: the forms above, a ufunc whose arguments are all wide numbers, a function
  of ``math``, ``ones_like``/``zeros_like`` (1.0 and 0.0 for either type);
- an ``if`` test, a ``del``, a ``+=`` into one element of a float64 gradient buffer (the same float64 is
  stored), and the ``return``, where the value goes through ``number_result``: the np.float64 again.

Any other use (``/``, ``//``, ``%``, ``**``, an attribute, a subscript, another call, a container, the
tape) keeps the ``np.float64`` form for every call whose value reaches it, so that division by zero,
overflow, a negative number to a fractional power and ``.shape`` behave as numpy's. The analysis follows
names without regard to order (a name bound to such a value anywhere is followed everywhere), so loops
need no special case. Calls shared between generated functions (the forward and backward functions of
``vjp``) are rewritten only where every function proves them safe.

What is not reproduced: ``+``, ``-`` and ``*`` of np.float64 warn on overflow (``1e308 * 10``) and on
``inf - inf``; Python floats give the same inf or nan silently. And a returned name that may also hold a
Python float no number rule produced (``s = 0.0`` before a loop that runs zero times) is returned as
``np.float64(0.0)`` where the plain function returns ``0.0``: the same value, of a float subclass.
"""

import math

import gast
import numpy as np

from ..rules.math_builtins import FLOAT_FORMS, number_result
from ..runtime.cotangents import ones_like, zeros_like
from .ir import load, walk_tree
from .kinds import INT_KIND
from .scope import resolve_path

_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult)
_WIDE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)
_SIGNS = (gast.USub, gast.UAdd)
_MATH_NOT_NUMBERS = {math.frexp, math.modf, math.prod, math.fsum}
_LIKE = (ones_like, zeros_like)


def float_results(functions, facts, helpers):
    """``functions`` (generated ``FunctionDef``s) with the number rules whose np.float64 cannot be observed
    calling their float forms, and each returned name that may hold such a float made an np.float64."""
    forms = {}  # the name generated code calls a number rule by -> the name of its float form
    rule_names = set()  # every name bound to a number rule, in either form
    for name, obj in list(helpers.bound.items()):
        try:
            float_form = FLOAT_FORMS.get(obj)
        except TypeError:
            continue
        if float_form is not None:
            forms[name] = helpers.name_for(float_form, float_form.__name__)
            rule_names.update((name, forms[name]))
    if not forms:
        return functions
    per_function = []
    verdicts = {}  # id(call) -> whether every function reading it proves it safe
    calls = {}
    for function in functions:
        candidates = [node for node in walk_tree(function) if isinstance(node, gast.Call)
                      and isinstance(node.func, gast.Name) and node.func.id in forms
                      and len(node.args) == 1 and not node.keywords]
        if not candidates:
            continue
        flow = _Flow(function, facts, helpers, rule_names)
        closures = {}
        for call in candidates:
            if id(call) in closures:
                continue
            closure = flow.closure(call)
            closures[id(call)] = closure
            calls[id(call)] = call
            verdicts[id(call)] = verdicts.get(id(call), True) and closure is not None
        per_function.append((function, closures))
    for key, safe in verdicts.items():
        if safe:
            call = calls[key]
            name = load(forms[call.func.id])
            name.specialized_from = getattr(call.func, "specialized_from", call.func)
            call.func = name
    for function, closures in per_function:
        demoted = set()
        for key, closure in closures.items():
            if verdicts[key]:
                demoted |= closure
        if demoted:
            _convert_returns(function, demoted, helpers.name_for(number_result, "number_result"))
    return functions


def _convert_returns(function, demoted, converter):
    def convert(node):
        if isinstance(node, gast.Name) and node.id in demoted:
            return gast.Call(func=load(converter), args=[node], keywords=[])
        if isinstance(node, gast.Tuple):
            node.elts = [convert(e) for e in node.elts]
        return node

    for node in walk_tree(function):
        if isinstance(node, gast.Return) and node.value is not None:
            node.value = convert(node.value)


def _statements(body):
    for stmt in body:
        yield stmt
        for field in ("body", "orelse", "finalbody"):
            if isinstance(stmt, (gast.If, gast.For, gast.While, gast.With, gast.Try)):
                yield from _statements(getattr(stmt, field, None) or [])


class _Flow:
    """The wide numbers of one generated function, and where a float result may flow in it."""

    def __init__(self, function, facts, helpers, rule_names):
        self.facts = facts
        self.helpers = helpers
        self.rule_names = rule_names
        self.body = function.body
        self.statements = [s for s in _statements(self.body) if not isinstance(s, gast.FunctionDef)]
        self.nested = any(isinstance(n, (gast.FunctionDef, gast.Lambda)) for n in walk_tree(function)
                          if n is not function)
        params = [a.id for a in function.args.args + function.args.posonlyargs + function.args.kwonlyargs]
        self.loads = {}  # name -> number of times it is read
        for node in walk_tree(function):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                self.loads[node.id] = self.loads.get(node.id, 0) + 1
        self.wide = self._wide_names(params)
        self.buffers = self._float64_buffers()

    # -- wide numbers ---------------------------------------------------------------------------------

    def _wide_names(self, params):
        """The names that hold a Python number or a float64 numpy scalar wherever they are bound: the
        largest set such that every binding gives one, given the others."""
        kinds = self.facts.kinds
        bindings = {}  # name -> values bound (None: a binding that is not followed)
        for p in params:
            bindings.setdefault(p, []).append("number" if p in self.facts.params and kinds.is_number(p) else None)
        plain = set()
        for stmt in self.statements:
            if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
                bindings.setdefault(stmt.targets[0].id, []).append(stmt.value)
                plain.add(id(stmt.targets[0]))
            elif isinstance(stmt, gast.For) and isinstance(stmt.target, gast.Name):
                name = stmt.target.id
                bindings.setdefault(name, []).append("number" if kinds.kind(name) == INT_KIND else None)
                plain.add(id(stmt.target))
        for stmt in self.body:
            for node in walk_tree(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and id(node) not in plain:
                    bindings.setdefault(node.id, []).append(None)
        wide = set(bindings)

        def binding_ok(name, value):
            if value is None:
                return False
            if value == "number":
                return True
            if isinstance(value, gast.Constant) and value.value is None:
                # the generated code's first binding of a name it may read before the user's code binds
                # it (the tape); None in arithmetic with either type raises the same TypeError
                return True
            if isinstance(value, gast.Subscript):  # one element of a float64 array: an np.float64
                return self.facts.is_local(name) and kinds.is_number(name)
            if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                    and value.func.attr == "pop" and not value.args and self.facts.is_local(name):
                return True  # a value of the same name restored from the tape
            return self._wide(value, wide)

        changed = True
        while changed:
            changed = False
            for name in sorted(wide):
                if not all(binding_ok(name, value) for value in bindings[name]):
                    wide.discard(name)
                    changed = True
        return wide

    def _wide(self, node, wide, carried=None):
        """Whether ``node`` certainly gives a wide number (``carried`` nodes count as wide)."""
        if carried is not None and carried(node):
            return True
        if isinstance(node, gast.Constant):
            return type(node.value) in (int, float, bool)
        if isinstance(node, gast.Name):
            return node.id in wide
        if isinstance(node, gast.BinOp):
            return isinstance(node.op, _WIDE_OPS) and self._wide(node.left, wide, carried) \
                and self._wide(node.right, wide, carried)
        if isinstance(node, gast.UnaryOp):
            return isinstance(node.op, _SIGNS) and self._wide(node.operand, wide, carried)
        if isinstance(node, gast.Call):
            return self._number_rule(node, wide, carried)
        return False

    def _number_rule(self, call, wide, carried=None):
        """Whether ``call`` is a number rule of wide numbers: its result is the same for a Python float
        and an np.float64 argument, and a wide number."""
        if call.keywords or not all(self._wide(a, wide, carried) for a in call.args):
            return False
        func = call.func
        if isinstance(func, gast.Name) and func.id in self.rule_names:
            return len(call.args) == 1
        if isinstance(func, gast.Name) and func.id in self.helpers.bound:
            obj = self.helpers.bound[func.id]
        else:
            root = func
            while isinstance(root, gast.Attribute):
                root = root.value
            if not isinstance(root, gast.Name) or self.facts.is_local(root.id):
                return False
            obj = resolve_path(func, self.facts.parsed)
        if obj is None:
            return False
        if any(obj is f for f in _LIKE):
            return len(call.args) == 1
        if type(obj) is np.ufunc:
            return obj.nin == len(call.args) and obj.nout == 1
        try:
            return getattr(obj, "__module__", None) == "math" and obj not in _MATH_NOT_NUMBERS
        except TypeError:
            return False

    # -- buffers --------------------------------------------------------------------------------------

    def _float64_buffers(self):
        """Names bound only to ``zeros_like(x)``, ``x`` a float64 ndarray parameter: ``acc[i] += v`` of a
        number stores the same float64 for a Python float and an np.float64 ``v``."""
        kinds = self.facts.kinds
        found = {}
        for stmt in self.statements:
            for node in walk_tree(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                    found.setdefault(node.id, []).append(None)
            if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
                value = stmt.value
                ok = isinstance(value, gast.Call) and isinstance(value.func, gast.Name) \
                    and self.helpers.bound.get(value.func.id) is zeros_like and len(value.args) == 1 \
                    and isinstance(value.args[0], gast.Name) and value.args[0].id in self.facts.params \
                    and kinds.kind(value.args[0].id).kind == "array" and kinds.dtype(value.args[0].id) == "float64"
                found[stmt.targets[0].id][-1] = ok or None
        return {name for name, values in found.items() if all(values)}

    # -- where one call's float goes ------------------------------------------------------------------

    def closure(self, call):
        """The names that may hold ``call``'s float, or None where one of its uses could tell."""
        if self.nested:
            return None  # a nested function may read the names: not followed
        names = set()

        def carried(node):
            return node is call or isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) \
                and node.id in names

        def any_carried(node):
            return any(carried(n) for n in walk_tree(node))

        def expression(node):
            """``(carries, ok)``: whether ``node``'s value may be the float, and whether every use of the
            float inside ``node`` is one the analysis allows."""
            if carried(node):
                return True, True
            if isinstance(node, (gast.Name, gast.Constant)):
                return False, True
            if isinstance(node, gast.BinOp) and isinstance(node.op, _ARITHMETIC) or \
                    isinstance(node, gast.UnaryOp) and isinstance(node.op, _SIGNS):
                parts = [node.left, node.right] if isinstance(node, gast.BinOp) else [node.operand]
                results = [expression(p) for p in parts]
                if not all(ok for _, ok in results):
                    return False, False
                carries = any(c for c, _ in results)
                if carries and not all(self._wide(p, self.wide, carried) for p in parts):
                    return True, False
                return carries, True
            if isinstance(node, gast.Call):
                results = [expression(a) for a in node.args]
                if not all(ok for _, ok in results) or any(any_carried(k.value) for k in node.keywords) \
                        or any_carried(node.func):
                    return False, False
                if any(c for c, _ in results) and not self._number_rule(node, self.wide, carried):
                    return False, False
                return False, True
            return False, not any_carried(node)

        changed = True
        while changed:
            changed = False
            for stmt in self.statements:
                if isinstance(stmt, gast.Assign):
                    target = stmt.targets[0] if len(stmt.targets) == 1 else None
                    if not isinstance(target, gast.Name):
                        if any_carried(stmt):
                            return None
                        continue
                    value = stmt.value
                    if isinstance(value, gast.Compare):
                        operands = [value.left] + value.comparators
                        if any(any_carried(o) for o in operands):
                            if not all(self._wide(o, self.wide, carried) for o in operands) \
                                    or not self._only_tested(target.id):
                                return None
                        continue
                    carries, ok = expression(value)
                    if not ok:
                        return None
                    if carries and target.id not in names:
                        names.add(target.id)
                        changed = True
                elif isinstance(stmt, gast.AugAssign):
                    if not any_carried(stmt):
                        continue
                    target = stmt.target
                    if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)
                            and target.value.id in self.buffers and isinstance(stmt.op, gast.Add)
                            and not any_carried(target) and self._wide(stmt.value, self.wide, carried)
                            and expression(stmt.value)[1]):
                        return None
                elif isinstance(stmt, gast.Return):
                    if stmt.value is not None and not _returned_ok(stmt.value, any_carried):
                        return None
                elif isinstance(stmt, (gast.If, gast.While)):
                    if not isinstance(stmt.test, gast.Name) and any_carried(stmt.test):
                        return None
                elif isinstance(stmt, gast.For):
                    if any_carried(stmt.iter) or any_carried(stmt.target):
                        return None
                elif isinstance(stmt, (gast.Delete, gast.Pass, gast.Break, gast.Continue)):
                    continue
                elif any_carried(stmt):
                    return None
        return names

    def _only_tested(self, name):
        """Whether ``name`` is read nowhere but as the test of an ``if`` or ``while``."""
        tests = sum(1 for s in self.statements if isinstance(s, (gast.If, gast.While))
                    and isinstance(s.test, gast.Name) and s.test.id == name)
        return tests == self.loads.get(name, 0)


def _returned_ok(node, any_carried):
    """A returned atom or tuple of atoms: a name holding the float is converted back (``number_result``)."""
    if isinstance(node, (gast.Name, gast.Constant)):
        return True
    if isinstance(node, gast.Tuple):
        return all(_returned_ok(e, any_carried) for e in node.elts)
    return not any_carried(node)
