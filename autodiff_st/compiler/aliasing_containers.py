"""What Python lists and dicts hold, for the alias tracker of normalize (aliasing.py).

A list or dict holds references to its elements. Two things follow, which ``AliasTracker`` alone does not
see, since a display is a new object that shares no memory with anything:

- a write into an array that a list or dict holds (``d = {"a": y}; y[0] = v``) is seen through the
  container (``d["a"][0]`` is ``v``): the container is one more name that shares the array, so the write
  is checked at run time (``check_unshared`` searches lists and dicts) or refused, as a write into an array
  another name refers to;
- a write into a list or dict (``ys[0] = v``), which the normal form writes as a new container
  (``ys_2 = with_item(ys, 0, v)``, compiler/normalize_collections.py), is Python's program only when no
  other name the function reads afterwards refers to the old one: another name bound to it (``zs = ys``),
  a container holding it (``rows = [ys]``), or a snapshot the normal form took where Python keeps a live
  view (``d.values()``, ``reversed(ys)``). ``check_container_writes`` refuses the write otherwise.

``ContainerAliasTracker`` records ``contents`` (container version -> the versions it may hold) from
displays, ``append``, ``[...] * n`` and ``+``, the list-making builtins and the write helper, and counts
the holders of a value among the names that share it.
"""

import builtins

import gast

from ..core.errors import UnsupportedSyntaxError
from ..runtime.containers import concatenated, dict_keys, dict_values, with_item
from ..runtime.cotangents import tangent_zeros
from .aliasing import AliasTracker
from .ir import If, Loop, Op, walk_ops
from .nested_writes import NestedWriteError, enclosing_loop_sources, read_before_rebound, references

# Builtins whose result is a new list (or tuple, dict, set) of the items of their argument.
_ITEM_COPIES = {builtins.list, builtins.tuple, builtins.dict, builtins.set, builtins.sorted, builtins.frozenset}
# Helpers of the normal form whose result is a new list or dict; and ``tangent_zeros``, whose result
# (zeros with its argument's structure) is always new, as generated tangent code starts its lists.
FRESH_CONTAINER_HELPERS = {with_item, concatenated, dict_keys, dict_values, tangent_zeros}


def _names(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)} if node is not None else set()


