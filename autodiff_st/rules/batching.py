"""Batching rules: how an operation acts on operands with a leading batch axis.

A rule takes the operation's own arguments, some of them ``Batched``, and returns the batched result.
It runs only when at least one argument is batched. Families:

- elementwise (every ``np.ufunc``, ``np.where``, ``np.clip``, ``math`` functions, ``abs``, ``float``):
  operands are lined up with ``lift`` and the function runs once on the whole batch;
- reductions (``np.sum``, ``np.max``, ``x.mean(axis)``...): the axis is shifted past the batch axis,
  and ``axis=None`` means every logical axis;
- shape (reshape, transpose, swapaxes, moveaxis, expand_dims, squeeze, ravel, broadcast_to,
  concatenate, stack): shapes and axes are shifted past the batch axis;
- products (matmul, ``@``, dot, outer);
- indexing (``x[i]``, ``x[:, j]``, ``x[..., k]``, integer-array indices, and writes);
- shape-only functions (``np.shape``, ``len``, ``zeros_like``, ``shape_of``, ``reduced_count``): the
  result depends on the logical shape only, so it is computed from one element and stays unbatched.

Everything else falls back to one call per batch element (``batched.loop_call``); the user's
and the runtime's own Python functions are batched recursively instead (``batching.call_batched``).
"""

import builtins
import math
import operator

import numpy as np

import autodiff_st.runtime as runtime
from ..core import hooks
from ..core.registry import batching_rule
from ..runtime import batched, weights
from ..runtime.batched import (Batched, NeedsLoop, as_batch_array, batch_size, elementwise, example_of,
                               is_batched, lift, logical_ndim, loop_call)

def _norm(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _shift(axis, ndim):
    """A logical axis (or tuple of axes) as an axis of the batched array."""
    if isinstance(axis, (tuple, list)):
        return tuple(_norm(a, ndim) + 1 for a in axis)
    return _norm(operator.index(axis), ndim) + 1


# --------------------------------------------------------------------------------------------------
# Elementwise
# --------------------------------------------------------------------------------------------------

def _elementwise_rule(fn):
    return lambda *args, **kwargs: elementwise(fn, *args, **kwargs)


for _fn in (np.where, np.clip, np.round, np.around, np.real, np.imag, np.conj, np.angle, np.nan_to_num,
            np.sinc, np.fix, np.isclose, operator.add, operator.sub, operator.mul, operator.truediv,
            operator.pow, operator.neg, operator.floordiv, operator.mod, operator.lt, operator.le,
            operator.gt, operator.ge, operator.eq, operator.ne, operator.pos, operator.abs):
    batching_rule(_fn)(_elementwise_rule(_fn))


@batching_rule(np.where)
def where(condition, *xy):
    if not xy:
        return loop_call(np.where, (condition,), {}, "np.where with one argument")
    return elementwise(np.where, condition, *xy)


_MATH_AS_NUMPY = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "atan2": np.arctan2, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "exp": np.exp, "expm1": np.expm1, "log1p": np.log1p,
    "log10": np.log10, "log2": np.log2, "sqrt": np.sqrt, "fabs": np.fabs, "floor": np.floor,
    "ceil": np.ceil, "trunc": np.trunc, "hypot": np.hypot, "pow": np.power, "copysign": np.copysign,
    "degrees": np.degrees, "radians": np.radians, "isnan": np.isnan, "isinf": np.isinf,
    "isfinite": np.isfinite, "fmod": np.fmod,
}
for _name, _ufunc in _MATH_AS_NUMPY.items():
    batching_rule(getattr(math, _name))(_elementwise_rule(_ufunc))
if hasattr(math, "exp2"):
    batching_rule(math.exp2)(_elementwise_rule(np.exp2))
if hasattr(math, "cbrt"):
    batching_rule(math.cbrt)(_elementwise_rule(np.cbrt))


@batching_rule(math.log)
def math_log(x, base=None):
    return elementwise(np.log, x) if base is None else elementwise(lambda a, b: np.log(a) / np.log(b), x, base)


