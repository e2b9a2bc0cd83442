"""Static kinds, part of the analysis (analyze.py): what sort of value each name holds.

Reads the normal form, the classified calls, the loops (after their headers are lowered) and which
parameters the function was called with Python numbers. Produces a ``Kinds``: for each name a ``Kind``,
one of

- ``number``: a Python ``int``, ``float`` or ``bool`` on every assignment (parameters called with numbers,
  numeric constants, loop counters and indices, ``len``/``int``/``float``, most of ``math``, and
  arithmetic on those). Where every operand of an operation is a number no broadcasting happens, which
  is what lets the reverse transform drop ``unbroadcast``;
- ``array``: a numpy array or numpy scalar on every assignment, with its ``rank`` (number of dimensions)
  and ``dtype`` where they are certain: array literals, numpy's constructors, elementwise functions and
  operators on values of known rank, reductions, reshapes and indexing with constants;
- ``shape``: the ``.shape`` tuple of an array of known rank (``rank`` is its length): an integer index
  of it is an ``int``, and ``np.zeros(x.shape)`` or ``np.zeros(x.shape[0])`` has a certain rank;
- ``list``: a list the function makes (a display, then ``append``) and reads only whole, through
  ``np.stack``, ``np.concatenate`` or ``len``; ``rank`` and ``dtype`` are those of its items (a number
  counts as rank 0), so ``np.stack(rows)`` of float64 vectors is a float64 matrix. A list that any other
  statement reads (another name bound to it, an argument of a call, an index, a loop) may be changed
  through that reference, and stays unknown;
- ``unknown``: anything else. A parameter not called with a number is unknown: the compiler is not told
  more about its arguments.

A name's kind is the join over every place that binds it (assignments, loop headers, the parameter list),
found to a fixed point, so that a loop-carried name is only as certain as all its values. Where a fact is
not certain it is ``None`` (rank, dtype) or ``unknown`` (kind): nothing is guessed.
"""

import builtins
import dataclasses
import functools
import math

import gast
import numpy as np

from .ir import If, Loop, walk_tree
from .ops import targets
from .scope import resolve_path

NUMBER, ARRAY, UNKNOWN, SHAPE, LIST = "number", "array", "unknown", "shape", "list"

FULL_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod, np.var, np.std, np.average,
                   np.nansum, np.nanmean, np.nanmax, np.nanmin}
# math functions whose result is not one number: frexp and modf return pairs, prod multiplies anything.
_MATH_NOT_NUMBERS = {math.frexp, math.modf, math.prod}
_CONSTRUCTORS = {np.zeros: np.float64, np.ones: np.float64, np.empty: np.float64, np.full: None}
_LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.full_like}
# These always return an ndarray; most other numpy functions dispatch on their arguments
# (``__array_function__``), so an argument of unknown kind makes their result unknown too.
_AS_ARRAY = {np.array, np.asarray, np.asanyarray, np.ascontiguousarray}
_SAME_RANK = {np.transpose, np.sort, np.flip, np.conj, np.conjugate, np.copy}
_ELEMENTWISE = {np.where, np.clip}
_COMPARE = (gast.Lt, gast.LtE, gast.Gt, gast.GtE, gast.Eq, gast.NotEq)


@dataclasses.dataclass(frozen=True)
class Kind:
    """What a name holds: ``kind`` is "number", "array" or "unknown"; ``rank`` (an int) and ``dtype``
    (the dtype's name, such as "float64") are None where not certain. A number has rank 0 and no dtype
    (how it combines with an array is numpy's promotion rule); an array of rank 0 is a numpy scalar or
    a 0-d array. (The dtype is kept by name because ``np.dtype("float64") == None`` holds.)"""

    kind: str
    rank: object = None
    dtype: object = None


UNKNOWN_KIND = Kind(UNKNOWN)
NUMBER_KIND = Kind(NUMBER, 0)
INT_KIND = Kind(NUMBER, 0, "int")  # a number that is certainly a Python int (it can index an array)
_INT_OPS = (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)  # int op int is an int
_NOTHING = object()  # no binding evaluated yet: the start of the fixed point, never an answer


