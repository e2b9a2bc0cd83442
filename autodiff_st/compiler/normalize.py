"""Normalize: rewrite the function body so that each statement does one operation.

The normal form (``ir``) is a list of ``Op``s, ``If``s and ``Loop``s. Each ``Op`` assigns the result of
one operation, whose operands are names or constants, to one name (or unpacks it into several). The
straight-line normal form is also single-assignment: when the user reassigns ``x``, the new value is
called ``x_2``. So every value the backward pass reads is still there when it reads it, and nothing
needs saving on a tape. Inside loops and branches a name keeps one version, and the backward pass
restores overwritten values from the tape.

This module walks the statements: assignments, unpacking, returns, in-place writes and the list
operations of a tape. Its parts are mixed into ``Normalizer`` or owned by it:

- ``normalize_expressions``: expressions to atoms, with temporaries named after what they hold;
- ``normalize_control``: branches and loops, with ``break``, ``continue`` and ``return`` as flags;
- ``aliasing``: which values may share memory, to refuse in-place writes another name would see.
"""

import gast

from ..core.errors import UnsupportedSyntaxError
from ..runtime.sharing import ARGUMENT_UPDATE, ARGUMENT_WRITE
from .aliasing_containers import ContainerAliasTracker
from .ir import Op, is_atom, load, static_path_root
from .normalize_collections import CollectionLowering
from .normalize_iteration import IterationLowering
from .normalize_control import ControlFlowLowering, has_nested_return, returned_tuple_arity
from .normalize_displays import DisplayLowering
from .normalize_expressions import ExpressionLowering, temp_name
from .normalize_functions import FunctionLowering
from .normalize_guards import GuardLowering
from .normalize_unpack import UnpackLowering
from .nonlocal_writes import NonlocalLowering
from .parsing import origin_of
from .scope import resolve_path


