"""``grad`` and ``value_and_grad``, built on the cached generated adjoints; ``source`` and ``stop_gradient``.

A ``Grad`` runs one generated function that computes the value and the gradient together; a
``WeightsGrad`` (``weights=``) runs one compiled to report the Parameters it reads as well. A ``grad`` of
a plain ``grad`` differentiates the inner one's generated gradient function, and ``gradient_function``
gives that function to the Jacobians of a ``grad`` and to generated code that calls a ``grad``.
"""

from typing import Any, Optional, Tuple, TypeVar, Union

import numpy as np

from ..compiler.disk_cache import disable as disable_disk, enable as enable_disk
from ..compiler.cache import adjoint_functions, clear, compiled_adjoint
from ..core import hooks, registry as rules
from ..core.checkpoint import loop_policy, mode_with
from ..core.display import Source
from ..core.names import identifier_for
from ..core.errors import AutodiffError, AuxError, OptionValueError
from ..core.tracebacks import for_user
from ..core.transform import Transform
from ..runtime import ones_like
from ..runtime.calls import argument_kinds, call_forward
from ..runtime.loader import small_function
from ..runtime.weights import WeightGradients, argument_roots
from .fast_call import MISS, fast_caller
from .inner_jacobians import gradient_inside
from .checks import (FIRST, Function, Positions, as_tuple, check_input, check_positions, decorator, function_name, match_input,
                     resolve_positions, resolve_weights, target_of)
from .vjp import VJPFunction, WeightsVJPFunction

_T = TypeVar("_T")


