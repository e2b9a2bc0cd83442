"""Stage 10, api: the public transforms, built on the cached generated adjoints.

``grad`` and ``value_and_grad`` run one generated function that computes the value and the gradient
together. ``vjp`` runs a generated forward pass once and returns a ``vjp_fn`` that runs the generated
backward pass on each cotangent it is given.
"""

import functools
import inspect

import numpy as np

from .cache import adjoint_functions, compiled_adjoint
from .dispatch import bound_prefix, underlying_function
from .errors import (AuxError, AutodiffError, CotangentError, GradPositionError, GradPositionTypeError,
                     InputTypeError)
from . import runtime


class Transform:
    """Base of the callables that ``grad``, ``value_and_grad`` and friends return."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn, updated=())

    def __get__(self, obj, objtype=None):
        # A transform used as a method decorator binds like a function.
        return self if obj is None else functools.partial(self, obj)


def _resolve_positions(grad_position, argnums, default=0):
    if argnums is not None:
        if grad_position is not default and grad_position is not None:
            raise TypeError("give either grad_position or argnums, not both: argnums is an alias of grad_position")
        grad_position = argnums
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
            raise GradPositionTypeError(f"grad_position holds {p!r}, which is not an int.")
    if len(set(positions)) != len(positions):
        raise GradPositionError(f"grad_position {positions} names an argument twice.")
    return positions


def _as_tuple(positions):
    return (positions,) if isinstance(positions, int) else positions


def _check_positions(positions, args, fn):
    n = len(args)
    out = []
    for p in positions:
        q = p + n if p < 0 else p
        if not 0 <= q < n:
            raise GradPositionError(
                f"grad_position {p} is out of range: {_name(fn)} was called with {n} positional "
                f"argument{'s' if n != 1 else ''}.",
                hint="Differentiated arguments must be passed positionally; positions count from 0.")
        out.append(q)
    return tuple(out)


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _check_input(x, position, fn, allow_complex=False):
    if isinstance(x, bool) or isinstance(x, (int, np.integer)) or (
            isinstance(x, np.ndarray) and x.dtype.kind in "iub"):
        raise InputTypeError(
            f"argument {position} of {_name(fn)} is an integer ({type(x).__name__}"
            f"{'' if not isinstance(x, np.ndarray) else ' of dtype ' + str(x.dtype)}), and integers have no "
            "gradient.", hint="Pass a float instead, for example 2.0 or x.astype(np.float64).")
    if isinstance(x, (complex, np.complexfloating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "c"):
        if not allow_complex:
            raise InputTypeError(
                f"argument {position} of {_name(fn)} is complex; grad and vjp differentiate real inputs.",
                hint="Split the value into real and imaginary parts, or use jacrev(..., holomorphic=True).")
        return
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return
    raise InputTypeError(
        f"argument {position} of {_name(fn)} is a {type(x).__name__}, which cannot be differentiated.",
        hint="Differentiated arguments are Python floats or numpy float arrays. Tuples, lists and dicts "
             "of arrays arrive in the next version.")


def match_input(g, x):
    """The gradient ``g`` with the type, shape and dtype of the input ``x``."""
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
    return g


def _target(fn):
    """The plain function to compile, and the arguments bound in front (``self`` of a method or Cell)."""
    if isinstance(fn, Transform):
        raise AutodiffError(
            f"differentiating the result of another transform ({type(fn).__name__}) arrives with "
            "higher-order derivatives in a later version.")
    target, offset = underlying_function(fn)
    if not callable(target):
        raise TypeError(f"expected a function to differentiate, got {type(fn).__name__}")
    return target, bound_prefix(fn)


class Grad(Transform):
    def __init__(self, fn, positions, has_aux, return_value, value_and_grad):
        super().__init__(fn)
        self.positions = positions
        self.has_aux = has_aux
        self.return_value = return_value
        self.value_and_grad = value_and_grad
        self.mode = "grad_aux" if has_aux else "grad"
        self._target, self._prefix = _target(fn)
        self._functions = {}

    def __call__(self, *args, **kwargs):
        positions = _check_positions(_as_tuple(self.positions), args, self.fn)
        for p in positions:
            _check_input(args[p], p, self.fn)
        offset = len(self._prefix)
        fused = adjoint_functions(self._target, tuple(p + offset for p in positions), self.mode)[0]
        out, *grads = fused(*self._prefix, *args, **kwargs)
        grads = [match_input(g, args[p]) for g, p in zip(grads, positions)]
        gradient = grads[0] if isinstance(self.positions, int) else tuple(grads)
        if self.has_aux:
            if not isinstance(out, tuple) or len(out) < 2:
                raise AuxError(f"has_aux=True needs {_name(self.fn)} to return at least two outputs.")
            value, aux = out[0], tuple(out[1:])
        else:
            value, aux = out, None
        if self.value_and_grad:
            return out, gradient
        if self.return_value:
            return (gradient, value, aux) if self.has_aux else (gradient, value)
        return (gradient, aux) if self.has_aux else gradient

    def source(self):
        positions = _as_tuple(self.positions)
        offset = len(self._prefix)
        return compiled_adjoint(self._target, tuple(p + offset for p in positions), self.mode).source


def _decorator(make):
    """Let a transform be used as ``t(fn, ...)``, ``@t`` or ``@t(options)``."""

    @functools.wraps(make)
    def transform(fn=None, *args, **kwargs):
        if fn is None:
            return lambda f: make(f, *args, **kwargs)
        return make(fn, *args, **kwargs)

    return transform


def _weights_not_yet(weights):
    if weights is not None:
        raise AutodiffError("weights= (gradients with respect to Parameters) arrives in a later version.",
                            hint="Pass the parameters as arguments and use grad_position for now.")


@_decorator
def grad(fn, grad_position=0, weights=None, has_aux=False, *, argnums=None, return_value=False):
    """The gradient of ``fn`` with respect to the arguments at ``grad_position``.

    A non-scalar output is summed first (its backward pass is seeded with ones). See docs/api.md.
    """
    positions = _resolve_positions(grad_position, argnums)
    if positions is None and weights is None:
        raise ValueError("grad needs something to differentiate: grad_position and weights are both None.")
    _weights_not_yet(weights)
    return Grad(fn, positions, has_aux, return_value, value_and_grad=False)


@_decorator
def value_and_grad(fn, grad_position=0, weights=None, has_aux=False, *, argnums=None):
    """Like ``grad``, but returns ``(value, gradient)``; with has_aux, value is the whole output tuple."""
    positions = _resolve_positions(grad_position, argnums)
    if positions is None and weights is None:
        raise ValueError("value_and_grad needs something to differentiate: grad_position and weights are both None.")
    _weights_not_yet(weights)
    return Grad(fn, positions, has_aux, return_value=False, value_and_grad=True)


def _structure(x):
    if isinstance(x, tuple):
        return tuple(_structure(e) for e in x)
    return np.shape(x)


def _check_cotangent(v, outputs):
    expected, given = _structure(outputs), None
    try:
        given = _structure(v)
    except Exception:
        pass
    if isinstance(outputs, tuple) != isinstance(v, tuple) or expected != given:
        raise CotangentError(
            f"the cotangent passed to vjp_fn has shape {given}, but the output has shape {expected}.",
            hint="vjp_fn(v) takes one cotangent shaped like the function's output (a tuple for a tuple output).")


class VJPFunction:
    """The ``vjp_fn`` returned by ``vjp``: maps a cotangent of the output to the inputs' cotangents."""

    def __init__(self, backward, residuals, outputs, inputs):
        self._backward = backward
        self._residuals = residuals
        self._outputs = outputs
        self._inputs = inputs

    def __call__(self, v):
        _check_cotangent(v, self._outputs)
        grads = self._backward(self._residuals, v)
        return tuple(match_input(g, x) for g, x in zip(grads, self._inputs))


