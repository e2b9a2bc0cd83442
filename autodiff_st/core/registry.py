"""The registry of derivative rules (and, at the end, of batching rules).

A rule is an ordinary Python function that reads like the math. It takes the cotangent ``g`` of the
result, the result ``ans``, and then the primitive's own parameters, with the primitive's names and
defaults. It returns the cotangent of each differentiable parameter: a single expression when there is
one, a tuple when there are several.

    @vjp_rule(np.sin)
    def sin(g, ans, x):
        return g * np.cos(x)

The compiler inlines the rule's body into the generated adjoint, substituting the names at the call
site, and keeps only the parts it needs: for ``x * c`` with a constant ``c``, the rule for ``multiply``
contributes just the gradient of ``x``. A rule whose source cannot be read is called instead.

By default the differentiable parameters are those without a default value; ``diff=`` names them
explicitly, and ``nograd=`` names parameters read only for their shape or dtype, through which no
gradient flows. A parameter listed in ``sequences=`` takes a list or tuple of arrays (``np.concatenate``);
its cotangent is a list with one entry per array. For a primitive that returns a tuple
(``returns_tuple=True``, as ``np.linalg.slogdet``), ``ans`` is that tuple and ``g`` is a tuple of the
same length, holding zeros for results the caller does not use. A rule may take ``*operands`` (as
``np.einsum(subscripts, *operands)``): it is differentiated as a sequence, and by default it is the
only differentiable parameter. Functions whose result carries no gradient (``np.shape``, ``np.argmax``, comparisons) are
marked with ``nondifferentiable``; values flowing through them stop being differentiated.
"""

import dataclasses
import inspect
import sys

from .errors import OptionTypeError

_RULES = {}
_NONDIFF = set()


@dataclasses.dataclass
class Rule:
    primitive: object
    vjp: object
    params: tuple  # the primitive's parameters, in the rule's order (after g and ans)
    diff: tuple  # the differentiable parameters, in the order the rule returns their cotangents
    has_var_keywords: bool
    nograd: tuple = ()  # parameters read only for their shape or dtype: no gradient flows through them
    sequences: tuple = ()  # parameters that take a list or tuple of arrays; their cotangent is a list
    returns_tuple: bool = False  # the primitive returns a tuple; g and ans are then tuples too
    var_positional: str = None  # the rule's *args parameter, if any
    checked: bool = False  # the rule checks its own cotangents (custom_vjp): generated code adds no check

    @property
    def name(self):
        return display_name(self.primitive)


def _key(primitive):
    try:
        hash(primitive)
        return primitive
    except TypeError:
        return id(primitive)


def display_name(obj):
    """How users spell a function: ``numpy.sin``, ``numpy.fft.fft``, ``math.exp``, ``abs``."""
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    if type(getattr(obj, "__self__", None)).__name__ == "ufunc":  # a method of a ufunc: numpy.add.reduce
        return f"{display_name(obj.__self__)}.{obj.__name__}"
    if type(obj).__name__ == "ufunc":
        for package in ("numpy", "scipy.special"):
            if getattr(sys.modules.get(package), obj.__name__, None) is obj:
                return f"{package}.{obj.__name__}"
        return f"the ufunc {obj.__name__}"
    if inspect.ismethod(obj) and not inspect.isclass(obj.__self__):
        owner = _instance_path(obj.__self__)
        if owner is not None:  # a method of a module's object: scipy.stats.norm.logpdf
            return f"{owner}.{obj.__name__}"
    if module in ("builtins", ""):
        return name
    if module == "_operator":
        return f"operator.{name}"
    if module.startswith(("numpy", "scipy")):
        # numpy and scipy define their functions in private modules (numpy._core.fromnumeric,
        # scipy.linalg._basic); name them by the public path.
        module = _public_path(module)
    if module.startswith("autodiff_st."):
        module = _public_module(obj, module, name)
    return f"{module}.{name}"


def _public_path(module):
    return ".".join(part for part in module.split(".") if not part.startswith("_"))


def _instance_path(owner):
    """``scipy.stats.norm`` for the object that a package exports under a name (its ``name`` attribute, or
    its class's name without ``_gen``), or None."""
    module = _public_path(type(owner).__module__)
    parent = sys.modules.get(module)
    for candidate in (getattr(owner, "name", None), type(owner).__name__.removesuffix("_gen")):
        if isinstance(candidate, str) and parent is not None and getattr(parent, candidate, None) is owner:
            return f"{module}.{candidate}"
    return None


