"""Writes into an element of an element of a list or dict: ``rows[i][j] = v``, ``d["a"]["b"] += v``.

Python changes the inner list ``rows[i]`` in place. The normal form writes new containers, from the
inside out (normalize_collections.py):

    check_item_to_write(rows, i, "rows[i][j] = v")   # run-time check, runtime/nested_items.py
    row = rows[i]
    row_2 = with_item(row, j, v)
    rows_2 = with_item(rows, i, row_2)

That is Python's program when nothing else sees the old inner list. Three facts prove it:

- statically, every list or dict ``rows`` may hold at the written depth is made in the function: a
  display written in ``rows``'s own display (``[[0.0, 0.0], [0.0, 0.0]]``), or a name bound to a new
  list or dict (a display, ``list(...)``, ``[0.0] * n``, a comprehension's, an earlier write's), put into
  ``rows`` by its display, ``append``, ``+`` or an element write. A list that came from an argument, a
  call or a copy (``list(other)`` holds ``other``'s rows) is refused;
- statically, no other name that may refer to an inner list (``r = rows[0]``, ``for r in rows``, a name
  whose list was put into ``rows``, anything computed from those except numbers made by numpy) is read
  after the write before it is bound again; the names of the container itself (``rows``) are the
  write's own. ``check_nested_writes`` refuses the rest, quoting the line;
- at run time, no other position of ``rows`` holds the same inner list (``[[0.0] * n] * n`` holds one
  list n times): ``check_item_to_write``.
"""

import gast
import numpy as np

from ..core.errors import UnsupportedSyntaxError
from .ir import If, Loop, Op


class NestedWriteError(UnsupportedSyntaxError):
    """A write into an element of an element (``rows[0][1] = v``) the compiler cannot prove is Python's."""


def _names(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)} if node is not None else set()


def _bound(op):
    if isinstance(op.target, str):
        return {op.target}
    return set(op.target or ())


def _reads(op):
    return _names(op.value) | _names(op.stored) | ({op.target} if op.kind in ("setitem", "append") else set())


def references(block, start, resolve, exempt):
    """The versions that may refer to a list or dict held (at any depth) by the versions ``start``:
    bound from them by anything but a numpy function's new array, a comparison or a constant, and
    what is bound from those in turn. Versions in ``exempt`` pass nothing on."""
    tainted = set(start)
    changed = True
    while changed:
        changed = False
        for node in _nodes(block):
            if isinstance(node, Loop):
                if _names_of_all(node.sources) & tainted:
                    new = set(node.targets) - tainted
                    if new:
                        tainted |= new
                        changed = True
                continue
            op = node
            if op.kind not in ("assign", "unpack", "pop", "append") or not (_reads(op) & (tainted - exempt)):
                continue
            if op.kind == "assign" and _makes_no_reference(op.value, resolve):
                continue
            new = _bound(op) - tainted
            if new:
                tainted |= new
                changed = True
    return tainted


def _names_of_all(nodes):
    out = set()
    for n in nodes:
        out |= _names(n)
    return out


def _nodes(block):
    for node in block:
        if isinstance(node, Op):
            yield node
        elif isinstance(node, If):
            yield from _nodes(node.body)
            yield from _nodes(node.orelse)
        elif isinstance(node, Loop):
            yield node
            yield from _nodes(node.body)


def _makes_no_reference(value, resolve):
    """Whether ``value`` certainly holds no list or dict it reads: a comparison, or a numpy array or
    number made by a numpy function (``np.array(rows)`` copies)."""
    if isinstance(value, (gast.Compare, gast.Constant)):
        return True
    if isinstance(value, gast.Call):
        fn = resolve(value.func)
        module = getattr(fn, "__module__", None) or ""
        return isinstance(fn, np.ufunc) or module == "numpy" or module.startswith("numpy.")
    return False


def read_before_rebound(block, write, names):
    """The names of ``names`` that the normal form ``block`` may read after the op ``write`` runs, before
    they are bound again: by the ops that follow it, by the next iteration of each loop enclosing it (its
    headers included), and after those loops."""
    path = _path_to(block, write)
    if path is None:  # pragma: no cover - the write is in the block
        return set(names)
    found = set()
    pending = set(names)
    # path: [(nodes, index)] from the outermost block to the write's own
    for depth in range(len(path) - 1, -1, -1):
        nodes, index = path[depth]
        pending = _scan(nodes[index + 1:], pending, found, kill=True)
        owner = path[depth - 1][0][path[depth - 1][1]] if depth > 0 else None
        if isinstance(owner, Loop):
            again = set(pending) - set(owner.targets)
            found |= _names_of_all(owner.sources + owner.range_args) & again
            again = _scan(nodes[:index], again, found, kill=True)
            _scan(nodes[index:index + 1], again, found, kill=False)  # the write's own part, to the write
    return found


def enclosing_loop_sources(block, write):
    """The names the loops enclosing the op ``write`` walk (their sources)."""
    names = set()
    for nodes, index in _path_to(block, write) or ():
        if isinstance(nodes[index], Loop):
            names |= _names_of_all(nodes[index].sources)
    return names


def _scan(nodes, pending, found, kill):
    """Walk ``nodes`` in order: a read of a pending name is found; a binding ends that name's watch for
    what follows it in its block, and, with ``kill``, for the caller too. Returns the names still
    pending."""
    pending = set(pending)
    for node in nodes:
        if isinstance(node, Op):
            found |= _reads(node) & pending
            pending -= _bound(node)
        elif isinstance(node, If):
            found |= {node.test} & pending
            _scan(node.body, pending, found, kill=False)
            _scan(node.orelse, pending, found, kill=False)
        elif isinstance(node, Loop):
            found |= _names_of_all(node.sources + node.range_args) & pending
            _scan(node.body, pending - set(node.targets), found, kill=False)
    return pending if kill else None


def _path_to(nodes, target):
    for i, node in enumerate(nodes):
        if node is target:
            return [(nodes, i)]
        parts = [node.body, node.orelse] if isinstance(node, If) else [node.body] if isinstance(node, Loop) else []
        for part in parts:
            inner = _path_to(part, target)
            if inner is not None:
                return [(nodes, i)] + inner
    return None