class ContainerAliasTracker(AliasTracker):
    """``AliasTracker`` that also knows what lists and dicts hold. ``note_holds(container, elements)``;
    ``holders(version)``; ``note_container_write(...)`` and ``check_container_writes(block)``."""

    def __init__(self, params, resolve, current_block=lambda: None, enclosing_blocks=lambda: ()):
        super().__init__(params, resolve, current_block)
        self.enclosing_blocks = enclosing_blocks  # the blocks enclosing the statement normalized now
        self.held = []  # [container, element, blocks where element was rebound since] per holding
        self.snapshots = {}  # version -> containers it stands for a live view of (d.values(), reversed(ys))
        self.container_writes = []  # (ops of the write, container version, user's name, origin)
        self.nested_writes = []  # (ops of rows[i][j] = v, container version, user's name, its temporaries, origin)

    @property
    def contents(self):
        """Container version -> the versions it may hold (at some point of the function)."""
        out = {}
        for container, element, _ in self.held:
            out.setdefault(container, set()).add(element)
        return out

    # -- what containers hold -------------------------------------------------------------------------

    def note_holds(self, container, elements):
        """``container`` holds (or may hold) each of ``elements`` (versions), and what they hold is
        reachable through it."""
        for element in elements:
            if element != container:
                self.held.append([container, element, set()])

    def bind(self, version, shared, provenance):
        # What the containers held was the old value: from here to the end of this block, ``version``
        # holds a new one that they do not hold.
        super().bind(version, shared, provenance)
        block = self.current_block()
        for holding in self.held:
            if holding[1] == version:
                holding[2].add(block)

    def note_snapshot(self, version, containers):
        """``version`` is a list the normal form made where Python keeps a live view of ``containers``:
        a later write into one of them is seen through the view."""
        self.snapshots.setdefault(version, set()).update(containers)

    def holders(self, version, here=True):
        """The containers that may hold ``version``, directly or through other containers: at the statement
        normalized now (``here``), or anywhere in the function."""
        enclosing = set(self.enclosing_blocks()) if here else set()
        found, todo = set(), [version]
        while todo:
            item = todo.pop()
            for container, element, rebound_in in self.held:
                if element == item and container not in found and not rebound_in & enclosing:
                    found.add(container)
                    todo.append(container)
        return found

    def sharers_and_holders(self, version):
        """The versions that share ``version``'s memory or may hold it (and those that share theirs)."""
        shared = set(self.sharers(version))
        for holder in self.holders(version):
            shared |= self.sharers(holder)
        return shared

    def is_fresh_and_unshared(self, version):
        return super().is_fresh_and_unshared(version) and not self.holders(version)

    def related(self, version):
        seen = set(super().related(version))
        todo = list(seen)
        while todo:
            item = todo.pop()
            for other in self.holders(item, here=False) | self.contents.get(item, set()):
                for linked in super().related(other) - seen:
                    seen.add(linked)
                    todo.append(linked)
        return seen

    def made_by(self, value):
        if isinstance(value, gast.Call) and any(self.resolve(value.func) is f for f in FRESH_CONTAINER_HELPERS):
            return "fresh"
        return super().made_by(value)

    def record_aliases(self, version, value):
        super().record_aliases(version, value)
        self.note_holds(version, self.held_by_value(value))

    def held_by_value(self, value):
        """The versions a container made by ``value`` (one operation on atoms) may hold."""
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            return _names(value)
        if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)) and any(
                isinstance(v, (gast.List, gast.Tuple)) or self.contents.get(getattr(v, "id", None))
                for v in (value.left, value.right)):
            held = set()
            for operand in (value.left, value.right):
                held |= _names(operand) if isinstance(operand, (gast.List, gast.Tuple)) else \
                    self.contents.get(getattr(operand, "id", None), set())
            return held
        if isinstance(value, gast.Call):
            fn = self.resolve(value.func)
            if fn is with_item:
                container, _, stored = value.args
                return self.contents.get(getattr(container, "id", None), set()) | _names(stored)
            if fn is dict_keys:
                return set()
            if any(fn is f for f in _ITEM_COPIES) or fn is concatenated or fn is dict_values:
                held = set()
                for arg in value.args:
                    name = getattr(arg, "id", None)
                    # A list of a list holds its items; of an array, its rows (views of it). The operands of
                    # ``concatenated`` are lists: one made here (``ys = []``) holds only what was put in it.
                    if name in self.contents or fn is concatenated and self.provenance.get(name) == "fresh":
                        held |= self.contents.get(name, set())
                    else:
                        held |= _names(arg)
                return held
        return set()

    # -- writes into containers -----------------------------------------------------------------------

    def note_container_write(self, ops, container, user_name, origin):
        self.container_writes.append((ops, container, user_name, origin, self.seen_through(container, here=True)))

    def seen_through(self, container, here):
        """The other names through which a change of ``container`` is seen: those bound to it, the
        containers holding it, and the snapshots standing for views of them."""
        others = set()
        for version in {container} | self.holders(container, here=here):
            others |= self.sharers(version) | {version}
        others |= {view for view, sources in self.snapshots.items() if sources & others}
        others.discard(container)
        return others

    def note_nested_write(self, ops, container, user_name, temps, origin):
        self.nested_writes.append((ops, container, user_name, set(temps), origin))

    def check_nested_writes(self, block):
        """Refuse each ``rows[i][j] = v`` after which a name that may refer to a list or dict inside
        ``rows`` is read before it is bound again (nested_writes.py)."""
        for ops, container, user_name, temps, origin in self.nested_writes:
            own = {v for v, n in self.user_names.items() if n == user_name} | {container} | temps
            held, todo = set(), [container]
            while todo:  # what it holds, at every depth
                for element in self.contents.get(todo.pop(), set()) - held:
                    held.add(element)
                    todo.append(element)
            others = references(block, own | held, self.resolve, exempt=temps) - own
            walked = enclosing_loop_sources(block, ops[-1]) & (others | own) - temps
            if walked:
                raise NestedWriteError(
                    f"autodiff_st cannot differentiate this write into an element of an element of "
                    f"`{user_name}` inside a loop that walks `{user_name}` (or what it holds): Python's loop "
                    "would meet the changed lists in later iterations, which the compiler does not follow.",
                    origin=origin, hint=f"Loop over the positions: `for i in range(len({user_name})):`.")
            read = sorted(read_before_rebound(block, ops[-1], others))
            if read:
                other = self.user_names.get(read[0], read[0])
                raise NestedWriteError(
                    f"autodiff_st cannot differentiate this write into an element of an element of "
                    f"`{user_name}`: `{other}` may refer to a list or dict inside `{user_name}` and is read "
                    "after the write, so Python would show the write through it too, which the derivative "
                    "would not follow.", origin=origin,
                    hint=f"Read it again after the write (`{other} = {user_name}[i]`), or copy before writing.")

    def check_container_writes(self, block):
        """Refuse each write into a list or dict that another name read afterwards refers to: Python would
        show the write through it, and the normal form wrote a new container. Who refers to it is taken
        when the write is seen, and, for a write inside a loop, from what the loop binds later too (the
        next iteration runs the write again)."""
        self.check_nested_writes(block)
        for ops, container, user_name, origin, others in self.container_writes:
            loop = _outermost_loop(block, ops[-1])
            if loop is not None:
                in_loop = {t for op in walk_ops(loop.body) for t in _bound_names(op)} | set(loop.targets)
                others = others | (self.seen_through(container, here=False) & in_loop)
            read = sorted(_reads_after(block, ops[-1]) & others)
            if read:
                other = self.user_names.get(read[0], read[0])
                how = "holds" if read[0] in self.holders(container, here=False) else "refers to"
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate this write into `{user_name}`: `{other}` also {how} "
                    f"that {'dict' if _is_dict_write(ops) else 'list or dict'}, and is read later, so Python "
                    "would show the write through it too, which the derivative would not follow.",
                    origin=origin,
                    hint=f"Copy before writing (`{user_name} = {user_name}.copy()`), or build the new list or "
                         "dict under a name of its own.")


