"""Loop checkpointing: a long loop's forward pass keeps the values it carries at the start of each
segment of iterations, not every iteration's values; the backward pass runs each segment forward again
(taping it), then backward, last segment first.

The reverse transform (reverse.py) has written the loop's forward statement, with its pushes, and its
backward statement; ``checkpoint_loops`` rewrites them when a transform asks for a policy
(``ad.grad(f, checkpoint="auto")``, see core/checkpoint.py). For a loop over ``range`` the forward pass
becomes

    every = checkpoint_every(len(t_values), policy)
    step = 0
    for t in t_values:
        if checkpoint_due(step, every):
            tape.append((step, h, ...))          # the values the iteration starts from
        step += 1
        ...the body, without its pushes...
    tape.append((step, every))

and its backward pass

    end, every = tape.pop()
    for segment in range(checkpoint_segments(end, every)):
        start, h, ... = tape.pop()
        for t in t_values[start:end]:            # this segment again, taped
            ...the body, with its pushes...
        for t in reversed_range(t_values[start:end]):
            ...the backward body...
        end = start

A while loop counts its steps the same way (its segments start at iterations 0, 1, 4, 9, ... under
the "sqrt" policy, since its length is not known when it starts). The snapshots go on the tape itself:
the backward pass pops them in the order a tape pops, so nothing else changes, and ``vjp`` functions,
which pop from a copy of the tape, can run again.

A loop is checkpointed when it sits at the top of the function, is a ``range`` or ``while`` loop, holds no
other loop, and writes into no array or list (``y[i] = v``, ``append``, ``pop``): the values its
iterations start from are then names, restored by rebinding them. Other loops keep their tape, as
without a policy; ``ad.source`` shows which loops were checkpointed.
"""

import copy

import gast

import autodiff_st.runtime as runtime
from .ir import Loop, walk_loops, walk_ops
from .liveness import upward_exposed


def checkpoint_loops(reverse, forward, backward, policy):
    """``(forward, backward, restored)``: the statements with each loop that can be checkpointed rewritten,
    and the names the backward pass now restores from snapshots."""
    facts = reverse.facts
    restored = set()
    if policy is None or facts.weights is not None:
        return forward, backward, restored
    for loop in facts.body:
        if not isinstance(loop, Loop) or not _eligible(facts, loop):
            continue
        f_index = _find(forward, loop)
        b_index = _find(backward, loop)
        if f_index is None or b_index is None:
            continue
        rewritten = _rewrite(reverse, forward, f_index, backward[b_index], loop, policy)
        if rewritten is None:
            continue
        before, after, replacement, state = rewritten
        forward = forward[:f_index] + before + [forward[f_index]] + after + forward[f_index + 1:]
        backward = backward[:b_index] + replacement + backward[b_index + 1:]
        restored |= state
    return forward, backward, restored


def _eligible(facts, loop):
    if loop.kind != "while" and id(loop) not in facts.range_values:
        return False
    if any(True for _ in walk_loops(loop.body)):
        return False
    ops = list(walk_ops(facts.header_ops.get(id(loop), []) + loop.body))
    return not any(op.kind in ("setitem", "append", "pop") for op in ops)


def _find(statements, loop):
    for i, stmt in enumerate(statements):
        if getattr(stmt, "loop_of", None) == id(loop):
            return i
    return None


def _stored(nodes):
    return {n.id for stmt in nodes for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _rewrite(reverse, forward, f_index, b_stmt, loop, policy):
    facts, namer, tape = reverse.facts, reverse.namer, reverse.tape
    f_stmt = forward[f_index]
    taped = reverse.primal.taped
    stored = _stored(f_stmt.body)
    exposed, _ = upward_exposed(facts.header_ops.get(id(loop), []) + loop.body)
    state = sorted(((exposed | set(taped)) & stored) - {loop.count}, key=facts.liveness.first_assignment_order)
    # Every value a snapshot keeps must be bound when the loop starts.
    bound = set(facts.params) | set(taped)
    for stmt in forward[:f_index]:
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            bound |= _stored([stmt])
    if not set(state) <= bound:
        return None
    origin = loop.origin
    names = {key: namer.fresh(key) for key in ("step", "every", "end", "segment", "start")}
    helper = {fn.__name__: reverse.helper(fn, fn.__name__).id for fn in (
        runtime.checkpoint_every, runtime.checkpoint_due, runtime.checkpoint_segments, runtime.reversed_range)}
    helper["len"] = reverse.primal.call_builtin("len", []).func.id
    helper["range"] = reverse.primal.call_builtin("range", []).func.id
    kept = "(" + "".join(f"{n}, " for n in [names["step"]] + state) + ")"
    restored = "(" + "".join(f"{n}, " for n in [names["start"]] + state) + ")"
    values = facts.range_values.get(id(loop))
    count = f"{helper['len']}({values})" if values is not None else "None"

    def parsed(text):
        return [_tagged(stmt, origin) for stmt in gast.parse(text).body]

    before = parsed(f"{names['every']} = {helper['checkpoint_every']}({count}, {policy!r})\n{names['step']} = 0\n")
    replay = [stmt for stmt in copy.deepcopy(f_stmt.body) if not _counts(stmt, loop.count)]
    f_stmt.body = parsed(f"if {helper['checkpoint_due']}({names['step']}, {names['every']}):\n"
                         f"    {tape}.append({kept})\n"
                         f"{names['step']} += 1\n") + _without_pushes(f_stmt.body)
    after = parsed(f"{tape}.append(({names['step']}, {names['every']}))\n")
    if values is not None:
        part = f"{values}[{names['start']}:{names['end']}]"
        again = f"for {loop.targets[0]} in {part}:\n    pass\n"
        reverse_order = f"for {loop.targets[0]} in {helper['reversed_range']}({part}):\n    pass\n"
    else:
        target = b_stmt.target.id
        again = reverse_order = f"for {target} in {helper['range']}({names['start']}, {names['end']}):\n    pass\n"
    replacement = parsed(
        f"{names['end']}, {names['every']} = {tape}.pop()\n"
        f"for {names['segment']} in {helper['range']}({helper['checkpoint_segments']}({names['end']}, "
        f"{names['every']})):\n"
        f"    {restored} = {tape}.pop()\n"
        f"    {again.replace(chr(10), chr(10) + '    ')}"
        f"{reverse_order.replace(chr(10), chr(10) + '    ')}"
        f"{names['end']} = {names['start']}\n")
    replacement[0].pop_of = "checkpoint"
    segments = replacement[1]
    segments.body[0].pop_of = "checkpoint"
    segments.body[1].body = replay or [gast.Pass()]
    segments.body[2].body = b_stmt.body
    return before, after, replacement, set(state)


def _tagged(stmt, origin):
    for node in gast.walk(stmt):
        if isinstance(node, gast.stmt):
            node.origin = origin
    return stmt


def _counts(stmt, count):
    """Whether ``stmt`` is the loop's ``iterations += 1``, which its replay leaves out."""
    return isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name) and stmt.target.id == count


def _without_pushes(statements):
    out = []
    for stmt in statements:
        if getattr(stmt, "push_of", None) is not None:
            continue
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt.body = _without_pushes(stmt.body) or [gast.Pass()]
            stmt.orelse = _without_pushes(stmt.orelse)
        out.append(stmt)
    return out

