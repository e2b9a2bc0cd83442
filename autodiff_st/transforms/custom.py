"""``custom_vjp`` and ``custom_jvp``: a function with a derivative the user writes, as JAX spells them.

Both are built on the rule registry (core/registry.py): the decorated object is registered as a
primitive, and generated code that calls it inlines a small generated rule, so ``ad.source`` shows the
calls into the user's functions.

``custom_vjp``: ``f.defvjp(f_fwd, f_bwd)``. Called plainly, the object runs the original function.
Differentiated in reverse mode, the forward pass runs the original function, and the backward pass runs
``f_fwd`` at the same arguments for its residuals, then ``f_bwd(*nondiff_args, residuals, g)``. So
``f_fwd`` runs once per backward pass, in the backward pass (the registry's rules see the arguments and
the result, not residuals saved by the forward pass); keep it pure. The tuple that ``f_bwd`` returns is
checked: one cotangent per differentiable argument, each with its argument's shape and a float dtype
(``CotangentError`` naming the function). A second derivative differentiates ``f_fwd`` and ``f_bwd``
from their source. Forward mode (jvp, jacfwd) of a custom_vjp function is refused, as in JAX.

``custom_jvp``: ``f.defjvp(f_jvp)`` with ``f_jvp(*nondiff_args, primals, tangents) -> (out, tangent)``.
Forward mode pushes one differentiable argument's tangent at a time through ``f_jvp`` (the others
zero) and adds the results, so ``f_jvp`` must be linear in the tangents, as a jvp is. Reverse mode
transposes ``f_jvp``: the cotangents are the reverse-mode derivative, with respect to the tangents, of
``f_jvp``'s tangent output (differentiated from its source, at zero tangents). The value comes from the
original function in both modes.

The decorated function takes plain positional parameters (no defaults, ``*args`` or ``**kwargs``) none
named ``g``, ``ans`` or ``t``.
"""

import functools
import inspect
import re
from typing import Any, Callable, Optional, Sequence

from ..core import registry
from ..core.errors import OptionTypeError, OptionValueError
from ..core.names import identifier_for
from ..runtime import calls, check_custom_cotangents, tangent_zeros
from ..runtime.loader import small_function

_RESERVED = {"g", "ans", "t"}


def _parameters(fn, nondiff_argnums, kind):
    """The parameter names of ``fn`` and the positions of its nondifferentiable ones, checked."""
    if not callable(fn):
        raise OptionTypeError(f"{kind} decorates a function, not a {type(fn).__name__}.")
    params = list(inspect.signature(fn).parameters.values())
    for p in params:
        if p.kind is not p.POSITIONAL_OR_KEYWORD or p.default is not p.empty:
            raise OptionValueError(f"{kind} takes a function of plain positional parameters; "
                                   f"{getattr(fn, '__qualname__', fn)} has `{p}`.",
                                   hint="Wrap it: def g(x, y): return f(x, y, option=...) and decorate g.")
        if p.name in _RESERVED or p.name.startswith("custom_"):
            raise OptionValueError(f"{kind}: rename the parameter `{p.name}` of {getattr(fn, '__qualname__', fn)}; "
                                   "g, ans, t and names starting with custom_ are used by its derivative rule.")
    nondiff = tuple(sorted({int(i) % len(params) if params else int(i) for i in nondiff_argnums}))
    for i in nondiff_argnums:
        if isinstance(i, bool) or not isinstance(i, int) or not -len(params) <= i < len(params):
            raise OptionValueError(f"{kind}: nondiff_argnums holds {i!r}, which is not a parameter position of "
                                   f"{getattr(fn, '__qualname__', fn)} ({len(params)} parameters).")
    names = [p.name for p in params]
    if len(nondiff) == len(names):
        raise OptionValueError(f"{kind}: nondiff_argnums names every parameter; nothing is left to differentiate.")
    return names, nondiff


def _label(obj):
    """The function's name as text for generated code: letters, digits, dots and underscores only."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", registry.display_name(obj))


class _Custom:
    kind = "custom"

    def __init__(self, fn, nondiff_argnums):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.names, self.nondiff = _parameters(fn, self.nondiff_argnums, self.kind)
        self.diff = tuple(n for i, n in enumerate(self.names) if i not in self.nondiff)
        self.name = identifier_for(getattr(fn, "__name__", "f"))
        # the generated rules belong to the user's module, as a rule the user registered would
        self.module = str(getattr(fn, "__module__", None) or "__main__")
        self.defined = False

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        state = "" if self.defined else ", no derivative defined yet"
        return f"<{self.kind} {registry.display_name(self.fn)}{state}>"

    def _split(self):
        params = ", ".join(self.names)
        nondiff = "".join(f"{self.names[i]}, " for i in self.nondiff)
        diff = ", ".join(self.diff)
        return params, nondiff, diff


class CustomVJP(_Custom):
    """The object ``@ad.custom_vjp`` makes: the original function, with ``defvjp``."""

    kind = "custom_vjp"

    def defvjp(self, fwd, bwd):
        """Give the derivative: ``fwd(*args) -> (out, residuals)``, ``bwd(*nondiff_args, residuals, g)``
        -> a tuple of cotangents, one per differentiable argument. Returns None, as JAX's does."""
        if not callable(fwd) or not callable(bwd):
            raise OptionTypeError("defvjp takes two functions: fwd(*args) -> (out, residuals) and "
                                  "bwd(*nondiff_args, residuals, g) -> tuple of cotangents.")
        params, nondiff, diff = self._split()
        name = self.name
        picked = ", ".join(f"custom_cotangents[{i}]" for i in range(len(self.diff)))
        source = (f"def custom_vjp_rule_of_{name}(g, ans, {params}):\n"
                  f"    custom_out_and_residuals = custom_forward_of_{name}({params})\n"
                  f"    custom_cotangents = custom_backward_of_{name}({nondiff}custom_out_and_residuals[1], g)\n"
                  f"    custom_check_cotangents(custom_cotangents, {_label(self)!r}, {','.join(self.diff)!r}, {diff})\n"
                  f"    return {picked}\n")
        rule = small_function(source, f"custom_vjp rule of {name}", {
            f"custom_forward_of_{name}": fwd, f"custom_backward_of_{name}": bwd,
            "custom_check_cotangents": check_custom_cotangents, "__name__": self.module})
        registry.vjp_rule(self, diff=self.diff)(rule)
        registry.lookup(self).checked = True  # its rule checks the cotangents itself
        self.fwd, self.bwd, self.defined = fwd, bwd, True


