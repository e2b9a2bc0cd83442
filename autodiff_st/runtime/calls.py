"""Run-time dispatch of calls to the user's own functions from generated code.

An adjoint calls one of the user's functions in two steps, with explicit residuals:

    y, g_residuals = call_vjp_forward(g, (0,), x)     # forward pass
    x_bar, = call_vjp_backward(g_residuals, y_bar)     # backward pass

Both run generated functions (``g``'s own forward and backward passes), so generated code that calls
them can be differentiated again: ``call_vjp_forward`` and ``call_jvp`` recognize these two helpers
and differentiate the generated functions behind them. That is how second and higher derivatives go
through calls. Tangent code calls ``call_jvp(g, (0,), (x_dot,), x)``.
"""

import functools
import inspect
import keyword
import types
import weakref

import numpy as np

from ..core import hooks, registry
from ..core.checkpoint import Checkpointed
from ..core.errors import AutodiffError, SourceUnavailableError
from ..core.names import identifier_for
from ..core.model import Cell
from ..core.transform import Transform
from .callables import call_unpacked, partial_caller, spreader
from .sharing import USER_CALLS, user_call
from .cotangents import tangent_zeros, zeros_like
from .rule_checks import check_rule_cotangent
from .loader import small_function


def underlying_function(fn):
    """The plain function behind ``fn``, and how many leading parameters are bound (``self``). A
    ``functools.partial`` is the generated function that calls it (``callables.partial_caller``); an
    object with a ``__call__`` method written in Python is that method, bound to the object."""
    if type(fn) is Checkpointed:  # differentiated whole (a transform's own function): nothing to save
        return underlying_function(fn.fn)
    if isinstance(fn, Cell):
        return type(fn).construct, 1
    if inspect.ismethod(fn):
        return fn.__func__, 1
    if type(fn) is functools.partial:
        return partial_caller(fn), 0
    if is_callable_object(fn):
        return type(fn).__call__, 1
    return fn, 0


def bound_prefix(fn):
    if type(fn) is Checkpointed:
        return bound_prefix(fn.fn)
    if isinstance(fn, Cell):
        return (fn,)
    if inspect.ismethod(fn):
        return (fn.__self__,)
    if is_callable_object(fn):
        return (fn,)
    return ()


def is_callable_object(fn):
    """An instance (not a class, not a function) whose class defines ``__call__`` in Python."""
    if isinstance(fn, (type, types.FunctionType, types.BuiltinFunctionType, functools.partial, Transform)):
        return False
    call = getattr(type(fn), "__call__", None)
    module = getattr(call, "__module__", None) or ""
    return inspect.isfunction(call) and module.split(".")[0] not in _LIBRARIES


_LIBRARIES = frozenset({"numpy", "scipy", "autodiff_st"})  # their callable objects have rules, or none


_POSITIONS = {}


def parameter_positions(target, offset, active):
    key = (target.__code__, offset, active)
    found = _POSITIONS.get(key)
    if found is None:
        params = list(inspect.signature(target).parameters)
        found = tuple(a + offset if isinstance(a, int) else params.index(a) for a in active)
        _POSITIONS[key] = found
    return found


class Residuals(tuple):
    """What a call of one of the user's functions leaves for its backward pass: the values the generated
    forward pass kept, and, as ``.backward``, the generated backward pass that reads them.

    A plain tuple to everything that differentiates generated code again: its cotangent or tangent is
    the tuple of its elements' cotangents or tangents."""

    def __new__(cls, values, backward):
        self = tuple.__new__(cls, values)
        self.backward = backward
        return self

    def __reduce__(self):
        return (Residuals, (tuple(self), self.backward))


def resolve_callee(fn, args, kwargs):
    """The Python function to differentiate for a call ``fn(*args, **kwargs)`` from generated code, and
    the leading arguments bound to it (``self``). A primitive with a rule, or one without a derivative,
    is wrapped in a small generated function that calls it, so that every call is differentiated the same
    way, again and again for higher derivatives."""
    if type(fn) is Checkpointed:  # forward mode and batching: nothing to recompute
        return resolve_callee(fn.fn, args, kwargs)
    if registry.lookup(fn) is not None or registry.is_nondifferentiable(fn):
        return primitive_caller(fn, len(args), tuple(kwargs)), 0, ()
    if fn is call_unpacked:  # f(*xs, **d): every element passed on its own
        return spreader(args[2:], args[1], tuple(kwargs)), 0, ()
    if type(fn) is types.FunctionType:  # the common case: a plain function
        return _specialized(fn, len(args), kwargs), 0, ()
    if isinstance(fn, Transform):  # a gradient inside: a gradient penalty; other transforms are refused
        target, prefix = fn.called_inside(tuple(args), kwargs)
        return target, len(prefix), prefix
    target, offset = underlying_function(fn)
    if not inspect.isfunction(target):
        raise SourceUnavailableError(
            f"cannot differentiate through a call of {registry.display_name(fn)}: it is a "
            f"{type(fn).__name__} with no Python source and no derivative rule.",
            hint="Call a plain function instead (for a functools.partial, a def or lambda that calls it), "
                 "or register a derivative rule with @ad.register_vjp.")
    return _specialized(target, offset + len(args), kwargs), offset, bound_prefix(fn)