def join(a, b):
    """The kind of a name that holds ``a`` at one place and ``b`` at another."""
    if a is _NOTHING:
        return b
    if b is _NOTHING or a == b:
        return a
    if a.kind != b.kind or a.kind == UNKNOWN or a.kind == SHAPE:  # shapes of two ranks: a tuple of any length
        return UNKNOWN_KIND
    if a.kind == NUMBER:
        return NUMBER_KIND if a.dtype != b.dtype else a
    return Kind(a.kind, a.rank if a.rank == b.rank else None, a.dtype if a.dtype == b.dtype else None)


class Kinds:
    """The kind of every name: ``kind(name)``, ``is_number(name)``, ``numbers``, ``rank(name)``,
    ``dtype(name)``, ``holds_one_number(name)``."""

    def __init__(self, facts, scalar_params=(), array_params=None):
        self._facts = facts
        self._bindings = {}  # name -> list of zero-argument functions giving the kind of one binding
        self._kinds = {}
        scalar_params = set(scalar_params)
        array_params = array_params or {}
        for p in facts.params:
            if p in array_params:  # called with an np.ndarray of this rank and dtype (part of the cache key)
                ndim, dtype = array_params[p]
                self._bind(p, lambda kind=Kind(ARRAY, ndim, np.dtype(dtype).name): kind)
            else:
                self._bind(p, lambda number=p in scalar_params: NUMBER_KIND if number else UNKNOWN_KIND)
        self._never_numbers = set()  # arrays and lists written into, element by element or by append
        lists = _private_lists(facts)
        for op in facts.body_ops:
            if op.kind == "append" and op.target in lists:
                self._never_numbers.add(op.target)
                self._bind(op.target, lambda op=op: self._list_of([op.stored]))
            elif op.kind in ("setitem", "append"):
                self._never_numbers.add(op.target)
                self._bind(op.target, lambda: _NOTHING)  # keeps the kind it has
            elif op.kind == "assign" and op.target in lists:
                self._bind(op.target, lambda op=op: self._list_of(op.value.elts))
            elif op.kind == "assign":
                self._bind(op.target, lambda op=op: self._value(op))
            else:
                for name in targets(op):
                    self._bind(name, lambda: UNKNOWN_KIND)
        for loop in facts.loops:
            counters = [loop.count] + ([loop.index] if loop.index else [])
            counters += loop.targets if loop.range_args else []
            for name in counters:
                self._bind(name, lambda: INT_KIND)
            if not loop.range_args:
                for target, source in zip(loop.targets, loop.sources):
                    self._bind(target, lambda source=source: self._item_of(source))
        self._solve()
        self.numbers = {name for name, kind in self._kinds.items() if kind is not _NOTHING and kind.kind == NUMBER}
        self._reals = _Reals(self, facts).names

    def _bind(self, name, kind_of):
        self._bindings.setdefault(name, []).append(kind_of)
        self._kinds.setdefault(name, _NOTHING)

    def _solve(self):
        changed = True
        while changed:  # the kinds only grow (nothing, then a certain kind, then less certain ones)
            changed = False
            for name in self._bindings:  # in program order, so straight-line code settles in one round
                new = self._kinds[name]
                for kind_of in self._bindings[name]:
                    new = join(new, kind_of())
                if name in self._never_numbers and new is not _NOTHING and new.kind == NUMBER:
                    new = UNKNOWN_KIND
                if new != self._kinds[name]:
                    self._kinds[name] = new
                    changed = True

    # -- queries --------------------------------------------------------------------------------------

    def kind(self, name):
        """The ``Kind`` of ``name``; unknown for names the function does not bind (globals, closures)."""
        kind = self._kinds.get(name, _NOTHING)
        return UNKNOWN_KIND if kind is _NOTHING else kind

    def is_number(self, name):
        return name in self.numbers

    def is_real(self, name):
        """Whether ``name`` holds a real number or an array of a real dtype on every assignment (a float64
        array at one place and a Python float at another, say, whose joined kind is unknown)."""
        return name in self._reals

    def bound_once(self, name):
        """Whether one place binds ``name`` (a parameter nothing assigns or writes into, say)."""
        return len(self._bindings.get(name, ())) == 1

    def rank(self, name):
        return self.kind(name).rank

    def dtype(self, name):
        return self.kind(name).dtype

    def holds_one_number(self, name, seen=()):
        """Whether ``name`` certainly holds a single number: a Python number, or, along a chain of names
        each assigned once, a full reduction (``np.sum(x)``, ``x.mean()``) or arithmetic on those."""
        if name in self.numbers:
            return True
        ops = self._facts.body_ops + [op for ops in self._facts.header_ops.values() for op in ops]
        defs = [op for op in ops if name in targets(op)]
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
            callee = self._facts.callees.get(id(defs[0]))
            full = callee is not None and callee.kind in ("rule", "method") and callee.obj in FULL_REDUCTIONS
            args = value.args[1:] if callee is not None and callee.kind == "rule" else value.args
            keywords = {k.arg: k.value for k in value.keywords}
            no_axis = not args and all(
                isinstance(keywords.get(k), gast.Constant) and (keywords[k].value is None or keywords[k].value is False)
                for k in ("axis", "keepdims") if k in keywords)
            return full and no_axis and set(keywords) <= {"axis", "keepdims", "dtype"}
        return False

    # -- the kind of one binding ------------------------------------------------------------------------

    def _atom(self, node):
        if isinstance(node, gast.Constant):
            if type(node.value) is int:
                return INT_KIND
            return NUMBER_KIND if isinstance(node.value, (int, float)) else UNKNOWN_KIND
        if isinstance(node, gast.Name):
            return self._kinds.get(node.id, UNKNOWN_KIND) if self._facts.is_local(node.id) else UNKNOWN_KIND
        return UNKNOWN_KIND

    def _list_of(self, items):
        """A list of ``items`` (atoms): nothing yet for an empty display, whose items the appends give."""
        kinds = [self._atom(item) for item in items]
        if _NOTHING in kinds:
            return _NOTHING
        if any(k.kind not in (NUMBER, ARRAY) for k in kinds):
            return UNKNOWN_KIND
        result = _NOTHING
        for k in kinds:
            result = join(result, Kind(LIST, k.rank, k.dtype if k.kind == ARRAY else None))
        return result

    def _item_of(self, source):
        """An item of a for loop's source: iterating an array of rank r gives arrays of rank r - 1."""
        kind = self._atom(source)
        if kind is _NOTHING:
            return _NOTHING
        if kind.kind == ARRAY and kind.rank is not None and kind.rank >= 1:
            return Kind(ARRAY, kind.rank - 1, kind.dtype)
        return UNKNOWN_KIND

    def _value(self, op):
        value = op.value
        if isinstance(value, (gast.Name, gast.Constant)):
            return self._atom(value)
        if isinstance(value, gast.BinOp):
            return self._binary(value.op, self._atom(value.left), self._atom(value.right))
        if isinstance(value, gast.UnaryOp):
            operand = self._atom(value.operand)
            if operand is _NOTHING:
                return _NOTHING
            if isinstance(value.op, gast.Not) or operand.kind not in (NUMBER, ARRAY):
                return UNKNOWN_KIND
            return operand
        if isinstance(value, gast.Compare):
            if len(value.ops) != 1 or not isinstance(value.ops[0], _COMPARE):
                return UNKNOWN_KIND
            operands = [self._atom(value.left), self._atom(value.comparators[0])]
            if _NOTHING not in operands and all(k.kind == NUMBER for k in operands):
                return UNKNOWN_KIND  # a Python bool: the arithmetic of numbers is not followed through it
            return _with_dtype(_broadcast(operands), "bool")
        if isinstance(value, gast.Subscript):
            return self._subscript(self._atom(value.value), value.slice)
        if isinstance(value, gast.Attribute):
            return self._attribute(self._atom(value.value), value.attr)
        if isinstance(value, gast.Call):
            return self._call(op)
        return UNKNOWN_KIND

    def _binary(self, op, left, right):
        if left is _NOTHING or right is _NOTHING:
            return _NOTHING
        if left.kind == NUMBER and right.kind == NUMBER:
            if isinstance(op, gast.Pow) and right != INT_KIND:
                return UNKNOWN_KIND  # (-8.0) ** 0.5 is a complex number
            return INT_KIND if left == right == INT_KIND and isinstance(op, _INT_OPS) else NUMBER_KIND
        if isinstance(op, gast.MatMult):
            if left.kind != ARRAY or right.kind != ARRAY:
                return UNKNOWN_KIND
            return Kind(ARRAY, _matmul_rank(left.rank, right.rank),
                        "float64" if left.dtype == right.dtype == "float64" else None)
        dtype = None
        if left.kind == ARRAY and right.kind == ARRAY and None not in (left.dtype, right.dtype) \
                and isinstance(op, (gast.Add, gast.Sub, gast.Mult)) and "bool" not in (left.dtype, right.dtype):
            dtype = np.result_type(left.dtype, right.dtype).name  # two arrays: numpy's promotion table
        elif type(op) in _OPERATOR_UFUNCS:
            dtype = _float64_result(_OPERATOR_UFUNCS[type(op)], [left, right])
        return _with_dtype(_broadcast([left, right]), dtype)

    def _subscript(self, base, index):
        if base is _NOTHING:
            return _NOTHING
        if base.kind == SHAPE:  # one length of a shape tuple is an int
            if base.rank is not None and isinstance(index, gast.Constant) and type(index.value) is int and -base.rank <= index.value < base.rank:
                return INT_KIND
            return _NOTHING if isinstance(index, gast.Name) and self._atom(index) is _NOTHING else UNKNOWN_KIND
        if base.kind != ARRAY or base.rank is None:
            return UNKNOWN_KIND
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        if len(parts) > base.rank:
            return UNKNOWN_KIND
        dropped = 0
        for part in parts:
            if isinstance(part, gast.Name) and self._atom(part) is _NOTHING:
                return _NOTHING
            if isinstance(part, gast.Constant) and type(part.value) is int or self._atom(part) == INT_KIND:
                dropped += 1  # an integer picks one position along its axis
            elif not isinstance(part, gast.Slice):
                # None, Ellipsis, an array, a mask, or a name that may hold any of them (or a bool, which
                # adds an axis): the rank is not certain
                return UNKNOWN_KIND
        if dropped == base.rank and base.dtype == "float64":
            # One element of a float64 array is an np.float64, a subclass of float: a number, which
            # broadcasts with nothing and cannot be written into (an ndarray's rank and dtype are certain
            # only where they are part of the cache key or made here; a subclass is never an array kind).
            return NUMBER_KIND
        return Kind(ARRAY, base.rank - dropped, base.dtype)

    def _attribute(self, base, attr):
        if base is _NOTHING:
            return _NOTHING
        if base.kind == ARRAY and attr == "shape" and base.rank is not None:
            return Kind(SHAPE, base.rank)
        if base.kind == ARRAY and attr in ("T", "mT"):
            return base
        if base.kind == ARRAY and attr in ("real", "imag"):
            return Kind(ARRAY, base.rank)
        return UNKNOWN_KIND

    def _call(self, op):
        value = op.value
        callee = self._facts.callees.get(id(op))
        if callee is None:
            return UNKNOWN_KIND
        obj = callee.obj
        if any(obj is f for f in (builtins.len, builtins.int)):
            return INT_KIND
        if getattr(obj, "__module__", None) == "math" and obj not in _MATH_NOT_NUMBERS or obj is builtins.float:
            return NUMBER_KIND
        args, keywords = list(value.args), {k.arg: k.value for k in value.keywords}
        if callee.kind == "astype":
            receiver = self._atom(value.func.value)
            if receiver is _NOTHING or receiver.kind != ARRAY:
                return receiver if receiver is _NOTHING else UNKNOWN_KIND
            dtype = args[0] if args else keywords.get("dtype")
            return Kind(ARRAY, receiver.rank, None if dtype is None else self._static_dtype(dtype))
        if callee.kind == "method":
            if callee.pack and len(args) > 1:
                args = [gast.Tuple(elts=args, ctx=gast.Load())]
            args = [value.func.value] + args
        elif callee.kind not in ("rule", "nondiff"):
            return UNKNOWN_KIND
        try:
            return self._numpy_call(obj, args, keywords)
        except TypeError:  # an object that cannot be looked up in the tables (unhashable)
            return UNKNOWN_KIND

    def _numpy_call(self, fn, args, keywords):
        def arg(position, *names):
            if len(args) > position:
                return args[position]
            return next((keywords[n] for n in names if n in keywords), None)

        first = self._atom(args[0]) if args else UNKNOWN_KIND
        if first is _NOTHING:
            return _NOTHING
        if "like" in keywords:  # the result is made like another array, of whatever type that is
            return UNKNOWN_KIND
        if type(fn) is np.ufunc:
            if len(args) != fn.nin or fn.nout != 1 or keywords:
                return UNKNOWN_KIND
            operands = [self._atom(a) for a in args]
            if _NOTHING not in operands and all(k.kind == NUMBER for k in operands):
                # np.sin(x) on a Python number is a numpy scalar (np.float64 subclasses float): one number
                # of shape (), immutable, that broadcasts with nothing, which is all a number promises here.
                return NUMBER_KIND
            return _with_dtype(_broadcast(operands), _float64_result(fn, operands))
        if fn in FULL_REDUCTIONS:
            if first.kind == UNKNOWN:
                return UNKNOWN_KIND
            if len(args) > 2:
                return Kind(ARRAY)  # keepdims or dtype given by position
            reduced = self._reduction(first, arg(1, "axis"), keywords.get("keepdims"))
            if first.kind == ARRAY and first.dtype == "float64" and "dtype" not in keywords \
                    and reduced is not _NOTHING and reduced.kind == ARRAY:
                return _with_dtype(reduced, "float64")  # numpy's reductions keep float64
            return reduced
        if fn in _CONSTRUCTORS:
            dtype = arg(2 if fn is np.full else 1, "dtype")
            default = _CONSTRUCTORS[fn]
            rank = self._shape_rank(arg(0, "shape"))
            if rank is _NOTHING:
                return _NOTHING
            return Kind(ARRAY, rank,
                        self._static_dtype(dtype) if dtype is not None else default and np.dtype(default).name)
        if fn in _LIKE:
            if first.kind not in (NUMBER, ARRAY):
                return UNKNOWN_KIND
            dtype = arg(2 if fn is np.full_like else 1, "dtype")
            if "shape" in keywords or len(args) > (3 if fn is np.full_like else 2):
                return Kind(ARRAY, None, None if dtype is None else self._static_dtype(dtype))
            rank = first.rank
            if dtype is not None:
                return Kind(ARRAY, rank, self._static_dtype(dtype))
            return Kind(ARRAY, rank, first.dtype if first.kind == ARRAY else None)
        if fn in (np.eye, np.identity):
            dtype = arg(3 if fn is np.eye else 1, "dtype")
            return Kind(ARRAY, 2, "float64" if dtype is None else self._static_dtype(dtype))
        if fn is np.arange:
            return Kind(ARRAY, 1)
        if fn is np.linspace:  # between numbers a line; between arrays one line per element
            ends = [self._atom(a) for a in args[:2]]
            return Kind(ARRAY, 1 if len(ends) == 2 and all(e is not _NOTHING and e.kind == NUMBER for e in ends)
                        and not set(keywords) - {"num", "endpoint", "dtype"} else None)
        if fn in _AS_ARRAY:
            if set(keywords) - {"copy", "order"} or len(args) != 1:
                return Kind(ARRAY)
            return self._as_array(args[0])
        if fn is np.reshape or fn is np.ravel:
            if first.kind != ARRAY:
                return UNKNOWN_KIND
            rank = 1 if fn is np.ravel else self._shape_rank(arg(1, "newshape", "shape"))
            return _NOTHING if rank is _NOTHING else Kind(ARRAY, rank, first.dtype)
        if fn in _SAME_RANK and not keywords and (len(args) == 1 or fn is np.transpose):
            return first if first.kind == ARRAY else UNKNOWN_KIND
        if fn in _ELEMENTWISE and len(args) == 3 and not keywords:
            return _with_dtype(_broadcast([self._atom(a) for a in args]), None)
        if fn is np.matmul and len(args) == 2 and not keywords:
            return self._binary(gast.MatMult(), first, self._atom(args[1]))
        if fn is np.outer and len(args) == 2 and not keywords:
            operands = _broadcast([first, self._atom(args[1])])
            return operands if operands is _NOTHING or operands is UNKNOWN_KIND else Kind(ARRAY, 2)
        if fn in (np.concatenate, np.stack):
            if len(args) != 1 or keywords:
                return UNKNOWN_KIND
            if isinstance(args[0], (gast.Tuple, gast.List)):
                parts = [self._atom(e) for e in args[0].elts]
            elif first.kind == LIST:  # a list the function made and reads only here (see _private_lists)
                parts = [Kind(ARRAY, first.rank, first.dtype)]
            else:
                return UNKNOWN_KIND
            if _NOTHING in parts:
                return _NOTHING
            if any(p.kind != ARRAY for p in parts):
                return UNKNOWN_KIND
            ranks = {p.rank for p in parts}
            if len(ranks) != 1 or None in ranks:
                return Kind(ARRAY)
            # numpy joins float64 arrays into a float64 array (of any other dtypes: their promotion)
            dtype = "float64" if all(p.dtype == "float64" for p in parts) else None
            return Kind(ARRAY, ranks.pop() + (fn is np.stack), dtype)
        return UNKNOWN_KIND

    def _reduction(self, operand, axis, keepdims):
        if axis is None and keepdims is None:
            return Kind(ARRAY, 0)  # a full reduction is one number (a numpy scalar)
        if not all(node is None or isinstance(node, gast.Constant) for node in (axis, keepdims)):
            return Kind(ARRAY)
        keep = keepdims is not None and bool(keepdims.value)
        if axis is None or axis.value is None:
            if not keep:
                return Kind(ARRAY, 0)
            return Kind(ARRAY, operand.rank if operand.kind == ARRAY else None)
        if operand.kind != ARRAY or operand.rank is None or type(axis.value) is not int:
            return Kind(ARRAY)
        return Kind(ARRAY, operand.rank if keep else operand.rank - 1)

    def _shape_rank(self, node):
        """The rank of an array made with shape ``node``: an int gives 1, a tuple display its length."""
        if isinstance(node, (gast.Tuple, gast.List)):
            return len(node.elts)
        if isinstance(node, gast.Constant) and type(node.value) is int:
            return 1
        if isinstance(node, gast.Name):  # an int, or the shape of an array of known rank
            kind = self._atom(node)
            if kind is _NOTHING:
                return _NOTHING
            if kind == INT_KIND:
                return 1
            if kind is not _NOTHING and kind.kind == SHAPE:
                return kind.rank
        return None  # a name may hold an int or a tuple

    def _as_array(self, node):
        """``np.array(node)``: a literal is converted here, where its rank and dtype are certain."""
        if isinstance(node, (gast.Tuple, gast.List, gast.Constant)):
            literal = _literal(node)
            if literal is not None:
                try:
                    converted = np.asarray(literal)
                except ValueError:  # a ragged literal
                    return Kind(ARRAY)
                return Kind(ARRAY, converted.ndim, converted.dtype.name)
            rank = self._display_rank(node)
            return _NOTHING if rank is _NOTHING else Kind(ARRAY, rank)
        kind = self._atom(node)
        if kind is _NOTHING or kind.kind == ARRAY:
            return kind
        return Kind(ARRAY, 0 if kind.kind == NUMBER else None)

    def _display_rank(self, node):
        if isinstance(node, (gast.Tuple, gast.List)):
            ranks = [self._display_rank(e) for e in node.elts]
            if _NOTHING in ranks:
                return _NOTHING
            return None if not ranks or len(set(ranks)) != 1 or None in ranks else ranks[0] + 1
        kind = self._atom(node)
        if kind is _NOTHING:
            return _NOTHING
        return kind.rank if kind.kind in (NUMBER, ARRAY) else None

    def _static_dtype(self, node):
        """The name of the dtype a ``dtype`` argument names, where it names the same one on every call."""
        try:
            if isinstance(node, gast.Constant) and isinstance(node.value, str):
                return np.dtype(node.value).name
            root = node
            while isinstance(root, gast.Attribute):
                root = root.value
            if isinstance(root, gast.Name) and not self._facts.is_local(root.id):
                obj = resolve_path(node, self._facts.parsed)
                if isinstance(obj, (type, np.dtype)):
                    return np.dtype(obj).name
        except TypeError:
            pass
        return None


