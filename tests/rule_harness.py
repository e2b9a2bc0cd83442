"""The machinery behind test_rules.py: input domains, and wrappers that call one primitive.

A case names a primitive, its arguments and options. Arguments given as a domain (``R(3, 4)``,
``POS(3)``) are random float arrays that get differentiated; anything else is written into the
wrapper as a constant. The wrapper is real source in a generated module, because autodiff_st
differentiates source.
"""

import ast
import copy
import dataclasses
import importlib.util
import itertools
import math

import gast
import numpy as np

from autodiff_st import runtime
from autodiff_st.compiler.templates import template_of
from autodiff_st.core import registry, trees

_ids = itertools.count()


@dataclasses.dataclass
class Domain:
    name: str
    shape: tuple
    make: object  # (rng, shape) -> array

    def sample(self, rng):
        value = self.make(rng, self.shape)
        return float(value) if self.shape == () and not isinstance(value, np.ndarray) else value


def R(*shape):
    """Any real numbers."""
    return Domain("R", shape, lambda rng, s: rng.standard_normal(s))


def POS(*shape):
    """Positive numbers away from 0: for log, sqrt, division."""
    return Domain("POS", shape, lambda rng, s: rng.uniform(0.5, 2.0, s))


def UNIT(*shape):
    """Inside (-1, 1): for arcsin, arctanh."""
    return Domain("UNIT", shape, lambda rng, s: rng.uniform(-0.9, 0.9, s))


def ABOVE1(*shape):
    """Greater than 1: for arccosh."""
    return Domain("ABOVE1", shape, lambda rng, s: rng.uniform(1.2, 3.0, s))


def AWAY0(*shape):
    """Real numbers away from 0 and from each other's ties: for abs, sign-dependent and max rules."""
    return Domain("AWAY0", shape, lambda rng, s: rng.choice([-1, 1], s) * rng.uniform(0.3, 2.0, s))


def WELL(n, batch=()):
    """A well-conditioned square matrix: for inv, solve, det."""
    return Domain("WELL", tuple(batch) + (n, n),
                  lambda rng, s: rng.standard_normal(s) + 3 * np.eye(s[-1]))


def SPD(n, batch=()):
    """A symmetric positive-definite matrix: for cholesky, eigh."""
    def make(rng, s):
        a = rng.standard_normal(s)
        return a @ np.swapaxes(a, -1, -2) + s[-1] * np.eye(s[-1])
    return Domain("SPD", tuple(batch) + (n, n), make)


def GENERAL(n, batch=()):
    """A real square matrix with distinct eigenvalues, complex pairs among them (n >= 2): for eig. It is
    q b q^-1 with b block-diagonal: 2x2 blocks [[s, r], [-t, s]] (eigenvalues s +- i sqrt(r t)) and, for
    odd n, one real eigenvalue; q well-conditioned. r != t: a normal block's eigenvectors (1, +-i) have
    parts of equal size, where LAPACK's choice of each eigenvector's phase (its largest part real) may
    jump between a matrix and its neighbours, so that no derivative matches finite differences."""
    def make(rng, s):
        size = s[-1]
        b = np.zeros(s)
        for k in range(0, size - 1, 2):
            b[..., k, k] = b[..., k + 1, k + 1] = 1.0 + k
            b[..., k, k + 1] = 0.5 + k
            b[..., k + 1, k] = -(1.3 + k)
        if size % 2:
            b[..., -1, -1] = -2.0
        q = rng.standard_normal(s) + 3 * np.eye(size)
        return q @ b @ np.linalg.inv(q)
    return Domain("GENERAL", tuple(batch) + (n, n), make)


def FLOAT(domain):
    """A Python float drawn from a scalar domain."""
    return Domain(domain.name, (), lambda rng, s: float(domain.make(rng, ())))


@dataclasses.dataclass
class Case:
    primitive: object
    args: tuple
    kwargs: dict
    order: int
    float32: bool
    unpack: int  # the primitive returns a tuple of this many results (0: a single result)
    path: str  # how the wrapper source names the primitive
    id: str


def case(primitive, *args, order=2, float32=True, unpack=0, path=None, **kwargs):
    """One rule check. ``order`` is the highest order checked; ``path`` a source spelling such as
    ``"x.sum(axis=0)"`` for methods (the first domain argument is ``x``)."""
    name = getattr(primitive, "__name__", None) or type(primitive).__name__
    ident = f"{name}-{next(_ids)}"
    return Case(primitive, args, kwargs, order, float32, unpack, path, ident)


