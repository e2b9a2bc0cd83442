"""Python lists and dicts in the normal form: element writes, their methods, and the builtins over them.

**Element writes.** ``d["k"] = v`` and ``ys[i] = v`` change a list or dict in place. The normal form
writes the same value as a new container, ``d_2 = with_item(d, "k", v)`` (runtime/containers.py): the
old container stays as it was, so straight-line code needs no tape (the backward pass reads ``d`` by
name), a loop puts the old reference on the tape, and the rule of ``with_item`` routes the cotangent of
the written element to ``v`` and gives the old element (or the absence of a new key) none. That is
Python's program only where no other name read afterwards refers to the old container; the alias
tracker (aliasing_containers.py) proves it or the write is refused, quoting the line. A write into a
name that is not certainly a list or dict made in the function stays an array write (``setitem``).
"""

import builtins

import gast

from ..core.errors import UnsupportedSyntaxError
from ..runtime.containers import with_item
from .ir import load
from .scope import helper_name

# Builtins whose result is always a new list or dict.
_NEW_CONTAINERS = (builtins.list, builtins.dict, builtins.sorted)


class CollectionLowering:
    """Mixed into ``Normalizer``: reads ``env``, ``ops``, ``sharing`` (a ``ContainerAliasTracker``) and
    ``resolve_static``; emits through ``assign_to``, ``atom`` and ``index``."""

    # -- which names hold lists and dicts ---------------------------------------------------------------

    def holds_container(self, version, depth=0):
        """Whether every binding of ``version`` so far makes a Python list or dict: a display, ``[x] * n``,
        ``xs + [y]``, ``list(...)``, ``dict(...)``, ``sorted(...)``, a copy of one, or an element write into
        one. (A binding later in a loop is checked when it runs: ``with_item`` refuses anything else.)"""
        if depth > 8:
            return False
        bindings = [op for op in self.ops if op.kind in ("assign", "unpack", "pop") and version in _bound(op)]
        if not bindings or any(op.kind != "assign" for op in bindings):
            return False
        return all(self.makes_container(op.value, depth) for op in bindings)

    def makes_container(self, value, depth=0):
        if isinstance(value, (gast.List, gast.Dict)):
            return True
        if isinstance(value, gast.Name):
            return self.holds_container(value.id, depth + 1)
        if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
            return any(isinstance(v, gast.List) or isinstance(v, gast.Name) and self.holds_container(v.id, depth + 1)
                       for v in (value.left, value.right))
        if isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute) and func.attr == "copy" and isinstance(func.value, gast.Name) \
                    and not value.args:
                return self.holds_container(func.value.id, depth + 1)
            fn = getattr(func, "helper", None) or self.resolve_static(func)
            return any(fn is f for f in _NEW_CONTAINERS + (with_item,))
        return False

    def holds_number(self, version, seen=None):
        """Whether every binding of ``version`` so far is a numeric constant or arithmetic on such names
        and constants (a loop's count, ``total = 0.0; total += t``... with ``t`` a number too): a value never
        changed in place."""
        seen = set() if seen is None else seen
        if version in seen:
            return True
        seen.add(version)
        bindings = [op for op in self.ops if op.kind in ("assign", "unpack", "pop") and version in _bound(op)]
        if not bindings:
            return False
        for op in bindings:
            if op.kind != "assign":
                return False
            value = op.value
            operands = [value.left, value.right] if isinstance(value, gast.BinOp) else \
                [value.operand] if isinstance(value, gast.UnaryOp) else [value]
            for operand in operands:
                if isinstance(operand, gast.Constant):
                    if not isinstance(operand.value, (int, float, complex)):
                        return False
                elif not (isinstance(operand, gast.Name) and self.holds_number(operand.id, seen)):
                    return False
        return True

    # -- element writes ---------------------------------------------------------------------------------

    def writes_container(self, target):
        """Whether ``target[...] = ...`` writes into a name that holds a list or dict made here."""
        return isinstance(target.value, gast.Name) and target.value.id in self.env \
            and self.holds_container(self.env[target.value.id])

    def store_container_element(self, target, value, origin):
        """``name[key] = value`` on a list or dict: ``name = with_item(name, key, value)``."""
        name = target.value.id
        container = self.env[name]
        stored = self.atom(value, origin)
        if isinstance(target.slice, gast.Slice) or isinstance(target.slice, gast.Tuple) and any(
                isinstance(e, gast.Slice) for e in target.slice.elts):
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate a write into a slice of the list `{name}`.", origin=origin,
                hint=f"Build the new list: `{name} = {name}[:i] + [...] + {name}[j:]`.")
        key = self.index(target.slice, origin)
        self.refuse_foreign_container(container, name, origin)
        held = set(self.sharing.contents.get(container, set()))
        first = len(self.ops)
        call = gast.Call(func=helper_name(with_item, "with_item"), args=[load(container), key, stored], keywords=[])
        call.origin = origin
        self.assign_to(name, call, origin)
        version = self.env[name]
        self.sharing.note_holds(version, held | {n.id for n in gast.walk(stored) if isinstance(n, gast.Name)})
        self.sharing.note_container_write(self.ops[first:], container, name, origin)

    def refuse_foreign_container(self, container, name, origin):
        """Refuse a write into a list or dict that may come from outside the function (an argument, a
        global, what a call returned): the caller would see the change."""
        sharing = self.sharing
        for version in sharing.sharers(container):
            if sharing.source(version) in ("param", "unknown") or version in sharing.opaque \
                    or version in sharing.params:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate this write into `{name}`: the compiler cannot tell that "
                    f"`{name}` is a list or dict made inside this function that nothing outside it refers to, "
                    "and a change the caller sees is not part of the derivative.", origin=origin,
                    hint=f"Make a new one first, for example `{name} = dict({name})` or `{name} = list({name})`, "
                         "and write into that.")


def _bound(op):
    if op.kind in ("assign", "pop"):
        return (op.target,)
    if op.kind == "unpack":
        return tuple(op.target)
    return ()
