"""Hoist loop-invariant slices of array arguments out of loops.

A loop body that reads ``x[1:]`` or ``x[0:1]`` of an array argument ``x`` makes the same view on every
iteration: the forward pass slices and tapes it each time, and the backward pass adds each iteration's
cotangent into ``x_bar`` through ``accumulate_index``. Bound once before the loop, the view is neither
sliced nor taped per iteration, its cotangent is summed by plain ``+`` across the iterations, and one
``accumulate_index`` after the loop puts it into ``x_bar``.

Only what cannot change the function's behaviour moves:

- the sliced name is an argument the call passes an ndarray for (the compiled code is keyed on that),
  never bound again in the function, with no element write, ``out=`` or in-place method anywhere in the
  function (so no view of it changes either);
- the index is a slice, or a tuple of at most ``x.ndim`` slices, whose bounds are constants or names the
  loop does not bind: slicing an ndarray so never raises, even for a loop that runs zero times;
- the view's name is bound once in the whole function, at the top level of the loop body, and read
  nowhere but later in that body.
"""

import gast

from .activity import IN_PLACE_FUNCTIONS, IN_PLACE_METHODS
from .ir import If, Loop, Op, walk_loops, walk_ops
from .ops import targets as _targets


_IN_PLACE_NAMES = {fn.__name__ for fn in IN_PLACE_FUNCTIONS}


def hoist_invariant_slices(body, array_params):
    """``body`` (a normal-form block) with the invariant slices of its loops bound before them."""
    ops = list(walk_ops(body))
    if not array_params or not any(True for _ in walk_loops(body)) or any(_writes_in_place(op) for op in ops):
        return body
    bindings, reads = {}, {}
    for op in ops:
        for target in _targets(op):
            bindings[target] = bindings.get(target, 0) + 1
    for loop in walk_loops(body):
        for target in list(loop.targets) + [loop.index, loop.count]:
            if target:
                bindings[target] = bindings.get(target, 0) + 1
    for name in _names_read(body):
        reads[name] = reads.get(name, 0) + 1
    return _block(body, array_params, bindings, reads, nested=False)


def _block(nodes, array_params, bindings, reads, nested):
    out = []
    for node in nodes:
        if isinstance(node, Loop):
            node.body = _block(node.body, array_params, bindings, reads, nested=True)
            hoisted = _hoistable(node, array_params, bindings, reads)
            for op in hoisted:
                op.nested = nested
            node.body = [n for n in node.body if not any(n is op for op in hoisted)]
            out += hoisted
        elif isinstance(node, If):
            node.body = _block(node.body, array_params, bindings, reads, nested=True)
            node.orelse = _block(node.orelse, array_params, bindings, reads, nested=True)
        out.append(node)
    return out


def _hoistable(loop, array_params, bindings, reads):
    bound_in_loop = {t for op in walk_ops(loop.body) for t in _targets(op)} | set(loop.targets)
    bound_in_loop |= {n for n in (loop.index, loop.count) if n}
    chosen = []
    for position, node in enumerate(loop.body):
        if not (isinstance(node, Op) and node.kind == "assign" and isinstance(node.target, str)):
            continue
        value = node.value
        if not (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name)):
            continue
        base = value.value.id
        kind = array_params.get(base)
        if kind is None or base in bindings or bindings.get(node.target, 0) != 1:
            continue
        slices = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if not (0 < len(slices) <= kind[0]) or not all(_invariant_slice(s, bound_in_loop) for s in slices):
            continue
        later = sum(1 for name in _names_read(loop.body[position + 1:]) if name == node.target)
        if later != reads.get(node.target, 0):  # read before it is bound, or after the loop
            continue
        chosen.append(node)
    return chosen


def _invariant_slice(node, bound_in_loop):
    if not isinstance(node, gast.Slice):
        return False
    return all(_invariant_bound(b, bound_in_loop) for b in (node.lower, node.upper, node.step))


def _invariant_bound(node, bound_in_loop):
    if node is None:
        return True
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        node = node.operand
    if isinstance(node, gast.Constant):
        return type(node.value) is int
    return isinstance(node, gast.Name) and node.id not in bound_in_loop


def _names_read(nodes):
    """Every name read in a normal-form block (once per place), nested blocks and their tests included."""
    for node in nodes:
        if isinstance(node, Op):
            for tree in (node.value, node.stored):
                if tree is not None:
                    yield from (n.id for n in gast.walk(tree) if isinstance(n, gast.Name))
        elif isinstance(node, If):
            yield node.test
            yield from _names_read(node.body)
            yield from _names_read(node.orelse)
        elif isinstance(node, Loop):
            for tree in list(node.sources) + list(node.range_args or []):
                yield from (n.id for n in gast.walk(tree) if isinstance(n, gast.Name))
            yield from _names_read(node.body)


def _writes_in_place(op):
    """Whether ``op`` may write into an array: an element write, the sharing check before an in-place
    update, a call with ``out=``, or an in-place method."""
    if op.kind in ("setitem", "unshared"):
        return True
    for node in gast.walk(op.value):
        if isinstance(node, gast.Call):
            if any(k.arg == "out" for k in node.keywords):
                return True
            if isinstance(node.func, gast.Attribute) and node.func.attr in IN_PLACE_METHODS | _IN_PLACE_NAMES:
                return True
            if isinstance(node.func, gast.Name) and node.func.id in _IN_PLACE_NAMES:
                return True
    return False
