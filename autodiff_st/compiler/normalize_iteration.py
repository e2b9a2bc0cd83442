"""The builtins that walk lists and arrays, written as comprehensions of the normal form.

``map``, ``filter``, ``zip``, ``enumerate`` and ``reversed`` give iterators, which Python walks lazily.
Where one is walked at once, as the iterable of a ``for`` loop or a comprehension, or the argument of
``list``, ``tuple``, ``sum``, ``max``, ``min``, ``sorted``, ``any``, ``all`` or ``dict``, the normal form
makes the list of its items instead, with a comprehension (which becomes a loop, normalize_expressions.py):

- ``map(f, xs, ys)`` is ``[f(x, y) for x, y in zip(xs, ys)]``; ``f`` may be the user's function, a
  function with a rule, or a lambda written in the call, which is inlined;
- ``filter(f, xs)`` is ``[x for x in xs if f(x)]`` (``filter(None, xs)``: ``if x``);
- ``zip(xs, ys)`` and ``enumerate(xs)`` are the lists of their tuples;
- ``reversed(xs)`` is ``[xs[i] for i in range(len(xs) - 1, -1, -1)]`` (the keys of a dict, reversed).

Python's iterator would show a change made to the walked list while the loop runs; the list the normal
form made would not, so a write into that list inside such a loop is refused (it is a *snapshot*, see
aliasing_containers.py). ``for i, x in enumerate(xs)`` and ``zip`` in a loop header walk ``xs`` itself,
as before. An iterator bound to a name (``it = map(f, xs)``) is left as Python's, and refused when it
carries a derivative.

``sorted(xs, key=f, reverse=r)`` is ``[items[i] for i in sorting_order(keys, r)]``, with ``items`` the list
of ``xs`` and ``keys`` their keys (the items themselves without ``key=``); ``max(xs, key=f)`` and ``min`` of
one iterable (or of three values and more) are ``items[item_extremum(keys, ...)]``. The order and the
position carry no derivative: the value is the item Python picks (the first of equal ones), and the
gradient goes to that item.
"""

import builtins
import copy
import functools

import gast

from ..core.errors import UnsupportedSyntaxError
from ..runtime.containers import dict_keys, item_extremum, sorting_order
from .ir import load
from .scope import helper_name

_LAZY = (builtins.map, builtins.filter, builtins.zip, builtins.enumerate, builtins.reversed)
_CONSUMERS = (builtins.list, builtins.tuple, builtins.sum, builtins.max, builtins.min, builtins.sorted,
              builtins.any, builtins.all, builtins.dict, builtins.set, builtins.frozenset)


def _name(identifier, store=False):
    return gast.Name(id=identifier, ctx=gast.Store() if store else gast.Load(), annotation=None, type_comment=None)


def _builtin(obj):
    return helper_name(obj, obj.__name__)


def _call(func, args):
    return gast.Call(func=func, args=list(args), keywords=[])


def _list_comprehension(elt, target, iterable, ifs=()):
    return gast.ListComp(elt=elt, generators=[gast.comprehension(target=target, iter=iterable, ifs=list(ifs),
                                                                 is_async=0)])


