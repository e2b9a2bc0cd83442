"""The gradient transforms, built on the cached generated adjoints.

``grad`` and ``value_and_grad`` run one generated function that computes the value and the gradient
together. ``vjp`` runs a generated forward pass once and returns a ``vjp_fn`` that runs the generated
backward pass on each cotangent it is given.
"""

import functools
import inspect

import numpy as np


from ..compiler.cache import adjoint_functions, compiled_adjoint
from ..compiler.parsing import parse_function
from ..core import registry as rules
from ..core.errors import (AuxError, AutodiffError, CotangentError, GradPositionError, GradPositionTypeError,
                           InputTypeError)
from ..core.transform import Transform
from ..runtime.calls import argument_kinds, bound_prefix, call_forward, underlying_function
from ..runtime import ones_like
from ..runtime.loader import small_function
from ..runtime.weights import WeightGradients, argument_roots, as_weight_tuple


class _Default(int):
    """The default ``grad_position=0``, distinguishable from an explicit 0."""

    def __repr__(self):
        return "0"


FIRST = _Default(0)


def _resolve_positions(grad_position, argnums):
    if argnums is not None:
        if grad_position is not FIRST:
            raise TypeError("give either grad_position or argnums, not both: argnums is an alias of grad_position")
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
        if q in out:
            raise GradPositionError(f"grad_position {positions} names argument {q} twice.")
        out.append(q)
    return tuple(out)


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _check_input(x, position, fn, allow_complex=False):
    kind = type(x)
    if kind is float or (kind is np.ndarray and x.dtype.kind == "f"):
        return  # the common cases, first
    if isinstance(x, (tuple, list)):
        for item in x:
            _check_input(item, position, fn, allow_complex)
        return
    if isinstance(x, dict):
        for item in x.values():
            _check_input(item, position, fn, allow_complex)
        return
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
                hint="Split the value into real and imaginary parts and differentiate those.")
        return
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return
    raise InputTypeError(
        f"argument {position} of {_name(fn)} is a {type(x).__name__}, which cannot be differentiated.",
        hint="Differentiated arguments are Python floats, numpy float arrays, or tuples, lists and dicts "
             "of them.")


def match_input(g, x):
    """The gradient ``g`` with the type, shape and dtype of the input ``x``; for a tuple, list or dict
    input, the same structure."""
    if type(g) is np.ndarray and type(x) is np.ndarray and g.dtype == x.dtype and g.shape == x.shape \
            and g.flags.writeable:
        return g
    if isinstance(x, (tuple, list)):
        items = [match_input(gi, xi) for gi, xi in zip(g, x)]
        return type(x)(items) if type(x) in (tuple, list) else tuple(items)
    if isinstance(x, dict):
        return {k: match_input(g[k], v) for k, v in x.items()}
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
            f"differentiating the result of {type(fn).__name__} with these options arrives with "
            "higher-order derivatives in a later version: grad(grad(f)) works for a plain inner grad "
            "(no has_aux or return_value).")
    target, offset = underlying_function(fn)
    if not callable(target):
        raise TypeError(f"expected a function to differentiate, got {type(fn).__name__}")
    if not inspect.isfunction(target):
        parse_function(target)  # raises SourceUnavailableError, with advice
    return target, bound_prefix(fn)