def build_module(cases, directory):
    """Write one wrapper per case into a module under ``directory`` and import it."""
    lines = ["import math", "", "import numpy as np", "", "from autodiff_st import runtime",
             "from tests.tree_examples import NODE, PAIR, PAIR_VALUES, Node, Pair, Point",
             "from tests.ode_examples import decay, oscillator", ""]
    for i, c in enumerate(cases):
        params, call_args = [], []
        for j, a in enumerate(c.args):
            if isinstance(a, Domain):
                params.append(f"a{j}")
                call_args.append(f"a{j}")
            elif isinstance(a, np.ndarray):
                call_args.append(f"np.array({a.tolist()!r})")
            else:
                call_args.append(repr(a))
        call_args += [f"{k}={v!r}" for k, v in c.kwargs.items()]
        if c.path is not None:
            call = c.path.replace("PRIMITIVE", f"PRIMITIVE_{i}")  # a path may name the case's primitive
        else:
            call = f"PRIMITIVE_{i}({', '.join(call_args)})"
        lines.append(f"def wrapper_{i}({', '.join(params)}):")
        if c.unpack:
            names = ", ".join(f"r{k}" for k in range(c.unpack))
            lines.append(f"    {names} = {call}")
            lines.append(f"    return {names}")
        else:
            lines.append(f"    return {call}")
        lines.append("")
    path = directory / "rule_wrappers.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("rule_wrappers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for i, c in enumerate(cases):
        setattr(module, f"PRIMITIVE_{i}", c.primitive)
    return module


def sample_args(c, rng, dtype=None):
    out = []
    for a in c.args:
        if isinstance(a, Domain):
            value = a.sample(rng)
            if dtype is not None and isinstance(value, np.ndarray):
                value = value.astype(dtype)
            out.append(value)
    return tuple(out)


__all__ = ["R", "POS", "UNIT", "ABOVE1", "AWAY0", "WELL", "SPD", "GENERAL", "FLOAT", "case", "math"]


def OPEN01(*shape):
    """Inside (0, 1), away from both ends: for logit and other functions of a probability."""
    return Domain("OPEN01", shape, lambda rng, s: rng.uniform(0.1, 0.9, s))


def NANS(*shape):
    """Real numbers with NaNs where the indices sum to 1 modulo 3, so that no line along an axis is all
    NaN: for nansum, nanmean, ..."""
    def make(rng, s):
        x = rng.standard_normal(s)
        x[np.indices(s).sum(axis=0) % 3 == 1] = np.nan
        return x
    return Domain("NANS", shape, make)


def ZEROS(*shape):
    """Real numbers away from 0, with exact zeros at every third position (from the second): for rules
    that must be exact at zeros, such as cumprod."""
    def make(rng, s):
        x = rng.choice([-1, 1], s) * rng.uniform(0.5, 1.5, s)
        x.reshape(-1)[1::3] = 0.0
        return x
    return Domain("ZEROS", shape, make)


def SPREAD(*shape):
    """Distinct real numbers at least 0.1 apart: for sort, median and other order statistics."""
    def make(rng, s):
        n = int(np.prod(s))
        return np.reshape(rng.permutation(n) * 0.3 + rng.uniform(0, 0.1, n) - 0.15 * n, s)
    return Domain("SPREAD", shape, make)


# -- forward rules: the primitive call a case makes, and checks of rule_jvp -----------------------------

def primitive_call(c, values):
    """The call ``(primitive, args, kwargs)`` that case ``c``'s wrapper makes, with its domain arguments
    ``values`` (as from ``sample_args``): for a ``path``, the expression is read the way the compiler
    reads it (methods and attributes through the rule registry, subscripts as ``operator.getitem``)."""
    import ast
    import builtins
    import operator

    from autodiff_st import rules, runtime

    names, rest = {}, iter(values)
    for j, a in enumerate(c.args):
        if isinstance(a, Domain):
            names[f"a{j}"] = next(rest)
    if c.path is None:
        args = [names[f"a{j}"] if isinstance(a, Domain) else a for j, a in enumerate(c.args)]
        return c.primitive, args, dict(c.kwargs)
    from tests import ode_examples, tree_examples

    namespace = {"np": np, "runtime": runtime, "math": math, "sum": builtins.sum, "PRIMITIVE": c.primitive,
                 **{k: getattr(tree_examples, k) for k in ("NODE", "PAIR", "PAIR_VALUES", "Node", "Pair", "Point")},
                 "decay": ode_examples.decay, "oscillator": ode_examples.oscillator,
                 **names}

    def ev(node):
        return eval(compile(ast.Expression(node), "<case>", "eval"), namespace)

    node = ast.parse(c.path, mode="eval").body
    if isinstance(node, ast.Subscript):
        index = eval(f"np.index_exp[{ast.get_source_segment(c.path, node.slice)}]", namespace)
        return operator.getitem, [ev(node.value), index], {}
    if isinstance(node, ast.Attribute):
        return rules.ATTRIBUTES[node.attr], [ev(node.value)], {}
    assert isinstance(node, ast.Call), c.path
    args = [ev(a) for a in node.args]
    kwargs = {k.arg: ev(k.value) for k in node.keywords}
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names:
        primitive, kind = rules.METHODS[func.attr]
        if kind == "pack":
            args = [runtime.pack_axes(args[0], args[1:])] if args else []
        return primitive, [names[func.value.id]] + args, kwargs
    return ev(func), args, kwargs