class IterationLowering:
    """Mixed into ``Normalizer``: reads ``env``, ``inlined``, ``namer``, ``sharing`` and ``resolve_static``;
    emits through ``atom``, ``named_atom``, ``define_inline`` and ``container_kind``."""

    def builtin_of(self, func):
        """The builtin function ``func`` names (a global name not rebound by the function), or None."""
        if not isinstance(func, gast.Name) or func.id in self.env or func.id in self.inlined \
                or getattr(func, "helper", None) is not None:
            return None
        obj = self.resolve_static(func)
        return obj if any(obj is b for b in _LAZY + _CONSUMERS) else None

    def is_lazy(self, node):
        """An iterator call the normal form makes a list of where it is walked at once (``reversed`` of a
        ``range`` stays: it gives numbers only)."""
        if not (isinstance(node, gast.Call) and any(self.builtin_of(node.func) is b for b in _LAZY)):
            return False
        return not (self.builtin_of(node.func) is builtins.reversed and len(node.args) == 1
                    and isinstance(node.args[0], gast.Call) and isinstance(node.args[0].func, gast.Name)
                    and self.resolve_static(node.args[0].func) is builtins.range)

    # -- iterators walked at once ---------------------------------------------------------------------

    def listed(self, node, origin):
        """The comprehension giving the items of the iterator call ``node``, as a user-level expression."""
        fn = self.builtin_of(node.func)
        if fn is builtins.enumerate and len(node.args) == 1 and [k.arg for k in node.keywords] == ["start"]:
            node = gast.Call(func=node.func, args=node.args + [node.keywords[0].value], keywords=[])
        if node.keywords or fn is not builtins.reversed and not node.args:
            raise UnsupportedSyntaxError(f"autodiff_st cannot differentiate this call of {fn.__name__} here.",
                                         origin=origin, hint="Pass its arguments by position.")
        if fn is builtins.map:
            function, *sources = node.args
            if not sources:
                raise UnsupportedSyntaxError("map() must have at least two arguments.", origin=origin)
            items = [self.namer.fresh("item") for _ in sources]
            return _list_comprehension(_call(self.callable_node(function, origin), [_name(n) for n in items]),
                                       self.target(items), sources[0] if len(sources) == 1 else
                                       _call(_builtin(builtins.zip), sources))
        if fn is builtins.filter:
            function, source = node.args
            item = self.namer.fresh("item")
            test = _name(item) if isinstance(function, gast.Constant) and function.value is None else \
                _call(self.callable_node(function, origin), [_name(item)])
            return _list_comprehension(_name(item), _name(item, store=True), source, [test])
        if fn is builtins.reversed:
            if len(node.args) != 1:
                raise UnsupportedSyntaxError("reversed() takes one argument.", origin=origin)
            sequence = self.atom(node.args[0], origin)
            if isinstance(sequence, gast.Name) and self.container_kind(sequence.id) == "dict":
                sequence = self.atom(_call(_builtin(dict_keys), [sequence]), origin)
            index = self.namer.fresh("position")
            length = _call(_builtin(builtins.len), [sequence])
            last = gast.BinOp(left=length, op=gast.Sub(), right=gast.Constant(value=1, kind=None))
            backwards = _call(_builtin(builtins.range), [last, gast.Constant(value=-1, kind=None),
                                                          gast.Constant(value=-1, kind=None)])
            element = gast.Subscript(value=sequence, slice=_name(index), ctx=gast.Load())
            return _list_comprehension(element, _name(index, store=True), backwards)
        items = [self.namer.fresh("index")] if fn is builtins.enumerate else []
        items += [self.namer.fresh("item") for _ in (node.args if fn is builtins.zip else node.args[:1])]
        elt = gast.Tuple(elts=[_name(n) for n in items], ctx=gast.Load())
        if fn is builtins.enumerate and len(node.args) > 1:  # enumerate(xs, 1): the counter plus the start
            start = node.args[1]
            if not (isinstance(start, gast.Constant) and type(start.value) is int):
                raise UnsupportedSyntaxError("autodiff_st cannot differentiate this call of enumerate here.",
                                             origin=origin, hint="Give enumerate a constant start, such as 1.")
            elt.elts[0] = gast.BinOp(left=elt.elts[0], op=gast.Add(), right=start)
            node = gast.Call(func=node.func, args=node.args[:1], keywords=[])
        return _list_comprehension(elt, self.target(items), node)

    def target(self, names):
        if len(names) == 1:
            return _name(names[0], store=True)
        return gast.Tuple(elts=[_name(n, store=True) for n in names], ctx=gast.Store())

    def callable_node(self, function, origin):
        """What the lowered loop calls: the function as written, or a lambda given a name and inlined."""
        if isinstance(function, gast.Lambda):
            name = self.namer.fresh("function")
            self.define_inline(name, function.args, function.body, origin)
            return _name(name)
        return function

    def walked(self, node, origin):
        """The iterable of a for loop, with an iterator call made a list (a snapshot of what it walks), and
        ``zip``/``enumerate`` kept for the loop header, their arguments made lists in turn."""
        if not self.is_lazy(node):
            return node
        fn = self.builtin_of(node.func)
        if fn in (builtins.zip, builtins.enumerate) and not node.keywords:
            return gast.Call(func=node.func, args=[self.walked(a, origin) for a in node.args], keywords=[])
        walked = [a.id for a in node.args if isinstance(a, gast.Name) and a.id in self.env]
        result = self.atom(self.listed(node, origin), origin)
        self.sharing.note_snapshot(result.id, {self.env[n] for n in walked})
        return result

    # -- builtins that consume an iterable ------------------------------------------------------------

    def lower_builtin_call(self, node, origin, hint):
        """``list(map(...))``, ``sum(x for ...)``, ``sorted(xs, key=f)``, ``max(xs)``...: as an atom, or None
        for a call the normal form keeps."""
        func = node.func
        if (isinstance(func, gast.Attribute) and func.attr == "reduce" or isinstance(func, gast.Name)
                and func.id == "reduce") and self.resolve_static(func) is functools.reduce:
            return self.reduce_call(node, origin, hint)
        fn = self.builtin_of(node.func)
        if fn is None or not any(fn is c for c in _CONSUMERS):
            return None
        if fn is builtins.dict and len(node.args) == 1 and not node.keywords and (
                self.is_lazy(node.args[0]) or isinstance(node.args[0], (gast.ListComp, gast.GeneratorExp, gast.List,
                                                                         gast.Tuple))):
            return self.dict_of_pairs(node.args[0], origin, hint)
        if node.args and self.is_lazy(node.args[0]):
            node = gast.Call(func=node.func, args=[self.listed(node.args[0], origin)] + node.args[1:],
                             keywords=node.keywords)
            if fn not in (builtins.sorted, builtins.max, builtins.min):
                return self.atom(node, origin, hint=hint)
        if fn is builtins.sorted:
            return self.sorted_call(node, origin, hint)
        if fn in (builtins.max, builtins.min) and (len(node.args) != 2 or node.keywords):
            return self.extremum_call(node, fn is builtins.max, origin, hint)
        return None

    def reduce_call(self, node, origin, hint):
        """``functools.reduce(f, xs[, initial])``: ``acc = initial`` (or ``xs[0]``, with Python's TypeError when
        ``xs`` is empty), then ``for item in xs: acc = f(acc, item)`` over the rest, written as the loop it is."""
        if node.keywords or not 2 <= len(node.args) <= 3:
            raise UnsupportedSyntaxError("autodiff_st differentiates functools.reduce(f, items[, initial]) with "
                                         "its arguments by position.", origin=origin,
                                         hint="Pass the function, the items and the initial value by position.")
        function = self.callable_node(node.args[0], origin)
        items = self.atom(self.listed(node.args[1], origin) if self.is_lazy(node.args[1]) else node.args[1], origin)
        items = items if isinstance(items, gast.Name) else load(self.into_temporary(items, origin))
        acc, item = self.namer.fresh(hint or "reduced"), self.namer.fresh("item")
        statements = []
        if len(node.args) == 3:
            statements.append(gast.Assign(targets=[_name(acc, store=True)], value=node.args[2], type_comment=None))
            rest = _name(items.id)
        else:
            empty = gast.Compare(left=_call(_builtin(builtins.len), [_name(items.id)]), ops=[gast.Eq()],
                                 comparators=[gast.Constant(value=0, kind=None)])
            error = _call(_builtin(TypeError), [gast.Constant(value="reduce() of empty iterable with no initial value",
                                                             kind=None)])
            statements.append(gast.If(test=empty, body=[gast.Raise(exc=error, cause=None)], orelse=[]))
            statements.append(gast.Assign(targets=[_name(acc, store=True)], value=gast.Subscript(
                value=_name(items.id), slice=gast.Constant(value=0, kind=None), ctx=gast.Load()), type_comment=None))
            rest = gast.Subscript(value=_name(items.id), slice=gast.Slice(
                lower=gast.Constant(value=1, kind=None), upper=None, step=None), ctx=gast.Load())
        step = gast.Assign(targets=[_name(acc, store=True)], value=_call(function, [_name(acc), _name(item)]),
                           type_comment=None)
        statements.append(gast.For(target=_name(item, store=True), iter=rest, body=[step], orelse=[],
                                   type_comment=None))
        for statement in statements:
            for n in gast.walk(statement):
                n.origin = origin
            self.statement(statement)
        return _name(self.env[acc])

    def dict_of_pairs(self, pairs, origin, hint):
        """``dict(pairs)``: ``for p in pairs: k, v = p; d[k] = v`` (``dict(zip(keys, values))`` walks the zip),
        with Python's ValueError for an item that is not a pair."""
        result = self.namer.fresh(hint or "mapping")
        self.emit("assign", result, gast.Dict(keys=[], values=[]), origin)
        self.env[result] = result
        self.sharing.own(result, "fresh")
        key, value = self.namer.fresh("key"), self.namer.fresh("value")
        write = gast.Assign(targets=[gast.Subscript(value=_name(result), slice=_name(key), ctx=gast.Store())],
                            value=_name(value), type_comment=None)
        if self.is_lazy(pairs) and self.builtin_of(pairs.func) is builtins.zip and len(pairs.args) == 2:
            loop = gast.For(target=gast.Tuple(elts=[_name(key, store=True), _name(value, store=True)],
                                              ctx=gast.Store()), iter=pairs, body=[write], orelse=[], type_comment=None)
        else:
            items = self.atom(self.listed(pairs, origin) if self.is_lazy(pairs) else pairs, origin)
            pair = self.namer.fresh("pair")
            split = gast.Assign(targets=[gast.Tuple(elts=[_name(key, store=True), _name(value, store=True)],
                                                    ctx=gast.Store())], value=_name(pair), type_comment=None)
            loop = gast.For(target=_name(pair, store=True), iter=items, body=[split, write], orelse=[],
                            type_comment=None)
        for n in gast.walk(loop):
            n.origin = origin
        self.loop_statement(loop, origin)
        return _name(self.env[result])

    def keyword(self, node, name, origin):
        value = next((k.value for k in node.keywords if k.arg == name), None)
        unknown = [k.arg for k in node.keywords if k.arg not in ("key", "reverse")]
        if unknown:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate {node.func.id}() with the keyword `{unknown[0]}`.",
                origin=origin, hint="Handle that case before the call.")
        return value

    def items_and_keys(self, items, key, origin):
        """(the atom of the list of items, the atom of their keys) for ``sorted``, ``max`` and ``min``."""
        items = self.named_atom(_call(_builtin(builtins.list), [items]), origin)
        if key is None or isinstance(key, gast.Constant) and key.value is None:
            return items, items
        item = self.namer.fresh("item")
        keys = _list_comprehension(_call(self.callable_node(key, origin), [_name(item)]), _name(item, store=True),
                                   items)
        return items, self.atom(keys, origin)

    def sorted_call(self, node, origin, hint):
        if len(node.args) != 1:
            raise UnsupportedSyntaxError("sorted() takes one positional argument.", origin=origin)
        key, reverse = self.keyword(node, "key", origin), self.keyword(node, "reverse", origin)
        items, keys = self.items_and_keys(node.args[0], key, origin)
        reverse = self.atom(reverse, origin) if reverse is not None else gast.Constant(value=False, kind=None)
        order = self.atom(_call(_builtin(sorting_order), [keys, reverse]), origin, hint="order")
        position = self.namer.fresh("position")
        element = gast.Subscript(value=copy.deepcopy(items), slice=_name(position), ctx=gast.Load())
        return self.atom(_list_comprehension(element, _name(position, store=True), order), origin,
                         hint=hint or "ordered")

    def extremum_call(self, node, largest, origin, hint):
        if self.keyword(node, "reverse", origin) is not None:
            raise UnsupportedSyntaxError(f"{node.func.id}() takes no `reverse`.", origin=origin)
        key = self.keyword(node, "key", origin)
        if not node.args:
            raise UnsupportedSyntaxError(f"{node.func.id}() expects at least one argument.", origin=origin)
        values = node.args[0] if len(node.args) == 1 else gast.List(elts=list(node.args), ctx=gast.Load())
        items, keys = self.items_and_keys(values, key, origin)
        position = self.atom(_call(_builtin(item_extremum), [keys, gast.Constant(value=largest, kind=None)]),
                             origin, hint="largest_at" if largest else "smallest_at")
        return self.atom(gast.Subscript(value=items, slice=position, ctx=gast.Load()), origin, hint=hint)