def _specialized(fn, count, kwargs):
    """``fn`` itself, or for a function with ``*args`` or ``**kwargs`` the plain function Python binds for
    ``count`` positional arguments and these keywords (compiler/specialize.py)."""
    if fn.__code__.co_flags & _VARIADIC:
        return hooks.compiler().specialized(fn, count, tuple(kwargs))
    return fn


_VARIADIC = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def call_vjp_forward(fn, active, *args, **kwargs):
    """Run the generated forward pass of ``fn`` on ``args``: returns its result and its ``Residuals``.

    ``active`` lists the arguments that carry a derivative, by position or keyword name; the matching
    ``call_vjp_backward`` returns their cotangents in that order. ``fn`` is looked up at run time, so a
    function passed as an argument, a method, or a function redefined since the caller was compiled all
    get the right adjoint."""
    if not kwargs and type(fn) is types.FunctionType:
        key = (fn.__code__, active)
        params = _PLAIN_CALLEES.get(key)
        if params is not None and registry.lookup(fn) is None and not registry.is_nondifferentiable(fn):
            # A plain function seen before (see _PLAIN_CALLEES): straight to its compiled adjoint. The
            # one used last for this code is reused while it is for this function and these kinds, and
            # its compiled module still checks out against the globals and cells it read (and no
            # ad.clear_cache since); otherwise the compiler's cache is asked.
            kinds = argument_kinds(args)
            last = _LAST_ADJOINT.get(key)
            if last is not None and last[0]() is fn and last[1] == kinds and last[2].still_valid(fn):
                forward, backward = last[3]
            else:
                forward, backward = _fresh_adjoint(fn, params, kinds, key)
            USER_CALLS.depth += 1  # what user_call() does, without a with statement's two calls
            try:
                out, residuals = forward(*args)
            finally:
                USER_CALLS.depth -= 1
            return out, Residuals(residuals, backward)
    if fn is call_vjp_forward or fn is call_vjp_backward or fn is call_jvp:
        # Differentiating generated code again: the call's value is wrap(callee(*callee_args)), with a
        # generated callee, differentiated like any other function.
        callee, callee_args, wrap, place = _value_form(fn, args, kwargs)
        out, residuals = call_vjp_forward(callee, tuple(map(place, active)), *callee_args, **kwargs)
        return wrap(out), residuals
    if type(fn) is Checkpointed:  # keep the arguments only; recompute in the backward pass
        forward, backward = checkpoint_functions(fn.fn, active, len(args), tuple(kwargs))
        out, residuals = forward(*args, **kwargs)
        return out, Residuals(residuals, backward)
    target, offset, prefix = resolve_callee(fn, args, kwargs)
    params = parameter_positions(target, offset, active)
    if target is fn and not kwargs and type(fn) is types.FunctionType:
        _remember_plain(fn, active, params)
    forward, backward = hooks.compiler().adjoint_functions(target, params, "vjp", argument_kinds(prefix + args))
    with user_call():
        out, residuals = forward(*prefix, *args, **kwargs)
    return out, Residuals(residuals, backward)


# (code, active) -> parameter positions, for the plain functions (no *args or **kwargs, no rule, called
# without keywords) that resolve_callee found to be their own callee: a later call of a function with
# that code skips resolve_callee and parameter_positions. The rule tables are still read on each call (a
# rule may be registered for one function object and not another of the same code), and
# adjoint_functions still checks the compiled adjoint against the globals and closure it read.
_PLAIN_CALLEES = {}


# (code, active) -> (weak reference to the function, argument kinds, compiled module, its bound functions):
# the adjoint call_vjp_forward's fast path used last for that code. Reused only for the same function
# object and kinds while the compiled module's ``still_valid`` holds. The function is held weakly, and its
# entry goes with it (``_forget_adjoint``): the bound functions hold its closure cells, which may be large.
_LAST_ADJOINT = {}


