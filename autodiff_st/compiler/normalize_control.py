"""Control flow in the normal form: branches, loops, and jumps turned into flags.

An ``if`` becomes an ``If`` whose test is a name the branches do not change. A ``for`` or ``while``
becomes a ``Loop`` with an iteration counter; ``for`` loops over ``range``, ``zip`` and ``enumerate`` are
recognized, and a ``while`` loop's test becomes an ``If`` at the top of the body whose other branch is a
``Break``. That ``Break``, and one under an ``If`` on the loop's ``loop_broken`` flag at the end of
its body, are the only jumps left: ``break``, ``continue`` and a ``return`` inside a loop or a branch
set flags (``skip_rest``, ``loop_broken``, ``returned``), and the statements after a jump that may
happen run under an ``If`` on the flag.
"""

import builtins

import gast

from ..core.errors import UnsupportedSyntaxError
from .ir import Break, If, Loop, load
from .parsing import origin_of


class ControlFlowLowering:
    """The control-flow half of the statement walker, mixed into ``Normalizer``.

    It shares the normalizer's state: ``env``, ``namer``, ``sharing``, ``block``, ``depth``, ``loops``
    (the enclosing loops' flags, innermost last), ``nested_return``, ``returned`` and ``return_value``,
    and the methods ``statement``, ``emit``, ``nested``, ``new_version``, ``atom`` and ``resolve_static``.
    """

    def statements(self, stmts):
        """Normalize a block. Returns "always" if it always jumps out (break, continue, return),
        "maybe" if it may, and None if it never does."""
        for i, stmt in enumerate(stmts):
            jumps = self.statement(stmt)
            if jumps in ("always", "raise"):
                return jumps  # what follows in this block never runs
            if jumps == "maybe" and i + 1 < len(stmts):
                origin = origin_of(stmts[i + 1])
                skip = self.loops[-1]["skip"] if self.loops else self.returned
                go_on = self.namer.fresh(f"not_{skip}")
                self.emit("assign", go_on, gast.UnaryOp(op=gast.Not(), operand=load(skip)), origin)
                rest = []
                body = self.nested(lambda: rest.append(self.statements(stmts[i + 1:])))
                self.block.append(If(go_on, body, [], origin))
                return "maybe"
        return None

    def flag(self, base, value, origin):
        name = self.namer.fresh(base)
        self.emit("assign", name, gast.Constant(value=value, kind=None), origin)
        return name

    def set_flag(self, name, origin):
        self.emit("assign", name, gast.Constant(value=True, kind=None), origin)

    def jump(self, stmt, origin):
        """``break``, ``continue``, or a ``return`` inside a loop or a branch: set the flags that skip
        what follows, up to the end of the loop (or of the function)."""
        if isinstance(stmt, gast.Return):
            if isinstance(self.return_value, list):  # every return gives a tuple of this length
                for name, part in zip(self.return_value, stmt.value.elts):
                    self.emit("assign", name, self.atom(part, origin), origin)
            else:
                value = self.atom(stmt.value, origin) if stmt.value is not None else gast.Constant(value=None, kind=None)
                if isinstance(value, (gast.List, gast.Dict)):  # return [a, b] or {"k": v}: a new list or dict
                    value = load(self.into_temporary(value, origin))
                if not isinstance(value, (gast.Name, gast.Constant)):
                    raise UnsupportedSyntaxError(
                        "autodiff_st cannot return a tuple from inside a loop or a branch unless every return of "
                        "the function, the last statement included, gives a tuple of the same length.",
                        origin=origin,
                        hint="Return tuples of one length everywhere, ending the function with a return, or "
                             "assign the tuple's parts and return them at the end.")
                self.emit("assign", self.return_value, value, origin)
            self.set_flag(self.returned, origin)
            for loop in self.loops:
                self.set_flag(loop["skip"], origin)
                self.set_flag(loop["broke"], origin)
            return "always"
        loop = self.loops[-1]
        self.set_flag(loop["skip"], origin)
        if isinstance(stmt, gast.Break):
            self.set_flag(loop["broke"], origin)
        return "always"

    def condition(self, test, origin, changed_by):
        """Normalize a branch condition to a name that the branch bodies do not reassign."""
        atom = self.atom(test, origin)
        if isinstance(atom, gast.Name) and atom.id not in _assigned_names(changed_by, self.env):
            return atom.id
        name = self.namer.fresh("branch_taken" if not isinstance(atom, gast.Name) else f"{atom.id}_then")
        self.emit("assign", name, atom, origin)
        return name

    def if_statement(self, stmt, origin):
        test = self.condition(stmt.test, origin, stmt.body + stmt.orelse)
        results = []
        body = self.nested(lambda: results.append(self.statements(stmt.body)))
        orelse = self.nested(lambda: results.append(self.statements(stmt.orelse)))
        self.block.append(If(test, body, orelse, origin))
        if all(r in ("always", "raise") for r in results):  # a raise leaves the function: no flag to test
            return "raise" if all(r == "raise" for r in results) else "always"
        return "maybe" if any(r in ("always", "maybe") for r in results) else None

    def loop_statement(self, stmt, origin):
        kinds = _jump_kinds(stmt.body)
        returns = self.nested_return and _has_return(stmt.body)
        flags = {"skip": None, "broke": None}
        if "break" in kinds or returns:
            flags["broke"] = self.flag("loop_broken", False, origin)
        count = self.namer.fresh("iterations")
        self.emit("assign", count, gast.Constant(value=0, kind=None), origin)
        sources, range_args, index, targets = [], [], None, []
        if isinstance(stmt, gast.For):
            sources, range_args, index, targets = self.loop_header(stmt, origin)
        self.loops.append(flags)

        def build():
            if kinds or returns:
                flags["skip"] = self.flag("skip_rest", False, origin)
            if isinstance(stmt, gast.While):
                test = self.atom(stmt.test, origin)
                go_on = self.condition(test, origin, stmt.body)
                inner = self.nested(lambda: self.statements(stmt.body))
                self.block.append(If(go_on, inner, [Break(origin)], origin))
            else:
                self.statements(stmt.body)
            if flags["broke"] is not None:
                self.block.append(If(flags["broke"], [Break(origin)], [], origin))

        body = self.nested(build)
        self.loops.pop()
        self.block.append(Loop("while" if isinstance(stmt, gast.While) else "for", sources, range_args, index,
                               targets, body, count, origin))
        result = None
        if self.nested_return and _has_return(stmt.body):
            result = "maybe"
        if stmt.orelse:
            if flags["broke"] is not None:
                not_broken = self.namer.fresh(f"not_{flags['broke']}")
                self.emit("assign", not_broken, gast.UnaryOp(op=gast.Not(), operand=load(flags["broke"])), origin)
                orelse = self.nested(lambda: self.statements(stmt.orelse))
                self.block.append(If(not_broken, orelse, [], origin))
            else:
                result = self.statements(stmt.orelse) or result
        return result

    def loop_header(self, stmt, origin):
        """The sources, range arguments, index and targets of ``for target in iterable``."""
        it, target = self.loop_iterable(stmt.iter, origin), stmt.target  # normalize_collections.py

        def names(node):
            if isinstance(node, gast.Name):
                return [node.id]
            if isinstance(node, (gast.Tuple, gast.List)) and all(isinstance(e, gast.Name) for e in node.elts):
                return [e.id for e in node.elts]
            raise UnsupportedSyntaxError("autodiff_st cannot unpack this loop target.", origin=origin,
                                         hint="Loop over names, as in `for i, x in enumerate(xs)`.")

        def fn_is(node, builtin):
            return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
                and node.func.id not in self.env and self.resolve_static(node.func) is builtin \
                and not node.keywords

        index = None
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id not in self.env \
                and self.resolve_static(it.func) is builtins.enumerate and (len(it.args) > 1 or it.keywords):
            # a constant start was rewritten before (enumerate_start.py): this one is computed
            raise UnsupportedSyntaxError(
                "autodiff_st cannot differentiate enumerate with a start that is not a constant in a loop header.",
                origin=origin, hint="Give enumerate a constant start, such as 1, or add the start to the counter "
                                    "inside the loop.")
        if fn_is(it, builtins.enumerate) and len(it.args) == 1 and isinstance(target, gast.Tuple) \
                and len(target.elts) == 2 and isinstance(target.elts[0], gast.Name):
            index_name = target.elts[0].id
            inner_it, target = it.args[0], target.elts[1]
            index = index_name
            it = inner_it
        rebound = _assigned_names(stmt.body + [gast.Assign(targets=[stmt.target], value=gast.Constant(
            value=None, kind=None), type_comment=None)], self.env)

        def source(node):
            # Python evaluates the iterable once: if the loop rebinds its name, walk a copy of the reference.
            atom = self.named_atom(node, origin)  # a display is named: the loop reads its items by position
            if isinstance(atom, gast.Name) and atom.id in rebound:
                held = self.namer.fresh(f"{atom.id}_iterated")
                self.emit("assign", held, atom, origin)
                self.sharing.own(held, "unknown")
                return load(held)
            return atom

        if fn_is(it, builtins.zip):
            targets = names(target)
            if len(targets) != len(it.args):
                raise UnsupportedSyntaxError("the loop unpacks a different number of values than zip gives.",
                                             origin=origin)
            sources = [source(a) for a in it.args]
        elif fn_is(it, builtins.range) and index is None:
            return [], [self.atom(a, origin) for a in it.args], None, [self.loop_target(n) for n in names(target)]
        else:
            sources = [source(it)]
            targets = names(target)
            if len(targets) != 1:
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot unpack the items of this loop.", origin=origin,
                    hint="Loop over zip(...) or enumerate(...), or unpack inside the loop body.")
        return sources, [], self.loop_target(index) if index else None, [self.loop_target(n) for n in targets]

    def loop_target(self, user_name):
        self.depth += 1
        try:
            version = self.new_version(user_name)
        finally:
            self.depth -= 1
        self.env[user_name] = version
        self.sharing.own(version, "unknown")
        return version


