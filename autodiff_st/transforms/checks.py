"""The argument checks and small conversions that every transform shares.

Which arguments to differentiate (``grad_position``, ``argnums``, ``weights``), whether they can be
differentiated, the plain function to compile behind a method or Cell, gradients typed like their inputs,
auxiliary outputs split off, and the decorator forms ``t(fn)``, ``@t`` and ``@t(options)``.
"""

import functools
import inspect
from typing import Any, Callable, List, Optional, Tuple, TypeVar, Union, cast

import numpy as np

from ..compiler.parsing import parse_function
from ..core.errors import (AuxError, AutodiffError, GradPositionError, GradPositionTypeError, InputTypeError,
                           OptionTypeError)
from ..core import trees
from ..core.model import Parameter
from ..core.transform import Transform
from ..runtime.calls import bound_prefix, underlying_function
from ..runtime.namespaces import is_foreign, namespace_of
from ..runtime.trees import parts_of
from ..runtime.weights import as_weight_tuple


class _Default(int):
    """The default ``grad_position=0``, distinguishable from an explicit 0."""

    def __repr__(self):
        return "0"


FIRST = _Default(0)

# The types of the public signatures (docs/api.md): which arguments to differentiate, and a user function.
Positions = Optional[Union[int, Tuple[int, ...], List[int]]]
Function = Callable[..., Any]
_F = TypeVar("_F", bound=Callable[..., Any])


def resolve_positions(grad_position, argnums):
    if argnums is not None:
        if grad_position is not FIRST:
            raise OptionTypeError(
                "give either grad_position or argnums, not both: argnums is an alias of grad_position")
        grad_position = argnums
    if grad_position is FIRST:
        return 0
    if grad_position is None:
        return None
    if isinstance(grad_position, bool) or not isinstance(grad_position, (int, tuple, list)):
        raise GradPositionTypeError(
            f"grad_position must be an int or a tuple of ints, not {type(grad_position).__name__}.")
    if isinstance(grad_position, int):
        return grad_position
    positions = tuple(grad_position)
    if not positions:
        raise GradPositionError("grad_position is an empty tuple: name at least one argument to differentiate.")
    for p in positions:
        if isinstance(p, bool) or not isinstance(p, int):
            raise GradPositionTypeError(f"grad_position holds a {type(p).__name__}, which is not an int.")
    if len(set(positions)) != len(positions):
        raise GradPositionError(f"grad_position {positions} names an argument twice.")
    return positions


def resolve_weights(weights, grad_vars):
    """The Parameters of ``weights=`` (or its alias ``grad_vars=``) and the form of their gradients, or None."""
    if grad_vars is not None:
        if weights is not None:
            raise OptionTypeError("give either weights or grad_vars, not both: grad_vars is an alias of weights")
        weights = grad_vars
    if weights is None:
        return None
    return as_weight_tuple(weights)


def as_tuple(positions):
    return (positions,) if isinstance(positions, int) else positions


def check_positions(positions, args, fn):
    n = len(args)
    out = []
    for p in positions:
        q = p + n if p < 0 else p
        if not 0 <= q < n:
            raise GradPositionError(
                f"grad_position {p} is out of range: {function_name(fn)} was called with {n} positional "
                f"argument{'s' if n != 1 else ''}.",
                hint="Differentiated arguments must be passed positionally; positions count from 0.")
        if q in out:
            raise GradPositionError(f"grad_position {positions} names argument {q} twice.")
        out.append(q)
    return tuple(out)


def function_name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def check_input(x, position, fn, allow_complex=False):
    kind = type(x)
    if kind is float or (kind is np.ndarray and x.dtype.kind == "f"):
        return  # the common cases, first
    if isinstance(x, (tuple, list)):
        for item in x:
            check_input(item, position, fn, allow_complex)
        return
    if isinstance(x, dict):
        for item in x.values():
            check_input(item, position, fn, allow_complex)
        return
    if trees.is_tree(x):  # a dataclass, NamedTuple or registered class: its children that hold floats
        for item in trees.children(x):
            if trees.holds_floats(item):
                check_input(item, position, fn, allow_complex)
        return
    if isinstance(x, np.ndarray) and kind is not np.ndarray:
        check_array_subclass(x, position, fn)
    elif is_foreign(x):  # an array of dask, CuPy, array-api-strict, ...: its dtype decides (docs/backends.md)
        check_foreign_input(x, position, fn, allow_complex)
        return
    if isinstance(x, bool) or isinstance(x, (int, np.integer)) or (
            isinstance(x, np.ndarray) and x.dtype.kind in "iub"):
        raise InputTypeError(
            f"argument {position} of {function_name(fn)} is an integer ({type(x).__name__}"
            f"{'' if not isinstance(x, np.ndarray) else ' of dtype ' + str(x.dtype)}), and integers have no "
            "gradient.", hint="Pass a float instead, for example 2.0 or x.astype(np.float64).")
    if isinstance(x, (complex, np.complexfloating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "c"):
        if not allow_complex:
            raise InputTypeError(
                f"argument {position} of {function_name(fn)} is complex; grad and vjp differentiate real inputs.",
                hint="Split the value into real and imaginary parts and differentiate those.")
        return
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return
    raise InputTypeError(
        f"argument {position} of {function_name(fn)} is a {type(x).__name__}, which cannot be differentiated.",
        hint="Differentiated arguments are Python floats, numpy float arrays, or tuples, lists, dicts, "
             "dataclasses and NamedTuples of them (other classes: ad.register_pytree).")


def check_foreign_input(x, position, fn, allow_complex):
    """An array of another library is differentiated when its dtype is a real (or, where allowed, complex)
    floating type, as a numpy array is."""
    kind = np.dtype(str(x.dtype)).kind if str(x.dtype) in _NUMPY_DTYPE_NAMES else "?"
    if kind == "f" or (kind == "c" and allow_complex):
        return
    raise InputTypeError(
        f"argument {position} of {function_name(fn)} is a {type(x).__module__}.{type(x).__qualname__} of dtype "
        f"{x.dtype}, which cannot be differentiated.",
        hint="Differentiated arrays hold floats: convert it with astype(float64) first.")


_NUMPY_DTYPE_NAMES = frozenset(("float16", "float32", "float64", "complex64", "complex128", "int8", "int16",
                                "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"))


# What a subclass may not change for its values to be differentiated as plain arrays: the compiler
# reads `a * b`, `a @ b`, `a[i]` and numpy calls on it with ndarray's meaning.
_ARRAY_SEMANTICS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                    "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__",
                    "__getitem__", "__setitem__", "__iadd__", "__imul__", "__array_ufunc__",
                    "__array_function__", "__array_finalize__", "__array_wrap__", "sum", "mean", "reshape",
                    "dot", "T")


