"""Calls and functions the normal form rewrites: ``f(*xs, **d)``, ``super()``, and nested functions and
lambdas that are not inlined.

- ``f(a, *xs, k=v, **d)`` becomes ``call_unpacked(f, "psd", a, xs, d, k=v)`` (runtime/callables.py),
  which the analysis treats as a call of the user's code: differentiated, it runs a generated function
  that passes each element of ``xs`` and ``d`` on its own, so their derivatives go back into them.
- ``super()`` becomes ``super(__class__, self)``: what Python's zero-argument form means, written out,
  so that it means the same in generated code, whose first parameter may be another.
"""

import gast

from ..core.errors import UnsupportedSyntaxError
from ..runtime.callables import call_unpacked
from .ir import load
from .scope import helper_name


def has_unpacking(call):
    return any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


class FunctionLowering:
    """Mixed into ``Normalizer``: reads ``parsed``, ``namer``, ``resolve_static`` and ``params``."""

    def rewritten_call(self, call, origin):
        """``call`` as the normal form writes it: unpacked arguments and ``super()`` made explicit."""
        if has_unpacking(call):
            return self.unpacked_call(call, origin)
        if isinstance(call.func, gast.Name) and call.func.id == "super" and not self.is_local("super"):
            return self.explicit_super(call, origin)
        return call

    def unpacked_call(self, call, origin):
        """``f(a, *xs, k=v, **d)`` as ``call_unpacked(f, "psd", a, xs, d, k=v)``."""
        layout, pieces = [], []
        for a in call.args:
            if isinstance(a, gast.Starred):
                layout.append("s")
                pieces.append(a.value)
            else:
                layout.append("p")
                pieces.append(a)
        plain = []
        for k in call.keywords:
            if k.arg is None:
                layout.append("d")
                pieces.append(k.value)
            else:
                plain.append(k)
        func = helper_name(call_unpacked, self.namer.fresh("call_unpacked"))
        rewritten = gast.Call(func=func, args=[call.func, gast.Constant(value="".join(layout), kind=None)] + pieces,
                              keywords=plain)
        for n in gast.walk(rewritten):
            if not hasattr(n, "origin"):
                n.origin = origin
        return rewritten

    def explicit_super(self, call, origin):
        """``super()`` with no arguments as ``super(__class__, <first parameter>)``."""
        if call.args or call.keywords or self.resolve_static(call.func) is not super:
            return call
        first = self.parsed.node.args.posonlyargs + self.parsed.node.args.args
        if "__class__" not in self.parsed.closure or not first:
            raise UnsupportedSyntaxError(
                "autodiff_st cannot tell which class `super()` means here.", origin=origin,
                hint="Write `super(Class, self)`.")
        if first[0].id in self.env and self.env[first[0].id] != first[0].id:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate `super()` after `{first[0].id}` is assigned a new value.",
                origin=origin, hint=f"Write `super(Class, {first[0].id})`, or keep `{first[0].id}` unchanged.")
        rewritten = gast.Call(func=call.func, args=[load("__class__"), load(first[0].id)], keywords=[])
        for n in gast.walk(rewritten):
            n.origin = origin
        return rewritten