@batching_rule(builtins.abs)
def builtin_abs(x):
    return elementwise(np.abs, x)


@batching_rule(builtins.float)
def builtin_float(x=0.0):
    return Batched(x.value.astype(np.float64))


@batching_rule(builtins.int)
def builtin_int(x=0):
    return Batched(np.trunc(x.value).astype(np.int64))


@batching_rule(builtins.pow)
def builtin_pow(base, exp, mod=None):
    if mod is not None:
        return loop_call(pow, (base, exp, mod), {}, "pow with a modulus")
    return elementwise(np.power, base, exp)


@batching_rule(builtins.round)
def builtin_round(x, ndigits=None):
    return elementwise(np.round, x) if ndigits is None else elementwise(np.round, x, ndigits)


@batching_rule(builtins.divmod)
def builtin_divmod(a, b):
    return elementwise(np.divmod, a, b)


def _extremum(ufunc, name):
    def rule(*args, **kwargs):
        if len(args) >= 2 and not kwargs:
            out = args[0]
            for a in args[1:]:
                out = elementwise(ufunc, out, a)
            return out
        return loop_call(getattr(builtins, name), args, kwargs, f"{name}() of one iterable")
    return rule


batching_rule(builtins.max)(_extremum(np.maximum, "max"))
batching_rule(builtins.min)(_extremum(np.minimum, "min"))


# --------------------------------------------------------------------------------------------------
# Structure: builtins that only move values around work on batched values as they are
# --------------------------------------------------------------------------------------------------

for _fn in (list, tuple, dict, zip, enumerate, reversed, iter, next, print, id, callable, hasattr, getattr,
            builtins.sum, runtime.parts, runtime.push_part, runtime.require):
    batching_rule(_fn)(_fn)

# The collector of Parameters' gradients takes batched cotangents itself (jacrev(..., weights=)).
batching_rule(weights.collect_weight_grad)(weights.collect_weight_grad)


@batching_rule(runtime.undiagonal)
def undiagonal(v, a, offset=0, axis1=0, axis2=1):
    # undiagonal writes into a view of the zeros it makes: batched recursively, the write would go into a
    # new batched array and leave the zeros as they were. Place the whole batch at once instead.
    if is_batched(a) or is_batched(offset) or is_batched(axis1) or is_batched(axis2):
        raise NeedsLoop("undiagonal of a batched matrix")
    size = batch_size(v)
    ndim = np.ndim(a)
    out = np.zeros((size,) + np.shape(a), dtype=np.result_type(as_batch_array(v, size)))
    return Batched(runtime.undiagonal(as_batch_array(v, size), out, offset, _shift(axis1, ndim), _shift(axis2, ndim)))


@batching_rule(runtime.unpacked_cotangent)
def unpacked_cotangent(value, *cotangents):
    if not isinstance(example_of(value), np.ndarray):
        return runtime.Parts(cotangents)
    size = batch_size((value,) + cotangents)
    return Batched(np.stack([as_batch_array(c, size) for c in cotangents], axis=1))


@batching_rule(runtime.items_cotangent)
def items_cotangent(value, cotangents):
    return unpacked_cotangent(value, *cotangents)


@batching_rule(runtime.as_parts)
def as_parts(cotangents):
    # A batched array (the cotangent of an array taken as a sequence) stays one, as in runtime.as_parts.
    return cotangents if isinstance(cotangents, Batched) else runtime.as_parts(cotangents)


@batching_rule(isinstance)
def batched_isinstance(x, classes):
    return isinstance(example_of(x), classes)


@batching_rule(range)
def batched_range(*args):
    raise NeedsLoop("range() of a batched value")


# --------------------------------------------------------------------------------------------------
# Shape-only: computed from one element, unbatched
# --------------------------------------------------------------------------------------------------

def _shape_only(fn):
    def rule(*args, **kwargs):
        return fn(*[example_of(a) for a in args], **{k: example_of(v) for k, v in kwargs.items()})
    return rule