def _value_and_grads(fn, positions, mode):
    """A function ``(*args) -> (out, *gradients)`` for the arguments at ``positions``.

    A function with a registered derivative rule (``np.sin``, or a user's rule) runs through the rule;
    any other function runs its generated adjoint.
    """
    if isinstance(fn, Grad) and fn.mode == "grad_only":
        return _through_inner_grad(fn, positions, mode)
    if rules.lookup(fn) is not None:
        def through_rule(*args, **kwargs):
            out, pullback = call_forward(fn, positions, *args, **kwargs)
            head = out[0] if mode.endswith("_aux") else out
            seed = tuple(ones_like(o) for o in head) if isinstance(head, tuple) else ones_like(head)
            grads = pullback(seed)
            return (out,) + (grads if len(positions) > 1 else (grads,))
        through_rule.last_kinds = None
        return through_rule
    target, prefix = _target(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    by_kinds = {}  # argument kinds -> the compiled adjoint and its bound function, refreshed when stale

    def through_adjoint(*args, **kwargs):
        kinds = argument_kinds(prefix + args)
        through_adjoint.last_kinds = kinds
        entry = by_kinds.get(kinds)
        if entry is None or not entry[0].still_valid(target):
            fused = adjoint_functions(target, shifted, mode, kinds)[0]
            entry = by_kinds[kinds] = (compiled_adjoint(target, shifted, mode, kinds), fused)
        return entry[1](*prefix, *args, **kwargs)
    through_adjoint.last_kinds = None
    return through_adjoint


def _inner_gradient_function(inner, args):
    """The generated function that ``inner`` (a plain ``grad``) runs for ``args``, and the arguments bound in
    front of them: what ``grad(grad(f))`` differentiates. It returns ``(None, *gradients)``."""
    if isinstance(inner.fn, Grad) and inner.fn.mode == "grad_only":  # grad(grad(grad(f))) and so on
        target, prefix = _inner_gradient_function(inner.fn, args)
    else:
        target, prefix = _target(inner.fn)
    positions = _check_positions(_as_tuple(inner.positions), args, inner.fn)
    shifted = tuple(p + len(prefix) for p in positions)
    return adjoint_functions(target, shifted, "grad_only", argument_kinds(prefix + args))[0], prefix


_GRADIENT_FUNCTIONS = {}


def gradient_function(inner, args):
    """``inner`` (a plain ``grad``) as a generated function of ``(*prefix, *args)`` that returns its
    gradients (one, or a tuple), and the arguments bound in front: what ``jacrev(grad(f))``
    differentiates, and what a call of a ``grad`` inside a differentiated function runs."""
    generated, prefix = _inner_gradient_function(inner, args)
    key = (generated, len(prefix) + len(args), inner.positions)
    function = _GRADIENT_FUNCTIONS.get(key)
    if function is None:
        count = len(_as_tuple(inner.positions))
        params = ", ".join(f"arg{i}" for i in range(len(prefix) + len(args)))
        grads = ", ".join(f"gradient{i}" for i in range(count))
        returned = grads if isinstance(inner.positions, int) else f"({grads},)"
        name = getattr(_target(_innermost(inner))[0], "__name__", "f")
        source = (f"def gradient_of_{name}({params}):\n"
                  f"    value, {grads} = {name}_grad({params})\n"
                  f"    return {returned}\n")
        function = _GRADIENT_FUNCTIONS[key] = small_function(source, f"gradient of {name}",
                                                                  {f"{name}_grad": generated})
    return function, prefix


def _innermost(transform):
    while isinstance(transform, Transform):
        transform = transform.fn
    return transform


def _through_inner_grad(inner, positions, mode):
    """Differentiate the generated gradient function of ``inner``: second derivatives by transforming
    generated code again. Its output ``(None, *gradients)`` sums to the inner gradients' sum, which is
    what ``grad`` differentiates for a non-scalar output."""

    def through_inner(*args, **kwargs):
        generated, prefix = _inner_gradient_function(inner, args)
        shifted = tuple(p + len(prefix) for p in positions)
        outer = adjoint_functions(generated, shifted, mode, argument_kinds(prefix + args))[0]
        out, *grads = outer(*prefix, *args, **kwargs)
        if out is not None:  # the inner transform's result, for value_and_grad and return_value
            inner_positions = _check_positions(_as_tuple(inner.positions), args, inner.fn)
            matched = [match_input(g, args[p]) for g, p in zip(out[1:], inner_positions)]
            out = matched[0] if isinstance(inner.positions, int) else tuple(matched)
        return (out, *grads)

    through_inner.last_kinds = None
    return through_inner


class Grad(Transform):
    def __init__(self, fn, positions, has_aux, return_value, value_and_grad):
        super().__init__(fn)
        self.positions = positions
        self.has_aux = has_aux
        self.return_value = return_value
        self.value_and_grad = value_and_grad
        # ad.grad without return_value needs no value: its adjoint may skip computing it.
        self.mode = "grad_aux" if has_aux else ("grad" if return_value or value_and_grad else "grad_only")
        if isinstance(fn, Grad) and has_aux:
            raise AutodiffError("has_aux on a grad of a grad: the inner grad returns no auxiliary outputs.")
        if rules.lookup(fn) is None and not (isinstance(fn, Grad) and fn.mode == "grad_only"):
            _target(fn)  # fail early on a function without source
        self._by_positions = {}
        self._positions_for = {}  # number of positional arguments -> resolved positions

    def rebind(self, fn):
        return Grad(fn, self.positions, self.has_aux, self.return_value, self.value_and_grad)

    def called_inside(self, args, kwargs):
        """A plain ``grad`` called inside a differentiated function (a gradient penalty) runs its generated
        gradient function, which is differentiated like any other function."""
        if type(self) is Grad and self.mode == "grad_only" and not kwargs:
            return gradient_function(self, args)
        return super().called_inside(args, kwargs)

    def described_inside(self):
        return "a grad with has_aux, return_value or value_and_grad"

    def __call__(self, *args, **kwargs):
        positions = self._positions_for.get(len(args))
        if positions is None:
            positions = self._positions_for[len(args)] = _check_positions(_as_tuple(self.positions), args, self.fn)
        for p in positions:
            _check_input(args[p], p, self.fn)
        run = self._by_positions.get(positions)
        if run is None:
            run = self._by_positions[positions] = _value_and_grads(self.fn, positions, self.mode)
        out, *grads = run(*args, **kwargs)
        grads = [match_input(g, args[p]) for g, p in zip(grads, positions)]
        gradient = grads[0] if isinstance(self.positions, int) else tuple(grads)
        return self.result(out, gradient)

    def result(self, out, gradient):
        """What the transform returns, given the function's output and the gradient."""
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
        """The generated module: the one the last call ran, or, before any call, the general one."""
        if isinstance(self.fn, Grad):
            raise AutodiffError("ad.source of a grad of a grad: call it, then read the source of the inner "
                                "grad's generated function with ad.source on the inner transform.")
        if rules.lookup(self.fn) is not None:
            return f"# {rules.display_name(self.fn)} is differentiated by its registered rule, not by generated code.\n"
        target, prefix = _target(self.fn)
        positions = tuple(p + len(prefix) for p in _as_tuple(self.positions))
        kinds = None
        for run in self._by_positions.values():
            kinds = getattr(run, "last_kinds", None) or kinds
        return compiled_adjoint(target, positions, self.mode, kinds).source


class WeightsGrad(Grad):
    """``grad`` and ``value_and_grad`` with ``weights=``: gradients with respect to Parameters reached
    through objects, globals and closures too (see weights.py)."""

    def __init__(self, fn, positions, weights, has_aux, return_value, value_and_grad):
        if isinstance(fn, Grad):
            raise AutodiffError("weights= on a grad of a grad is not supported: differentiate a plain function "
                                "or Cell with weights=.")
        super().__init__(fn, positions, has_aux, return_value, value_and_grad)
        self.weights = weights  # (the Parameters, how to shape their gradients)

    def described_inside(self):
        return "a grad with weights="

    def rebind(self, fn):
        return WeightsGrad(fn, self.positions, self.weights, self.has_aux, self.return_value, self.value_and_grad)

    def __call__(self, *args, **kwargs):
        positions = () if self.positions is None else self._positions_for.get(len(args))
        if positions is None:
            positions = self._positions_for[len(args)] = _check_positions(_as_tuple(self.positions), args, self.fn)
        for p in positions:
            _check_input(args[p], p, self.fn)
        run = self._by_positions.get(positions)
        if run is None:
            run = self._by_positions[positions] = _value_and_grads_with_weights(self.fn, positions, self.mode)
        weights, form = self.weights
        with WeightGradients(weights) as collector:
            out, *grads = run(*args, **kwargs)
            for g, p in zip(grads, positions):  # a differentiated argument may itself be one of the weights
                collector.collect(args[p], g)
        weight_grads = collector.results(form)
        if self.positions is None:
            return self.result(out, weight_grads)
        grads = [match_input(g, args[p]) for g, p in zip(grads, positions)]
        gradient = grads[0] if isinstance(self.positions, int) else tuple(grads)
        return self.result(out, (gradient, weight_grads))

    def source(self):
        target, prefix = _target(self.fn)
        positions = tuple(p + len(prefix) for p in _as_tuple(self.positions or ()))
        key = (None, None)
        for run in self._by_positions.values():
            key = getattr(run, "last_key", None) or key
        return compiled_adjoint(target, positions, self.mode, key[0], key[1] or ()).source


def _value_and_grads_with_weights(fn, positions, mode):
    """Like ``_value_and_grads``, but the generated code also reports the Parameters it reads to the
    running ``WeightGradients``. Compiled per argument kinds and per which arguments may hold Parameters."""
    if rules.lookup(fn) is not None:  # a function with a rule reads no Parameter but its arguments
        if positions:
            return _value_and_grads(fn, positions, mode)
        return lambda *args, **kwargs: (fn(*args, **kwargs),)
    target, prefix = _target(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    by_key = {}

    def through_adjoint(*args, **kwargs):
        full = prefix + args
        key = (argument_kinds(full), argument_roots(full))
        through_adjoint.last_key = key
        entry = by_key.get(key)
        if entry is None or not entry[0].still_valid(target):
            fused = adjoint_functions(target, shifted, mode, *key)[0]
            entry = by_key[key] = (compiled_adjoint(target, shifted, mode, *key), fused)
        return entry[1](*prefix, *args, **kwargs)

    through_adjoint.last_key = None
    return through_adjoint


def _resolve_weights(weights, grad_vars):
    """The Parameters of ``weights=`` (or its alias ``grad_vars=``) and the form of their gradients, or None."""
    if grad_vars is not None:
        if weights is not None:
            raise TypeError("give either weights or grad_vars, not both: grad_vars is an alias of weights")
        weights = grad_vars
    if weights is None:
        return None
    return as_weight_tuple(weights)


def _decorator(make):
    """Let a transform be used as ``t(fn, ...)``, ``@t`` or ``@t(options)``."""

    @functools.wraps(make)
    def transform(fn=None, *args, **kwargs):
        if fn is None:
            return lambda f: make(f, *args, **kwargs)
        return make(fn, *args, **kwargs)

    return transform


@_decorator
def grad(fn, grad_position=FIRST, weights=None, has_aux=False, *, argnums=None, return_value=False,
         grad_vars=None):
    """The gradient of ``fn`` with respect to the arguments at ``grad_position`` and the Parameters in
    ``weights``: ``(input_grads, weight_grads)`` when both are given.

    A non-scalar output is summed first (its backward pass is seeded with ones). See docs/api.md.
    """
    positions = _resolve_positions(grad_position, argnums)
    resolved = _resolve_weights(weights, grad_vars)
    if positions is None and resolved is None:
        raise ValueError("grad needs something to differentiate: grad_position and weights are both None.")
    if resolved is not None:
        return WeightsGrad(fn, positions, resolved, has_aux, return_value, value_and_grad=False)
    return Grad(fn, positions, has_aux, return_value, value_and_grad=False)


@_decorator
def value_and_grad(fn, grad_position=FIRST, weights=None, has_aux=False, *, argnums=None, grad_vars=None):
    """Like ``grad``, but returns ``(value, gradient)``; with has_aux, value is the whole output tuple."""
    positions = _resolve_positions(grad_position, argnums)
    resolved = _resolve_weights(weights, grad_vars)
    if positions is None and resolved is None:
        raise ValueError("value_and_grad needs something to differentiate: grad_position and weights are both None.")
    if resolved is not None:
        return WeightsGrad(fn, positions, resolved, has_aux, return_value=False, value_and_grad=True)
    return Grad(fn, positions, has_aux, return_value=False, value_and_grad=True)


def _structure(x):
    if isinstance(x, (tuple, list)):
        return tuple(_structure(e) for e in x)
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    return np.shape(x)


def _check_cotangent(v, outputs):
    expected, given = _structure(outputs), None
    try:
        given = _structure(v)
    except Exception:
        pass
    if isinstance(outputs, (tuple, list, dict)) != isinstance(v, (tuple, list, dict)) or expected != given:
        raise CotangentError(
            f"the cotangent passed to vjp_fn has shape {given}, but the output has shape {expected}.",
            hint="vjp_fn(v) takes one cotangent shaped like the function's output (a tuple for a tuple output).")


class VJPFunction:
    """The ``vjp_fn`` returned by ``vjp``: maps a cotangent of the output to the inputs' cotangents."""

    def __init__(self, backward, residuals, outputs, inputs, source=None):
        self.source = source  # the generated module, for ad.source(vjp_fn)
        self._backward = backward
        self._residuals = residuals
        self._outputs = outputs
        self._inputs = inputs

    def __call__(self, v):
        _check_cotangent(v, self._outputs)
        grads = self._backward(self._residuals, v)
        return tuple(match_input(g, x) for g, x in zip(grads, self._inputs))


def vjp(fn, *inputs, weights=None, has_aux=False, grad_vars=None):
    """Run ``fn(*inputs)`` and return ``(outputs, vjp_fn)``, or ``(outputs, vjp_fn, aux)`` with has_aux.
    With ``weights``, ``vjp_fn(v)`` returns ``(input_grads, weight_grads)``."""
    resolved = _resolve_weights(weights, grad_vars)
    for i, x in enumerate(inputs):
        _check_input(x, i, fn)
    mode = "vjp_aux" if has_aux else "vjp"
    if resolved is not None:
        out, backward, source_text = vjp_with_weights(fn, tuple(range(len(inputs))), resolved[0], inputs, mode)
        form = resolved[1]

        def vjp_fn(v):
            input_grads, weight_grads = backward(v)
            return input_grads, (weight_grads[0] if form == "one" else
                                 weight_grads if form == "sequence" else dict(zip(form, weight_grads)))
        return _vjp_result(fn, out, has_aux, lambda outputs: WeightsVJPFunction(vjp_fn, outputs, source_text))
    if rules.lookup(fn) is not None:
        out, pullback = call_forward(fn, tuple(range(len(inputs))), *inputs)
        backward = _tuple_backward(pullback, len(inputs))
        residuals = None
        source_text = f"# {rules.display_name(fn)} is differentiated by its registered rule, not by generated code.\n"
    else:
        target, prefix = _target(fn)
        offset = len(prefix)
        positions = tuple(range(offset, offset + len(inputs)))
        kinds = argument_kinds(prefix + inputs)
        forward, backward = adjoint_functions(target, positions, mode, kinds)
        out, residuals = forward(*prefix, *inputs)
        source_text = compiled_adjoint(target, positions, mode, kinds).source
    if has_aux:
        if not isinstance(out, tuple) or len(out) < 2:
            raise AuxError(f"has_aux=True needs {_name(fn)} to return at least two outputs.")
        outputs = out[0]
        aux = out[1] if len(out) == 2 else tuple(out[1:])
        return outputs, VJPFunction(backward, residuals, outputs, inputs, source_text), aux
    return out, VJPFunction(backward, residuals, out, inputs, source_text)


def _vjp_result(fn, out, has_aux, make_vjp_fn):
    if has_aux:
        if not isinstance(out, tuple) or len(out) < 2:
            raise AuxError(f"has_aux=True needs {_name(fn)} to return at least two outputs.")
        outputs = out[0]
        return outputs, make_vjp_fn(outputs), out[1] if len(out) == 2 else tuple(out[1:])
    return out, make_vjp_fn(out)


class WeightsVJPFunction:
    """The ``vjp_fn`` of ``vjp(..., weights=)``: a cotangent to ``(input_grads, weight_grads)``."""

    def __init__(self, run, outputs, source=None):
        self.source = source
        self._run = run
        self._outputs = outputs

    def __call__(self, v):
        _check_cotangent(v, self._outputs)
        return self._run(v)


def vjp_with_weights(fn, positions, weights, args, mode="vjp"):
    """Run ``fn(*args)`` forward once, compiled for weights, and return ``(out, backward, source)``.

    ``backward(v)`` runs the backward pass for the cotangent ``v`` of ``out`` (of its first element in
    "vjp_aux" mode) and returns ``(input_grads, weight_grads)``: a tuple with the gradient of each
    argument at ``positions`` (typed like the argument), and a tuple with the gradient of each Parameter
    in ``weights`` (a tuple of Parameters), totalled over every use, zeros for one never read. It may be
    called any number of times.
    """
    weights = tuple(weights)
    out, residuals, run_backward, source_text = forward_with_weights(fn, positions, args, mode)

    def backward(v):
        with WeightGradients(weights) as collector:
            grads = run_backward(residuals, v)
            for g, p in zip(grads, positions):
                collector.collect(args[p], g)
        return tuple(match_input(g, args[p]) for g, p in zip(grads, positions)), collector.results("sequence")

    return out, backward, source_text


def forward_with_weights(fn, positions, args, mode="vjp"):
    """The forward half of ``vjp_with_weights``: ``(out, residuals, run_backward, source)``, where
    ``run_backward(residuals, v)`` returns the raw gradients of the arguments at ``positions`` and reports
    the Parameters it reads to the running ``WeightGradients`` (the caller pushes one). ``run_backward``
    is the generated backward pass itself, which jacrev also runs batched; for a function with a
    registered rule it is a wrapper of the rule's pullback (such a function reads no Parameter but its
    arguments)."""
    if rules.lookup(fn) is not None:
        out, pullback = call_forward(fn, positions, *args) if positions else (fn(*args), None)

        def run_backward(residuals, v):
            if pullback is None:
                return ()
            grads = pullback(v)
            return grads if len(positions) > 1 else (grads,)
        source_text = f"# {rules.display_name(fn)} is differentiated by its registered rule, not by generated code.\n"
        return out, None, run_backward, source_text
    target, prefix = _target(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    full = prefix + tuple(args)
    key = (argument_kinds(full), argument_roots(full))
    forward, run_backward = adjoint_functions(target, shifted, mode, *key)
    out, residuals = forward(*prefix, *args)
    return out, residuals, run_backward, compiled_adjoint(target, shifted, mode, *key).source


def _tuple_backward(pullback, count):
    def backward(residuals, v):
        grads = pullback(v)
        return grads if count > 1 else (grads,)
    return backward


def source(fn_or_transform):
    """The generated Python source behind a transform (or, for a plain function, its vjp adjoint)."""
    if isinstance(fn_or_transform, Grad):
        return fn_or_transform.source()
    if isinstance(fn_or_transform, (VJPFunction, WeightsVJPFunction)):
        return fn_or_transform.source
    if hasattr(type(fn_or_transform), "generated_source"):  # vmap, and transforms defined elsewhere
        return fn_or_transform.generated_source()
    target, prefix = _target(fn_or_transform)
    return compiled_adjoint(target, (len(prefix),), "vjp").source


def stop_gradient(x):
    """Return ``x`` unchanged, as a constant: no gradient flows back through it."""
    return x
