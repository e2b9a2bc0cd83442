"""The tape: a plain Python list on which the forward pass keeps the values it overwrites.

The reverse transform writes a push (``tape.append(y)``) before an assignment that may overwrite a value
and a pop (``y = tape.pop()``) where the backward pass passes that assignment again. Each push and pop is
marked with the name it saves (``push_of``, ``pop_of``), so that, once the backward pass is written and
it is known which names it reads, ``resolve_pops`` keeps the pops of those names only.
"""

import gast

from .ir import load, store


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
            for node in gast.walk(stmt):
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