for _fn in (np.shape, np.ndim, np.size, len, runtime.shape_of, runtime.zeros_like, runtime.ones_like,
            runtime.reduced_count, runtime.identity_like, np.zeros_like, np.ones_like, np.empty_like,
            np.iscomplexobj, np.isrealobj, np.result_type, runtime.is_foreign, runtime.is_lazy):
    batching_rule(_fn)(_shape_only(_fn))


@batching_rule(runtime.fill_is_exact)
def fill_is_exact(v, x, d):
    """``fill_divide`` and ``fill_multiply`` take their number path only for an unbatched float64 ndarray
    ``d`` and a float ``v``: with a batched value they fill the array first, as the code they replace did."""
    return False


# --------------------------------------------------------------------------------------------------
# Reductions and scans
# --------------------------------------------------------------------------------------------------

def _reduction(fn, default_axis=None, flatten_none=False):
    """``fn(a, axis, ...)``: axis shifted past the batch axis. ``axis=None`` is every logical axis, or,
    for functions that flatten (argmax, cumsum, sort), the flattened logical value."""

    def rule(a, *args, **kwargs):
        if args:
            kwargs = {"axis": args[0], **kwargs}
            args = args[1:]
        if type(a) is not Batched or any_rest_batched(args, kwargs) or "out" in kwargs:
            return loop_call(fn, (a,) + args, kwargs, f"{_name(fn)} with a batched argument other than the array")
        axis = kwargs.pop("axis", default_axis)
        n = a.value.ndim - 1
        v = a.value
        if axis is None:
            if flatten_none:
                if kwargs.get("keepdims"):
                    return loop_call(fn, (a,), {"axis": None, **kwargs}, f"{_name(fn)}(axis=None, keepdims=True)")
                v = v.reshape(v.shape[0], -1)
                axis = 1
            else:
                axis = tuple(range(1, n + 1))
        else:
            axis = _shift(axis, n)
        return Batched(np.asarray(fn(v, *args, axis=axis, **kwargs)))

    return rule


def any_rest_batched(args, kwargs):
    return any(map(is_batched, args)) or any(map(is_batched, kwargs.values()))


def _name(fn):
    return getattr(fn, "__name__", repr(fn))


for _fn in (np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.std, np.var, np.any, np.all,
            np.nansum, np.nanmean, np.nanmax, np.nanmin, np.nanprod, np.median, np.ptp, np.count_nonzero):
    batching_rule(_fn)(_reduction(_fn))
for _fn in (np.argmax, np.argmin, np.cumsum, np.cumprod, np.nanargmax, np.nanargmin):
    batching_rule(_fn)(_reduction(_fn, flatten_none=True))
for _fn in (np.sort, np.argsort):
    batching_rule(_fn)(_reduction(_fn, default_axis=-1, flatten_none=True))

try:  # scipy is optional
    import scipy.special
    batching_rule(scipy.special.logsumexp)(_reduction(scipy.special.logsumexp))
except ImportError:  # pragma: no cover
    pass


@batching_rule(np.flip)
def flip(m, axis=None):
    if type(m) is not Batched:
        return loop_call(np.flip, (m, axis), {}, "np.flip with a batched axis")
    n = m.value.ndim - 1
    return Batched(np.flip(m.value, tuple(range(1, n + 1)) if axis is None else _shift(axis, n)))


# --------------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------------

def _need_batched_array(fn, a, rest):
    if type(a) is not Batched or any(map(is_batched, rest)):
        raise NeedsLoop(f"{_name(fn)} with a batched shape or axis")


@batching_rule(np.reshape)
def reshape(a, newshape=None, order="C", *, shape=None, **kwargs):
    shape = newshape if shape is None else shape
    _need_batched_array(np.reshape, a, (shape,))
    if order != "C":
        return loop_call(np.reshape, (a, shape), {"order": order}, "reshape in Fortran order")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Batched(a.value.reshape(a.value.shape[:1] + shape))


@batching_rule(np.ravel)
def ravel(a, order="C"):
    return reshape(a, -1, order)


