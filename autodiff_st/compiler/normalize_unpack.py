"""Unpacking in the normal form: ``ell, sf2, sn2 = np.exp(theta)`` and starred targets ``a, *rest = xs``.

An ``unpack`` op unpacks a name, or the call of a function that returns a tuple (the user's own
function, or a rule with ``returns_tuple`` such as ``np.linalg.eigh``). Any other call (``np.exp``,
whose result is an array, unpacked along its first axis) is first assigned to a name of its own, and
the name is unpacked: its cotangent is then stacked back from the rows' cotangents
(``unpacked_cotangent``), or made a tuple of them for a tuple.

A starred target is Python's: too few items raise Python's ``ValueError`` in the forward pass, the
names before the star take the first items (rows, for an array), the names after it the last ones, and
the starred name a list of the rest, read item by item. The value must have a length (a tuple, a list,
an array): an iterator without one raises ``TypeError`` from ``len``. Nested
targets (``(a, b), c = ...``) unpack the part into a name of its own first, then that name.
"""

import gast
import numpy as np

from ..core import registry as rules
from ..core.errors import UnsupportedSyntaxError
from .ir import load, static_path_root


def _stored_name(node):
    return gast.Name(id=node.id if isinstance(node, gast.Name) else node, ctx=gast.Store(), annotation=None,
                     type_comment=None)


class UnpackLowering:
    """Mixed into ``Normalizer``: reads ``namer``, ``env``, ``is_local``, ``resolve_static``, ``statement``,
    ``assign_to`` and ``unpack``."""

    def unpacks_natively(self, value):
        """Whether ``value``, a call in normal form, returns a tuple the ``unpack`` op takes apart itself:
        the user's code (a function, a method or a callable held in a local name), or a rule that returns
        a tuple. Anything else with a rule returns an array."""
        func = value.func
        root = static_path_root(func)
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and self.is_local(func.value.id):
            return func.attr not in rules.METHODS and func.attr != "astype"
        if root is not None and self.is_local(root):
            return True
        fn = self.resolve_static(func)
        rule = rules.lookup(fn) if fn is not None else None
        if rule is None:
            return not (isinstance(fn, np.ufunc) or (getattr(fn, "__module__", None) or "").startswith("numpy"))
        return rule.returns_tuple

    def nested_targets(self, target, origin):
        """``target`` with each nested tuple or list inside it replaced by a fresh name, and the
        assignments that unpack those names in turn, to run after it."""
        later = []
        elts = []
        for elt in target.elts:
            if isinstance(elt, (gast.Tuple, gast.List)):
                held = self.namer.fresh("unpacked")
                elts.append(_stored_name(held))
                later.append(gast.Assign(targets=[elt], value=load(held), type_comment=None))
            else:
                elts.append(elt)
        for stmt in later:
            for n in gast.walk(stmt):
                n.origin = origin
        return type(target)(elts=elts, ctx=gast.Store()), later

    def starred_unpack(self, target, value, origin):
        """``a, *rest, z = value``, as Python runs it (see the module's docstring)."""
        star = next(i for i, e in enumerate(target.elts) if isinstance(e, gast.Starred))
        if sum(isinstance(e, gast.Starred) for e in target.elts) > 1:
            raise UnsupportedSyntaxError("multiple starred expressions in assignment", origin=origin)
        before, after = target.elts[:star], target.elts[star + 1:]
        needed = len(before) + len(after)
        items = self.namer.fresh("items")
        count = self.namer.fresh("items_count")
        position = self.namer.fresh("position")
        text = [
            f"{items} = VALUE",
            f"{count} = len({items})",
            f"if {count} < {needed}:",
            f"    raise ValueError(f'not enough values to unpack (expected at least {needed}, got {{{count}}})')",
        ]
        names = []
        for i, elt in enumerate(before):
            names.append(elt)
            text.append(f"TARGET{len(names) - 1} = {items}[{i}]")
        starred = target.elts[star].value
        if any(isinstance(n, gast.Name) and n.id == starred.id and isinstance(n.ctx, gast.Load)
               for n in gast.walk(self.parsed.node)):  # `x, *_ = ...`: a list nothing reads is not made
            names.append(starred)
            text.append(f"TARGET{len(names) - 1} = [{items}[{position}] for {position} in range({len(before)}, "
                        f"{count} - {len(after)})]")
        for j, elt in enumerate(after):
            names.append(elt)
            text.append(f"TARGET{len(names) - 1} = {items}[{count} - {len(after) - j}]")
        body = gast.parse("\n".join(text)).body
        body[0].value = value
        for stmt in body:
            for n in gast.walk(stmt):
                if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) \
                        and n.targets[0].id.startswith("TARGET"):
                    n.targets = [names[int(n.targets[0].id[len("TARGET"):])]]
            for n in gast.walk(stmt):
                if not hasattr(n, "origin"):
                    n.origin = origin
        for stmt in body:
            self.statement(stmt)