_REAL_DTYPES = frozenset(("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16",
                          "uint32", "uint64", "bool"))
_REAL_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.MatMult)


def _real_kind(kind):
    """A number (never complex: ``**`` of numbers is a number only to an int power) or a real array."""
    return kind is not _NOTHING and (kind.kind == NUMBER or kind.kind == ARRAY and kind.dtype in _REAL_DTYPES)


class _Reals:
    """The names that hold a real value on every assignment: the largest set such that each binding of
    each name is real given the others (a fixed point from all names down). A binding is real where its
    own kind says so, or where it is arithmetic, a numpy ufunc or reduction, an index or a transpose of
    real values; an operation of which that is not certain makes its name not real."""

    def __init__(self, kinds, facts):
        self.kinds, self.facts = kinds, facts
        ops = {}
        for op in facts.body_ops + [op for header in facts.header_ops.values() for op in header]:
            for name in targets(op):
                ops.setdefault(name, []).append(op)
        loop_bound = set()
        for loop in facts.loops:
            loop_bound.update([loop.count] + ([loop.index] if loop.index else []))
            loop_bound.update(loop.targets)
        names = {name for name in kinds._kinds if _real_kind(kinds.kind(name)) or name in ops}
        self.names = names
        changed = True
        while changed:
            changed = False
            for name in sorted(names):
                if _real_kind(kinds.kind(name)):
                    continue
                if name in loop_bound or name in facts.params or not all(self._op(op) for op in ops.get(name, ())):
                    names.discard(name)
                    changed = True

    def _atom(self, node):
        if isinstance(node, gast.Constant):
            return type(node.value) in (int, float, bool)
        return isinstance(node, gast.Name) and self.facts.is_local(node.id) and node.id in self.names

    def _op(self, op):
        if op.kind in ("setitem", "append"):  # a write into a real array keeps its dtype; a list is not real
            return op.kind == "setitem"
        if op.kind != "assign":
            return False
        value = op.value
        if isinstance(value, (gast.Name, gast.Constant)):
            return self._atom(value)
        if isinstance(value, gast.BinOp):
            if isinstance(value.op, gast.Pow):
                left = self.kinds._atom(value.left)
                return self._atom(value.left) and self._atom(value.right) and (
                    self.kinds._atom(value.right) == INT_KIND
                    or left is not _NOTHING and left.kind == ARRAY and left.dtype in _REAL_DTYPES)
            return isinstance(value.op, _REAL_OPS) and self._atom(value.left) and self._atom(value.right)
        if isinstance(value, gast.UnaryOp):
            return isinstance(value.op, (gast.USub, gast.UAdd, gast.Not)) and self._atom(value.operand)
        if isinstance(value, gast.Compare):
            return True  # a bool, or an array of them
        if isinstance(value, gast.Subscript):
            return self._atom(value.value)
        if isinstance(value, gast.Attribute):
            return value.attr in ("T", "mT", "real", "imag") and self._atom(value.value)
        if isinstance(value, gast.Call):
            callee = self.facts.callees.get(id(op))
            obj = getattr(callee, "obj", None)
            if callee is None or callee.kind not in ("rule", "nondiff"):
                return False
            numpy_ufunc = type(obj) is np.ufunc and obj.nout == 1 and getattr(np, obj.__name__, None) is obj
            if numpy_ufunc and not value.keywords:
                return all(self._atom(a) for a in value.args)
            if obj in FULL_REDUCTIONS and "dtype" not in {k.arg for k in value.keywords}:
                # every operand real (np.average's weights too); axis and keepdims are constants
                rest = value.args[1:] + [k.value for k in value.keywords]
                return bool(value.args) and self._atom(value.args[0]) \
                    and all(self._atom(a) or self._setting(a) for a in rest)
        return False

    @staticmethod
    def _setting(node):
        """An axis or keepdims argument: a constant (None, an int, a bool) or a tuple of int constants."""
        if isinstance(node, gast.Constant):
            return node.value is None or type(node.value) in (int, bool)
        return isinstance(node, gast.Tuple) and all(
            isinstance(e, gast.Constant) and type(e.value) is int for e in node.elts)