@batching_rule(np.transpose)
def transpose(a, axes=None):
    _need_batched_array(np.transpose, a, (axes,))
    n = a.value.ndim - 1
    axes = tuple(range(n, 0, -1)) if axes is None else tuple(_norm(x, n) + 1 for x in axes)
    return Batched(np.transpose(a.value, (0,) + axes))


@batching_rule(np.swapaxes)
def swapaxes(a, axis1, axis2):
    _need_batched_array(np.swapaxes, a, (axis1, axis2))
    n = a.value.ndim - 1
    return Batched(np.swapaxes(a.value, _shift(axis1, n), _shift(axis2, n)))


@batching_rule(np.moveaxis)
def moveaxis(a, source, destination):
    _need_batched_array(np.moveaxis, a, (source, destination))
    n = a.value.ndim - 1
    return Batched(np.moveaxis(a.value, _shift(source, n), _shift(destination, n)))


@batching_rule(np.expand_dims)
def expand_dims(a, axis):
    _need_batched_array(np.expand_dims, a, (axis,))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    n_out = a.value.ndim - 1 + len(axes)
    return Batched(np.expand_dims(a.value, tuple(_norm(x, n_out) + 1 for x in axes)))


@batching_rule(np.squeeze)
def squeeze(a, axis=None):
    _need_batched_array(np.squeeze, a, (axis,))
    n = a.value.ndim - 1
    if axis is None:
        axis = tuple(i + 1 for i, s in enumerate(a.value.shape[1:]) if s == 1)
    else:
        axis = _shift(axis, n)
    return Batched(np.squeeze(a.value, axis))


