"""Run-time support for batched (vmapped) generated code.

A batched value is a ``Batched``: a thin wrapper around an array whose axis 0 is the batch axis. Every
other value is unbatched and stays as it is. Generated batched code (see ``batching.py``) routes each
call, subscript and augmented assignment through the functions of this module, which look at their
operands and apply a batching rule (``batching_rules.py``) when one of them is batched, or run the plain
operation when none is. Operators (``x * y``, ``a @ b``, ``x > 0``) are left as written in the generated
code: ``Batched`` implements them with the elementwise and matmul rules.

Batchedness is decided per value at run time, not per name at compile time, because generated adjoints
keep batched and unbatched values side by side in tapes, tuples and residuals.

Two fallbacks keep every result right:

- An operation without a rule runs once per batch element, on the slices, and the results are
  stacked (``loop_call``).
- A construct that needs a plain Python value from a batched one (``if x > 0:``, ``range(n)`` with a
  batched ``n``) raises ``NeedsLoop``. The batched function that raised it runs again, once per batch
  element (see ``batching.call_batched``).

Both are reported once with ``logging.getLogger("autodiff_st").debug``.
"""

import functools
import inspect
import logging
import operator
import sys
import threading

import numpy as np

from ..core import hooks
from ..core.model import Cell
from ..core.registry import batching_rule_for, display_name
from .calls import Residuals
from .loader import origin_at

log = logging.getLogger("autodiff_st")


