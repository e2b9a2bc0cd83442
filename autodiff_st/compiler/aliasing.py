"""Aliasing, part of the analysis (analyze.py): which names may share memory with which.

Reads the normal form, the classified calls and the static kinds (a Python number shares nothing: it
cannot be changed in place). Produces an ``Aliasing``. Each name is given the set of *roots* it may
reach: the places where memory it may share was made. A root is the name of the op that made a new
object (``y = x * 2`` makes ``y``), or ``OUTSIDE``: memory the function did not make, the arguments,
globals, closure values, attributes of objects, and whatever an unknown function returns. Two names may
share memory when their roots meet, so every argument may share memory with every other (a caller may
pass the same array twice).

The roots flow, to a fixed point and whatever the order of the statements, through copies (``y = x``),
views (``x.T``, ``x.reshape(...)``, ``np.transpose(x)``, subscripts, see normalize.VIEW_FUNCTIONS and
VIEW_METHODS), containers (a display or ``items.append(v)`` holds its elements; an item read back or
popped may be any of them), loops (a target may be any item of its source) and calls: a function known
to return a new array (normalize.FRESH_FUNCTIONS, ufuncs) shares nothing with its arguments; any other
numpy function may return a view of them; a function with no rule, or the user's own, may return any
argument or anything from outside, and may store any argument into another.
"""

import builtins

import gast
import numpy as np

from ..core import registry as rules
from .normalize import FRESH_FUNCTIONS, FRESH_METHODS, VIEW_FUNCTIONS, VIEW_METHODS
from .ops import names_in, targets

OUTSIDE = "<outside>"

_CONTAINERS = {builtins.list, builtins.tuple, builtins.dict, builtins.set, builtins.sorted, builtins.reversed}
_IMMUTABLE = {builtins.float, builtins.int, builtins.len, builtins.bool, builtins.str, builtins.repr}
_VIEW_ATTRIBUTES = {"T", "mT", "real", "imag", "flat", "base"}