@batching_rule(np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    _need_batched_array(np.broadcast_to, array, (shape,))
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Batched(np.broadcast_to(lift(array, len(shape)), array.value.shape[:1] + shape))


@batching_rule(np.atleast_1d)
def atleast_1d(*arys):
    out = [Batched(lift(a, 1)) if type(a) is Batched else np.atleast_1d(a) for a in arys]
    return out[0] if len(out) == 1 else out


def _join(fn, arrays, axis, extra_rank):
    arrays = list(arrays)
    size = batch_size(arrays)
    batched = [as_batch_array(a, size) for a in arrays]
    n = max(logical_ndim(a) for a in arrays)
    if axis is None:
        batched = [b.reshape(size, -1) for b in batched]
        return Batched(fn(batched, axis=1))
    return Batched(fn(batched, axis=_norm(axis, n + extra_rank) + 1))


@batching_rule(np.concatenate)
def concatenate(arrays, axis=0, **kwargs):
    if is_batched(axis) or kwargs.get("out") is not None:
        raise NeedsLoop("np.concatenate with a batched axis or out=")
    return _join(np.concatenate, arrays, axis, 0)


@batching_rule(np.stack)
def stack(arrays, axis=0, **kwargs):
    if is_batched(axis) or kwargs.get("out") is not None:
        raise NeedsLoop("np.stack with a batched axis or out=")
    return _join(np.stack, arrays, axis, 1)


@batching_rule(np.full)
def full(shape, fill_value, dtype=None, order="C"):
    if is_batched(shape) or type(fill_value) is not Batched:
        raise NeedsLoop("np.full with a batched shape")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    v = lift(fill_value, len(shape))
    out = np.empty(v.shape[:1] + shape, dtype=dtype if dtype is not None else v.dtype)
    out[...] = v
    return Batched(out)


def _stacked_batch(a, size):
    """The batch array (batch axis first) of the list or tuple ``a``, whose items may be lists too."""
    parts = np.broadcast_arrays(*[_stacked_batch(x, size) if isinstance(x, (list, tuple))
                                  else as_batch_array(x, size) for x in a])
    return np.stack(parts, axis=1)


@batching_rule(runtime.copy_of, runtime.restored_copy)
def copy_of(t):
    """A copy of ``t`` of its own type; a list or dict of batched values is copied at its own level."""
    if type(t) is Batched:
        return Batched(t.value.copy())
    return runtime.copy_of(t)


@batching_rule(np.asarray, np.array, np.copy, np.ascontiguousarray, np.asanyarray)
def as_array(a, dtype=None, *args, **kwargs):
    if type(a) is not Batched:
        size = batch_size(a)
        if not isinstance(a, (list, tuple)):
            raise NeedsLoop("an array built from a batched object")
        stacked = _stacked_batch(a, size)  # nested lists too (rows = [[0.0, v], ...])
        return Batched(stacked.astype(dtype) if dtype else stacked)
    return Batched(np.array(a.value, dtype=dtype))


@batching_rule(runtime.astype)
def astype(x, dtype, **kwargs):
    return Batched(x.value.astype(dtype, **kwargs))


# --------------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------------

@batching_rule(np.matmul, operator.matmul)
def matmul(a, b):
    a_batched, b_batched = type(a) is Batched, type(b) is Batched
    av = a.value if a_batched else np.asarray(a)
    bv = b.value if b_batched else np.asarray(b)
    la, lb = av.ndim - a_batched, bv.ndim - b_batched
    if la == 0 or lb == 0:
        return loop_call(np.matmul, (a, b), {}, "matmul of a scalar")
    # A batch of vectors against one matrix is one matrix product, not a stack of matrix-vector ones.
    if b_batched and not a_batched and lb == 1 and la == 2:
        return Batched(bv @ av.T)  # row i: a @ v_i
    if a_batched and not b_batched and la == 1 and lb == 2:
        return Batched(av @ bv)  # row i: v_i @ b
    vector_a, vector_b = la == 1, lb == 1
    if vector_a:
        av, la = np.expand_dims(av, -2), 2
    if vector_b:
        bv, lb = np.expand_dims(bv, -1), 2
    top = max(la, lb)
    if a_batched:
        av = lift(Batched(av), top)
    if b_batched:
        bv = lift(Batched(bv), top)
    out = np.matmul(av, bv)
    if vector_b:
        out = out[..., 0]
    if vector_a:
        out = out[..., 0] if vector_b else out[..., 0, :]
    return Batched(out)


@batching_rule(np.dot)
def dot(a, b):
    la, lb = logical_ndim(a), logical_ndim(b)
    if la == 0 or lb == 0:
        return elementwise(np.multiply, a, b)
    if la <= 2 and lb <= 2:
        return matmul(a, b)
    return loop_call(np.dot, (a, b), {}, "np.dot of arrays of more than two dimensions")


@batching_rule(np.outer)
def outer(a, b):
    size = batch_size((a, b))
    left = a.value.reshape(size, -1)[:, :, None] if type(a) is Batched else np.ravel(a)[:, None]
    right = b.value.reshape(size, -1)[:, None, :] if type(b) is Batched else np.ravel(b)[None, :]
    return Batched(left * right)


@batching_rule(np.cross)
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """np.cross acts on one axis and broadcasts the others: with negative axes (the default) the batch
    axis is one more broadcast axis once the operands are lined up."""
    axes = (axisa, axisb, axisc) if axis is None else (axis,)
    if any(not isinstance(x, (int, np.integer)) or x >= 0 for x in axes):
        return loop_call(np.cross, (a, b), dict(axisa=axisa, axisb=axisb, axisc=axisc, axis=axis),
                         "np.cross with a non-negative axis")
    if axis is None:
        return elementwise(np.cross, a, b, axisa=axisa, axisb=axisb, axisc=axisc)
    return elementwise(np.cross, a, b, axis=axis)


def _stacked(fn):
    def rule(a, *args, **kwargs):
        if type(a) is not Batched or args or kwargs:
            return loop_call(fn, (a,) + args, kwargs, f"{_name(fn)} with these arguments")
        return Batched(fn(a.value))
    return rule


for _fn in (np.linalg.inv, np.linalg.det, np.linalg.cholesky):
    batching_rule(_fn)(_stacked(_fn))


# --------------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------------

def _is_advanced(i):
    return isinstance(i, (list, np.ndarray)) and not (isinstance(i, np.ndarray) and i.ndim == 0 and
                                                      i.dtype.kind != "b")


def _advanced_together(index):
    """Whether the integer-array and mask entries of ``index`` sit next to each other. When they are
    separated, numpy moves their axes to the front, and the batch axis with them."""
    has_advanced = any(map(_is_advanced, index))
    if not has_advanced:
        return True
    kinds = [_is_advanced(i) or isinstance(i, (int, np.integer)) for i in index]
    first = kinds.index(True)
    last = len(kinds) - 1 - kinds[::-1].index(True)
    return all(kinds[first:last + 1])


@batching_rule(operator.getitem)
def batched_getitem(x, index):
    if type(x) is Batched:
        if not is_batched(index):
            index = index if isinstance(index, tuple) else (index,)
            if _advanced_together(index):
                return Batched(x.value[(slice(None),) + index])
            return loop_call(operator.getitem, (x, index), {}, "indexing with separated integer arrays")
        if type(index) is Batched and index.value.dtype.kind in "iu":
            size = x.value.shape[0]
            rows = np.arange(size).reshape((size,) + (1,) * (index.value.ndim - 1))
            return Batched(x.value[rows, index.value])
        return loop_call(operator.getitem, (x, index), {}, "indexing with a batched index")
    if isinstance(x, np.ndarray) and type(index) is Batched and index.value.dtype.kind in "iu":
        return Batched(x[index.value])
    return loop_call(operator.getitem, (x, index), {}, "indexing with a batched index")


@batching_rule(operator.setitem)
def batched_setitem(x, index, value):
    if is_batched(index):
        raise NeedsLoop("a write at a batched index")
    if isinstance(x, (list, dict)):
        x[index] = value
        return x
    if type(x) is not Batched:
        if not isinstance(x, np.ndarray):
            raise NeedsLoop(f"a batched value written into a {type(x).__name__}")
        x = Batched(np.array(np.broadcast_to(x, (value.value.shape[0],) + x.shape)))
    full = (slice(None),) + (index if isinstance(index, tuple) else (index,))
    if not _advanced_together(full[1:]):
        raise NeedsLoop("a write with separated integer-array indices")
    if not x.value.flags.writeable:  # a shared read-only array (a cached basis, a broadcast view)
        x = Batched(x.value.copy())
    if type(value) is Batched:
        region = x.value[full]
        x.value[full] = lift(value, region.ndim - 1)
    else:
        x.value[full] = value
    return x


def _is_basic(index):
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in index)


