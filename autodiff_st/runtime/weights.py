"""Run-time support for ``weights=``: gradients with respect to Parameters reached through objects.

A Parameter is known by its identity, and only at call time: the compiler cannot tell whether
``self.w`` or a global ``W`` holds one. So an adjoint compiled for weights treats every value it reads
from outside the function (an attribute, a global, a closure cell, an argument that is not
differentiated) as a possible *weight root*, when the result depends on it. Where the backward pass
has that value's whole cotangent, it calls ``collect_weight_grad(value, value_bar)``. The collector of
the running transform (a ``WeightGradients``, on a stack for the duration of the backward pass) adds
the cotangent to the total of the Parameter with that identity, and ignores anything else. Calls into
the user's own functions and Cells go through ``call_vjp_forward_weights``, whose callees are compiled for
weights too and report to the same collector, so each weight's gradient is the total over all its uses.
"""

import functools
import inspect

import numpy as np

from ..core import hooks, registry
from ..core.errors import AutodiffError, MissingRuleError, OptionTypeError
from ..core.model import Parameter
from . import batched as batching_runtime
from .batched import PER_THREAD, Batched
from .calls import (Residuals, argument_kinds, bound_prefix, call_vjp_forward, parameter_positions,
                    underlying_function)
from .cotangents import zeros_like
from .shapes import unbroadcast


# Types whose values can never be or hold a Parameter: an argument of one of these is not a weight root.
_PLAIN = frozenset({np.ndarray, float, int, bool, complex, str, bytes, type(None), np.float64, np.float32,
                    np.int64, np.int32, np.bool_, range, slice})


def argument_roots(args):
    """Per argument, whether it may be or hold a Parameter: part of the compile key in weights mode."""
    return tuple(type(a) not in _PLAIN for a in args)


def may_hold_parameters(value):
    return type(value) not in _PLAIN and not callable(value) and type(value).__name__ != "module"


def as_weight_tuple(weights, what="weights"):
    """``weights`` as a tuple of Parameters, and how to shape the gradients: "one", "sequence" or a dict's keys."""
    if isinstance(weights, Parameter):
        return (weights,), "one"
    if isinstance(weights, dict):
        items, form = tuple(weights.values()), tuple(weights)
    elif isinstance(weights, np.ndarray):
        items, form = None, None
    else:
        try:
            items, form = tuple(weights), "sequence"
        except TypeError:
            items, form = None, None
    if items is None:
        raise OptionTypeError(f"{what} must be a Parameter, or a list, tuple or dict of Parameters "
                              f"(for example net.trainable_params()), not {type(weights).__name__}.")
    for i, w in enumerate(items):
        if not isinstance(w, Parameter):
            raise OptionTypeError(f"{what}[{i}] is a {type(w).__name__}, not an ad.Parameter: gradients are taken "
                                  "with respect to Parameters, identified by object identity. Wrap the array in "
                                  "ad.Parameter(...), or differentiate it as an argument with grad_position.")
    return items, form


class WeightGradients:
    """The per-call totals of the gradients of ``weights``, keyed by identity.

    With ``batch=n`` it collects for a *batched* backward pass (``jacrev``: ``n`` rows of a Jacobian in
    one pass, see batching.py): a cotangent may be a ``Batched`` (one per row, batch on axis 0), and each
    total has that leading axis. A plain cotangent there is the same for every row, unless it arrives
    while the batched code runs once per row (``batching_runtime.loop_call``): then it belongs to that
    row alone. Totals are replaced, never updated in place, so that the batched code can take back what
    was collected before it falls back to running once per row (``checkpoint`` and ``restore``).
    """

    def __init__(self, weights, batch=None):
        self.weights = weights
        self.slots = {id(w): i for i, w in enumerate(weights)}
        self.totals = [None] * len(weights)
        self.batch = batch
        self.rows = []  # batched: (slot, row, cotangent) collected while the code ran once per row
        self.loop_depth = 0

    def __enter__(self):
        PER_THREAD.collectors.append(self)
        PER_THREAD.journals.append(self)
        self.loop_depth = len(PER_THREAD.loop_indices)
        return self

    def __exit__(self, *exc):
        PER_THREAD.collectors.pop()
        PER_THREAD.journals.remove(self)
        return False

    def checkpoint(self):
        return tuple(self.totals), len(self.rows)

    def restore(self, checkpoint):
        totals, rows = checkpoint
        self.totals = list(totals)
        del self.rows[rows:]

    def collect(self, value, g):
        """Add ``g``, the whole cotangent of ``value``, to the total of each Parameter in ``value``."""
        if isinstance(value, Parameter):
            self.add(value, g)
        elif isinstance(value, (list, tuple)):
            if isinstance(g, (list, tuple)):
                for item, item_g in zip(value, g):
                    self.collect(item, item_g)
        elif isinstance(value, dict):
            if isinstance(g, dict):
                for key, item in value.items():
                    self.collect(item, g[key])

    def add(self, value, g):
        slot = self.slots.get(id(value))
        if slot is None:
            self.refuse_views(value)
            return
        if type(g) is Batched:
            if self.batch is None:  # batched code outside jacrev (a vmap): let it run once per element
                raise batching_runtime.NeedsLoop("a Parameter's gradient collected by an unbatched transform")
            g = batching_runtime.as_batch_array(batching_runtime.call(unbroadcast, g, value), self.batch)
        elif self.batch is not None and len(PER_THREAD.loop_indices) > self.loop_depth:
            self.rows.append((slot, PER_THREAD.loop_indices[self.loop_depth], unbroadcast(g, value)))
            return
        else:
            g = unbroadcast(g, value)  # batched: the same for every row
        total = self.totals[slot]
        self.totals[slot] = g if total is None else total + g

    def refuse_views(self, value):
        base = value.base
        while base is not None:
            if id(base) in self.slots:
                raise AutodiffError(
                    f"a view of the Parameter {self.weights[self.slots[id(base)]]!r} (such as w.T or w[0], "
                    "stored on an object or in a global) was read where its gradient cannot be attributed to "
                    "the Parameter itself.",
                    hint="Store the Parameter itself, and take the view inside the differentiated function.")
            base = getattr(base, "base", None)

    def results(self, form, cast=True):
        """The gradients, shaped as ``form`` says ("one", "sequence" or a dict's keys); batched, each has
        the leading batch axis. Each has its Parameter's dtype, or with ``cast=False`` the wider of that
        and its total's (jacrev casts to the Jacobian's dtype itself)."""
        lead = () if self.batch is None else (self.batch,)
        grads = []
        for slot, (w, total) in enumerate(zip(self.weights, self.totals)):
            g = np.zeros(lead + w.shape, dtype=w.dtype) if total is None else np.asarray(total)
            rows = [(row, np.asarray(row_g)) for s, row, row_g in self.rows if s == slot]
            dtype = w.dtype if cast else np.result_type(g.dtype, w.dtype, *(row_g.dtype for _, row_g in rows))
            if g.dtype != dtype:
                g = g.astype(dtype)
            if g.shape != lead + w.shape:
                g = np.broadcast_to(g, lead + w.shape)
            if rows:  # what was collected while the batched code ran once per row
                g = np.array(g)
                for row, row_g in rows:
                    g[row] += row_g
            if not g.flags.writeable or g.base is not None and any(g.base is t for t in self.weights):
                g = g.copy()
            grads.append(g)
        if form == "one":
            return grads[0]
        if form == "sequence":
            return tuple(grads)
        return dict(zip(form, grads))


