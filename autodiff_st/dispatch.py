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
import re
import types

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
    if rules.lookup(fn) is not None or rules.is_nondifferentiable(fn):
        return primitive_caller(fn, len(args), tuple(kwargs)), 0, ()
    if type(fn) is types.FunctionType:  # the common case: a plain function
        return fn, 0, ()
    from .api import Grad, Transform, WeightsGrad, gradient_function
    if isinstance(fn, Transform):
        if type(fn) is Grad and fn.mode == "grad_only" and not kwargs:  # a gradient inside: a gradient penalty
            target, prefix = gradient_function(fn, tuple(args))
            return target, len(prefix), prefix
        from .errors import AutodiffError
        if isinstance(fn, WeightsGrad):
            what = "a grad with weights="
        elif isinstance(fn, Grad):
            what = "a grad with has_aux, return_value or value_and_grad"
        else:
            what = f"a {type(fn).__name__.lower()}"
        raise AutodiffError(
            f"autodiff_st cannot differentiate through a call of {what} made inside the differentiated "
            "function; a plain ad.grad(f) called inside works.",
            hint="Compose the transforms from outside instead: jacrev(jacrev(f)), jacrev(grad(f)), hessian(f).")
    target, offset = underlying_function(fn)
    return target, offset, bound_prefix(fn)


def call_vjp_forward(fn, active, *args, **kwargs):
    """Run the generated forward pass of ``fn`` on ``args``: returns its result and its ``Residuals``.

    ``active`` lists the arguments that carry a derivative, by position or keyword name; the matching
    ``call_vjp_backward`` returns their cotangents in that order. ``fn`` is looked up at run time, so a
    function passed as an argument, a method, or a function redefined since the caller was compiled all
    get the right adjoint."""
    if fn is call_vjp_forward or fn is call_vjp_backward or fn is call_jvp:
        # Differentiating generated code again: the call's value is wrap(callee(*callee_args)), with a
        # generated callee, differentiated like any other function.
        callee, callee_args, wrap, place = _value_form(fn, args, kwargs)
        out, residuals = call_vjp_forward(callee, tuple(map(place, active)), *callee_args, **kwargs)
        return wrap(out), residuals
    from .cache import adjoint_functions, argument_kinds
    target, offset, prefix = resolve_callee(fn, args, kwargs)
    params = parameter_positions(target, offset, active)
    forward, backward = adjoint_functions(target, params, "vjp", argument_kinds(prefix + args))
    out, residuals = forward(*prefix, *args, **kwargs)
    return out, Residuals(residuals, backward)


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
    from .cache import adjoint_functions, argument_kinds
    if helper is call_vjp_backward:  # call_vjp_backward(residuals, g) is residuals.backward(residuals, g)
        return _generated(args[0].backward), args, _same, _same
    if helper is call_vjp_forward:  # call_vjp_forward(fn, active, *rest)
        fn, inner_active, *rest = args
        if is_generated_call(fn):
            inner, inner_args, inner_wrap, inner_place = _value_form(fn, rest, kwargs)
            params = parameter_positions(inner, 0, tuple(map(inner_place, inner_active)))
            forward, backward = adjoint_functions(inner, params, "vjp", argument_kinds(inner_args))
            return (forward, inner_args, lambda v: (inner_wrap(v[0]), Residuals(v[1], backward)),
                    lambda a: inner_place(_shift(a, -2)))
        target, offset, prefix = resolve_callee(fn, rest, kwargs)
        params = parameter_positions(target, offset, inner_active)
        forward, backward = adjoint_functions(target, params, "vjp", argument_kinds(prefix + tuple(rest)))
        return (forward, prefix + tuple(rest), lambda v: (v[0], Residuals(v[1], backward)),
                lambda a: _shift(a, len(prefix) - 2))
    # call_jvp(fn, active, tangents, *rest): the generated tangent function, tangents first
    fn, inner_active, tangents, *rest = args
    if is_generated_call(fn):
        inner, inner_args, inner_wrap, inner_place = _value_form(fn, rest, kwargs)
        params = parameter_positions(inner, 0, tuple(map(inner_place, inner_active)))
        (tangent_fn,) = adjoint_functions(inner, params, "jvp", argument_kinds(inner_args))
        return ((tangent_fn, (tangents,) + tuple(inner_args), lambda v: (inner_wrap(v[0]), v[1]),
                 lambda a: 0 if a == 2 else _shift(inner_place(_shift(a, -3)), 1)))
    target, offset, prefix = resolve_callee(fn, rest, kwargs)
    params = parameter_positions(target, offset, inner_active)
    (tangent_fn,) = adjoint_functions(target, params, "jvp", argument_kinds(prefix + tuple(rest)))
    return (tangent_fn, (tangents,) + prefix + tuple(rest), _same,
            lambda a: 0 if a == 2 else _shift(a, len(prefix) - 2))