def _fresh_adjoint(fn, params, kinds, key):
    """The forward and backward functions of ``fn`` from the compiler's cache, noted in ``_LAST_ADJOINT``
    under ``key``. (A function of its own, for the reason given at ``_remember_plain``.)"""
    compiled, functions = hooks.compiler().adjoint_entry(fn, params, "vjp", kinds)
    _LAST_ADJOINT[key] = (weakref.ref(fn, functools.partial(_forget_adjoint, key)), kinds, compiled, functions)
    return functions


def _forget_adjoint(key, ref, table=_LAST_ADJOINT):
    """Drop the entry of a function that is gone, so that its bound adjoint (which holds the function's
    closure cells) is not kept alive by ``_LAST_ADJOINT``. (The table is bound here: at interpreter exit
    this may run after the module's globals are cleared.)"""
    entry = table.get(key)
    if entry is not None and entry[0] is ref:
        table.pop(key, None)


def _remember_plain(fn, active, params):
    """Note ``fn``'s code in ``_PLAIN_CALLEES``, unless it takes ``*args`` or ``**kwargs``. (A function of
    its own: vmap of a gradient batches call_vjp_forward from its source, where nothing may store into a
    global.)"""
    if not fn.__code__.co_flags & _VARIADIC:
        _PLAIN_CALLEES[fn.__code__, active] = params


def call_vjp_backward(residuals, g):
    """Run the backward pass of a call from ``call_vjp_forward``: the tuple of the cotangents of its
    active arguments, given ``g``, the cotangent of its result."""
    return residuals.backward(residuals, g)


def _value_form(helper, args, kwargs):
    """The call ``helper(*args, **kwargs)``, where ``helper`` is one of the functions generated code calls
    other functions through, as ``(callee, callee_args, wrap, place)``: its value is
    ``wrap(callee(*callee_args, **kwargs))``, ``callee`` is a generated function, and argument ``a``
    of the call (a position or a keyword name) is argument ``place(a)`` of the callee. ``wrap`` only
    regroups values (it makes Residuals, which differentiate as plain tuples), so the call's
    derivatives are the callee's."""
    if helper is call_vjp_backward:  # call_vjp_backward(residuals, g) is residuals.backward(residuals, g)
        return _generated(args[0].backward), args, _same, _same
    if helper is call_vjp_forward:  # call_vjp_forward(fn, active, *rest)
        fn, inner_active, *rest = args
        if is_generated_call(fn):
            inner, inner_args, inner_wrap, inner_place = _value_form(fn, rest, kwargs)
            params = parameter_positions(inner, 0, tuple(map(inner_place, inner_active)))
            forward, backward = hooks.compiler().adjoint_functions(inner, params, "vjp", argument_kinds(inner_args))
            return (forward, inner_args, lambda v: (inner_wrap(v[0]), Residuals(v[1], backward)),
                    lambda a: inner_place(_shift(a, -2)))
        if type(fn) is Checkpointed:
            forward, backward = checkpoint_functions(fn.fn, inner_active, len(rest), tuple(kwargs))
            return forward, tuple(rest), lambda v: (v[0], Residuals(v[1], backward)), lambda a: _shift(a, -2)
        target, offset, prefix = resolve_callee(fn, rest, kwargs)
        params = parameter_positions(target, offset, inner_active)
        forward, backward = hooks.compiler().adjoint_functions(target, params, "vjp",
                                                               argument_kinds(prefix + tuple(rest)))
        return (forward, prefix + tuple(rest), lambda v: (v[0], Residuals(v[1], backward)),
                lambda a: _shift(a, len(prefix) - 2))
    # call_jvp(fn, active, tangents, *rest): the generated tangent function, tangents first
    fn, inner_active, tangents, *rest = args
    if is_generated_call(fn):
        inner, inner_args, inner_wrap, inner_place = _value_form(fn, rest, kwargs)
        params = parameter_positions(inner, 0, tuple(map(inner_place, inner_active)))
        (tangent_fn,) = hooks.compiler().adjoint_functions(inner, params, "jvp", argument_kinds(inner_args))
        return ((tangent_fn, (tangents,) + tuple(inner_args), lambda v: (inner_wrap(v[0]), v[1]),
                 lambda a: 0 if a == 2 else _shift(inner_place(_shift(a, -3)), 1)))
    target, offset, prefix = resolve_callee(fn, rest, kwargs)
    params = parameter_positions(target, offset, inner_active)
    (tangent_fn,) = hooks.compiler().adjoint_functions(target, params, "jvp", argument_kinds(prefix + tuple(rest)))
    return (tangent_fn, (tangents,) + prefix + tuple(rest), _same,
            lambda a: 0 if a == 2 else _shift(a, len(prefix) - 2))


