"""Run-time dispatch of calls to the user's own functions from generated code.

``call_forward(fn, active, *args)`` runs the forward pass of ``fn`` and returns its result and a
pullback: a function from the result's cotangent to the arguments' cotangents (the cotangent itself
for one argument, a tuple for several). It looks ``fn`` up at run time, so a function passed as an argument, a method, or a function
redefined since the caller was compiled all get the right adjoint. ``active`` lists the arguments that
carry a derivative, by position or by keyword name; the pullback returns their cotangents in that order.
"""

import functools
import inspect

from . import rules


def underlying_function(fn):
    """The plain function behind ``fn``, and how many leading parameters are bound (``self``)."""
    from .nn import Cell
    if isinstance(fn, Cell):
        return type(fn).construct, 1
    if inspect.ismethod(fn):
        return fn.__func__, 1
    return fn, 0


def bound_prefix(fn):
    from .nn import Cell
    if isinstance(fn, Cell):
        return (fn,)
    if inspect.ismethod(fn):
        return (fn.__self__,)
    return ()


_POSITIONS = {}


def parameter_positions(target, offset, active):
    key = (target.__code__, offset, active)
    found = _POSITIONS.get(key)
    if found is None:
        params = list(inspect.signature(target).parameters)
        found = tuple(a + offset if isinstance(a, int) else params.index(a) for a in active)
        _POSITIONS[key] = found
    return found


def call_forward(fn, active, *args, **kwargs):
    rule = rules.lookup(fn)
    if rule is not None:
        return _rule_forward(fn, rule, active, args, kwargs)
    if rules.is_nondifferentiable(fn):
        return fn(*args, **kwargs), _zero_pullback(active, args, kwargs)
    from .cache import adjoint_functions, argument_kinds
    target, offset = underlying_function(fn)
    params = parameter_positions(target, offset, active)
    order = tuple(sorted(set(params)))
    prefix = bound_prefix(fn)
    forward, backward = adjoint_functions(target, order, "vjp", argument_kinds(prefix + args))
    out, residuals = forward(*prefix, *args, **kwargs)
    if len(params) == 1:
        def pullback(g):
            return backward(residuals, g)[0]
    elif params == order:
        pullback = functools.partial(backward, residuals)
    else:
        picks = [order.index(p) for p in params]

        def pullback(g):
            grads = backward(residuals, g)
            return tuple(grads[i] for i in picks)
    return out, pullback


def _rule_forward(fn, rule, active, args, kwargs):
    ans = fn(*args, **kwargs)
    sig_params = rule.params

    def pullback(g):
        grads = rule.vjp(g, ans, *args, **kwargs)
        if len(rule.diff) == 1:
            grads = (grads,)
        out = []
        for a in active:
            name = sig_params[a] if isinstance(a, int) else a
            out.append(grads[rule.diff.index(name)])
        return out[0] if len(out) == 1 else tuple(out)

    return ans, pullback


def _zero_pullback(active, args, kwargs):
    from .runtime import zeros_like

    def pullback(g):
        zeros = tuple(zeros_like(args[a] if isinstance(a, int) else kwargs[a]) for a in active)
        return zeros[0] if len(zeros) == 1 else zeros

    return pullback
