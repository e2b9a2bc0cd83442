"""The primal: the user's own statements, as the generated code of either transform runs them.

Reads the normal form and its ``Facts`` (the lowered loop headers, the range loops, the counts that need
no counting). Produces gast statements with the shape of the user's code: ``if`` for ``If``, a ``for`` or
``while True`` with an iteration count for ``Loop``, one statement per op. Each transform decides what
goes around each op (``per_op``): the reverse transform pushes overwritten values on the tape and calls
the user's functions through ``call_vjp_forward``; the forward transform adds the op's tangent.

``Writer`` is the little both transforms and the backward pass share: the facts, the namer and the names
of the run-time helpers generated code calls.
"""

import builtins
import copy
import os

import gast

import autodiff_st.runtime as runtime
from .ir import Break, If, Loop, Op, load, store
from .ops import breaks, tag
from .raising import range_cannot_raise
from .tape import push


class Writer:
    """Writes generated statements about one function: ``helper(obj, name)`` loads a run-time helper
    (or module) under the name the generated code knows it by."""

    def __init__(self, facts, namer, helpers):
        self.facts = facts
        self.namer = namer
        self.helpers = helpers

    def helper(self, obj, name):
        return load(self.helpers.name_for(obj, name))

    def call_builtin(self, name, args):
        return gast.Call(func=self.helper(getattr(builtins, name), name), args=list(args), keywords=[])