@batching_rule(runtime.index_grad)
def index_grad(v, x, index):
    """The gradient of ``x[index]``: ``v`` put into zeros shaped like ``x``'s logical value, with the batch
    on axis 0 (``x`` batched or not; only its shape and dtype are read)."""
    if not is_batched(v) and not is_batched(x) and not is_batched(index):
        # from accumulate_index, with only the total batched (a container x may hold batched values:
        # its zeros are then made per element below)
        return runtime.index_grad(v, x, index)
    if is_batched(index) or isinstance(x, (tuple, list, dict)):
        return hooks.compiler().call_batched(runtime.index_grad, (v, x, index), {})
    if isinstance(v, (tuple, list)):  # the cotangent of a list (runtime.Parts) read as an array's part
        v = Batched(_stacked_batch(v, batch_size(v)))
    full = (slice(None),) + (index if isinstance(index, tuple) else (index,))
    if not _advanced_together(full[1:]):
        return hooks.compiler().call_batched(runtime.index_grad, (v, x, index), {})
    value = v.value if type(v) is Batched else np.asarray(v)
    x_dtype = x.value.dtype if type(x) is Batched else getattr(x, "dtype", float)
    dtype = np.result_type(value, x_dtype) if np.iscomplexobj(value) else x_dtype
    size = batch_size((v, x))
    out = np.zeros((size,) + tuple(x.shape if type(x) is Batched else np.shape(x)), dtype=dtype)
    region = out[full]
    update = lift(v, region.ndim - 1) if type(v) is Batched else value
    if _is_basic(full):  # each element written once
        out[full] = update
    else:
        np.add.at(out, full, update)
    return Batched(out)