def collect_weight_grad(value, g):
    """Called by generated code: add ``g``, the whole cotangent of ``value``, to the running totals."""
    collectors = PER_THREAD.collectors
    if collectors:
        collectors[-1].collect(value, g)


def differentiable_value(x):
    """Whether ``x`` can carry a cotangent: a float, a float array, or a tuple, list or dict of them."""
    kind = type(x)
    if kind is float or isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return True
    if isinstance(x, (tuple, list)):
        return all(differentiable_value(e) for e in x)
    if isinstance(x, dict):
        return all(differentiable_value(e) for e in x.values())
    return isinstance(x, (np.floating, complex))


def call_vjp_forward_weights(fn, active, *args, **kwargs):
    """``dispatch.call_vjp_forward`` for adjoints compiled for weights.

    The callee is compiled for weights too, so its backward pass reports the Parameters it reads to the
    running collector. Of the ``active`` arguments (all those the caller may want a cotangent for), only
    those holding float values are differentiated; the others (a Cell, a list of Cells, an int) become
    weight roots of the callee, and their cotangent in the caller is 0.0.
    """
    if registry.lookup(fn) is not None or registry.is_nondifferentiable(fn):
        return call_vjp_forward(fn, active, *args, **kwargs)
    target, offset = underlying_function(fn)
    if not inspect.isfunction(target):
        # A builtin (a method of a plain array, say): it has no source and no rule, so it may only see
        # values that hold no Parameter, and then it contributes nothing to any weight's gradient.
        held = [a for a in bound_prefix(fn) + args + tuple(kwargs.values()) if may_hold_parameters(a)]
        if getattr(fn, "__self__", None) is not None and may_hold_parameters(fn.__self__):
            held.append(fn.__self__)
        if held or any(isinstance(a, Parameter) for a in args):
            raise MissingRuleError(
                f"no derivative rule for {getattr(fn, '__qualname__', fn)!r}, which is called on an object "
                "that may hold Parameters while differentiating with weights=.",
                hint="Register a rule for it with ad.register_vjp, or call it outside the differentiated function.")
        zeros = tuple(zeros_like(args[a] if isinstance(a, int) else kwargs[a]) for a in active)
        return fn(*args, **kwargs), Residuals(zeros, _zero_backward)
    kept = tuple(a for a in active if differentiable_value(args[a] if isinstance(a, int) else kwargs[a]))
    params = parameter_positions(target, offset, kept)
    prefix = bound_prefix(fn)
    full = prefix + args
    forward, backward = hooks.compiler().adjoint_functions(target, params, "vjp", argument_kinds(full),
                                                           argument_roots(full))
    out, residuals = forward(*prefix, *args, **kwargs)
    if kept != tuple(active):
        picks = tuple(kept.index(a) if a in kept else None for a in active)
        backward = functools.partial(_spread_backward, backward, picks)
    return out, Residuals(residuals, backward)


def _zero_backward(zeros, g):
    return tuple(zeros)


def _spread_backward(backward, picks, residuals, g):
    """The cotangents of all active arguments, 0.0 for those not differentiated."""
    grads = backward(residuals, g)
    return tuple(0.0 if i is None else grads[i] for i in picks)