class NeedsLoop(Exception):
    """A batched value reached a place that needs one plain value: run the function per batch element."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


class Batched:
    """An array whose axis 0 is the batch axis. Its *logical* value, seen by the user's code, is one
    slice ``value[i]``: ``shape``, ``ndim``, iteration, indexing and operators all act on that."""

    __slots__ = ("value",)
    __array_ufunc__ = None  # numpy defers to our operators instead of making object arrays
    __hash__ = object.__hash__

    def __init__(self, value):
        self.value = value

    # -- what the user's code sees ----------------------------------------------------------------
    @property
    def shape(self):
        return self.value.shape[1:]

    @property
    def ndim(self):
        return self.value.ndim - 1

    @property
    def size(self):
        return int(np.prod(self.value.shape[1:], dtype=np.int64))

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def T(self):
        return batching_rule_for(np.transpose)(self)

    @property
    def mT(self):
        if self.value.ndim < 3:
            raise ValueError("matrix transpose with ndim < 2 is undefined")
        return Batched(np.swapaxes(self.value, -1, -2))

    @property
    def real(self):
        return Batched(self.value.real)

    @property
    def imag(self):
        return Batched(self.value.imag)

    def __len__(self):
        if self.value.ndim < 2:
            raise TypeError("len() of unsized object")
        return self.value.shape[1]

    def __iter__(self):
        if self.value.ndim < 2:
            raise TypeError("iteration over a 0-d array")
        return (Batched(self.value[:, i]) for i in range(self.value.shape[1]))

    def __reversed__(self):
        return reversed(list(self))

    def __getitem__(self, index):
        return getitem(self, index)

    def __getattr__(self, name):
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(name)
        if name == "mT":  # a property, not a method: each element's last two axes swapped
            return Batched(np.swapaxes(self.value, -1, -2))
        return functools.partial(method, self, name)

    def _needs_value(self, *args):
        raise NeedsLoop("a batched value used where one plain value is needed (a condition, an int, a float)")

    __bool__ = __index__ = __int__ = __float__ = __complex__ = _needs_value

    def __repr__(self):
        return f"Batched({self.value!r})"

    # -- operators: the elementwise rule, or the matmul rule --------------------------------------
    def __neg__(self):
        return Batched(-self.value)

    def __pos__(self):
        return Batched(+self.value)

    def __abs__(self):
        return Batched(abs(self.value))

    def __invert__(self):
        return Batched(~self.value)

    def __matmul__(self, other):
        return batching_rule_for(np.matmul)(self, other)

    def __rmatmul__(self, other):
        return batching_rule_for(np.matmul)(other, self)


def _aligned(value, other):
    """Whether ``other`` lines up with the batched array ``value`` as it is: another batched array of the same
    rank, or a plain number or array of no more logical axes (numpy aligns trailing axes)."""
    kind = type(other)
    if kind is Batched:
        return other.value.ndim == value.ndim
    if kind is float or kind is int:
        return True
    return kind is np.ndarray and other.ndim < value.ndim


def _binary(op):
    def forward(self, other):
        if _aligned(self.value, other):  # the common case, without lining up
            return Batched(op(self.value, other.value if type(other) is Batched else other))
        return elementwise(op, self, other)

    def reflected(self, other):
        if _aligned(self.value, other):
            return Batched(op(other, self.value))
        return elementwise(op, other, self)

    return forward, reflected


for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv), ("mod", operator.mod),
                   ("pow", operator.pow), ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
                   ("lshift", operator.lshift), ("rshift", operator.rshift), ("divmod", divmod)]:
    _f, _r = _binary(_op)
    setattr(Batched, f"__{_name}__", _f)
    setattr(Batched, f"__r{_name}__", _r)
for _name, _op, _flip in [("lt", operator.lt, "gt"), ("le", operator.le, "ge"), ("gt", operator.gt, "lt"),
                          ("ge", operator.ge, "le"), ("eq", operator.eq, "eq"), ("ne", operator.ne, "ne")]:
    setattr(Batched, f"__{_name}__", _binary(_op)[0])


# --------------------------------------------------------------------------------------------------
# Helpers shared by the rules
# --------------------------------------------------------------------------------------------------

def is_batched(x):
    """Whether ``x`` is batched or holds a batched value (in a tuple, list or dict)."""
    kind = type(x)
    if kind is Batched:
        return True
    if kind in (tuple, list) or isinstance(x, (tuple, list)):
        return any(map(is_batched, x))
    if isinstance(x, dict):
        return any(map(is_batched, x.values()))
    return False


def any_batched(args, kwargs=None):
    for a in args:
        if type(a) is Batched or (type(a) in _CONTAINERS or isinstance(a, (tuple, list, dict))) and is_batched(a):
            return True
    if kwargs:
        return any_batched(kwargs.values())
    return False


_CONTAINERS = (tuple, list, dict)


def batch_size(*trees):
    for tree in trees:
        if type(tree) is Batched:
            return tree.value.shape[0]
        items = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, (tuple, list)) else ()
        for item in items:
            n = batch_size(item)
            if n is not None:
                return n
    return None


def logical_ndim(x):
    return x.value.ndim - 1 if type(x) is Batched else np.ndim(x)


def lift(x, rank):
    """The array of a batched ``x`` with singleton axes inserted after the batch axis, up to logical
    rank ``rank``: what lines it up with unbatched operands that broadcast against its logical shape."""
    v = x.value
    missing = rank - (v.ndim - 1)
    if missing > 0:
        v = v.reshape(v.shape[:1] + (1,) * missing + v.shape[1:])
    return v


def broadcast_batch(x, size):
    """An unbatched ``x`` repeated along a new batch axis of length ``size`` (a read-only view)."""
    x = np.asarray(x)
    return np.broadcast_to(x, (size,) + x.shape)


def as_batch_array(x, size):
    return x.value if type(x) is Batched else broadcast_batch(x, size)


def slice_of(x, i):
    """Element ``i`` of the batch: batched leaves replaced by their slice ``i``."""
    kind = type(x)
    if kind is Batched:
        return x.value[i]
    if kind in _CONTAINERS or isinstance(x, _CONTAINERS):
        if not is_batched(x):
            return x
        if isinstance(x, dict):
            return type(x)({k: slice_of(v, i) for k, v in x.items()})
        return rebuilt(x, [slice_of(v, i) for v in x])
    return x


def rebuilt(x, items):
    """A tuple or list of ``x``'s type holding ``items``: a namedtuple field by field, a ``Residuals``
    with its backward pass."""
    kind = type(x)
    if kind is list or kind is tuple:
        return kind(items)
    if hasattr(x, "_fields"):  # a namedtuple
        return kind(*items)
    if kind is Residuals:
        return Residuals(items, x.backward)
    return kind(items)


def example_of(x):
    """One batch element of ``x``, for rules whose result depends only on shapes and dtypes."""
    if type(x) is Batched:
        v = x.value
        return v[0] if v.shape[0] else np.zeros(v.shape[1:], v.dtype)
    return slice_of(x, 0) if is_batched(x) else x


def _is_plain(x):
    if isinstance(x, (np.ndarray, np.generic, Batched)):
        return False
    if isinstance(x, (tuple, list)):
        return all(map(_is_plain, x))
    if isinstance(x, dict):
        return all(map(_is_plain, x.values()))
    return True


def stack_results(results):
    """The per-element results of a loop, as one batched result of the same structure.

    Plain values equal in every element (a shape, a string, None) stay unbatched; numbers and arrays
    are stacked along a new axis 0.
    """
    first = results[0]
    if _is_plain(first):
        try:
            if all(r == first for r in results[1:]):
                return first
        except Exception:
            pass
    if isinstance(first, dict):
        return type(first)({k: stack_results([r[k] for r in results]) for k in first})
    if isinstance(first, (tuple, list)) and not isinstance(first, Batched):
        if any(len(r) != len(first) for r in results):
            raise NeedsLoop("a tuple or list whose length differs between batch elements")
        return rebuilt(first, [stack_results([r[k] for r in results]) for k in range(len(first))])
    if first is None or not all(isinstance(r, (np.ndarray, np.generic, int, float, complex, bool))
                                for r in results):
        raise NeedsLoop(f"a {type(first).__name__} that differs between batch elements")
    arrays = [np.asarray(r) for r in results]
    if any(a.shape != arrays[0].shape for a in arrays[1:]):
        raise NeedsLoop("a value whose shape differs between batch elements")
    return Batched(np.stack(arrays))


# --------------------------------------------------------------------------------------------------
# Fallback: one call per batch element
# --------------------------------------------------------------------------------------------------

_REPORTED = set()


class _PerThread(threading.local):
    """What one call of a transform keeps while it runs, per thread, so that two threads differentiating
    at once never see each other's: the ``recording()``s open, the batch elements running (in a
    per-element loop), and the weight collectors (``weights.WeightGradients``) of the backward passes
    running, innermost last, which ``journals`` lists for call_batched to checkpoint."""

    def __init__(self):
        self.recorders = []
        self.collectors = []
        self.loop_indices = []
        self.journals = []


PER_THREAD = _PerThread()


def report(what, where, quiet=False):
    """Log a fallback, once per (what, where); every occurrence goes to the active ``recording()``s."""
    key = (what, where)
    for recorder in PER_THREAD.recorders:
        recorder.append(key)
    if not quiet and key not in _REPORTED:
        _REPORTED.add(key)
        log.debug("vmap: %s at %s", what, where)


class recording:
    """``with recording() as fallbacks:`` collects every fallback taken inside, as (what, where) pairs."""

    def __enter__(self):
        self.fallbacks = []
        PER_THREAD.recorders.append(self.fallbacks)
        return self.fallbacks

    def __exit__(self, *exc):
        PER_THREAD.recorders.remove(self.fallbacks)


def caller_site(depth=2):
    """The user's line (through the line map the loader keeps) of the generated statement that called
    into this module, written as the comment above it writes it."""
    frame = sys._getframe(depth)
    while frame is not None and not frame.f_code.co_filename.startswith("<autodiff_st batched"):
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    origin = origin_at(frame.f_code.co_filename, frame.f_lineno)
    return origin.short() if origin is not None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


# Batched code has one side effect: the gradients of Parameters that jacrev(..., weights=) collects
# (weights.WeightGradients). Two things keep it right when the code runs once per batch element instead:
# ``loop_indices`` says which element is running (innermost last), so that what is collected then goes
# to that element alone; and ``journals`` holds the collectors, whose checkpoint() call_batched takes
# before running a batched function and restore()s before running it again once per element.


def loop_call(fn, args, kwargs, why=None):
    """``fn`` called once per batch element, on the slices of its batched arguments; results stacked."""
    if why is not None:
        report(f"{why}: runs once per batch element", caller_site(3))
    size = batch_size(args, kwargs)
    results = []
    for i in range(size):
        PER_THREAD.loop_indices.append(i)
        try:
            results.append(fn(*slice_of(args, i), **slice_of(kwargs, i)))
        finally:
            PER_THREAD.loop_indices.pop()
    if not results:
        raise NeedsLoop("an empty batch")
    return stack_results(results)


def describe(fn):
    try:
        return display_name(fn)
    except Exception:
        return getattr(fn, "__qualname__", None) or type(fn).__name__


# --------------------------------------------------------------------------------------------------
# What generated code calls
# --------------------------------------------------------------------------------------------------

def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, batched: the plain call when nothing is batched."""
    if not any_batched(args, kwargs):
        if type(fn) is Batched:
            return loop_call(lambda f, *a, **k: f(*a, **k), (fn,) + args, kwargs, "a call of a batched function")
        return fn(*args, **kwargs)
    rule = batching_rule_for(fn)
    if rule is not None:
        return rule(*args, **kwargs)
    if isinstance(fn, np.ufunc):
        if "out" in kwargs:
            raise NeedsLoop(f"{fn.__name__}(..., out=...) writes into an array")
        return elementwise(fn, *args, **kwargs)
    if _writes_in_place(fn):
        raise NeedsLoop(f"{describe(fn)} writes into one of its arguments")
    if isinstance(fn, functools.partial):
        return call(fn.func, *fn.args, *args, **{**fn.keywords, **kwargs})
    if inspect.ismethod(fn):
        return call(fn.__func__, fn.__self__, *args, **kwargs)
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, (list, dict, set)):
        return fn(*args, **kwargs)  # list.append and friends move values around: batched ones too
    if isinstance(fn, Cell):
        return call(type(fn).construct, fn, *args, **kwargs)
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_filename.startswith("<autodiff_st batched"):
        return fn(*args, **kwargs)  # a function defined inside batched code (a nested def): batched already
    compiler = hooks.compiler()
    if compiler.has_source(fn):
        return compiler.call_batched(fn, args, kwargs)
    return loop_call(fn, args, kwargs, f"no batching rule for {describe(fn)}")