def _value_and_grads(fn, positions, mode, checkpoint=None):
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
    target, prefix = target_of(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    mode = mode_with(mode, checkpoint)  # the loop checkpointing policy is compiled in
    by_kinds = {}  # argument kinds -> the compiled adjoint and its bound function, refreshed when stale

    def through_adjoint(*args, **kwargs):
        kinds = argument_kinds(prefix + args)
        through_adjoint.last_kinds = kinds
        entry = by_kinds.get(kinds)
        if entry is None or not entry[0].still_valid(target):
            fused = adjoint_functions(target, shifted, mode, kinds)[0]
            entry = by_kinds[kinds] = (compiled_adjoint(target, shifted, mode, kinds), fused)
        # What this call ran, for Grad's fast path: reused while the kinds match and the module is valid.
        through_adjoint.last = (prefix, kinds, entry[0], entry[1], target)
        return entry[1](*prefix, *args, **kwargs)
    through_adjoint.last_kinds = None
    through_adjoint.last = None
    return through_adjoint


def _matched(g, x):
    """``match_input(g, x)``, with its two commonest cases first: a float input, and an array input whose
    gradient already has its type, dtype and shape."""
    kind = type(x)
    if kind is float:
        return float(g)
    if kind is np.ndarray and type(g) is np.ndarray and (g.dtype is x.dtype or g.dtype == x.dtype) \
            and g.shape == x.shape and g.flags.writeable:
        return g
    return match_input(g, x)


def _inner_gradient_function(inner, args):
    """The generated function that ``inner`` (a plain ``grad``) runs for ``args``, and the arguments bound in
    front of them: what ``grad(grad(f))`` differentiates. It returns ``(None, *gradients)``."""
    if isinstance(inner.fn, Grad) and inner.fn.mode == "grad_only":  # grad(grad(grad(f))) and so on
        target, prefix = _inner_gradient_function(inner.fn, args)
    else:
        target, prefix = target_of(inner.fn)
    positions = check_positions(as_tuple(inner.positions), args, inner.fn)
    shifted = tuple(p + len(prefix) for p in positions)
    mode = mode_with("grad_only", inner.checkpoint)
    return adjoint_functions(target, shifted, mode, argument_kinds(prefix + args))[0], prefix


_GRADIENT_FUNCTIONS = {}


def gradient_function(inner, args):
    """``inner`` (a plain ``grad``) as a generated function of ``(*prefix, *args)`` that returns its
    gradients (one, or a tuple), and the arguments bound in front: what ``jacrev(grad(f))``
    differentiates, and what a call of a ``grad`` inside a differentiated function runs."""
    generated, prefix = _inner_gradient_function(inner, args)
    key = (generated, len(prefix) + len(args), inner.positions)
    function = _GRADIENT_FUNCTIONS.get(key)
    if function is None:
        count = len(as_tuple(inner.positions))
        params = ", ".join(f"arg{i}" for i in range(len(prefix) + len(args)))
        grads = ", ".join(f"gradient{i}" for i in range(count))
        returned = grads if isinstance(inner.positions, int) else f"({grads},)"
        name = identifier_for(getattr(target_of(_innermost(inner))[0], "__name__", "f"))
        # The generated gradient is bound to a fixed name: the user's name only names the function, so no
        # parameter argN can shadow it.
        source = (f"def gradient_of_{name}({params}):\n"
                  f"    value, {grads} = generated_gradient({params})\n"
                  f"    return {returned}\n")
        function = _GRADIENT_FUNCTIONS[key] = small_function(source, f"gradient of {name}",
                                                                  {"generated_gradient": generated})
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
            inner_positions = check_positions(as_tuple(inner.positions), args, inner.fn)
            matched = [match_input(g, args[p]) for g, p in zip(out[1:], inner_positions)]
            out = matched[0] if isinstance(inner.positions, int) else tuple(matched)
        return (out, *grads)

    through_inner.last_kinds = None
    return through_inner


class Grad(Transform):
    def __init__(self, fn, positions, has_aux, return_value, value_and_grad, checkpoint=None):
        super().__init__(fn)
        self.checkpoint = loop_policy(checkpoint)
        self.positions = positions
        self.has_aux = has_aux
        self.return_value = return_value
        self.value_and_grad = value_and_grad
        # ad.grad without return_value needs no value: its adjoint may skip computing it.
        self.mode = "grad_aux" if has_aux else ("grad" if return_value or value_and_grad else "grad_only")
        if isinstance(fn, Grad) and has_aux:
            raise AutodiffError("has_aux on a grad of a grad: the inner grad returns no auxiliary outputs.")
        if rules.lookup(fn) is None and not (isinstance(fn, Grad) and fn.mode == "grad_only"):
            target_of(fn)  # fail early on a function without source
        self._by_positions = {}
        self._positions_for = {}  # number of positional arguments -> resolved positions
        self._single = isinstance(positions, int)
        # The fast path (see __call__): the fast caller made for the last call's kinds, and its arity.
        self._fast, self._fast_plain, self._fast_count = None, True, -1
        if type(self).result is not Grad.result or has_aux:
            self._returns = "result"
        else:
            self._returns = "value_and_grad" if value_and_grad else ("return_value" if return_value else "gradient")

    def rebind(self, fn):
        return Grad(fn, self.positions, self.has_aux, self.return_value, self.value_and_grad, self.checkpoint)

    def called_inside(self, args, kwargs):
        """A plain ``grad`` called inside a differentiated function (a gradient penalty) runs its generated
        gradient function, which is differentiated like any other function; the others run a generated
        function that also gives the value and aux (inner_jacobians.py)."""
        if type(self) is Grad and self.mode == "grad_only" and not kwargs:
            return gradient_function(self, args)
        return gradient_inside(self, args, kwargs, isinstance(self, GradAndValue))  # inner_jacobians.py

    def described_inside(self):
        return "a grad with has_aux, return_value or value_and_grad"

    def prepared(self, args):
        """The positions differentiated for ``args``, checked, and the function that runs them: resolved
        once per number of arguments, compiled once per positions."""
        positions = self._positions_for.get(len(args))
        if positions is None:
            positions = () if self.positions is None else check_positions(as_tuple(self.positions), args, self.fn)
            self._positions_for[len(args)] = positions
        for p in positions:
            check_input(args[p], p, self.fn)
        run = self._by_positions.get(positions)
        if run is None:
            run = self._by_positions[positions] = self.compiled(positions)
        return positions, run

    def compiled(self, positions):
        """``(*args) -> (out, *gradients)`` for the arguments at ``positions``."""
        return _value_and_grads(self.fn, positions, self.mode, self.checkpoint)

    boundary_inside = True  # __call__ rewrites the user's tracebacks itself (see Transform.__init_subclass__)

    def __call__(self, *args, **kwargs):
        try:
            # The fast path: as many arguments and the same argument kinds as the last call, and the module
            # that call ran still valid (no global it read rebound, no clear_cache since). The fast caller
            # made for those kinds (transforms/fast_call.py) runs the full path's checks in their cheapest
            # form and answers MISS for anything else, which takes the full path.
            if len(args) == self._fast_count:
                result = self._fast(*args, **kwargs) if self._fast_plain else self._fast(self, *args, **kwargs)
                if result is not MISS:
                    return result
            return self._full_call(args, kwargs)
        except Exception as exc:
            refusal, tb = for_user(exc, args, kwargs)
            if refusal is not None:
                raise refusal.with_traceback(tb) from exc
            if tb is None:
                raise
            raise exc.with_traceback(tb)  # noqa: B904 (the same exception, its traceback at the user's lines)

    def _full_call(self, args, kwargs):
        positions, run = self.prepared(args)
        out, *grads = run(*args, **kwargs)
        grads = [match_input(g, args[p]) for g, p in zip(grads, positions)]
        gradient = grads[0] if self._single else tuple(grads)
        last = getattr(run, "last", None)
        if last is not None:
            prefix, kinds, compiled, fused, target = last
            self._fast = fast_caller(len(args), prefix, kinds, positions, compiled, fused, target, self.fn,
                                     self._single, self._returns, check_input, _matched)
            self._fast_plain = self._returns != "result"
            self._fast_count = len(args)
        return self.result(out, gradient)

    def result(self, out, gradient):
        """What the transform returns, given the function's output and the gradient."""
        if self.has_aux:
            if not isinstance(out, tuple) or len(out) < 2:
                raise AuxError(f"has_aux=True needs {function_name(self.fn)} to return at least two outputs.")
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
        target, prefix = target_of(self.fn)
        positions = tuple(p + len(prefix) for p in as_tuple(self.positions))
        kinds = None
        for run in self._by_positions.values():
            kinds = getattr(run, "last_kinds", None) or kinds
        return compiled_adjoint(target, positions, mode_with(self.mode, self.checkpoint), kinds).source


class WeightsGrad(Grad):
    """``grad`` and ``value_and_grad`` with ``weights=``: gradients with respect to Parameters reached
    through objects, globals and closures too (see runtime/weights.py)."""

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

    def compiled(self, positions):
        return _value_and_grads_with_weights(self.fn, positions, self.mode)

    def __call__(self, *args, **kwargs):
        positions, run = self.prepared(args)
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
        target, prefix = target_of(self.fn)
        positions = tuple(p + len(prefix) for p in as_tuple(self.positions or ()))
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
    target, prefix = target_of(fn)
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


@decorator
def grad(fn: Optional[Function] = None, grad_position: Positions = FIRST, weights: Any = None,
         has_aux: bool = False, *, argnums: Positions = None, return_value: bool = False,
         grad_vars: Any = None, checkpoint: Union[None, str, int] = None) -> Function:
    """The gradient of ``fn`` with respect to the arguments at ``grad_position`` and the Parameters in
    ``weights``: ``(input_grads, weight_grads)`` when both are given.

    A non-scalar output is summed first (its backward pass is seeded with ones). ``checkpoint`` is the loop
    checkpointing policy: None, "auto" (or "sqrt") or a segment length (see docs/api.md).
    """
    positions = resolve_positions(grad_position, argnums)
    resolved = resolve_weights(weights, grad_vars)
    if positions is None and resolved is None:
        raise OptionValueError("grad needs something to differentiate: grad_position and weights are both None.")
    if resolved is not None:
        _no_checkpoint_with_weights(checkpoint)
        return WeightsGrad(fn, positions, resolved, has_aux, return_value, value_and_grad=False)
    return Grad(fn, positions, has_aux, return_value, value_and_grad=False, checkpoint=checkpoint)


@decorator
def value_and_grad(fn: Optional[Function] = None, grad_position: Positions = FIRST, weights: Any = None,
                   has_aux: bool = False, *, argnums: Positions = None, grad_vars: Any = None,
                   checkpoint: Union[None, str, int] = None) -> Function:
    """Like ``grad``, but returns ``(value, gradient)``; with has_aux, value is the whole output tuple."""
    positions = resolve_positions(grad_position, argnums)
    resolved = resolve_weights(weights, grad_vars)
    if positions is None and resolved is None:
        raise OptionValueError(
            "value_and_grad needs something to differentiate: grad_position and weights are both None.")
    if resolved is not None:
        _no_checkpoint_with_weights(checkpoint)
        return WeightsGrad(fn, positions, resolved, has_aux, return_value=False, value_and_grad=True)
    return Grad(fn, positions, has_aux, return_value=False, value_and_grad=True, checkpoint=checkpoint)


def _no_checkpoint_with_weights(checkpoint):
    if checkpoint is not None:
        raise OptionValueError("checkpoint= with weights= is not supported: wrap the loop body's function in "
                               "ad.checkpoint instead.")


class GradAndValue(Grad):
    """torch.func's ``grad_and_value``: ``(gradient, value)``, or ``(gradient, (value, aux))`` with has_aux,
    where ``aux`` is what the function returned after the value (one output as itself, several as a tuple)."""

    def rebind(self, fn):
        return GradAndValue(fn, self.positions, self.has_aux, self.return_value, self.value_and_grad,
                            self.checkpoint)

    def result(self, out, gradient):
        if not self.has_aux:
            return gradient, out
        if not isinstance(out, tuple) or len(out) < 2:
            raise AuxError(f"has_aux=True needs {function_name(self.fn)} to return at least two outputs.")
        return gradient, (out[0], out[1] if len(out) == 2 else tuple(out[1:]))


@decorator
def grad_and_value(fn: Optional[Function] = None, argnums: Union[int, Tuple[int, ...]] = 0,
                   has_aux: bool = False) -> Function:
    """The gradient and the value of ``fn`` in one call, as torch.func names it: ``(gradient, value)``, or
    ``(gradient, (value, aux))`` with ``has_aux``. ``argnums`` is an int or a tuple of ints."""
    positions = resolve_positions(FIRST, argnums)
    return GradAndValue(fn, positions, has_aux, return_value=False, value_and_grad=True)


def clear_cache() -> None:
    """Forget every compiled adjoint, as ``jax.clear_caches`` does: transforms made before compile again on
    their next call (after editing a rule, or to free memory)."""
    clear()


def enable_disk_cache(path: Optional[str] = None) -> str:
    """Keep generated adjoints on disk, so that a new process reuses them instead of compiling again: in
    ``path``, or the user's cache directory (see docs/api.md). Returns the directory. Refuses (with
    PermissionError) a directory that is not the user's or that group or others may write."""
    return enable_disk(path)


def disable_disk_cache() -> None:
    """Stop reading and writing the disk cache in this process (its files stay)."""
    disable_disk()


def source(fn_or_transform: Function) -> Source:
    """The generated Python source behind a transform (or, for a plain function, its vjp adjoint): a
    ``str`` that a notebook shows as highlighted code."""
    return Source(_source_text(fn_or_transform))


def _source_text(fn_or_transform):
    if isinstance(fn_or_transform, Grad):
        return fn_or_transform.source()
    if isinstance(fn_or_transform, (VJPFunction, WeightsVJPFunction)):
        return fn_or_transform.source
    if hasattr(type(fn_or_transform), "generated_source"):  # vmap, and transforms defined elsewhere
        return fn_or_transform.generated_source()
    target, prefix = target_of(fn_or_transform)
    return compiled_adjoint(target, (len(prefix),), "vjp").source


hooks.install_source(source)


def stop_gradient(x: _T) -> _T:
    """Return ``x`` unchanged, as a constant: no gradient flows back through it."""
    return x
