"""Lists and tuples written into numpy calls: ``np.array([y[1], -k * y[0]])``, ``np.mean([a, b])``.

numpy turns a list or tuple display given where it takes an array into an array, element by element.
The normal form says so: the display becomes ``np.stack([...])`` (a nested display, nested stacks),
which has derivative rules in both modes, a batching rule and rules for its own adjoint, so every
transform, to any order, follows each element. ``np.stack`` converts each element with
``np.asanyarray`` and joins them along a new first axis, which is what ``np.array`` does with a
rectangular display; a ragged display is an error in both. A display given where numpy takes a
sequence of arrays (``np.concatenate([x, [a, b]])``) keeps its outer list, and each element that is
itself a display becomes an array the same way.

Only displays holding something other than constants are rewritten: ``np.array([1.0, 2.0])`` stays.

A construction of a pytree class (a dataclass, a NamedTuple, a class registered with
``ad.register_pytree``), ``P(a, b=c)``, becomes ``tree_build(P, ("b",), a, c)`` (runtime/trees.py):
the same call, whose rules send each child's derivative to the argument it is.
"""

import gast
import numpy as np

from ..core import registry as rules
from ..core import trees
from ..runtime.trees import tree_build
from .ir import load, static_path_root
from .ops import leaves
from .scope import helper_name, resolve_name
from .templates import bind_arguments

# numpy functions that only convert their argument: np.array(display) is the stack itself.
_CONVERTERS = (np.array, np.asarray, np.asanyarray)


def _is_display(node):
    return isinstance(node, (gast.List, gast.Tuple))


def _holds_values(node):
    """Whether a (nested) list or tuple display holds something other than constants (and no dict,
    whose conversion numpy does not define as an array)."""
    found = False
    for _, leaf in leaves(node):
        if isinstance(leaf, (gast.Dict, gast.Starred)):
            return False
        found = found or not isinstance(leaf, gast.Constant)
    return found and not any(isinstance(n, gast.Dict) for n in gast.walk(node))


class DisplayLowering:
    """Mixed into ``Normalizer``: reads ``parsed``, ``is_local`` and ``resolve_static``."""

    def numpy_name(self, func):
        """A path to the numpy module usable in the user's function: the root of ``func`` when it is
        numpy (``np`` of ``np.mean``), else a global bound to numpy; None when there is none."""
        root = static_path_root(func)
        if root is not None and not self.is_local(root) and resolve_name(root, self.parsed) is np:
            return root
        for name, value in self.parsed.globals.items():
            if value is np and not self.is_local(name) and name not in self.parsed.closure:
                return name
        return None

    def stacked(self, display, module):
        """``np.stack([...])`` for a display, with nested displays stacked in turn."""
        elts = [self.stacked(e, module) if _is_display(e) else e for e in display.elts]
        stack = gast.Attribute(value=load(module), attr="stack", ctx=gast.Load())
        call = gast.Call(func=stack, args=[gast.List(elts=elts, ctx=gast.Load())], keywords=[])
        for n in gast.walk(call):
            if not hasattr(n, "origin") and hasattr(display, "origin"):
                n.origin = display.origin
        return call

    def displays_as_arrays(self, call, origin):
        """``call`` with each display it gives a numpy function in place of an array made an array."""
        fn = self.resolve_static(call.func)
        if fn is None or not (isinstance(fn, np.ufunc) or (getattr(fn, "__module__", None) or "").startswith("numpy")):
            return call
        rule = rules.lookup(fn)
        if rule is None or any(isinstance(a, gast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords):
            return call
        try:
            bound = bind_arguments(rule, call.args, {k.arg: k.value for k in call.keywords}, origin)
        except Exception:  # the rule refuses this call: leave it to the analysis, which says why
            return call
        replaced = {}
        module = None
        for name, node in bound.items():
            if not _is_display(node) or name in rule.nograd or not _holds_values(node):
                continue
            if name in rule.sequences:
                if not any(_is_display(e) and _holds_values(e) for e in node.elts):
                    continue
                module = module or self.numpy_name(call.func)
                if module is None:
                    return call
                replaced[id(node)] = type(node)(elts=[self.stacked(e, module) if _is_display(e) and _holds_values(e)
                                                      else e for e in node.elts], ctx=gast.Load())
            elif name in rule.diff:
                module = module or self.numpy_name(call.func)
                if module is None:
                    return call
                replaced[id(node)] = self.stacked(node, module)
        if not replaced:
            return call
        if any(fn is c for c in _CONVERTERS) and len(call.args) == 1 and not call.keywords:
            return replaced[id(call.args[0])]  # a new array already: np.array would only copy it
        new = gast.Call(func=call.func, args=[replaced.get(id(a), a) for a in call.args],
                        keywords=[gast.keyword(arg=k.arg, value=replaced.get(id(k.value), k.value))
                                  for k in call.keywords])
        new.origin = origin
        return new

    def tree_construction(self, call, origin):
        """``P(a, b=c)`` of a pytree class ``P`` as ``tree_build(P, ("b",), a, c)``; any other call as it is."""
        if not isinstance(call, gast.Call) or not trees.is_tree_class(self.resolve_static(call.func)) \
                or any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return call
        keywords = gast.Tuple(elts=[gast.Constant(value=k.arg, kind=None) for k in call.keywords], ctx=gast.Load())
        new = gast.Call(func=helper_name(tree_build, self.namer.fresh("tree_build")),
                        args=[call.func, keywords] + list(call.args) + [k.value for k in call.keywords], keywords=[])
        for n in gast.walk(new):
            if not hasattr(n, "origin"):
                n.origin = origin
        return new