def check_array_subclass(x, position, fn):
    """Refuse an ndarray subclass whose operators or reductions differ from ndarray's (np.matrix's ``*``
    is a matrix product; a masked array skips masked elements): the generated code and the rules assume
    ndarray's meaning, so its derivative would be silently wrong. ad.Parameter changes nothing of it."""
    kind = type(x)
    if isinstance(x, Parameter) or kind is np.ndarray:
        return
    changed = [name for name in _ARRAY_SEMANTICS
               if getattr(kind, name, None) is not getattr(np.ndarray, name, None)]
    if changed:
        raise InputTypeError(
            f"argument {position} of {function_name(fn)} is a {kind.__module__}.{kind.__qualname__}, an ndarray "
            f"subclass whose operations differ from ndarray's ({', '.join(changed[:4])}"
            f"{', ...' if len(changed) > 4 else ''}); it would be differentiated as a plain array, which "
            "could give a silently wrong gradient.",
            hint="Pass np.asarray(x) (for a masked array, fill or drop the masked values first).")


def match_input(g, x):
    """The gradient ``g`` with the type, shape and dtype of the input ``x``; for a tuple, list or dict
    input, the same structure."""
    if type(g) is np.ndarray and type(x) is np.ndarray and g.dtype == x.dtype and g.shape == x.shape \
            and g.flags.writeable:
        return g
    if trees.is_tree(x):  # an object of x's class holding the gradients; children without floats stay
        parts = parts_of(g, x)
        return trees.rebuild(x, [match_input(gi, xi) if trees.holds_floats(xi) else xi
                                 for gi, xi in zip(parts, trees.children(x))])
    if isinstance(x, (tuple, list)):
        items = [match_input(gi, xi) for gi, xi in zip(g, x)]
        return type(x)(items) if type(x) in (tuple, list) else tuple(items)
    if isinstance(x, dict):
        return {k: match_input(g[k], v) for k, v in x.items()}
    if isinstance(g, (complex, np.complexfloating, np.ndarray)) and np.iscomplexobj(g) and not np.iscomplexobj(x):
        g = np.real(g)  # the cotangent of a real input is the real part (see rules/elementwise.py)
    if isinstance(x, float):
        return float(g)
    if isinstance(x, np.ndarray):
        g = np.asarray(g)
        if g.dtype != x.dtype:
            g = g.astype(x.dtype)
        if g.shape != x.shape:
            g = np.broadcast_to(g, x.shape)
        if not g.flags.writeable:
            g = g.copy()
        return g
    if isinstance(x, np.generic):
        return x.dtype.type(g)
    if is_foreign(x):  # an array of dask, CuPy, ...: the gradient in its namespace, shape and dtype
        xp = namespace_of(x)
        if not is_foreign(g) or g.shape != x.shape:
            g = xp.zeros_like(x) + g  # a number (a zero gradient) or a broadcast value; keeps x's chunks
        return g if g.dtype == x.dtype else xp.astype(g, x.dtype)
    return g


def split_aux(out, has_aux, fn):
    """``(output, aux)`` of a function's result: with has_aux, its first element and the rest (one value
    for two outputs, a tuple for more); without, the whole result and None."""
    if not has_aux:
        return out, None
    if not isinstance(out, tuple) or len(out) < 2:
        raise AuxError(f"has_aux=True needs {function_name(fn)} to return at least two outputs.")
    return out[0], (out[1] if len(out) == 2 else tuple(out[1:]))


def target_of(fn):
    """The plain function to compile, and the arguments bound in front (``self`` of a method or Cell)."""
    if isinstance(fn, Transform):
        raise AutodiffError(
            f"differentiating the result of {type(fn).__name__} with these options arrives with "
            "higher-order derivatives in a later version: grad(grad(f)) works for a plain inner grad "
            "(no has_aux or return_value).")
    target, offset = underlying_function(fn)
    if not callable(target):
        raise OptionTypeError(f"expected a function to differentiate, got {type(fn).__name__}")
    if not inspect.isfunction(target):
        parse_function(target)  # raises SourceUnavailableError, with advice
    return target, bound_prefix(fn)


def decorator(make: _F) -> _F:
    """Let a transform be used as ``t(fn, ...)``, ``@t`` or ``@t(options)``."""

    @functools.wraps(make)
    def transform(fn=None, *args, **kwargs):
        if fn is None:
            return lambda f: make(f, *args, **kwargs)
        return make(fn, *args, **kwargs)

    return cast(_F, transform)