def _walk_own(node):
    """Like gast.walk, but not into nested functions and lambdas: their returns are their own."""
    yield node
    for child in gast.iter_child_nodes(node):
        if not isinstance(child, (gast.FunctionDef, gast.Lambda)):
            yield from _walk_own(child)


def has_nested_return(fn_node):
    """Whether a ``return`` appears inside a loop, a branch or a ``with`` block (not only as the last
    statement): a ``with`` body is a guarded branch of the normal form (normalize_guards.py)."""
    for stmt in fn_node.body:
        if isinstance(stmt, (gast.If, gast.For, gast.While, gast.With)) and _has_return([stmt]):
            return True
    return False


def returned_tuple_arity(fn_node):
    """The length of the tuple that every ``return`` of the function gives, when they all give a tuple
    display of one length and the function ends with one of them (so no path falls off the end and
    returns None); otherwise None."""
    returns = [n for s in fn_node.body for n in _walk_own(s) if isinstance(n, gast.Return)]
    lengths = {len(r.value.elts) if isinstance(r.value, gast.Tuple) else None for r in returns}
    if len(lengths) != 1 or None in lengths or not _ends_with_return(fn_node.body):
        return None
    return lengths.pop()


def _ends_with_return(body):
    """Whether ``body`` ends with a ``return``, or with a ``with`` block whose body does (every ``with``
    runs its body)."""
    if not body:
        return False
    last = body[-1]
    return isinstance(last, gast.Return) or isinstance(last, gast.With) and _ends_with_return(last.body)


def _has_return(stmts):
    return any(isinstance(n, gast.Return) for s in stmts for n in _walk_own(s))


def _jump_kinds(stmts):
    """Which of "break" and "continue" appear in ``stmts``, outside any nested loop."""
    kinds = set()
    for stmt in stmts:
        if isinstance(stmt, gast.Break):
            kinds.add("break")
        elif isinstance(stmt, gast.Continue):
            kinds.add("continue")
        elif isinstance(stmt, gast.If):
            kinds |= _jump_kinds(stmt.body) | _jump_kinds(stmt.orelse)
    return kinds


def _assigned_names(stmts, env):
    """The versions that assignments in ``stmts`` store into, named as ``env`` maps them now."""
    names = set()
    for stmt in stmts:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                names.add(env.get(node.id, node.id))
    return names