def _public_module(obj, module, name):
    """The shortest package path that exports ``obj`` under ``name``: ``autodiff_st.runtime.astype``
    for a helper defined in a module of ``autodiff_st.runtime`` and re-exported by it."""
    parts = module.split(".")
    for end in range(2, len(parts)):
        parent = sys.modules.get(".".join(parts[:end]))
        if parent is not None and getattr(parent, name, None) is obj:
            return ".".join(parts[:end])
    return module


def vjp_rule(*primitives, diff=None, nograd=(), sequences=(), returns_tuple=False):
    """Register the decorated function as the reverse-mode rule of each of ``primitives``.

    This is the public way to teach autodiff_st a new function (``ad.register_vjp``). Example::

        @ad.register_vjp(my_softplus)
        def my_softplus_vjp(g, ans, x):
            return g / (1 + np.exp(-x))
    """

    def register(rule_fn):
        sig = inspect.signature(rule_fn)
        names = list(sig.parameters)
        if len(names) < 3 or names[:2] != ["g", "ans"]:
            raise OptionTypeError(
                f"a derivative rule takes (g, ans, <the function's parameters>); "
                f"{rule_fn.__name__} takes ({', '.join(names)})"
            )
        params = []
        var_kw = False
        var_positional = None
        for p in list(sig.parameters.values())[2:]:
            if p.kind is p.VAR_KEYWORD:
                var_kw = True
            elif p.kind is p.VAR_POSITIONAL:
                # *operands, as in np.einsum(subscripts, *operands): bound to the tuple of remaining
                # positional arguments, and differentiated as a sequence.
                params.append(p.name)
                var_positional = p.name
            else:
                params.append(p.name)
        if diff is None and var_positional is not None:
            chosen = (var_positional,)
        elif diff is None:
            chosen = tuple(
                p.name for p in list(sig.parameters.values())[2:]
                if p.default is p.empty and p.kind not in (p.VAR_KEYWORD,)
            )
        else:
            chosen = tuple(diff)
        seqs = tuple(sequences) + ((var_positional,) if var_positional else ())
        for primitive in primitives:
            _RULES[_key(primitive)] = Rule(primitive, rule_fn, tuple(params), chosen, var_kw, tuple(nograd),
                                           seqs, returns_tuple, var_positional)
            _NONDIFF.discard(_key(primitive))
        _changed(primitives)
        return rule_fn

    return register


# -- forward mode -----------------------------------------------------------------------------------
#
# A forward rule gives the tangent of a primitive's result from the tangents of its differentiable
# parameters. Most need no code of their own: they follow from the reverse-mode rule or from the
# primitive itself. Every primitive with a vjp rule declares one of four kinds:
#
#   diagonal: the Jacobian is diagonal (a ufunc, np.where, np.clip). The reverse rule's expression for
#       a parameter, with ``g`` read as that parameter's tangent and without ``unbroadcast``, is its
#       tangent contribution: ``g * np.cos(x)`` serves both ways.
#   linear: the primitive is linear in its differentiable parameters jointly (np.sum, np.reshape,
#       np.concatenate, indexing): the tangent is the primitive applied to the tangents.
#   multilinear: linear in each differentiable parameter, and in each array of a sequence parameter,
#       separately (np.dot, matmul, np.einsum): one term per differentiated operand, the primitive with
#       that operand replaced by its tangent.
#   custom: ``@jvp_rule(primitive, wrt="x")`` registers ``(t, ans, *params)``, returning the result's
#       tangent contributed by parameter ``x`` whose tangent is ``t``. Terms for several parameters add up.


@dataclasses.dataclass
class ForwardRule:
    kind: str  # "diagonal", "linear", "multilinear" or "custom"
    custom: dict = dataclasses.field(default_factory=dict)  # parameter name -> jvp function, for "custom"


_FORWARD = {}


def _declare(kind, primitives):
    for primitive in primitives:
        _FORWARD[_key(primitive)] = ForwardRule(kind)
    return primitives[0] if len(primitives) == 1 else primitives


def diagonal(*primitives):
    """Declare primitives whose Jacobian is diagonal: their forward rule is their reverse rule."""
    return _declare("diagonal", primitives)