def _same(x):
    return x


def _shift(a, by):
    """Argument ``a`` (a position, or a keyword name that stays as it is) moved by ``by`` positions."""
    return a + by if isinstance(a, int) else a


def _generated(backward):
    if getattr(backward, "__module__", None) in (__name__, "autodiff_st.runtime.weights") or \
            isinstance(backward, functools.partial):
        raise AutodiffError(
            "autodiff_st cannot differentiate again a call made while differentiating with weights=: "
            "second derivatives with respect to Parameters are not supported.")
    return backward


_CHECKPOINTS = {}
_CHECKPOINT_NAMES = frozenset({"checkpointed", "call_vjp_forward", "call_vjp_backward", "residuals", "g",
                               "out", "inner"})


def _identifier_keywords(keywords, called):
    """The keyword names of a call of ``called``, for a generated function's parameters: identifiers, as
    plain text (a str subclass runs no code here), or a refusal."""
    if not all(isinstance(k, str) and str.isidentifier(k) and not keyword.iskeyword(k) for k in keywords):
        raise AutodiffError(f"cannot differentiate a call of {called} with keyword arguments whose names are "
                            "not identifiers.")
    return tuple(str.__str__(k) for k in keywords)


def checkpoint_functions(fn, active, count, keywords):
    """The forward and backward functions of a call of ``ad.checkpoint(fn)`` with ``count`` positional
    arguments, these keywords, differentiated at ``active``. The forward pass calls ``fn`` plainly and keeps
    its arguments as the residuals; the backward pass runs ``fn``'s generated forward pass on them again,
    then its backward pass. Both are small generated functions, so generated code that calls them can be
    differentiated again (a second derivative recomputes as well)."""
    key = (fn, active, count, keywords)
    found = _CHECKPOINTS.get(key)
    if found is None:
        name = identifier_for(getattr(fn, "__name__", "function"), "function")
        keywords = _identifier_keywords(keywords, f"ad.checkpoint({registry.display_name(fn)})")
        if set(keywords) & _CHECKPOINT_NAMES:
            raise AutodiffError(f"cannot differentiate a call of ad.checkpoint({registry.display_name(fn)}) "
                                f"with a keyword argument named one of {sorted(_CHECKPOINT_NAMES)}.")
        names = [f"arg{i}" for i in range(count)] + list(keywords)
        params = names[:count] + (["*"] + list(keywords) if keywords else [])
        passed = ", ".join(names[:count] + [f"{k}={k}" for k in keywords])
        kept = "(" + "".join(n + ", " for n in names) + ")"
        namespace = {"checkpointed": fn, "call_vjp_forward": call_vjp_forward,
                     "call_vjp_backward": call_vjp_backward}
        forward = small_function(
            f"def checkpoint_{name}_forward({', '.join(params)}):\n"
            f"    return checkpointed({passed}), {kept}\n",
            f"checkpointed forward pass of {registry.display_name(fn)}", dict(namespace))
        backward = small_function(
            f"def checkpoint_{name}_backward(residuals, g):\n"
            f"    {kept} = residuals\n"
            f"    out, inner = call_vjp_forward(checkpointed, {active!r}, {passed})\n"
            f"    return call_vjp_backward(inner, g)\n",
            f"checkpointed backward pass of {registry.display_name(fn)}", dict(namespace))
        found = _CHECKPOINTS[key] = (forward, backward)
    return found


_PRIMITIVE_CALLERS = {}


def primitive_caller(fn, count, keywords):
    """A generated function ``call_<name>(arg0, ..., *, keyword...)`` that calls the primitive ``fn``:
    for a primitive reached at run time (a function passed as an argument, say), so that it is
    differentiated like a user's function, inlining its rule."""
    key = (fn, count, keywords)
    found = _PRIMITIVE_CALLERS.get(key)
    if found is None:
        name = identifier_for(getattr(fn, "__name__", "primitive"), "primitive")
        keywords = _identifier_keywords(keywords, registry.display_name(fn))
        bound = "primitive"
        while bound in keywords:  # the primitive's own name in the generated caller, clear of its keywords
            bound += "_"
        params = [f"arg{i}" for i in range(count)] + (["*"] + list(keywords) if keywords else [])
        passed = [f"arg{i}" for i in range(count)] + [f"{k}={k}" for k in keywords]
        source = (f"def call_{name}({', '.join(params)}):\n"
                  f"    return {bound}({', '.join(passed)})\n")
        found = _PRIMITIVE_CALLERS[key] = small_function(source, f"call of {registry.display_name(fn)}",
                                                         {bound: fn})
    return found


