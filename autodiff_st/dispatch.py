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
    target, offset = underlying_function(fn)
    params = parameter_positions(target, offset, active)
    order = tuple(sorted(set(params)))
    by_position = {}
    for p, t in zip(params, tangents):
        by_position[p] = by_position[p] + t if p in by_position else t
    prefix = bound_prefix(fn)
    (jvp_fn,) = adjoint_functions(target, order, "jvp", argument_kinds(prefix + args))
    return jvp_fn(tuple(by_position[p] for p in order), *prefix, *args, **kwargs)