def linear(*primitives):
    """Declare primitives linear in their differentiable parameters jointly."""
    return _declare("linear", primitives)


def multilinear(*primitives):
    """Declare primitives linear in each differentiable parameter (and sequence element) separately."""
    return _declare("multilinear", primitives)


def jvp_rule(*primitives, wrt=None):
    """Register the decorated ``(t, ans, *params)`` as the forward rule of ``primitives`` for parameter
    ``wrt`` (by default the only differentiable parameter of the reverse rule). It returns the tangent of
    the result contributed by ``wrt`` when ``wrt``'s tangent is ``t``; for a primitive returning a tuple,
    a tuple of tangents. This is ``ad.register_jvp``. Example::

        @ad.register_jvp(my_softplus)
        def my_softplus_jvp(t, ans, x):
            return t / (1 + np.exp(-x))
    """

    def register(jvp_fn):
        names = list(inspect.signature(jvp_fn).parameters)
        if len(names) < 3 or names[:2] != ["t", "ans"]:
            raise OptionTypeError(f"a forward rule takes (t, ans, <the function's parameters>); "
                                  f"{jvp_fn.__name__} takes ({', '.join(names)})")
        for primitive in primitives:
            param = wrt
            if param is None:
                rule = lookup(primitive)
                if rule is None or len(rule.diff) != 1:
                    raise OptionTypeError(f"say which parameter the forward rule of {display_name(primitive)} is for: "
                                          "@jvp_rule(f, wrt=\"x\")")
                param = rule.diff[0]
            entry = _FORWARD.get(_key(primitive))
            if entry is None or entry.kind != "custom":
                entry = _FORWARD[_key(primitive)] = ForwardRule("custom")
            entry.custom[param] = jvp_fn
        _changed(primitives)
        return jvp_fn

    return register


def lookup_forward(primitive):
    """The ``ForwardRule`` for ``primitive``, or None."""
    try:
        return _FORWARD.get(_key(primitive))
    except TypeError:
        return None


def nondifferentiable(*primitives):
    """Mark functions whose results carry no gradient. Values passed through them are constants."""
    for primitive in primitives:
        _NONDIFF.add(_key(primitive))
        _RULES.pop(_key(primitive), None)
        _FORWARD.pop(_key(primitive), None)
    _changed(primitives)
    return primitives[0] if len(primitives) == 1 else primitives


_LISTENERS = []


def on_change(listener):
    """Call ``listener(primitives)`` whenever a rule is registered for ``primitives`` or they are marked
    nondifferentiable (the compiler drops code that inlined one of them as a plain function)."""
    _LISTENERS.append(listener)


def _changed(primitives):
    for listener in _LISTENERS:
        listener(primitives)


def lookup(primitive):
    """The ``Rule`` for ``primitive``, or None."""
    try:
        return _RULES.get(_key(primitive))
    except TypeError:
        return None


def is_nondifferentiable(primitive):
    try:
        return _key(primitive) in _NONDIFF
    except TypeError:
        return False


def all_rules():
    return list(_RULES.values())


# Methods and attributes of arrays, mapped onto the functions whose rules they share.
# kind "plain": x.m(a, k=v) is f(x, a, k=v); kind "pack": x.m(a, b) is f(x, (a, b)), as for reshape.
METHODS = {}
ATTRIBUTES = {}
NONDIFF_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides"}
NONDIFF_METHODS = {"argmax", "argmin", "argsort", "nonzero", "tolist", "any", "all", "item_count"}


def method(name, primitive, kind="plain"):
    METHODS[name] = (primitive, kind)


def attribute(name, primitive):
    ATTRIBUTES[name] = primitive


# -- batching rules ---------------------------------------------------------------------------------
#
# ``vmap`` runs a function on batched values (runtime/batched.py). A batching rule computes a function
# of batched values at once; rules/batching.py registers them. Functions without one run once per
# batch element.

_BATCHING = {}


def batching_rule(*functions):
    """Register the decorated function as the batching rule of each of ``functions``."""

    def register(rule):
        for fn in functions:
            _BATCHING[fn] = rule
        return rule

    return register


def batching_rule_for(fn):
    """The batching rule of ``fn``, or None."""
    try:
        return _BATCHING.get(fn)
    except TypeError:  # unhashable callables have no rule
        return None