class Normalizer(ControlFlowLowering, ExpressionLowering, DisplayLowering, UnpackLowering, GuardLowering,
                 FunctionLowering, CollectionLowering, IterationLowering, NonlocalLowering):
    """Normalizes one function body into ``block``, a list of the normal form's statements.

    Expressions and control flow are mixed in rather than owned: they emit into the same block, read
    and rebind the same ``env`` at the same loop depth, and call back into each other (a comprehension
    becomes a loop, a loop's body holds expressions). Memory sharing is owned, as ``sharing``: it only
    records facts about versions and checks the finished ``ops``.
    """

    def __init__(self, parsed, namer):
        self.parsed = parsed
        self.namer = namer
        self.ops = []
        self.params = [a.id for a in parsed.node.args.posonlyargs + parsed.node.args.args
                       + parsed.node.args.kwonlyargs + [parsed.node.args.kwarg] if a is not None]
        self.env = {p: p for p in self.params}  # user name -> current version name
        self.sharing = ContainerAliasTracker(self.params, self.resolve_static, lambda: self.block_token,
                                             lambda: self.enclosing_blocks)
        self.block = []  # where statements are emitted now
        self.block_token = 0  # which block that is: a new number for each nested block
        self.enclosing_blocks = [0]  # the blocks that enclose the statement being normalized, its own last
        self.blocks_made = 0
        self.loop_start = 0
        self.depth = 0  # how many loops and branches enclose the statement being normalized
        self.loops = []  # the enclosing loops' flags, innermost last
        self.nested_return = has_nested_return(parsed.node)
        self.return_arity = returned_tuple_arity(parsed.node) if self.nested_return else None
        self.inlined = {}  # nested functions and lambdas: name -> (parameter names, return expression)
        self.nested_functions = {}  # every nested function and named lambda: name -> its node
        self.inlining = []  # the module-level helpers being inlined around this point (inline_helpers.py)
        self.caller_bound = None  # the names this function binds, found when a helper is first inlined
        self.return_value = self.returned = None
        self.declared_outside = {}
        self.nested_items = {}  # rows[i] read by a write rows[i][j] = v -> the version of rows (normalize_collections)
        self.origin_now = parsed.node.origin  # names declared global or nonlocal -> the declaration's origin

    # -- names --------------------------------------------------------------------------------------

    def new_version(self, user_name):
        """The name the next assignment to ``user_name`` stores into.

        In straight-line code each assignment gets a new version (``x``, ``x_2``, ...). Inside loops and
        branches an assignment must store into the same name on every path and every iteration, so it
        keeps the current version, and the backward pass restores overwritten values from the tape.
        """
        self.refuse_outside_write(user_name, self.origin_now)
        if user_name in self.env:
            if self.depth > 0:
                return self.env[user_name]
            version = self.namer.fresh(user_name)
        else:
            version = user_name
            self.namer.reserve(version)
        self.sharing.user_names[version] = user_name
        return version

    def nested(self, build):
        """Normalize into a fresh block one level deeper; return the block."""
        saved, self.block = self.block, []
        saved_token = self.block_token
        self.blocks_made += 1
        self.block_token = self.blocks_made
        self.enclosing_blocks.append(self.block_token)
        if self.depth == 0:
            self.loop_start = len(self.ops)  # where the outermost enclosing statement's ops begin
        self.depth += 1
        try:
            build()
        finally:
            self.depth -= 1
            self.block_token = saved_token
            self.enclosing_blocks.pop()
        block, self.block = self.block, saved
        return block

    def is_local(self, name):
        return name in self.env

    def resolve_static(self, func):
        root = static_path_root(func)
        if root is None or self.is_local(root):
            return None
        return resolve_path(func, self.parsed)

    # -- statements ---------------------------------------------------------------------------------

    def run(self):
        origin = self.parsed.node.origin
        if self.nested_return:
            self.returned = self.flag("returned", False, origin)
            if self.return_arity is None:
                self.return_value = self.flag("return_value", None, origin)
            else:  # every return gives a tuple of the same length: one name per part
                self.return_value = [self.flag(f"return_value_{i}", None, origin) for i in range(self.return_arity)]
        self.statements(self.parsed.node.body)
        if isinstance(self.return_value, list):
            self.emit("return", None, gast.Tuple(elts=[load(n) for n in self.return_value], ctx=gast.Load()), origin)
        elif self.nested_return:
            self.emit("return", None, load(self.return_value), origin)
        self.sharing.check(self.ops)
        self.sharing.check_container_writes(self.block)
        return self.block

    def emit(self, kind, target, value, origin):
        op = Op(kind, target, value, origin, nested=self.depth > 0)
        self.ops.append(op)
        self.block.append(op)

    def statement(self, stmt):
        origin = origin_of(stmt)
        self.origin_now = origin
        if isinstance(stmt, gast.Expr):
            if isinstance(stmt.value, gast.Constant):
                return None  # a docstring or a bare constant
            call = stmt.value
            if self.is_pop(call):
                self.pop_into(self.namer.fresh("popped"), call.func.value.id, origin)
                return None
            if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and call.func.attr == "append" \
                    and isinstance(call.func.value, gast.Name) and call.func.value.id in self.env \
                    and len(call.args) == 1 and not call.keywords:
                self.append(call.func.value.id, call.args[0], origin)
                return None
            value = self.expression(stmt.value, origin, want_atom=False)
            if not is_atom(value):
                self.emit("expr", None, value, origin)
            return None
        if isinstance(stmt, (gast.Pass, gast.Delete)):
            return None  # `del name` only frees memory; the single-assignment form never reads it again
        if isinstance(stmt, gast.Raise):
            return self.raise_statement(stmt, origin)
        if isinstance(stmt, gast.With):
            return self.with_statement(stmt, origin)
        if isinstance(stmt, gast.Try):
            return self.try_statement(stmt, origin)
        if isinstance(stmt, (gast.Global, gast.Nonlocal)):
            return self.declare_outside(stmt, origin)
        if isinstance(stmt, gast.Assert):
            test = self.atom(stmt.test, origin)
            msg = self.atom(stmt.msg, origin) if stmt.msg is not None else None
            self.emit("assert", None, gast.Tuple(elts=[test] + ([msg] if msg is not None else []), ctx=gast.Load()),
                      origin)
            return None
        if isinstance(stmt, gast.Return) and not self.nested_return:
            self.return_statement(stmt, origin)
            return "always"
        if isinstance(stmt, (gast.Return, gast.Break, gast.Continue)):
            return self.jump(stmt, origin)
        if isinstance(stmt, gast.FunctionDef) or isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Lambda):
            self.function_definition(stmt, origin)  # inlined at its calls, or lifted (normalize_functions)
            return None
        if isinstance(stmt, gast.If):
            return self.if_statement(stmt, origin)
        if isinstance(stmt, (gast.For, gast.While)):
            return self.loop_statement(stmt, origin)
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript):
            # y[i] += v is y[i] = y[i] + v, exactly as numpy runs it (also for repeated indices).
            element = gast.Subscript(value=stmt.target.value, slice=stmt.target.slice, ctx=gast.Load())
            if isinstance(stmt.op, (gast.Add, gast.Sub)) and isinstance(stmt.target.value, gast.Name) \
                    and not self.writes_container(stmt.target):
                # The read y[i] (a view, for a slice) is a name of its own, read once, by the sum, before
                # the write changes what it shows: the derivative of + and - reads no operand's values,
                # only its shape, which the write keeps. It need not be checked as a sharer of y.
                element = self.atom(element, origin)
                if isinstance(element, gast.Name):
                    self.sharing.read_before_write.add(element.id)
            self.store_element(stmt.target, gast.BinOp(left=element, op=stmt.op, right=stmt.value), origin)
            return None
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
            self.store_element(stmt.targets[0], self.hoist_pops(stmt.value, origin), origin)
            return None
        if isinstance(stmt, gast.AugAssign) and self.augments_container(stmt, origin):
            return None  # ys += items on a list (normalize_collections.py)
        if isinstance(stmt, gast.AugAssign):
            name = stmt.target.id
            if name not in self.env:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate `{name} {_op_text(stmt.op)}= ...`: "
                    f"`{name}` is not a local variable here.",
                    origin=origin, hint="Assign it first, or pass it in as an argument.")
            old = self.env[name]
            right = self.atom(stmt.value, origin)
            # Inside a loop, a read anywhere in the loop may come after the write (in the next iteration).
            start = self.loop_start if self.depth > 0 else len(self.ops)
            # a list or dict holding an array sees it change in place (a number is never changed in place)
            held = self.sharing.holders(old) if not self.holds_number(old) else set()
            if (self.sharing.source(old) in ("view", "unknown") or held) and self.sharing.may_check_at_run_time(old):
                # The analysis may not prove this safe: check at run time that no argument, and no name
                # read later, shares the array's memory (dropped where the analysis proves it).
                unknown = self.sharing.source(old) == "unknown"
                self.sharing.note_run_time_check(self.run_time_check(old, name, f"`{name} {_op_text(stmt.op)}= ...`",
                                                                     origin),
                                                 len(self.ops), old, start, self.sharing.sharers_and_holders(old),
                                                 always=unknown)
            elif self.sharing.source(old) == "param" and old in self.params:
                # `a *= b` on an argument: refused when it runs inside a call from differentiated code.
                check = self.run_time_check(old, name, f"`{name} {_op_text(stmt.op)}= ...`", origin)
                check.argument = ARGUMENT_UPDATE
                self.sharing.note_run_time_check(check, len(self.ops), old, start)
            self.sharing.note_aug_write(len(self.ops), old, start)
            self.assign_to(name, gast.BinOp(left=load(old), op=stmt.op, right=right), origin)
            return None
        if isinstance(stmt, gast.AnnAssign):
            self.assign_to(stmt.target.id, stmt.value, origin)
            return None
        # Assign
        first, *others = stmt.targets
        if isinstance(first, gast.Name) and not others and self.is_pop(stmt.value):
            self.pop_into(first.id, stmt.value.func.value.id, origin)
            return None
        stmt.value = self.hoist_pops(stmt.value, origin)
        if isinstance(first, gast.Name):
            self.assign_to(first.id, stmt.value, origin)
            source = self.env[first.id]
        else:
            self.unpack(first, stmt.value, origin)
            source = None
        for target in others:
            if source is None or not isinstance(target, gast.Name):
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot differentiate a chained assignment that unpacks a tuple.",
                    origin=origin, hint="Write one assignment per line.")
            self.assign_to(target.id, load(source), origin)
        return None

    def raise_statement(self, stmt, origin):
        """``raise E(...)`` (``from cause``): evaluated and raised in the forward pass, as Python does. What
        follows it in its block never runs. A bare ``raise`` belongs to an ``except`` clause."""
        if stmt.exc is None:
            raise UnsupportedSyntaxError(
                "autodiff_st cannot differentiate a bare `raise` here.", origin=origin,
                hint="Raise an exception object: `raise ValueError(...)`.")
        # The exception is made in the raise statement itself (one call on atoms), as the user wrote it.
        parts = [self.expression(stmt.exc, origin, want_atom=False)] + (
            [self.atom(stmt.cause, origin)] if stmt.cause is not None else [])
        self.emit("raise", None, gast.Tuple(elts=parts, ctx=gast.Load()), origin)
        return "raise"

    def assign_to(self, user_name, value, origin):
        value = self.expression(value, origin, want_atom=False)
        version = self.new_version(user_name)
        if self.depth > 0 and version in {n.id for n in gast.walk(value) if isinstance(n, gast.Name)}:
            # x = x * w inside a loop: compute into a temporary, then copy, so that no statement reads
            # the name it overwrites (the backward pass relies on this to restore old values).
            temp = self.into_temporary(value, origin)
            self.emit("assign", version, load(temp), origin)
            self.env[user_name] = version
            # The temporary is read only by this copy, so the name does not share memory with it.
            self.sharing.own(version, self.sharing.source(temp))
            return
        self.emit("assign", version, value, origin)
        self.env[user_name] = version
        self.sharing.record_aliases(version, value)

    def named_atom(self, value, origin):
        """An atom for ``value`` that is a name or a constant, not a display: what a write or an append stores
        must be one value whose cotangent the backward pass can name."""
        atom = self.atom(value, origin)
        if isinstance(atom, (gast.Tuple, gast.List, gast.Dict)):
            return load(self.into_temporary(atom, origin))
        return atom

    def into_temporary(self, value, origin):
        """A fresh name holding ``value``, computed now."""
        temp = self.namer.fresh(temp_name(value, self.sharing.knows))
        self.emit("assign", temp, value, origin)
        self.sharing.record_aliases(temp, value)
        return temp

    # -- writes into lists and arrays the function made ----------------------------------------------

    def is_pop(self, value):
        return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr == "pop" \
            and isinstance(value.func.value, gast.Name) and value.func.value.id in self.env \
            and not value.args and not value.keywords

    def hoist_pops(self, value, origin):
        """``value`` with each ``items.pop()`` inside it (``y[i] = tape.pop()``, ``y = tape.pop().copy()``,
        as generated backward passes write) popped first into a name of its own."""
        if self.is_pop(value) and self.made_here(value.func.value.id):
            items = value.func.value.id
            popped = self.namer.fresh(f"{items}_item")
            self.pop_into(popped, items, origin)
            return load(self.env[popped])
        if isinstance(value, (gast.IfExp, gast.BoolOp, gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
                              gast.GeneratorExp)):
            return value  # parts that may not run: leave their pops where they are
        for field, child in gast.iter_fields(value):
            if isinstance(child, gast.expr) and not isinstance(child, gast.Lambda):
                setattr(value, field, self.hoist_pops(child, origin))
            elif isinstance(child, list):
                setattr(value, field, [self.hoist_pops(c, origin) if isinstance(c, gast.expr) else c for c in child])
        return value

    def made_here(self, items_name):
        """Whether ``items_name`` holds a list made inside this function that no other name refers to."""
        return self.sharing.is_fresh_and_unshared(self.env[items_name])

    def pop_into(self, name, items_name, origin):
        """``x = items.pop()`` on a list the function made (as the tape of a generated adjoint)."""
        items = self.env[items_name]
        if not self.made_here(items_name):
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this pop from `{items_name}`: the compiler cannot tell that "
                f"`{items_name}` is a list made inside this function that no other name refers to.",
                origin=origin, hint=f"Start the list inside the function: `{items_name} = []`.")
        version = self.new_version(name)
        op = Op("pop", version, load(items), origin, nested=self.depth > 0)
        self.ops.append(op)
        self.block.append(op)
        self.env[name] = version
        self.sharing.own(version, "unknown")

    def append(self, name, value, origin):
        """``items.append(value)`` on a list the function made itself."""
        items = self.env[name]
        stored = self.named_atom(value, origin)
        if not self.made_here(name):
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this append to `{name}`: the compiler cannot tell that "
                f"`{name}` is a list made inside this function that no other name refers to.",
                origin=origin, hint=f"Start the list inside the function: `{name} = []`.")
        self.sharing.note_holds(items, {n.id for n in gast.walk(stored) if isinstance(n, gast.Name)})
        op = Op("append", items, load(items), origin, nested=self.depth > 0, stored=stored)
        self.ops.append(op)
        self.block.append(op)

    def store_element(self, target, value, origin):
        """``y[index] = value``: an in-place write, allowed into arrays the function made itself. Into a list
        or dict, a new container (normalize_collections.py)."""
        if self.writes_container(target):
            self.store_container_element(target, value, origin)
            return
        if isinstance(target.value, gast.Subscript):
            self.store_nested_element(target, value, origin)  # rows[i][j] = v (normalize_collections.py)
            return
        name = target.value.id
        if name not in self.env:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate a write into `{name}`, which is not a local variable here.",
                origin=origin, hint="Write into a copy: `y = np.array(...)` or `y = x.copy()` inside the function.")
        array = self.env[name]
        self.refuse_write_into_item(array, name, origin)  # r = rows[0]; r[1] = v (normalize_collections.py)
        stored = self.named_atom(value, origin)
        index = self.index(target.slice, origin)
        argument = self.sharing.is_argument(array)
        if not self.sharing.is_fresh_and_unshared(array) and (argument or self.sharing.may_check_at_run_time(array)):
            # Not proven to be an array only this name refers to: check that when the line runs. A write
            # into an argument changes the caller's array, as in Python: refused when it runs inside a
            # call from differentiated code, whose derivative would not follow it.
            start = self.loop_start if self.depth > 0 else len(self.ops)
            check = self.run_time_check(array, name, f"write into `{name}`", origin)
            if argument:
                check.argument = ARGUMENT_WRITE
            self.sharing.note_run_time_check(check, len(self.ops), array, start)
        elif not self.sharing.is_fresh_and_unshared(array):
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this write into `{name}`: the compiler cannot tell that "
                f"`{name}` is an array made inside this function that no other name refers to, and writing "
                "into an array that is also seen elsewhere would change values the derivative depends on.",
                origin=origin, hint=f"Make a new array first, for example `{name} = {name}.copy()` or "
                                    f"`{name} = np.zeros(...)`, and write into that.")
        self.sharing.note_element_write(len(self.ops), array, origin)
        op = Op("setitem", array, gast.Subscript(value=load(array), slice=index, ctx=gast.Load()), origin,
                nested=self.depth > 0, stored=stored)
        self.ops.append(op)
        self.block.append(op)

    def run_time_check(self, version, user_name, write, origin):
        """An "unshared" op: ``check_unshared(version, <others>, <their names>, user_name, write)`` where
        the aliasing check fills in the others (runtime/sharing.py)."""
        value = gast.Tuple(elts=[load(version), gast.Constant(value=user_name, kind=None),
                                 gast.Constant(value=write, kind=None)], ctx=gast.Load())
        op = Op("unshared", None, value, origin, nested=self.depth > 0)
        self.ops.append(op)
        self.block.append(op)
        # Which versions are bound on every path to this line: those last bound in a block enclosing it.
        enclosing = set(self.enclosing_blocks)
        op.bound_here = {v for v, block in self.sharing.bound_in.items() if block in enclosing}
        op.bound_before = set(self.sharing.bound_in)
        return op

    def unpack(self, target, value, origin):
        if any(isinstance(e, gast.Starred) for e in target.elts):
            self.starred_unpack(target, value, origin)
            return
        target, later = self.nested_targets(target, origin)
        self.unpack_names(target, value, origin)
        for stmt in later:
            self.statement(stmt)

    def unpack_names(self, target, value, origin):
        names = [e.id for e in target.elts]
        display = isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(names)
        if not display:
            value = self.expression(value, origin, want_atom=False)
            # a helper inlined here (inline_helpers.py) returns the display of its results' atoms
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(names) \
                    and all(isinstance(e, (gast.Name, gast.Constant)) for e in value.elts):
                display = True
                value = gast.Tuple(elts=[_Atom(e) for e in value.elts], ctx=gast.Load())
        if display:
            # Parallel assignment: evaluate every right-hand side with the old names, then rebind.
            atoms = [e.atom if isinstance(e, _Atom) else self.atom(e, origin) for e in value.elts]
            versions = [self.new_version(n) for n in names]
            # a, b = b, a inside a loop or branch stores into the names it reads: read them first.
            atoms = [load(self.into_temporary(atom, origin)) if isinstance(atom, gast.Name) and atom.id in versions
                     else atom for atom in atoms]
            for version, atom in zip(versions, atoms):
                self.emit("assign", version, atom, origin)
            for name, version, atom in zip(names, versions, atoms):
                self.env[name] = version
                self.sharing.record_aliases(version, atom)
            return
        if not isinstance(value, (gast.Call, gast.Name)) or isinstance(value, gast.Call) \
                and not self.unpacks_natively(value):
            # ell, sf2, sn2 = np.exp(theta): name the array, then unpack its rows
            value = self.atom(value, origin) if not isinstance(value, gast.Call) \
                else load(self.into_temporary(value, origin))
        versions = tuple(self.new_version(n) for n in names)
        if {n.id for n in gast.walk(value) if isinstance(n, gast.Name)} & set(versions):
            # h, c = cell(h, c) inside a loop or branch: compute into a temporary, then unpack it, so that
            # no statement reads a name it overwrites (as assign_to does).
            value = load(self.into_temporary(value, origin))
        self.emit("unpack", versions, value, origin)
        for name, version in zip(names, versions):
            self.env[name] = version
            self.sharing.own(version, "unknown")

    def return_statement(self, stmt, origin):
        if stmt.value is None:
            value = gast.Constant(value=None, kind=None)
        elif isinstance(stmt.value, gast.Tuple):
            value = gast.Tuple(elts=[self.atom(e, origin) for e in stmt.value.elts], ctx=gast.Load())
        else:
            value = self.atom(stmt.value, origin, hint="out")
            if isinstance(value, (gast.List, gast.Dict)):  # return [a, b]: the backward pass starts from a name
                value = load(self.into_temporary(value, origin))
        self.emit("return", None, value, origin)


def _op_text(op):
    return {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.MatMult: "@",
            gast.Pow: "**"}.get(type(op), "?")


class _Atom:
    """An element of a display that is already an atom of the normal form (not to be read again)."""

    def __init__(self, atom):
        self.atom = atom


def normalize(parsed, namer):
    return Normalizer(parsed, namer).run()
