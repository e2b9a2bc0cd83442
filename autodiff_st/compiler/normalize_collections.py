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
from ..runtime.containers import concatenated, dict_keys, dict_values, with_item
from ..runtime.nested_items import check_item_to_write
from .ir import If, load
from .nested_writes import NestedWriteError
from .scope import helper_name

_LIST_MAKERS = (builtins.list, builtins.sorted, dict_keys, dict_values)
_CYCLE = "cycle"


def helper_call(obj, args, origin):
    """A call of the run-time helper ``obj`` in the normal form (see scope.helper_name)."""
    call = gast.Call(func=helper_name(obj, obj.__name__), args=list(args), keywords=[])
    call.origin = origin
    return call


def subscript(value, index):
    return gast.Subscript(value=value, slice=index, ctx=gast.Load())


class CollectionLowering:
    """Mixed into ``Normalizer``: reads ``env``, ``ops``, ``sharing`` (a ``ContainerAliasTracker``) and
    ``resolve_static``; emits through ``assign_to``, ``atom`` and ``index``."""

    # -- which names hold lists and dicts ---------------------------------------------------------------

    def holds_container(self, version):
        """Whether every binding of ``version`` so far makes a Python list or dict: a display, ``[x] * n``,
        ``xs + [y]``, ``list(...)``, ``dict(...)``, ``sorted(...)``, a copy of one, or an element write into
        one. (A binding later in a loop is checked when it runs: ``with_item`` refuses anything else.)"""
        return self.container_kind(version) is not None

    def container_kind(self, version, seen=None):
        """"list" or "dict" when every binding of ``version`` so far makes one, else None."""
        kind = self._kind_of(version, set() if seen is None else seen)
        return None if kind is _CYCLE else kind

    def _kind_of(self, version, seen):
        if version in self.nested_items:
            return "item"  # a list or dict read by a nested write (store_nested_element)
        if version in seen:
            return _CYCLE  # a loop's binding from its own value: decided by the others
        seen = seen | {version}
        bindings = [op for op in self.ops if op.kind in ("assign", "unpack", "pop") and version in _bound(op)]
        if not bindings or any(op.kind != "assign" for op in bindings):
            return None
        kinds = {self.made_kind(op.value, seen) for op in bindings} - {_CYCLE}
        if not kinds:
            return _CYCLE
        return kinds.pop() if len(kinds) == 1 else None

    def made_kind(self, value, seen):
        """"list" or "dict" when ``value`` (one operation on atoms) certainly makes a new one, else None."""
        if isinstance(value, gast.List):
            return "list"
        if isinstance(value, gast.Dict):
            return "dict"
        if isinstance(value, gast.Name):
            return self._kind_of(value.id, seen)
        if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
            if any(isinstance(v, gast.List) or isinstance(v, gast.Name) and self._kind_of(v.id, seen) == "list"
                   for v in (value.left, value.right)):
                return "list"
            return None
        if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice) and isinstance(value.value, gast.Name):
            return "list" if self._kind_of(value.value.id, seen) == "list" else None  # ys[1:] is a new list
        if isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute) and func.attr == "copy" and isinstance(func.value, gast.Name) \
                    and not value.args:
                return self._kind_of(func.value.id, seen)
            fn = getattr(func, "helper", None) or self.resolve_static(func)
            if fn is builtins.dict:
                return "dict"
            if fn is concatenated:
                return "list" if any(isinstance(a, gast.List) or isinstance(a, gast.Name)
                                     and self._kind_of(a.id, seen) in ("list", _CYCLE) for a in value.args) else None
            if any(fn is f for f in _LIST_MAKERS):
                return "list"
            if fn is with_item and isinstance(value.args[0], gast.Name):
                return self._kind_of(value.args[0].id, seen)
        return None

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
        stored = self.named_atom(value, origin)
        if isinstance(target.slice, gast.Slice) or isinstance(target.slice, gast.Tuple) and any(
                isinstance(e, gast.Slice) for e in target.slice.elts):
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate a write into a slice of the list `{name}`.", origin=origin,
                hint=f"Build the new list: `{name} = {name}[:i] + [...] + {name}[j:]`.")
        key = self.index(target.slice, origin)
        self.rebind_container(name, helper_call(with_item, [load(container), key, stored], origin), origin,
                              held=_names_of(stored))

    def store_nested_element(self, target, value, origin):
        """``rows[i][j] = value`` (any depth) into a list or dict made here: the items along the path read,
        each checked at run time (``check_item_to_write``), and new containers written from the inside
        out (nested_writes.py)."""
        keys, node = [], target
        while isinstance(node, gast.Subscript):
            keys.append(node.slice)
            node = node.value
        keys.reverse()
        name = node.id
        if name not in self.env or not self.holds_container(self.env[name]):
            raise NestedWriteError(
                f"autodiff_st cannot differentiate this write into an element of an element of `{name}`: the "
                f"compiler follows such a write only into a list or dict made in the function, and `{name}` "
                "is not certainly one (an array's row is a view of it, which this write would change).",
                origin=origin, hint=f"Write into an array by index (`{name}[i, j] = v` on an array made with "
                                    "np.zeros), or build the lists in the function.")
        if any(isinstance(k, gast.Slice) or isinstance(k, gast.Tuple) and any(isinstance(e, gast.Slice)
                                                                                 for e in k.elts) for k in keys):
            raise NestedWriteError(
                f"autodiff_st cannot differentiate a write into a slice of an element of `{name}`.",
                origin=origin, hint="Write the elements one by one, or build the new list.")
        container = self.env[name]
        self.refuse_foreign_items(container, len(keys) - 1, name, origin)
        stored = self.named_atom(value, origin)
        atoms = [self.index(k, origin) for k in keys]
        text = gast.Constant(value=origin.source_line if origin is not None else name, kind=None)
        items, temps = [load(container)], set()
        first = len(self.ops)
        for key in atoms[:-1]:
            self.emit("expr", None, helper_call(check_item_to_write, [items[-1], key, text], origin), origin)
            item = self.into_temporary(subscript(items[-1], key), origin)
            self.nested_items[item] = items[-1].id  # a list or dict (checked at run time) held by that one
            temps.add(item)
            items.append(load(item))
        new = stored
        for item, key in zip(reversed(items[1:]), reversed(atoms[1:])):
            new = load(self.into_temporary(helper_call(with_item, [item, key, new], origin), origin))
            temps.add(new.id)
        self.rebind_container(name, helper_call(with_item, [load(container), atoms[0], new], origin), origin,
                              held=_names_of(new))
        self.sharing.note_nested_write(self.ops[first:], container, name, temps, origin)

    def refuse_write_into_item(self, version, name, origin):
        """Refuse ``r[j] = v`` where ``r`` was read from a list or dict made here whose items are lists,
        dicts or numbers (``r = rows[0]``): Python would change the list inside ``rows`` too."""
        whole = self.sharing.parts_of.get(version)
        if whole is None or not self.holds_container(whole) or self.item_sources(whole, 1, set()) is not None:
            return
        container = self.sharing.user_names.get(whole, whole)
        raise NestedWriteError(
            f"autodiff_st cannot differentiate this write into `{name}`: `{name}` is a list or dict read from "
            f"`{container}`, and Python's write would change it inside `{container}` too, which the compiler "
            "does not follow through a name of its own.", origin=origin,
            hint=f"Write through `{container}` itself (`{container}[i][j] = v`), which is differentiated.")

    def refuse_foreign_items(self, container, depth, name, origin):
        """Refuse unless every list or dict ``container`` may hold ``depth`` levels down is made in the
        function (see nested_writes.py)."""
        unknown = self.item_sources(container, depth, set())
        if unknown is not None:
            raise NestedWriteError(
                f"autodiff_st cannot differentiate this write into an element of an element of `{name}`: the "
                f"compiler cannot tell that each list or dict inside `{name}` is made in this function and "
                f"held nowhere else ({unknown}).", origin=origin,
                hint=f"Build `{name}` from new lists in the function, for example "
                     f"`{name} = [[0.0] * n for _ in range(n)]`, and write into that.")

    def item_sources(self, version, depth, seen):
        """None when every item ``version`` (a list or dict) may hold ``depth`` levels down is a list or dict
        made here; else a short reason."""
        if (version, depth) in seen:
            return None
        seen.add((version, depth))
        if depth == 0:
            return None
        if version in self.nested_items:  # an item read by a nested write: what its container holds deeper
            return self.item_sources(self.nested_items[version], depth + 1, seen)
        bindings = [op for op in self.ops if version in _bound(op) or op.kind == "append" and op.target == version]
        for op in bindings:
            if op.kind == "append":
                reason = self.held_item(op.stored, depth, seen)
            elif op.kind != "assign":
                reason = f"`{self.sharing.user_names.get(version, version)}` is unpacked or popped"
            else:
                reason = self.made_items(op.value, depth, seen)
            if reason is not None:
                return reason
        return None

    def made_items(self, value, depth, seen):
        """``item_sources`` for the container that ``value`` (one operation on atoms) makes."""
        if depth == 0:
            return None
        if isinstance(value, (gast.List, gast.Tuple)):
            return next((r for r in (self.held_item(e, depth, seen) for e in value.elts) if r is not None), None)
        if isinstance(value, gast.Dict):
            return next((r for r in (self.held_item(e, depth, seen) for e in value.values) if r is not None), None)
        if isinstance(value, gast.Name):
            return self.item_sources(value.id, depth, seen)
        if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
            lists = [v for v in (value.left, value.right) if isinstance(v, (gast.List, gast.Tuple, gast.Name))
                     and not (isinstance(v, gast.Name) and self.container_kind(v.id) is None)]
            return next((r for r in (self.made_items(v, depth, seen) for v in lists) if r is not None), None)
        if isinstance(value, gast.Call):
            fn = getattr(value.func, "helper", None) or self.resolve_static(value.func)
            if fn is with_item:
                return self.made_items(value.args[0], depth, seen) or self.held_item(value.args[2], depth, seen)
            if fn is concatenated:
                return next((r for r in (self.made_items(a, depth, seen) for a in value.args) if r is not None),
                            None)
        return "a list or dict in it comes from a copy, a call or an argument"

    def held_item(self, element, depth, seen):
        """``item_sources`` one level down, for an element put into a container."""
        if isinstance(element, gast.Constant):
            return None  # not a list or dict: the run-time check refuses a path through it
        if isinstance(element, (gast.List, gast.Tuple, gast.Dict)):
            return self.made_items(element, depth - 1, seen)
        if isinstance(element, gast.Name) and element.id in self.sharing.params:
            return f"`{self.sharing.user_names.get(element.id, element.id)}` is an argument"
        if isinstance(element, gast.Name) and self.container_kind(element.id) is not None:
            return self.item_sources(element.id, depth - 1, seen)
        if isinstance(element, gast.Name) and depth == 1 and self.holds_number(element.id):
            return None
        what = self.sharing.user_names.get(getattr(element, "id", None), "an element")
        return f"`{what}` is not certainly a list or dict made here"

    def rebind_container(self, name, call, origin, held=()):
        """``name = call``, where ``call`` makes the new value of the list or dict ``name`` that Python
        changes in place: refused where the old one may be seen through another name (see
        ``ContainerAliasTracker.check_container_writes``)."""
        container = self.env[name]
        self.refuse_foreign_container(container, name, origin)
        before = set(self.sharing.contents.get(container, set()))
        first = len(self.ops)
        self.assign_to(name, call, origin)
        self.sharing.note_holds(self.env[name], before | set(held))
        self.sharing.note_container_write(self.ops[first:], container, name, origin)

    # -- methods of lists and dicts, and + on lists -------------------------------------------------------

    def lower_collection_call(self, node, origin, hint):
        """``node`` (a call or ``+``) written with the helpers of lists and dicts, as an atom; None when it is
        not a method of a list or dict made here (or ``+`` of lists) that the normal form rewrites."""
        if isinstance(node, gast.Call):
            lowered = self.lower_builtin_call(node, origin, hint)  # normalize_iteration.py
            if lowered is not None:
                return lowered
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add) and any(
                isinstance(v, (gast.List, gast.Tuple)) or isinstance(v, gast.Name) and v.id in self.env
                and self.container_kind(self.env[v.id]) == "list" for v in (node.left, node.right)):
            left, right = self.named_atom(node.left, origin), self.named_atom(node.right, origin)
            return self.atom(helper_call(concatenated, [left, right], origin), origin, hint=hint)
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
                and isinstance(node.func.value, gast.Name) and node.func.value.id in self.env):
            return None
        name, method = node.func.value.id, node.func.attr
        kind = self.container_kind(self.env[name])
        lower = _DICT_METHODS.get(method) if kind == "dict" else _LIST_METHODS.get(method) if kind == "list" else None
        if lower is None or (method == "pop" and not node.args):
            return None
        if any(k.arg is None for k in node.keywords) or (node.keywords and method != "update"):
            raise UnsupportedSyntaxError(f"autodiff_st cannot differentiate `.{method}()` with keyword arguments "
                                         "here.", origin=origin, hint="Pass the arguments by position.")
        return getattr(self, lower)(name, node, origin, hint)

    def dict_get(self, name, node, origin, hint):
        """``d.get(k, default)``: ``d[k] if k in d else default``, the default evaluated first."""
        key, default = self.method_args(node, 1, 2, origin)
        d = load(self.env[name])
        test = self.namer.fresh(f"{name}_has_key")
        self.emit("assign", test, gast.Compare(left=key, ops=[gast.In()], comparators=[d]), origin)
        self.sharing.own(test, "fresh")
        result = self.namer.fresh(hint or f"{name}_item")
        body = self.nested(lambda: self.emit("assign", result, subscript(load(self.env[name]), key), origin))
        orelse = self.nested(lambda: self.emit("assign", result, default, origin))
        self.block.append(If(test, body, orelse, origin))
        self.sharing.own(result, "unknown")
        return load(result)

    def dict_setdefault(self, name, node, origin, hint):
        """``d.setdefault(k, default)``: ``if k not in d: d[k] = default``, then ``d[k]``."""
        key, default = self.method_args(node, 1, 2, origin)
        test = self.namer.fresh(f"{name}_lacks_key")
        self.emit("assign", test, gast.Compare(left=key, ops=[gast.NotIn()], comparators=[load(self.env[name])]),
                  origin)
        self.sharing.own(test, "fresh")
        target = subscript(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), key)
        body = self.nested(lambda: self.store_container_element(target, default, origin))
        self.block.append(If(test, body, [], origin))
        return self.atom(subscript(load(self.env[name]), key), origin, hint=hint)

    def dict_update(self, name, node, origin, hint):
        """``d.update(other, k=v)``: each item written in turn, as Python does; a dict held in a name is
        walked by its keys."""
        if len(node.args) > 1:
            raise UnsupportedSyntaxError("`dict.update` takes one positional argument.", origin=origin)
        items = []  # (key atom, value atom), all evaluated before the first write
        if node.args and isinstance(node.args[0], gast.Dict):
            items = [(k, self.atom(v, origin)) for k, v in zip(node.args[0].keys, node.args[0].values)]
        elif node.args:
            other = self.atom(node.args[0], origin)
            self.write_each_key(name, other, origin)
        items += [(gast.Constant(value=k.arg, kind=None), self.atom(k.value, origin)) for k in node.keywords]
        for key, value in items:
            target = subscript(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), key)
            self.store_container_element(target, value, origin)
        return gast.Constant(value=None, kind=None)

    def write_each_key(self, name, other, origin):
        """``for k in list(other): name[k] = other[k]``, as a loop of the normal form."""
        keys = self.atom(helper_call(dict_keys, [other], origin), origin, hint=f"{name}_keys")
        key = self.namer.fresh("key")
        self.env[key] = key
        user = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
        body = [gast.Assign(targets=[gast.Subscript(value=user, slice=load(key), ctx=gast.Store())],
                            value=subscript(other, load(key)), type_comment=None)]
        loop = gast.For(target=gast.Name(id=key, ctx=gast.Store(), annotation=None, type_comment=None), iter=keys,
                        body=body, orelse=[], type_comment=None)
        for n in gast.walk(loop):
            n.origin = origin
        self.loop_statement(loop, origin)

    def dict_values(self, name, node, origin, hint):
        self.method_args(node, 0, 0, origin)
        return self.snapshot(name, helper_call(dict_values, [load(self.env[name])], origin), origin, hint)

    def dict_keys(self, name, node, origin, hint):
        self.method_args(node, 0, 0, origin)
        return self.snapshot(name, helper_call(dict_keys, [load(self.env[name])], origin), origin, hint)

    def dict_items(self, name, node, origin, hint):
        """``d.items()``: the list of ``(key, value)`` pairs, from the keys and values in order."""
        self.method_args(node, 0, 0, origin)
        keys = self.dict_keys(name, node, origin, None)
        values = self.dict_values(name, node, origin, None)
        first, second = self.namer.fresh("key"), self.namer.fresh("value")
        pair = gast.Tuple(elts=[gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)
                                for n in (first, second)], ctx=gast.Load())
        target = gast.Tuple(elts=[gast.Name(id=n, ctx=gast.Store(), annotation=None, type_comment=None)
                                  for n in (first, second)], ctx=gast.Store())
        zipped = gast.Call(func=helper_name(builtins.zip, "zip"), args=[keys, values], keywords=[])
        listed = gast.ListComp(elt=pair, generators=[gast.comprehension(target=target, iter=zipped, ifs=[],
                                                                         is_async=0)])
        result = self.atom(listed, origin, hint=hint or f"{name}_items")
        self.sharing.note_snapshot(result.id, {self.env[name]})
        return result

    def loop_iterable(self, it, origin):
        """The iterable of a for loop as the normal form walks it: ``d.items()`` as ``zip`` of the keys and
        the values, a dict ``d`` as its keys, an iterator call as the list of its items (normalize_iteration.py)."""
        it = self.walked(it, origin)
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and it.func.attr == "items" \
                and isinstance(it.func.value, gast.Name) and it.func.value.id in self.env and not it.args \
                and self.container_kind(self.env[it.func.value.id]) == "dict":
            name = it.func.value.id
            keys = self.dict_keys(name, it, origin, None)
            values = self.dict_values(name, it, origin, None)
            return gast.Call(func=helper_name(builtins.zip, "zip"), args=[keys, values], keywords=[])
        if isinstance(it, gast.Name) and it.id in self.env and self.container_kind(self.env[it.id]) == "dict":
            return self.snapshot(it.id, helper_call(dict_keys, [load(self.env[it.id])], origin), origin, None)
        return it

    def snapshot(self, name, call, origin, hint):
        """A list the normal form makes where Python gives a live view of the dict ``name``."""
        result = self.atom(call, origin, hint=hint)
        self.sharing.note_snapshot(result.id, {self.env[name]})
        return result

    def list_extend(self, name, node, origin, hint):
        (items,) = self.method_args(node, 1, 1, origin)
        self.extend_list(name, items, origin)
        return gast.Constant(value=None, kind=None)

    def extend_list(self, name, items, origin):
        """``name += items`` or ``name.extend(items)`` on a list: ``name = concatenated(name, list(items))``."""
        if isinstance(items, gast.Tuple):
            items = gast.List(elts=items.elts, ctx=gast.Load())
        if not isinstance(items, gast.List) and not (isinstance(items, gast.Name) and self.container_kind(items.id)
                                                     == "list"):
            items = self.atom(helper_call(builtins.list, [items], origin), origin)
        held = _names_of(items) if isinstance(items, gast.List) else self.sharing.contents.get(items.id, set())
        new = helper_call(concatenated, [load(self.env[name]), self.named_atom(items, origin)], origin)
        self.rebind_container(name, new, origin, held=held)

    def list_insert(self, name, node, origin, hint):
        """``ys.insert(i, v)``: ``ys = ys[:i] + [v] + ys[i:]``, which is insert's meaning for every ``i``."""
        index, value = self.method_args(node, 2, 2, origin)
        ys = load(self.env[name])
        head = self.atom(subscript(ys, gast.Slice(lower=None, upper=index, step=None)), origin)
        tail = self.atom(subscript(ys, gast.Slice(lower=index, upper=None, step=None)), origin)
        middle = self.atom(helper_call(concatenated, [head, self.named_atom(gast.List(elts=[value], ctx=gast.Load()),
                                                                            origin)], origin), origin)
        self.rebind_container(name, helper_call(concatenated, [middle, tail], origin), origin, held=_names_of(value))
        return gast.Constant(value=None, kind=None)

    def list_pop(self, name, node, origin, hint):
        """``ys.pop(i)``: the item ``ys[i]`` (an IndexError where Python raises one), then
        ``ys = ys[:i] + ys[i:][1:]``, which removes position ``i`` also when it is negative."""
        (index,) = self.method_args(node, 1, 1, origin)
        ys = load(self.env[name])
        item = self.atom(subscript(ys, index), origin, hint=hint or f"{name}_popped")
        head = self.atom(subscript(ys, gast.Slice(lower=None, upper=index, step=None)), origin)
        rest = self.atom(subscript(ys, gast.Slice(lower=index, upper=None, step=None)), origin)
        tail = self.atom(subscript(rest, gast.Slice(lower=gast.Constant(value=1, kind=None), upper=None, step=None)),
                         origin)
        self.rebind_container(name, helper_call(concatenated, [head, tail], origin), origin)
        return item

    def method_args(self, node, least, most, origin):
        """The atoms of a method call's positional arguments, None for those not given (up to ``most``)."""
        if not least <= len(node.args) <= most:
            raise UnsupportedSyntaxError(f"`.{node.func.attr}()` takes {least} to {most} arguments here.",
                                         origin=origin)
        atoms = [self.atom(a, origin) for a in node.args]
        return atoms + [gast.Constant(value=None, kind=None)] * (most - len(atoms))

    def augments_container(self, stmt, origin):
        """``ys += items`` on a list made here: ``ys.extend(items)``. True when handled."""
        target = stmt.target
        if not (isinstance(target, gast.Name) and target.id in self.env
                and self.container_kind(self.env[target.id]) is not None):
            return False
        if not isinstance(stmt.op, gast.Add) or self.container_kind(self.env[target.id]) != "list":
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this augmented assignment to the "
                f"{self.container_kind(self.env[target.id])} `{target.id}`.", origin=origin,
                hint="Build the new list or dict under a name of its own.")
        self.extend_list(target.id, self.atom(stmt.value, origin), origin)
        return True

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


_DICT_METHODS = {"get": "dict_get", "setdefault": "dict_setdefault", "update": "dict_update",
                 "values": "dict_values", "keys": "dict_keys", "items": "dict_items"}
_LIST_METHODS = {"extend": "list_extend", "insert": "list_insert", "pop": "list_pop"}


def _names_of(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def _bound(op):
    if op.kind in ("assign", "pop"):
        return (op.target,)
    if op.kind == "unpack":
        return tuple(op.target)
    return ()
