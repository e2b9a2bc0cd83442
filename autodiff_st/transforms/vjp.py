"""``vjp``: run a generated forward pass once and return a ``vjp_fn`` that runs the generated backward
pass on each cotangent it is given.

``forward_with_weights`` and ``vjp_with_weights`` are the same passes compiled for ``weights=``: the
backward pass also reports the Parameters it reads to a ``WeightGradients`` collector. ``jacrev`` with
``weights=`` runs them too.
"""

from typing import Any, Callable, Tuple, Union

import numpy as np

from ..compiler.cache import adjoint_functions, compiled_adjoint
from ..core import registry as rules
from ..core import trees
from ..core.checkpoint import loop_policy, mode_with
from ..core.errors import CotangentError, OptionValueError
from ..core.tracebacks import user_facing
from ..core.transform import check_options
from ..runtime.calls import argument_kinds, call_forward
from ..runtime.weights import WeightGradients, argument_roots
from .checks import check_input, match_input, resolve_weights, split_aux, target_of


def _structure(x):
    if trees.is_tree(x):
        return (type(x),) + tuple(_structure(e) for e in trees.children(x))
    if isinstance(x, (tuple, list)):
        return tuple(_structure(e) for e in x)
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    return np.shape(x)


def _check_cotangent(v, outputs):
    kind = type(outputs)  # the common cases first: a float for a float, an array of the output's shape
    if type(v) is kind and (kind is float or kind is np.ndarray and v.shape == outputs.shape):
        return
    expected, given = _structure(outputs), None
    try:
        given = _structure(v)
    except Exception:
        pass
    containers = (tuple, list, dict)
    if trees.is_tree(outputs) and not trees.is_tree(v) and isinstance(v, tuple):  # the children's cotangents
        given = (type(outputs),) + tuple(_structure(e) for e in v)
    elif isinstance(outputs, containers) != isinstance(v, containers):
        given = None
    if expected != given:
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

    @user_facing
    def __call__(self, v):
        _check_cotangent(v, self._outputs)
        grads = self._backward(self._residuals, v)
        return tuple(match_input(g, x) for g, x in zip(grads, self._inputs))


class WeightsVJPFunction:
    """The ``vjp_fn`` of ``vjp(..., weights=)``: a cotangent to ``(input_grads, weight_grads)``."""

    def __init__(self, run, outputs, source=None):
        self.source = source
        self._run = run
        self._outputs = outputs

    @user_facing
    def __call__(self, v):
        _check_cotangent(v, self._outputs)
        return self._run(v)


@user_facing
def vjp(fn: Callable[..., Any], *inputs: Any, weights: Any = None, has_aux: bool = False,
        grad_vars: Any = None, checkpoint: Union[None, str, int] = None) -> Tuple[Any, ...]:
    """Run ``fn(*inputs)`` and return ``(outputs, vjp_fn)``, or ``(outputs, vjp_fn, aux)`` with has_aux.
    With ``weights``, ``vjp_fn(v)`` returns ``(input_grads, weight_grads)``. ``checkpoint`` is the loop
    checkpointing policy, as for ``grad``."""
    check_options("vjp", has_aux=has_aux)
    policy = loop_policy(checkpoint)
    resolved = resolve_weights(weights, grad_vars)
    for i, x in enumerate(inputs):
        check_input(x, i, fn)
    mode = "vjp_aux" if has_aux else "vjp"
    if resolved is not None:
        if policy is not None:
            raise OptionValueError("checkpoint= with weights= is not supported: wrap the loop body's function in "
                                   "ad.checkpoint instead.")
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
        target, prefix = target_of(fn)
        offset = len(prefix)
        positions = tuple(range(offset, offset + len(inputs)))
        kinds = argument_kinds(prefix + inputs)
        mode = mode_with(mode, policy)
        forward, backward = adjoint_functions(target, positions, mode, kinds)
        out, residuals = forward(*prefix, *inputs)
        source_text = compiled_adjoint(target, positions, mode, kinds).source
    return _vjp_result(fn, out, has_aux,
                       lambda outputs: VJPFunction(backward, residuals, outputs, inputs, source_text))


def _vjp_result(fn, out, has_aux, make_vjp_fn):
    """What ``vjp`` returns, given the function's output and how to make the ``vjp_fn`` for its outputs."""
    outputs, aux = split_aux(out, has_aux, fn)
    return (outputs, make_vjp_fn(outputs), aux) if has_aux else (out, make_vjp_fn(out))


def _tuple_backward(pullback, count):
    def backward(residuals, v):
        grads = pullback(v)
        return grads if count > 1 else (grads,)
    return backward


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
    target, prefix = target_of(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    full = prefix + tuple(args)
    key = (argument_kinds(full), argument_roots(full))
    forward, run_backward = adjoint_functions(target, shifted, mode, *key)
    out, residuals = forward(*prefix, *args)
    return out, residuals, run_backward, compiled_adjoint(target, shifted, mode, *key).source