def _private_lists(facts):
    """The names bound only to list displays (``ys = []``, ``ys = [a, b]``) and changed only by ``append``,
    read nowhere but as the one argument of ``np.stack`` or ``np.concatenate`` or of ``len``: no other
    reference to such a list exists, so its items are the displays' and the appended values, whatever
    order the statements run in."""
    candidates, bound_otherwise = set(), set()
    for op in facts.body_ops:
        if op.kind == "assign" and isinstance(op.value, gast.List) and isinstance(op.target, str):
            candidates.add(op.target)
        elif op.kind != "append":
            bound_otherwise.update(targets(op))
    for loop in facts.loops:
        bound_otherwise.update([loop.index] if loop.index else [])
        bound_otherwise.update(loop.targets)
        bound_otherwise.add(loop.count)
    candidates -= bound_otherwise
    candidates -= set(facts.params)
    if not candidates:
        return candidates
    allowed = set()  # ids of the Name nodes that read a candidate in one of the allowed ways
    for op in facts.body_ops:
        value = op.value
        if op.kind == "append":
            allowed.add(id(value))
        elif isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords \
                and isinstance(value.args[0], gast.Name):
            callee = facts.callees.get(id(op))
            obj = getattr(callee, "obj", None)
            if callee is not None and callee.kind in ("rule", "nondiff") and \
                    any(obj is f for f in (np.stack, np.concatenate, builtins.len)):
                allowed.add(id(value.args[0]))
    readers = [op.value for op in facts.body_ops] + [op.stored for op in facts.body_ops] + \
        [atom for loop in facts.loops for atom in list(loop.sources) + list(loop.range_args or [])] + \
        [op.value for ops in facts.header_ops.values() for op in ops]
    for node in readers:
        if node is None:
            continue
        for name in walk_tree(node):
            if isinstance(name, gast.Name) and name.id in candidates and id(name) not in allowed:
                candidates.discard(name.id)
    for test in _if_tests(facts.body):
        candidates.discard(test)
    return candidates