def _writes_in_place(fn):
    if fn in _IN_PLACE:
        return True
    owner = getattr(fn, "__self__", None)
    return isinstance(owner, np.ufunc) and getattr(fn, "__name__", "") == "at"


_IN_PLACE = {np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis}


def method(obj, name, *args, **kwargs):
    """``obj.name(*args, **kwargs)``, batched."""
    if type(obj) is Batched or isinstance(obj, np.ndarray) and any_batched(args, kwargs):
        return batching_rule_for(method)(obj, name, args, kwargs)
    return call(getattr(obj, name), *args, **kwargs)


def elementwise(fn, *args, **kwargs):
    """An elementwise function of batched and unbatched operands: batched operands are lined up
    (``lift``) so that unbatched ones broadcast against their logical shapes."""
    rank = max(map(logical_ndim, list(args) + list(kwargs.values())), default=0)
    args = [lift(a, rank) if type(a) is Batched else a for a in args]
    kwargs = {k: lift(v, rank) if type(v) is Batched else v for k, v in kwargs.items()}
    out = fn(*args, **kwargs)
    if type(out) is tuple:
        return tuple(Batched(o) for o in out)
    return Batched(np.asarray(out))


def getitem(x, index):
    """``x[index]``, batched."""
    if type(x) is not Batched and not is_batched(index):
        return x[index]
    return batching_rule_for(operator.getitem)(x, index)