def _unbroadcast_batched(v, x_shape):
    """The batched ``unbroadcast_to_shape``: the logical axes of ``v`` summed down to ``x_shape``."""
    if type(v) is not Batched:
        return runtime.unbroadcast_to_shape(v, x_shape)
    value = v.value
    v_shape = value.shape[1:]
    if v_shape == tuple(x_shape):
        return v
    lead = len(v_shape) - len(x_shape)
    axes = tuple(range(1, lead + 1)) + tuple(
        1 + lead + i for i, n in enumerate(x_shape) if n == 1 and v_shape[lead + i] != 1)
    summed = np.sum(value, axis=axes, keepdims=True) if axes else value
    return Batched(np.reshape(summed, value.shape[:1] + tuple(x_shape)))


@batching_rule(runtime.unbroadcast)
def unbroadcast(v, x):
    """``unbroadcast(v, x)`` reads the shape of ``x`` alone: its logical shape when it is batched."""
    if is_batched(x) and type(x) is not Batched:
        return hooks.compiler().call_batched(runtime.unbroadcast, (v, x), {})
    return _unbroadcast_batched(v, tuple(runtime.operand_shape(x)))


@batching_rule(runtime.unbroadcast_to_shape)
def unbroadcast_to_shape(v, x_shape):
    if is_batched(x_shape):
        return hooks.compiler().call_batched(runtime.unbroadcast_to_shape, (v, x_shape), {})
    return _unbroadcast_batched(v, tuple(x_shape))


def _matrix_or_vector(x):
    return logical_ndim(x) in (1, 2) and (type(x) is Batched or isinstance(x, np.ndarray))


@batching_rule(runtime.matmul_grad_left)
def matmul_grad_left(v, a, b):
    """The gradient of ``a @ b`` with respect to a matrix ``a``, for a vector or matrix ``b``."""
    if logical_ndim(a) != 2 or not _matrix_or_vector(b) or not _matrix_or_vector(v):
        return hooks.compiler().call_batched(runtime.matmul_grad_left, (v, a, b), {})
    size = batch_size((v, a, b))
    vv, bb = as_batch_array(v, size), as_batch_array(b, size)
    if logical_ndim(b) == 1:  # np.outer(v, b) per element
        return Batched(vv[:, :, None] * bb[:, None, :])
    return Batched(vv @ np.swapaxes(bb, -1, -2))


@batching_rule(runtime.matmul_grad_right)
def matmul_grad_right(v, a, b):
    """The gradient of ``a @ b`` with respect to a vector or matrix ``b``, for a matrix ``a``."""
    if logical_ndim(a) != 2 or not _matrix_or_vector(b) or not _matrix_or_vector(v):
        return hooks.compiler().call_batched(runtime.matmul_grad_right, (v, a, b), {})
    if type(a) is not Batched and type(v) is Batched:  # a.T @ v per element, as one product
        return Batched(v.value @ a if logical_ndim(v) == 1 else np.swapaxes(a, -1, -2) @ v.value)
    size = batch_size((v, a, b))
    aa, vv = as_batch_array(a, size), as_batch_array(v, size)
    if logical_ndim(v) == 1:
        return Batched((np.swapaxes(aa, -1, -2) @ vv[:, :, None])[:, :, 0])
    return Batched(np.swapaxes(aa, -1, -2) @ vv)