def _if_tests(body):
    for node in body:
        if isinstance(node, If):
            yield node.test
            yield from _if_tests(node.body)
            yield from _if_tests(node.orelse)
        elif isinstance(node, Loop):
            yield from _if_tests(node.body)


def _broadcast(kinds):
    """Arrays and numbers combined elementwise: the rank is the largest rank, where all are known."""
    if _NOTHING in kinds:
        return _NOTHING
    if any(k.kind not in (NUMBER, ARRAY) for k in kinds):
        return UNKNOWN_KIND
    ranks = [k.rank for k in kinds]
    return Kind(ARRAY, None if None in ranks else max(ranks))


_OPERATOR_UFUNCS = {gast.Add: np.add, gast.Sub: np.subtract, gast.Mult: np.multiply, gast.Div: np.true_divide,
                    gast.Pow: np.power, gast.FloorDiv: np.floor_divide, gast.Mod: np.remainder}


def _float64_result(fn, operands):
    """The dtype name of the ufunc ``fn`` applied to ``operands`` where each is a float64 array (of any
    rank) or a Python number, and one at least an array; None otherwise. numpy's own answer, from samples:
    with float64 arrays and Python numbers its promotion rules give the same dtype at every rank and value,
    under the legacy rules as under NEP 50."""
    if _NOTHING in operands or not any(k.kind == ARRAY for k in operands):
        return None
    if any(k.kind not in (ARRAY, NUMBER) or k.kind == ARRAY and k.dtype != "float64" for k in operands):
        return None
    return _sampled_dtype(fn, tuple(k.kind == ARRAY for k in operands))