def _same(x):
    return x


def _shift(a, by):
    """Argument ``a`` (a position, or a keyword name that stays as it is) moved by ``by`` positions."""
    return a + by if isinstance(a, int) else a


def _generated(backward):
    if getattr(backward, "__module__", None) in (__name__, "autodiff_st.weights") or \
            isinstance(backward, functools.partial):
        from .errors import AutodiffError
        raise AutodiffError(
            "autodiff_st cannot differentiate again a call made while differentiating with weights=: "
            "second derivatives with respect to Parameters are not supported.")
    return backward


_PRIMITIVE_CALLERS = {}


def primitive_caller(fn, count, keywords):
    """A generated function ``call_<name>(arg0, ..., *, keyword...)`` that calls the primitive ``fn``:
    for a primitive reached at run time (a function passed as an argument, say), so that it is
    differentiated like a user's function, inlining its rule."""
    key = (fn, count, keywords)
    found = _PRIMITIVE_CALLERS.get(key)
    if found is None:
        from .loader import small_function
        name = re.sub(r"\W", "_", getattr(fn, "__name__", "primitive")) or "primitive"
        params = [f"arg{i}" for i in range(count)] + (["*"] + list(keywords) if keywords else [])
        passed = [f"arg{i}" for i in range(count)] + [f"{k}={k}" for k in keywords]
        source = (f"def call_{name}({', '.join(params)}):\n"
                  f"    return {name}({', '.join(passed)})\n")
        found = _PRIMITIVE_CALLERS[key] = small_function(source, f"call of {rules.display_name(fn)}", {name: fn})
    return found


def call_forward(fn, active, *args, **kwargs):
    """``fn``'s result and its pullback, for the entry points of the transforms: a function from the
    result's cotangent to the cotangents of the ``active`` arguments (the cotangent itself for one
    argument, a tuple for several)."""
    rule = rules.lookup(fn)
    if rule is not None:
        return _rule_forward(fn, rule, active, args, kwargs)
    if rules.is_nondifferentiable(fn):
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


# -- forward mode ------------------------------------------------------------------------------------

_ELEMENTWISE_CALLABLES = {}


def _elementwise_forward(rule):
    """The reverse rule of a diagonal primitive, compiled without ``unbroadcast``: called with a
    parameter's tangent as ``g``, it gives that parameter's tangent contribution."""
    found = _ELEMENTWISE_CALLABLES.get(rule.vjp)
    if found is None:
        import ast
        import gast
        from . import runtime
        from .templates import template_of
        template = template_of(rule.vjp)
        if template is None:
            raise NotImplementedError(f"the forward rule of {rule.name} needs the source of its reverse rule")
        template = __import__("copy").deepcopy(template)
        globals_ = rule.vjp.__globals__

        class Drop(gast.NodeTransformer):
            def visit_Call(self, call):
                self.generic_visit(call)
                if isinstance(call.func, gast.Name) and globals_.get(call.func.id) is runtime.unbroadcast:
                    return call.args[0]
                return call

        template = Drop().visit(template)
        module = ast.fix_missing_locations(ast.Module(body=[gast.gast_to_ast(template)], type_ignores=[]))
        namespace = {}
        exec(compile(module, f"<forward rule of {rule.name}>", "exec"), dict(globals_), namespace)
        found = _ELEMENTWISE_CALLABLES[rule.vjp] = namespace[template.name]
    return found


def _replace(args, kwargs, rule, name, value):
    """args/kwargs with the rule parameter ``name`` replaced by ``value``."""
    args = list(args)
    kwargs = dict(kwargs)
    if rule.var_positional == name:
        fixed = rule.params.index(name)
        return args[:fixed] + list(value), kwargs
    if name in kwargs:
        kwargs[name] = value
    else:
        args[rule.params.index(name)] = value
    return args, kwargs


def _argument(args, kwargs, rule, name):
    if rule.var_positional == name:
        return tuple(args[rule.params.index(name):])
    if name in kwargs:
        return kwargs[name]
    index = rule.params.index(name)
    return args[index] if index < len(args) else None