def vjp(fn, *inputs, weights=None, has_aux=False):
    """Run ``fn(*inputs)`` and return ``(outputs, vjp_fn)``, or ``(outputs, vjp_fn, aux)`` with has_aux."""
    _weights_not_yet(weights)
    target, prefix = _target(fn)
    for i, x in enumerate(inputs):
        _check_input(x, i, fn)
    offset = len(prefix)
    mode = "vjp_aux" if has_aux else "vjp"
    forward, backward = adjoint_functions(target, tuple(range(offset, offset + len(inputs))), mode)
    out, residuals = forward(*prefix, *inputs)
    if has_aux:
        if not isinstance(out, tuple) or len(out) < 2:
            raise AuxError(f"has_aux=True needs {_name(fn)} to return at least two outputs.")
        outputs = out[0]
        aux = out[1] if len(out) == 2 else tuple(out[1:])
        return outputs, VJPFunction(backward, residuals, outputs, inputs), aux
    return out, VJPFunction(backward, residuals, out, inputs)


def source(fn_or_transform):
    """The generated Python source behind a transform (or, for a plain function, its vjp adjoint)."""
    if isinstance(fn_or_transform, Grad):
        return fn_or_transform.source()
    target, prefix = _target(fn_or_transform)
    return compiled_adjoint(target, (len(prefix),), "vjp").source


def stop_gradient(x):
    """Return ``x`` unchanged, as a constant: no gradient flows back through it."""
    return x