@functools.lru_cache(maxsize=None)
def _sampled_dtype(fn, arrays):
    """The dtype name ``fn`` gives float64 arrays at the positions ``arrays`` marks and a Python float, int
    or bool at the others, where all three agree; None where they differ or ``fn`` refuses one."""
    names = set()
    for number in (1.0, 1, True):
        try:
            with np.errstate(all="ignore"):
                out = fn(*[np.ones(1) if is_array else number for is_array in arrays])
        except Exception:  # noqa: BLE001 (a sample numpy refuses: no certain dtype)
            return None
        names.add(getattr(out, "dtype", np.dtype(object)).name)
    return names.pop() if len(names) == 1 else None


def _with_dtype(kind, dtype):
    if kind is _NOTHING or kind.kind != ARRAY:
        return kind
    return Kind(ARRAY, kind.rank, dtype)


def _matmul_rank(left, right):
    if left is None or right is None or left == 0 or right == 0:
        return None
    if left == 1 and right == 1:
        return 0
    if left == 1 or right == 1:
        return max(left, right) - 1
    return max(left, right)


def _literal(node):
    """The Python value of a display of numeric constants, or None."""
    if isinstance(node, gast.Constant):
        return node.value if isinstance(node.value, (int, float, complex)) else None
    if isinstance(node, (gast.Tuple, gast.List)):
        items = [_literal(e) for e in node.elts]
        return None if any(i is None for i in items) else items
    return None