class CustomJVP(_Custom):
    """The object ``@ad.custom_jvp`` makes: the original function, with ``defjvp``."""

    kind = "custom_jvp"

    def defjvp(self, jvp):
        """Give the derivative: ``jvp(*nondiff_args, primals, tangents) -> (out, tangent_out)``, with
        ``primals`` and ``tangents`` tuples over the differentiable arguments. Returns ``jvp``, so that
        ``@f.defjvp`` works as a decorator."""
        if not callable(jvp):
            raise OptionTypeError("defjvp takes a function jvp(*nondiff_args, primals, tangents) -> "
                                  "(out, tangent_out).")
        params, nondiff, diff = self._split()
        name = self.name
        one = "," if len(self.diff) == 1 else ""
        for k, wrt in enumerate(self.diff):
            tangents = ", ".join("t" if other == wrt else f"custom_zeros({other})" for other in self.diff)
            source = (f"def custom_jvp_rule_of_{name}_for_{wrt}(t, ans, {params}):\n"
                      f"    custom_out_and_tangent = custom_jvp_of_{name}({nondiff}({diff}{one}), ({tangents}{one}))\n"
                      f"    return custom_out_and_tangent[1]\n")
            forward = small_function(source, f"custom_jvp forward rule of {name} for {wrt}", {
                f"custom_jvp_of_{name}": jvp, "custom_zeros": tangent_zeros, "__name__": self.module})
            if k == 0:
                registry.vjp_rule(self, diff=self.diff)(self._transpose_rule(jvp))
            registry.jvp_rule(self, wrt=wrt)(forward)
        self.jvp, self.defined = jvp, True
        return jvp

    def _transpose_rule(self, jvp):
        """The reverse rule: the reverse-mode derivative of ``jvp``'s tangent output with respect to the
        tangents, run through the generated code of a small function that calls ``jvp``."""
        params, nondiff, diff = self._split()
        name = self.name
        one = "," if len(self.diff) == 1 else ""
        tangent_params = ", ".join(f"custom_tangent_{d}" for d in self.diff)
        mapping = (f"def custom_tangent_map_of_{name}({params}, {tangent_params}):\n"
                   f"    custom_out_and_tangent = custom_jvp_of_{name}({nondiff}({diff}{one}), ({tangent_params}{one}))\n"
                   f"    return custom_out_and_tangent[1]\n")
        tangent_map = small_function(mapping, f"custom_jvp tangent map of {name}", {f"custom_jvp_of_{name}": jvp})
        active = tuple(range(len(self.names), len(self.names) + len(self.diff)))
        zeros = ", ".join(f"custom_zeros({d})" for d in self.diff)
        picked = ", ".join(f"custom_cotangents[{i}]" for i in range(len(self.diff)))
        source = (f"def custom_jvp_transpose_of_{name}(g, ans, {params}):\n"
                  f"    custom_forward = custom_vjp_forward(custom_tangent_map_of_{name}, {active!r}, {params}, {zeros})\n"
                  f"    custom_cotangents = custom_vjp_backward(custom_forward[1], g)\n"
                  f"    return {picked}\n")
        return small_function(source, f"custom_jvp reverse rule of {name}", {
            f"custom_tangent_map_of_{name}": tangent_map, "custom_zeros": tangent_zeros,
            "custom_vjp_forward": calls.call_vjp_forward, "custom_vjp_backward": calls.call_vjp_backward,
            "__name__": self.module})


def _decorator(cls):
    def make(fn: Optional[Callable[..., Any]] = None, *, nondiff_argnums: Sequence[int] = ()) -> Any:
        if fn is None:
            return lambda f: cls(f, nondiff_argnums)
        return cls(fn, nondiff_argnums)
    return make


custom_vjp = _decorator(CustomVJP)
custom_vjp.__doc__ = """``@ad.custom_vjp`` (or ``@ad.custom_vjp(nondiff_argnums=(...))``): a function whose reverse-mode
derivative is given with ``f.defvjp(fwd, bwd)``. See the module docstring and docs/api.md."""
custom_jvp = _decorator(CustomJVP)
custom_jvp.__doc__ = """``@ad.custom_jvp`` (or ``@ad.custom_jvp(nondiff_argnums=(...))``): a function whose derivative is
given with ``f.defjvp(jvp)``, used by forward mode directly and by reverse mode transposed."""