def differentiated_slots(rule, args, kwargs, values):
    """The differentiated parameters of ``rule`` that receive one of the case's domain ``values``, as
    ``(name, None)``, or ``(name, i)`` for the i-th array of a sequence parameter."""

    def sampled(x):
        return any(x is v for v in values)

    slots = []
    for name in rule.diff:
        value = _argument(args, kwargs, rule, name)
        if name in rule.sequences:
            slots += [(name, i) for i, x in enumerate(value or ()) if sampled(x)]
        elif sampled(value):
            slots.append((name, None))
    return slots


def slot_value(rule, args, kwargs, slot):
    value = _argument(args, kwargs, rule, slot[0])
    return value if slot[1] is None else value[slot[1]]


def with_slots(rule, args, kwargs, changes):
    """``args, kwargs`` with the slots in ``changes`` (slot -> new value) replaced."""
    for name in dict.fromkeys(name for name, _ in changes):
        value = _argument(args, kwargs, rule, name)
        if name in rule.sequences:
            items = list(value)
            for (n, i), new in changes.items():
                if n == name:
                    items[i] = new
            new_value = items if rule.var_positional == name else type(value)(items)
        else:
            new_value = changes[(name, None)]
        args, kwargs = _replace(args, kwargs, rule, name, new_value)
    return list(args), dict(kwargs)


def tangent_dict(rule, args, kwargs, tangents):
    """The ``tangents`` argument of ``rule_jvp`` for slot tangents ``tangents`` (slot -> tangent)."""
    out = {}
    for (name, i), t in tangents.items():
        if i is None:
            out[name] = t
        else:
            if name not in out:
                out[name] = [None] * len(_argument(args, kwargs, rule, name))
            out[name][i] = t
    return out


def random_like(x, rng):
    """A random float64 value with the structure of ``x`` (a tuple or list of arrays stays one, a pytree
    object one of its class)."""
    if trees.is_tree(x):
        return trees.rebuild(x, [random_like(e, rng) for e in trees.children(x)])
    if isinstance(x, (tuple, list)):
        return type(x)(random_like(e, rng) for e in x) if type(x) in (tuple, list) else \
            tuple(random_like(e, rng) for e in x)
    if isinstance(x, float):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def shifted(x, t, size):
    """``x + size * t``, child by child for a pytree object."""
    if trees.is_tree(x):
        return trees.rebuild(x, [shifted(a, b, size) for a, b in zip(trees.children(x), runtime.parts_of(t, x))])
    return x + size * t


def leaves(x):
    """The arrays of a (possibly nested) tuple, list or pytree object, as float or complex arrays."""
    if trees.is_tree(x):
        x = trees.children(x)
    if isinstance(x, (tuple, list)):
        return [leaf for e in x for leaf in leaves(e)]
    x = np.asarray(x)
    return [x if x.dtype.kind in "fc" else x.astype(float)]


def inner(a, b):
    """<a, b> = Re(sum(a * b)) over the leaves of two values of the same structure."""
    return float(sum(np.real(np.sum(x * y)) for x, y in zip(leaves(a), leaves(b))))


# -- a reference evaluation of the forward rules ------------------------------------------------------
#
# ``rule_jvp`` applies a primitive's forward rule directly, by its kind, without generating code: the
# tests check each forward rule this way against finite differences and the transpose identity, apart
# from the compiler that inlines it.

_ELEMENTWISE_CALLABLES = {}


def _elementwise_forward(rule):
    """The reverse rule of a diagonal primitive, compiled without ``unbroadcast``: called with a
    parameter's tangent as ``g``, it gives that parameter's tangent contribution."""
    found = _ELEMENTWISE_CALLABLES.get(rule.vjp)
    if found is None:
        template = template_of(rule.vjp)
        if template is None:
            raise NotImplementedError(f"the forward rule of {rule.name} needs the source of its reverse rule")
        template = copy.deepcopy(template)
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
    rule = registry.lookup(primitive)
    forward = registry.lookup_forward(primitive)
    if rule is None or forward is None:
        raise NotImplementedError(f"no forward rule for {registry.display_name(primitive)}")
    ans = primitive(*args, **kwargs)

    def filled(name, tangent):
        if name in rule.sequences:
            return [runtime.tangent_zeros(x) if t is None else t for x, t in zip(_argument(args, kwargs, rule, name), tangent)]
        return tangent

    terms = []
    if forward.kind == "linear":
        new_args, new_kwargs = list(args), dict(kwargs)
        for name in rule.diff:
            value = _argument(args, kwargs, rule, name)
            if value is None and name not in tangents:
                continue
            tangent = filled(name, tangents[name]) if name in tangents else runtime.tangent_zeros(value)
            new_args, new_kwargs = _replace(new_args, new_kwargs, rule, name, tangent)
        new_kwargs.pop("initial", None)  # a linear reduction's initial= is a constant offset (compiler/forward.py)
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
        return ans, runtime.tangent_zeros(ans)
    if rule.returns_tuple and isinstance(ans, tuple):  # (np.linalg.svd with compute_uv=False returns one array)
        total = tuple(sum(parts[1:], parts[0]) for parts in zip(*terms))
        return ans, total
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    if forward.kind == "diagonal":
        total = runtime.broadcast_like(total, ans)
    return ans, total