@batching_rule(runtime.dot_grad_left)
def dot_grad_left(v, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``a``: ``v * b`` for two vectors, else as matmul's."""
    if logical_ndim(a) == 1 and logical_ndim(b) == 1 and logical_ndim(v) == 0:
        return elementwise(operator.mul, v, b)
    if logical_ndim(a) == 2 and logical_ndim(b) in (1, 2):
        return matmul_grad_left(v, a, b)
    return hooks.compiler().call_batched(runtime.dot_grad_left, (v, a, b), {})


@batching_rule(runtime.dot_grad_right)
def dot_grad_right(v, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``b``: ``v * a`` for two vectors, else as matmul's."""
    if logical_ndim(a) == 1 and logical_ndim(b) == 1 and logical_ndim(v) == 0:
        return elementwise(operator.mul, v, a)
    if logical_ndim(a) == 2 and logical_ndim(b) in (1, 2):
        return matmul_grad_right(v, a, b)
    return hooks.compiler().call_batched(runtime.dot_grad_right, (v, a, b), {})


@batching_rule(runtime.calls.Residuals)
def residuals(values, backward):
    """What a call leaves for its backward pass: batched values are kept as they are."""
    return runtime.calls.Residuals(values, backward)


@batching_rule(runtime.accumulate_index)
def accumulate_index(acc, v, x, index):
    """``acc + index_grad(v, x, index)`` on batched values (no update in place; ``+`` of a batched value,
    or of a list or dict of cotangents, lines the operands up). A list's cotangent may be an array (given
    by ``np.array(rows)``'s rule) on one side and a list on the other: the list is stacked."""
    return _lined_up_sum(acc, index_grad(v, x, index))


def _lined_up_sum(a, b):
    """``a + b`` for cotangents of one list, where a part may be a batched array on one side and a list on
    the other (``np.array(rows)``'s rule gives an array for a list): that list is stacked."""
    if type(a) is Batched and isinstance(b, (list, tuple)):
        return a + Batched(_stacked_batch(b, a.value.shape[0]))
    if type(b) is Batched and isinstance(a, (list, tuple)):
        return Batched(_stacked_batch(a, b.value.shape[0])) + b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and type(a) is type(b) \
            and any(type(p) is Batched or type(q) is Batched for p, q in zip(a, b)):
        return type(a)([_lined_up_sum(p, q) for p, q in zip(a, b)])
    return a + b


# --------------------------------------------------------------------------------------------------
# Methods of a batched array
# --------------------------------------------------------------------------------------------------

METHOD_FUNCTIONS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min, "std": np.std,
    "var": np.var, "any": np.any, "all": np.all, "argmax": np.argmax, "argmin": np.argmin,
    "cumsum": np.cumsum, "cumprod": np.cumprod, "clip": np.clip, "round": np.round, "conj": np.conj,
    "conjugate": np.conj, "dot": np.dot, "swapaxes": np.swapaxes, "squeeze": np.squeeze,
    "ravel": np.ravel, "ptp": np.ptp, "nonzero": np.nonzero, "diagonal": np.diagonal,
    "trace": np.trace, "repeat": np.repeat, "take": np.take, "argsort": np.argsort,
}


@batching_rule(batched.method)
def method_rule(x, name, args, kwargs):
    """``x.name(*args, **kwargs)`` where ``x`` is batched, or a plain array whose method gets batched arguments."""
    if type(x) is not Batched:
        fn = METHOD_FUNCTIONS.get(name)
        if fn is not None:
            return batched.call(fn, x, *args, **kwargs)
        raise NeedsLoop(f"the array method .{name}() with a batched argument")
    if name in ("reshape", "transpose"):
        packed = runtime.pack_axes(args[0], args[1:]) if args else kwargs.pop("shape", kwargs.pop("axes", None))
        return reshape(x, packed, **kwargs) if name == "reshape" else transpose(x, packed)
    if name == "flatten":
        return Batched(x.value.reshape(x.value.shape[0], -1).copy())
    if name == "copy":
        return Batched(x.value.copy())
    if name == "astype":
        return Batched(x.value.astype(*args, **kwargs))
    if name in ("sort", "fill"):
        if name == "fill":
            if is_batched(args):
                raise NeedsLoop("fill with a batched value")
            x.value.fill(*args)
            return None
        axis = args[0] if args else kwargs.pop("axis", -1)
        x.value.sort(axis=_shift(axis, x.value.ndim - 1), **kwargs)
        return None
    fn = METHOD_FUNCTIONS.get(name)
    if fn is not None:
        return batched.call(fn, x, *args, **kwargs)
    return loop_call(lambda obj, *a, **k: getattr(obj, name)(*a, **k), (x,) + tuple(args), kwargs,
                     f"no batching rule for the array method .{name}()")