def _bound_names(op):
    return (op.target,) if isinstance(op.target, str) else tuple(op.target or ())


def _outermost_loop(block, op):
    """The outermost loop of the normal form ``block`` whose body holds ``op``, or None."""
    for node in block:
        if isinstance(node, Loop) and any(o is op for o in walk_ops(node.body)):
            return node
        if isinstance(node, If):
            found = _outermost_loop(node.body, op) or _outermost_loop(node.orelse, op)
            if found is not None:
                return found
    return None


def _is_dict_write(ops):
    return any(isinstance(op.value, gast.Call) and len(op.value.args) == 3 and isinstance(op.value.args[1], gast.Constant)
               and isinstance(op.value.args[1].value, str) for op in ops)


def _reads_after(block, write):
    """The names the normal form ``block`` may read after the op ``write`` runs: by the ops that follow it,
    and by every op, loop header and condition of a loop enclosing it (its next iteration)."""
    reads = set()

    def everything(nodes):
        for node in nodes:
            if isinstance(node, Op):
                reads.update(_names(node.value) | _names(node.stored) | (
                    {node.target} if node.kind in ("setitem", "append") else set()))
            elif isinstance(node, If):
                reads.add(node.test)
                everything(node.body)
                everything(node.orelse)
            elif isinstance(node, Loop):
                for source in node.sources + node.range_args:
                    reads.update(_names(source))
                everything(node.body)

    def contains(nodes):
        for node in nodes:
            if node is write:
                return True
            if isinstance(node, If) and (contains(node.body) or contains(node.orelse)):
                return True
            if isinstance(node, Loop) and contains(node.body):
                return True
        return False

    def visit(nodes):
        """Reads after ``write`` within ``nodes``; True once the write has been passed."""
        passed = False
        for node in nodes:
            if passed:
                everything([node])
                continue
            if node is write:
                passed = True
            elif isinstance(node, If) and (contains(node.body) or contains(node.orelse)):
                visit(node.body if contains(node.body) else node.orelse)
                passed = True
            elif isinstance(node, Loop) and contains(node.body):
                everything([node])  # the next iteration reads everything the loop reads
                passed = True
        return passed

    visit(block)
    return reads
