"""The tape: a plain Python list on which the forward pass keeps the values it overwrites.

The reverse transform writes a push (``tape.append(y)``) before an assignment that may overwrite a value
and a pop (``y = tape.pop()``) where the backward pass passes that assignment again. Each push and pop is
marked with the name it saves (``push_of``, ``pop_of``), so that, once the backward pass is written and
it is known which names it reads, ``resolve_pops`` keeps the pops of those names only.
"""

import copy

import gast
import numpy as np

from .ir import Op, load, store, walk_ops, walk_tree


def push(tape, value, name):
    stmt = gast.Expr(value=gast.Call(func=gast.Attribute(value=load(tape), attr="append", ctx=gast.Load()),
                                     args=[value], keywords=[]))
    stmt.push_of = name
    return stmt


def pop(tape, name, target=None):
    stmt = gast.Assign(targets=[target or store(name)], value=gast.Call(
        func=gast.Attribute(value=load(tape), attr="pop", ctx=gast.Load()), args=[], keywords=[]), type_comment=None)
    stmt.pop_of = name
    return stmt


def resolve_pops(statements, taped):
    """Keep the tape pops of the taped names; drop the others, and loops or branches left empty."""
    out = []
    for stmt in statements:
        if getattr(stmt, "pop_of", None) is not None and stmt.pop_of not in taped:
            continue
        if isinstance(stmt, gast.If):
            stmt.body = resolve_pops(stmt.body, taped)
            stmt.orelse = resolve_pops(stmt.orelse, taped)
            if not stmt.body and not stmt.orelse:
                continue
            stmt.body = stmt.body or [gast.Pass()]
        elif isinstance(stmt, gast.For):
            stmt.body = resolve_pops(stmt.body, taped)
            if not stmt.body:
                continue
        out.append(stmt)
    return out


def choose_taped(backward, also_read, may_be_overwritten):
    """(the names that go on the tape, the backward pass with the other pops dropped, the names it reads).

    A value goes on the tape when it may be overwritten and the backward pass reads it. Dropping the pops
    of other values can empty a branch, whose condition is then read no more: repeat to a fixed point.
    """
    taped = None
    while True:
        read = set()
        for stmt in backward + also_read:
            for node in walk_tree(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                    read.add(node.id)
        now = may_be_overwritten & read
        backward = resolve_pops(backward, now)
        if now == taped:
            return taped, backward, read
        taped = now


def own_copy(name, origin, restored_copy):
    """``name = restored_copy(name)``: the backward pass writes old elements back into an array or list
    restored from the tape, so it works on a copy, and leaves the forward pass's (read again by a second
    vjp_fn call, or returned) as it was. ``restored_copy`` (the name of ``runtime.restored_copy``) keeps
    None, the placeholder of a name that was not bound yet (before a loop's first iteration, or on a path
    that did not bind it). One unconditional assignment of a new object, so that the generated code,
    differentiated again, is seen to own the array it writes into."""
    stmt = gast.Assign(targets=[store(name)], value=gast.Call(func=restored_copy, args=[load(name)], keywords=[]),
                       type_comment=None)
    stmt.origin = origin
    return stmt


# Cheap elementwise functions of one array whose value the backward pass computes again rather than tapes.
CHEAP = frozenset({np.sin, np.cos, np.tan, np.exp, np.tanh, np.sinh, np.cosh, np.square, np.sqrt, np.log,
                   np.negative, np.abs})


def recompute_cheap(backward, facts):
    """Values the backward pass recomputes instead of taping: ``(backward, names)``.

    In a loop ``v = np.sin(a)`` then, later in the same iteration, ``a = ...``: taping both keeps two arrays
    per iteration, where ``a``'s old value alone gives ``v`` again. The backward pass restores ``a``
    (``a = tape.pop()``); when nothing between the first read of ``v`` and that restore reads or binds
    ``a`` or pops the tape, the restore moves up to just before that read, followed by ``v = np.sin(a)``,
    and ``v`` leaves the tape. Only for ``v`` bound nowhere else, and ``a`` bound once in the loop, both
    at the top of its body (every iteration runs them).
    """
    liveness = facts.liveness
    bindings = {}
    for op in liveness.ops:
        for name in liveness.binds(op):
            bindings[name] = bindings.get(name, 0) + 1
    by_loop = {}
    for node in backward:
        for stmt in walk_tree(node):
            if isinstance(stmt, gast.For) and getattr(stmt, "loop_of", None) is not None:
                by_loop[stmt.loop_of] = stmt
    recomputed = set()
    for loop in facts.loops:
        reversed_loop = by_loop.get(id(loop))
        if reversed_loop is None:
            continue
        top = [node for node in loop.body if isinstance(node, Op)]
        for i, op in enumerate(top):
            source = _cheap_source(op, facts)
            if source is None or bindings.get(op.target) != 1 or op.target in facts.params:
                continue
            later = [q for q in top[i + 1:] if source in liveness.binds(q)]
            in_loop = sum(source in liveness.binds(q) for q in walk_ops(loop.body))
            if len(later) != 1 or in_loop != 1 or later[0].kind != "assign" or source in loop.targets \
                    or source in liveness.written_in_place:
                continue
            if _move_restore(reversed_loop, op, source):
                recomputed.add(op.target)
    return backward, recomputed


def _cheap_source(op, facts):
    """``a`` where ``op`` is ``v = f(a)`` with ``f`` in CHEAP, else None."""
    if op.kind != "assign" or not isinstance(op.value, gast.Call) or op.value.keywords or len(op.value.args) != 1:
        return None
    callee = facts.callees.get(id(op))
    if callee is None or callee.kind != "rule" or not any(callee.obj is f for f in CHEAP):
        return None
    arg = op.value.args[0]
    return arg.id if isinstance(arg, gast.Name) else None


def _move_restore(reversed_loop, op, source):
    body = reversed_loop.body
    value = op.target
    restore = next((i for i, stmt in enumerate(body) if getattr(stmt, "pop_of", None) == source), None)
    if restore is None:
        return False
    first_read = next((i for i, stmt in enumerate(body) if value in _loads(stmt)), None)
    if first_read is None:
        return False
    between = body[first_read:restore] if first_read < restore else []
    for stmt in between:
        names = {n.id for n in walk_tree(stmt) if isinstance(n, gast.Name)}
        if source in names or value in _stores(stmt) or any(
                getattr(n, "pop_of", None) is not None for n in walk_tree(stmt)):
            return False
    again = gast.Assign(targets=[store(value)], value=copy.deepcopy(op.value), type_comment=None)
    again.origin = op.origin
    popped = body[restore]
    rest = [stmt for j, stmt in enumerate(body) if j != restore]
    at = min(first_read, restore)
    reversed_loop.body = rest[:at] + [popped, again] + rest[at:]
    return True


def _loads(stmt):
    return {n.id for n in walk_tree(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _stores(stmt):
    return {n.id for n in walk_tree(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