def setitem(x, index, value):
    """``x[index] = value``; returns the array to rebind ``x`` to (a new batched array when an unbatched
    ``x`` receives a batched value)."""
    if type(x) is not Batched and not is_batched(index) and type(value) is not Batched:
        x[index] = value
        return x
    return batching_rule_for(operator.setitem)(x, index, value)


def setitem_in_place(x, index, value):
    """``obj.attr[index] = value`` and other writes whose container cannot be rebound."""
    result = setitem(x, index, value)
    if result is not x:
        raise NeedsLoop("a batched value written into an unbatched array that cannot be rebound")


def _augmented(op, in_place):
    def apply(x, value):
        if type(x) is not Batched and type(value) is not Batched:
            return in_place(x, value)
        return op(x, value)

    apply.__name__ = in_place.__name__
    return apply


iadd = _augmented(operator.add, operator.iadd)
isub = _augmented(operator.sub, operator.isub)
imul = _augmented(operator.mul, operator.imul)
itruediv = _augmented(operator.truediv, operator.itruediv)
ifloordiv = _augmented(operator.floordiv, operator.ifloordiv)
imod = _augmented(operator.mod, operator.imod)
ipow = _augmented(operator.pow, operator.ipow)
imatmul = _augmented(operator.matmul, operator.imatmul)
iand = _augmented(operator.and_, operator.iand)
ior = _augmented(operator.or_, operator.ior)
ixor = _augmented(operator.xor, operator.ixor)
ilshift = _augmented(operator.lshift, operator.ilshift)
irshift = _augmented(operator.rshift, operator.irshift)