class Primal(Writer):
    """Writes the primal statements of a block. ``per_op(op)`` gives the statements for one op (it may
    call ``statement(op)`` for the op itself); ``loop_prologue(loop)`` gives statements that start each
    iteration of a for loop; ``taped`` holds the loop targets whose old values go on the tape, which the
    for statement then binds under their ``next_names``, and the ranges of inner loops whose old values
    go on the list ``ranges``."""

    def __init__(self, facts, namer, helpers, per_op, loop_prologue=None):
        super().__init__(facts, namer, helpers)
        self.per_op = per_op
        self.loop_prologue = loop_prologue
        self.taped = frozenset()
        self.ranges = None

    def block(self, nodes):
        out = []
        for node in nodes:
            if isinstance(node, Op):
                out.extend(self.per_op(node))
            elif isinstance(node, If):
                stmt = tag(gast.If(test=load(node.test), body=self.block(node.body) or [gast.Pass()],
                                   orelse=self.block(node.orelse)), node.origin)
                if node.guard is not None:
                    # The test holds what the with or try statement reads, so that later passes see it.
                    stmt.guard = self.guard(node)
                    if stmt.guard[0] in ("with", "try"):
                        stmt.test = stmt.guard[1] if stmt.guard[0] == "with" else stmt.guard[1].type
                out.append(stmt)
            elif isinstance(node, Loop):
                out.extend(self.loop(node))
            elif isinstance(node, Break):
                out.append(tag(gast.Break(), node.origin))
        return out

    def guard(self, node):
        """What emit turns the ``if`` of a ``with`` block or ``try`` statement into (see ``ir.If``): the
        context manager wrapped in ``guarded_context``, or the ``except`` clause that refuses a catch."""
        kind = node.guard[0]
        where = gast.Constant(value=f"{os.path.basename(node.origin.filename)}:{node.origin.lineno}"
                              if node.origin else "?", kind=None)
        if kind == "with":
            return kind, gast.Call(func=self.helper(runtime.guarded_context, "guarded_context"),
                                   args=[copy.deepcopy(node.guard[1]), where], keywords=[])
        if kind == "try":
            error = self.namer.fresh("error")
            refuse = gast.Raise(exc=gast.Call(func=self.helper(runtime.caught_in_try, "caught_in_try"),
                                              args=[load(error), where], keywords=[]), cause=load(error))
            return kind, gast.ExceptHandler(type=copy.deepcopy(node.guard[1]), name=store(error), body=[tag(
                refuse, node.origin)])
        return (kind,)

    def loop(self, loop):
        """The statements of a loop: the for (or while) statement, after its range where it keeps one."""
        facts = self.facts
        increment = tag(gast.AugAssign(target=store(loop.count), op=gast.Add(),
                                       value=gast.Constant(value=1, kind=None)), loop.origin)
        body = [increment]
        if loop.kind == "while":
            body += self.block(loop.body)
            return [_loop_of(tag(gast.While(test=gast.Constant(value=True, kind=None), body=body, orelse=[]),
                                 loop.origin), loop)]
        prologue = self.loop_prologue(loop) if self.loop_prologue else []
        header = facts.header_ops[id(loop)]
        mine = {name: next_name for (loop_id, name), next_name in facts.next_names.items() if loop_id == id(loop)}
        copies = [op for op in header if isinstance(op.value, gast.Name) and op.value.id in mine.values()]

        def iterated(name):  # what the for statement assigns: the name itself, or its "next" name if taped
            return mine[name] if name in self.taped else name

        if id(loop) in facts.range_values:
            values = facts.range_values[id(loop)]
            before = tag(gast.Assign(targets=[store(values)], value=self.call_builtin("range", loop.range_args),
                                     type_comment=None), loop.origin)
            before.pure = range_cannot_raise(facts, loop.range_args)  # range(2.5) raises: then it runs
            saved = []
            if values in self.taped and id(loop) in facts.liveness.reentered:
                saved = [tag(push(self.ranges, load(values), values), loop.origin)]
            if not breaks(loop.body):
                body = []  # it runs the whole range: the backward pass needs no count
            body += self.block(loop.body)
            statement = _loop_of(tag(gast.For(target=store(loop.targets[0]), iter=load(values), body=prologue + body,
                                              orelse=[], type_comment=None), loop.origin), loop)
            statement.iter_cannot_raise = True  # a range object
            return saved + [before, statement]
        if loop.range_args:
            iterable = self.call_builtin("range", loop.range_args)
            names = [iterated(loop.targets[0])]
        elif loop.indexed:
            lengths = [self.call_builtin("len", [src]) for src in loop.sources]
            count = lengths[0] if len(lengths) == 1 else self.call_builtin("min", lengths)
            iterable = self.call_builtin("range", [count])
            names = [iterated(loop.index)]
        else:
            iterable = loop.sources[0] if len(loop.sources) == 1 else self.call_builtin("zip", loop.sources)
            names = ([iterated(loop.index)] if loop.index else []) + [iterated(t) for t in loop.targets]
            if loop.index:
                iterable = self.call_builtin("enumerate", [iterable])
        for op in header:
            if op in copies and op.target not in self.taped:
                continue  # the for statement assigns the name directly
            body.extend(self.per_op(op))
        body += self.block(loop.body)
        target = store(names[0]) if len(names) == 1 else gast.Tuple(elts=[store(t) for t in names], ctx=gast.Store())
        statement = tag(gast.For(target=target, iter=iterable, body=prologue + body, orelse=[], type_comment=None),
                        loop.origin)
        # Only a range of ints is certain to run: iterating anything else may raise, or run the user's code
        statement.iter_cannot_raise = bool(loop.range_args) and range_cannot_raise(facts, loop.range_args)
        return [statement]

    def statement(self, op, parts_copied=frozenset()):
        """The op itself as generated statements (none for a return, or for a count nobody reads).

        ``parts_copied`` holds the arrays written into element by element whose parts, when read, are
        copied (the reverse transform writes old elements back into those arrays).
        """
        origin = op.origin
        if op.kind == "return" or (op.kind == "assign" and op.target in self.facts.uncounted):
            return []
        if op.kind == "expr":
            return [tag(gast.Expr(value=op.value), origin)]
        if op.kind == "unshared":
            if not op.value.elts:
                return []
            check = self.helper(runtime.check_unshared, "check_unshared")
            return [tag(gast.Expr(value=gast.Call(func=check, args=list(op.value.elts), keywords=[])), origin)]
        if op.kind == "raise":
            exc, *cause = op.value.elts
            return [tag(gast.Raise(exc=exc, cause=cause[0] if cause else None), origin)]
        if op.kind == "assert":
            test, *msg = op.value.elts
            return [tag(gast.Assert(test=test, msg=msg[0] if msg else None), origin)]
        if op.kind == "append":
            append = gast.Attribute(value=load(op.target), attr="append", ctx=gast.Load())
            return [tag(gast.Expr(value=gast.Call(func=append, args=[op.stored], keywords=[])), origin)]
        if op.kind == "pop":
            stmt = tag(gast.Assign(targets=[store(op.target)], value=gast.Call(
                func=gast.Attribute(value=load(op.value.id), attr="pop", ctx=gast.Load()), args=[], keywords=[]),
                type_comment=None), origin)
            stmt.pop_of = None  # the user's (or a generated adjoint's) own pop, not a restore
            return [stmt]
        if op.kind == "setitem":
            element = gast.Subscript(value=load(op.target), slice=op.value.slice, ctx=gast.Store())
            return [tag(gast.Assign(targets=[element], value=op.stored, type_comment=None), origin)]
        target = store(op.target) if op.kind == "assign" else gast.Tuple(
            elts=[store(t) for t in op.target], ctx=gast.Store())
        value = op.value
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and value.value.id in parts_copied:
            # A part of an array written in place: a copy, since the backward pass reads it after
            # writing old elements back into a copy of the array.
            value = gast.Call(func=gast.Attribute(value=value, attr="copy", ctx=gast.Load()), args=[], keywords=[])
        stmt = tag(gast.Assign(targets=[target], value=value, type_comment=None), origin)
        stmt.pure = self.facts.is_pure(op)  # no effect but its result: may be dropped if nothing reads it
        return [stmt]


def _loop_of(stmt, loop):
    """Mark the statement of ``loop``, so that loop checkpointing (checkpoint_loops.py) finds it."""
    stmt.loop_of = id(loop)
    return stmt


def drop_unbroadcast(node, helpers):
    """``node`` with each ``unbroadcast(v, x)`` replaced by ``v``: where no operand is broadcast."""
    name = helpers.name_for(runtime.unbroadcast, "unbroadcast")

    class Drop(gast.NodeTransformer):
        def visit_Call(self, call):
            self.generic_visit(call)
            if isinstance(call.func, gast.Name) and call.func.id == name and len(call.args) == 2:
                return call.args[0]
            return call

    return Drop().visit(node)