class Aliasing:
    """Which names may share memory: ``roots(name)``, ``may_share_memory(a, b)``, ``aliases(name)``,
    ``from_outside(name)``."""

    def __init__(self, facts):
        self._facts = facts
        self._roots = {}
        for p in facts.params:
            self._roots[p] = set() if facts.kinds.is_number(p) else {OUTSIDE}
        changed = True
        while changed:  # the roots only grow
            changed = False
            for name, roots in self._flows():
                if facts.kinds.is_number(name):
                    roots = set()
                known = self._roots.setdefault(name, set())
                if not roots <= known:
                    known |= roots
                    changed = True

    # -- queries --------------------------------------------------------------------------------------

    def roots(self, name):
        """The roots of the memory ``name`` may share: op names and ``OUTSIDE``."""
        if not self._facts.is_local(name):
            return frozenset({OUTSIDE})
        return frozenset(self._roots.get(name, ()))

    def may_share_memory(self, a, b):
        """Whether a change made through ``a`` may be seen through ``b``."""
        return bool(self.roots(a) & self.roots(b))

    def aliases(self, name):
        """The names the function binds that may share memory with ``name``, ``name`` included unless it
        holds a number."""
        return {other for other in self._roots if self.may_share_memory(name, other)}

    def from_outside(self, name):
        """Whether ``name`` may share memory with an argument, a global, a closure value or an object's
        attribute: a change made through it may be seen by the caller."""
        return OUTSIDE in self.roots(name)

    # -- the flows --------------------------------------------------------------------------------------

    def _flows(self):
        """(name, roots it may reach) for every place that binds or fills a name."""
        facts = self._facts
        for op in facts.body_ops:
            if op.kind == "assign":
                yield op.target, self._value_roots(op, op.target)
            elif op.kind == "unpack":
                for name in op.target:
                    yield name, self._value_roots(op, name)
            elif op.kind == "pop":
                yield op.target, self._of(op.value)
            elif op.kind == "append":
                yield op.target, self._of(op.stored)
            elif op.kind == "setitem":
                kind = facts.kinds.kind(op.target)
                if not (kind.kind == "array" and kind.dtype not in (None, "object")):
                    yield op.target, self._of(op.stored)  # a list, or an array of objects, holds the value
            if isinstance(op.value, gast.Call) and self._may_store(op):
                arguments = self._arguments(op.value)
                shared = self._of(*arguments)
                for name in {n for a in arguments for n in names_in(a)}:
                    if facts.is_local(name):
                        yield name, shared
        for loop in facts.loops:
            if not loop.range_args:
                for target, source in zip(loop.targets, loop.sources):
                    yield target, self._of(source)

    def _of(self, *nodes):
        roots = set()
        for node in nodes:
            for name in names_in(node):
                roots |= self.roots(name)
        return roots

    def _arguments(self, call):
        """The atoms a call is given, the receiver of a method of a local value included."""
        func = call.func
        receiver = [func.value] if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
            and self._facts.is_local(func.value.id) else []
        return list(call.args) + [k.value for k in call.keywords] + receiver

    def _may_store(self, op):
        """Whether a call may store one of its arguments into another (one the compiler cannot read)."""
        callee = self._facts.callees.get(id(op))
        return callee is None or callee.kind in ("user", "unknown", "unknown_method")

    def _value_roots(self, op, site):
        value = op.value
        if isinstance(value, (gast.Constant, gast.JoinedStr)):
            return set()
        if isinstance(value, gast.Name):
            return self._of(value)
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            return {site} | self._of(value)
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            if all(self._facts.kinds.kind(n).kind in ("array", "number") for n in names_in(value)):
                return {site}
            return {site} | self._of(value)  # [a] + [b] holds a and b
        if isinstance(value, gast.Subscript):
            return self._of(value.value)  # a view, or an element
        if isinstance(value, gast.Attribute):
            if value.attr in VIEW_METHODS or value.attr in _VIEW_ATTRIBUTES:
                return self._of(value.value)
            if value.attr in FRESH_METHODS or value.attr in rules.NONDIFF_ATTRIBUTES:
                return set()
            return self._of(value.value) | {OUTSIDE}  # whatever the object holds
        if isinstance(value, gast.Call):
            return self._call_roots(op, site)
        return {site, OUTSIDE} | self._of(value)

    def _call_roots(self, op, site):
        call = op.value
        callee = self._facts.callees.get(id(op))
        arguments = self._of(*self._arguments(call))
        out = {k.value for k in call.keywords if k.arg == "out"}
        written = self._of(*out)
        if callee is None or callee.kind in ("user", "unknown", "unknown_method"):
            return {site, OUTSIDE} | arguments
        if callee.kind in ("method", "nondiff", "astype") and isinstance(call.func, gast.Attribute) \
                and isinstance(call.func.value, gast.Name) and self._facts.is_local(call.func.value.id):
            name = call.func.attr
            receiver = self._of(call.func.value)
            if name in VIEW_METHODS:
                return receiver | written
            if name in FRESH_METHODS or name in rules.NONDIFF_METHODS:
                return {site} | written
            if name == "astype":
                copy = next((k.value for k in call.keywords if k.arg == "copy"), None)
                if copy is None or isinstance(copy, gast.Constant) and copy.value is True:
                    return {site}
            return {site} | arguments | written
        fn = callee.obj
        try:
            if fn in _IMMUTABLE:
                return set()
            if fn in _CONTAINERS:
                return {site} | arguments
            if type(fn) is np.ufunc or fn is builtins.abs or any(fn is f for f in FRESH_FUNCTIONS):
                return {site} | written
            if fn is np.array and not any(k.arg == "copy" for k in call.keywords):
                return {site}
            if any(fn is f for f in VIEW_FUNCTIONS) and call.args:
                return {site} | self._of(call.args[0]) | written
        except TypeError:  # an unhashable object
            return {site, OUTSIDE} | arguments
        module = getattr(fn, "__module__", None) or ""
        if module == "numpy" or module.startswith("numpy."):
            return {site} | arguments  # a new array, or a view of an argument
        return {site, OUTSIDE} | arguments