def call_forward(fn, active, *args, **kwargs):
    """``fn``'s result and its pullback, for the entry points of the transforms: a function from the
    result's cotangent to the cotangents of the ``active`` arguments (the cotangent itself for one
    argument, a tuple for several)."""
    rule = registry.lookup(fn)
    if rule is not None:
        return _rule_forward(fn, rule, active, args, kwargs)
    if registry.is_nondifferentiable(fn):
        return fn(*args, **kwargs), _zero_pullback(active, args, kwargs)
    out, residuals = call_vjp_forward(fn, active, *args, **kwargs)
    backward = residuals.backward
    if len(active) == 1:
        def pullback(g):
            return backward(residuals, g)[0]
    else:
        pullback = functools.partial(backward, residuals)
    return out, pullback


def _rule_forward(fn, rule, active, args, kwargs):
    ans = fn(*args, **kwargs)
    sig_params = rule.params

    def pullback(g):
        grads = rule.vjp(g, ans, *args, **kwargs)
        if len(rule.diff) == 1:
            grads = (grads,)
        out = []
        check = not rule.checked and not (getattr(rule.vjp, "__module__", None) or "").startswith("autodiff_st.")
        for a in active:
            name = sig_params[a] if isinstance(a, int) else a
            out.append(grads[rule.diff.index(name)])
            if check and name not in rule.sequences and isinstance(a, int):
                check_rule_cotangent(out[-1], args[a], rule.name, name)
        return out[0] if len(out) == 1 else tuple(out)

    return ans, pullback


def _zero_pullback(active, args, kwargs):
    def pullback(g):
        zeros = tuple(zeros_like(args[a] if isinstance(a, int) else kwargs[a]) for a in active)
        return zeros[0] if len(zeros) == 1 else zeros

    return pullback


def call_jvp(fn, active, tangents, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` and push ``tangents`` (one per entry of ``active``, by position or keyword
    name) through it: returns ``(out, out_tangent)``. The forward-mode twin of ``call_forward``."""
    if fn is call_vjp_forward or fn is call_vjp_backward or fn is call_jvp:
        callee, callee_args, wrap, place = _value_form(fn, args, kwargs)
        out, out_tangent = call_jvp(callee, tuple(map(place, active)), tangents, *callee_args, **kwargs)
        return wrap(out), out_tangent
    if registry.is_nondifferentiable(fn):
        out = fn(*args, **kwargs)
        return out, tangent_zeros(out)
    # A primitive with a rule is called through a generated caller (see resolve_callee), whose tangent
    # function inlines the rule's forward form: one path for every callee.
    target, offset, prefix = resolve_callee(fn, args, kwargs)
    params = parameter_positions(target, offset, active)
    (jvp_fn,) = hooks.compiler().adjoint_functions(target, params, "jvp", argument_kinds(prefix + args))
    with user_call():
        return jvp_fn(tuple(tangents), *prefix, *args, **kwargs)


def is_generated_call(fn):
    """Whether ``fn`` is one of the functions generated code calls other functions through: differentiating
    generated code again differentiates the generated functions behind them (see ``_value_form``)."""
    return fn is call_vjp_forward or fn is call_vjp_backward or fn is call_jvp


NUMBER_TYPES = frozenset({float, int, bool, np.float64})  # the types argument_kinds calls numbers (public: the
# generated kind tests of transforms/kinds_match.py read it)
_ndarray = np.ndarray


def argument_kinds(args):
    """The kind of each argument, which generated code is specialized on (see compiler.analyze and
    compiler/kinds.py): True for a Python number (or an ``np.float64``), ``(ndim, dtype)`` for an
    ``np.ndarray`` (not a subclass), False for anything else. A call whose kinds differ runs other code.
    (A list comprehension: this runs on every cached call, measured faster than a generator or a map.)"""
    return tuple([(a.ndim, a.dtype) if type(a) is _ndarray else type(a) in NUMBER_TYPES for a in args])