def rule_jvp(primitive, args, kwargs, tangents):
    """Run ``primitive(*args, **kwargs)`` and its forward rule.

    ``tangents`` maps the names of the rule's differentiated parameters to their tangents; for a sequence
    parameter, a list with None for the arrays that carry none. Returns ``(ans, ans_tangent)``.
    """
    from .runtime import broadcast_like, tangent_zeros
    rule = rules.lookup(primitive)
    forward = rules.lookup_forward(primitive)
    if rule is None or forward is None:
        raise NotImplementedError(f"no forward rule for {rules.display_name(primitive)}")
    ans = primitive(*args, **kwargs)

    def filled(name, tangent):
        if name in rule.sequences:
            return [tangent_zeros(x) if t is None else t for x, t in zip(_argument(args, kwargs, rule, name), tangent)]
        return tangent

    terms = []
    if forward.kind == "linear":
        new_args, new_kwargs = list(args), dict(kwargs)
        for name in rule.diff:
            value = _argument(args, kwargs, rule, name)
            if value is None and name not in tangents:
                continue
            tangent = filled(name, tangents[name]) if name in tangents else tangent_zeros(value)
            new_args, new_kwargs = _replace(new_args, new_kwargs, rule, name, tangent)
        terms.append(primitive(*new_args, **new_kwargs))
    elif forward.kind == "multilinear":
        for name, tangent in tangents.items():
            if name in rule.sequences:
                seq = list(_argument(args, kwargs, rule, name))
                for i, t in enumerate(tangent):
                    if t is not None:
                        new_args, new_kwargs = _replace(args, kwargs, rule, name, seq[:i] + [t] + seq[i + 1:])
                        terms.append(primitive(*new_args, **new_kwargs))
            else:
                new_args, new_kwargs = _replace(args, kwargs, rule, name, tangent)
                terms.append(primitive(*new_args, **new_kwargs))
    elif forward.kind == "diagonal":
        fn = _elementwise_forward(rule)
        for name, tangent in tangents.items():
            out = fn(tangent, ans, *args, **kwargs)
            terms.append(out if len(rule.diff) == 1 else out[rule.diff.index(name)])
    else:
        for name, tangent in tangents.items():
            if name not in forward.custom:
                raise NotImplementedError(f"no forward rule of {rule.name} for its parameter {name}")
            terms.append(forward.custom[name](tangent, ans, *args, **kwargs))
    if not terms:
        return ans, tangent_zeros(ans)
    if rule.returns_tuple:
        total = tuple(sum(parts[1:], parts[0]) for parts in zip(*terms))
        return ans, total
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    if forward.kind == "diagonal":
        total = broadcast_like(total, ans)
    return ans, total


def call_jvp(fn, active, tangents, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` and push ``tangents`` (one per entry of ``active``, by position or keyword
    name) through it: returns ``(out, out_tangent)``. The forward-mode twin of ``call_forward``."""
    from .runtime import tangent_zeros
    if fn is call_vjp_forward or fn is call_vjp_backward or fn is call_jvp:
        callee, callee_args, wrap, place = _value_form(fn, args, kwargs)
        out, out_tangent = call_jvp(callee, tuple(map(place, active)), tangents, *callee_args, **kwargs)
        return wrap(out), out_tangent
    rule = rules.lookup(fn)
    if rule is not None:
        by_name = {}
        for a, t in zip(active, tangents):
            by_name[rule.params[a] if isinstance(a, int) and rule.var_positional is None else a] = t
        if rule.var_positional is not None:  # einsum(subscripts, *operands): a list of operand tangents
            fixed = rule.params.index(rule.var_positional)
            operand_tangents = [None] * (len(args) - fixed)
            for a, t in zip(active, tangents):
                if isinstance(a, int) and a >= fixed:
                    operand_tangents[a - fixed] = t
            by_name = {rule.var_positional: operand_tangents}
        return rule_jvp(fn, args, kwargs, by_name)
    if rules.is_nondifferentiable(fn):
        out = fn(*args, **kwargs)
        return out, tangent_zeros(out)
    from .cache import adjoint_functions, argument_kinds
    target, offset, prefix = resolve_callee(fn, args, kwargs)
    params = parameter_positions(target, offset, active)
    (jvp_fn,) = adjoint_functions(target, params, "jvp", argument_kinds(prefix + args))
    return jvp_fn(tuple(tangents), *prefix, *args, **kwargs)


def is_generated_call(fn):
    """Whether ``fn`` is one of the functions generated code calls other functions through: differentiating
    generated code again differentiates the generated functions behind them (see ``_value_form``)."""
    return fn is call_vjp_forward or fn is call_vjp_backward or fn is call_jvp
