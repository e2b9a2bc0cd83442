"""Stage 3, normalize: rewrite the function body so that each statement does one operation.

The normal form is a list of ``Op``s. Each assigns the result of one operation, whose operands are
names or constants, to one name (or unpacks it into several). Temporaries get names that say what they
hold (``exp_neg_z``, ``y_times_log_p``). The straight-line normal form is also single-assignment: when
the user reassigns ``x``, the new value is called ``x_2``. So every value the backward pass reads is still
there when it reads it, and nothing needs saving on a tape.

Augmented assignment ``x += e`` becomes ``x_2 = x + e``. That is the same value, but it does not mutate
the array ``x`` in place. It is the same program only if no other name shares ``x``'s memory and is read
afterwards. So the normalizer tracks where each value comes from: a new array (an arithmetic result,
``np.copy``), a parameter, or a view of another local (``y = x``, ``y = x.T``), whose sharers are then
checked. A value of any other origin (a call to a user function, ``np.asarray`` of a global, ...) might
share memory with anything, and augmented assignment to it is refused rather than differentiated as a
different program.
"""

import copy
import dataclasses

import gast
import numpy as np

from ..core.errors import UnsupportedSyntaxError
from .ir import Break, If, Loop, Op, is_atom, load, static_path_root, store, walk_ops  # noqa: F401
from .naming import describe_operand
from .parsing import Origin, origin_of
from .scope import resolve_path

OP_WORDS = {
    gast.Add: "plus", gast.Sub: "minus", gast.Mult: "times", gast.Div: "over", gast.MatMult: "matmul",
    gast.Pow: "pow", gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.BitAnd: "and", gast.BitOr: "or",
    gast.BitXor: "xor", gast.LShift: "lshift", gast.RShift: "rshift",
}
COMPARE_WORDS = {
    gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq", gast.NotEq: "ne",
    gast.Is: "is", gast.IsNot: "is_not", gast.In: "in", gast.NotIn: "not_in",
}
UNARY_WORDS = {gast.USub: "neg", gast.UAdd: "pos", gast.Not: "not", gast.Invert: "invert"}

# Functions and methods whose result may share memory with their first argument.
VIEW_FUNCTIONS = {np.reshape, np.transpose, np.ravel, np.squeeze, np.expand_dims, np.swapaxes,
                  np.asarray, np.broadcast_to, np.moveaxis, np.atleast_1d, np.atleast_2d,
                  np.ascontiguousarray, np.asanyarray}
VIEW_METHODS = {"reshape", "transpose", "ravel", "squeeze", "swapaxes", "view", "T"}
# Functions and methods whose result is always a new object, never one of their arguments.
FRESH_FUNCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod, np.var, np.std, np.dot,
                   np.matmul, np.outer, np.inner, np.copy, np.zeros, np.ones, np.zeros_like, np.ones_like,
                   np.empty, np.empty_like, np.full, np.full_like, np.eye, np.identity, np.arange,
                   np.linspace, np.concatenate, np.stack, np.where, np.clip, np.cumsum, np.cumprod,
                   np.einsum, np.tensordot, np.kron, np.trace, np.linalg.inv, np.linalg.solve, np.linalg.det,
                   float, abs, len, int, list}
FRESH_METHODS = {"copy", "sum", "mean", "max", "min", "prod", "var", "std", "dot", "cumsum", "cumprod",
                 "trace", "flatten", "round", "clip", "shape", "ndim", "size", "dtype"}


class Normalizer:
    def __init__(self, parsed, namer):
        self.parsed = parsed
        self.namer = namer
        self.ops = []
        self.params = [a.id for a in parsed.node.args.posonlyargs + parsed.node.args.args
                       + parsed.node.args.kwonlyargs]
        self.env = {p: p for p in self.params}  # user name -> current version name
        self.aliases = {p: {p} for p in self.params}  # version name -> versions that may share memory
        # Where each version's value comes from, for augmented assignment: "fresh" (a new array),
        # "param", "view" (shares memory only with the versions in its alias set), or "unknown".
        self.provenance = {p: "param" for p in self.params}
        self.aug_writes = []  # (op index, version overwritten)
        self.block = []  # where statements are emitted now
        self.loop_start = 0
        self.depth = 0  # how many loops and branches enclose the statement being normalized
        self.loops = []  # the enclosing loops' flags, innermost last
        self.nested_return = _has_nested_return(parsed.node)
        self.inlined = {}  # nested functions and lambdas: name -> (parameter names, return expression)
        self.element_writes = []  # (op index, array, origin) of each y[i] = v
        self.return_value = self.returned = None

    # -- names --------------------------------------------------------------------------------------

    def new_version(self, user_name):
        """The name the next assignment to ``user_name`` stores into.

        In straight-line code each assignment gets a new version (``x``, ``x_2``, ...). Inside loops and
        branches an assignment must store into the same name on every path and every iteration, so it
        keeps the current version, and the backward pass restores overwritten values from the tape.
        """
        if user_name in self.env:
            if self.depth > 0:
                return self.env[user_name]
            version = self.namer.fresh(user_name)
        else:
            version = user_name
            self.namer.reserve(version)
        return version

    def nested(self, build):
        """Normalize into a fresh block one level deeper; return the block."""
        saved, self.block = self.block, []
        if self.depth == 0:
            self.loop_start = len(self.ops)  # where the outermost enclosing statement's ops begin
        self.depth += 1
        try:
            build()
        finally:
            self.depth -= 1
        block, self.block = self.block, saved
        return block

    def flag(self, base, value, origin):
        name = self.namer.fresh(base)
        self.emit("assign", name, gast.Constant(value=value, kind=None), origin)
        return name

    def set_flag(self, name, origin):
        self.emit("assign", name, gast.Constant(value=True, kind=None), origin)

    def is_local(self, name):
        return name in self.env

    def rename_loads(self, node):
        node = copy.deepcopy(node)
        for child in gast.walk(node):
            if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Load) and child.id in self.env:
                child.id = self.env[child.id]
        return node

    # -- statements ---------------------------------------------------------------------------------

    def run(self):
        origin = self.parsed.node.origin
        if self.nested_return:
            self.returned = self.flag("returned", False, origin)
            self.return_value = self.flag("return_value", None, origin)
        self.statements(self.parsed.node.body)
        if self.nested_return:
            self.emit("return", None, load(self.return_value), origin)
        self.check_aug_writes()
        self.check_views_after_writes()
        return self.block

    def emit(self, kind, target, value, origin):
        op = Op(kind, target, value, origin, nested=self.depth > 0)
        self.ops.append(op)
        self.block.append(op)

    def statements(self, stmts):
        """Normalize a block. Returns "always" if it always jumps out (break, continue, return),
        "maybe" if it may, and None if it never does."""
        for i, stmt in enumerate(stmts):
            jumps = self.statement(stmt)
            if jumps == "always":
                return "always"  # what follows in this block never runs
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

    def statement(self, stmt):
        origin = origin_of(stmt)
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
        if isinstance(stmt, gast.Assert):
            test = self.atom(stmt.test, origin)
            msg = self.atom(stmt.msg, origin) if stmt.msg is not None else None
            self.emit("assert", None, gast.Tuple(elts=[test] + ([msg] if msg is not None else []), ctx=gast.Load()),
                      origin)
            return None
        if isinstance(stmt, gast.Return):
            if not self.nested_return:
                self.return_statement(stmt, origin)
                return "always"
            value = self.atom(stmt.value, origin) if stmt.value is not None else gast.Constant(value=None, kind=None)
            if not isinstance(value, (gast.Name, gast.Constant)):
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot yet return a tuple from inside a loop or a branch.", origin=origin,
                    hint="Return a single array there, or assign the tuple's parts and return them at the end.")
            self.emit("assign", self.return_value, value, origin)
            self.set_flag(self.returned, origin)
            for loop in self.loops:
                self.set_flag(loop["skip"], origin)
                self.set_flag(loop["broke"], origin)
            return "always"
        if isinstance(stmt, (gast.Break, gast.Continue)):
            loop = self.loops[-1]
            self.set_flag(loop["skip"], origin)
            if isinstance(stmt, gast.Break):
                self.set_flag(loop["broke"], origin)
            return "always"
        if isinstance(stmt, gast.FunctionDef):
            body = [s for s in stmt.body if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
            self.define_inline(stmt.name, stmt.args, body[0].value, origin)
            return None
        if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Lambda):
            self.define_inline(stmt.targets[0].id, stmt.value.args, stmt.value.body, origin)
            return None
        if isinstance(stmt, gast.If):
            return self.if_statement(stmt, origin)
        if isinstance(stmt, (gast.For, gast.While)):
            return self.loop_statement(stmt, origin)
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript):
            # y[i] += v is y[i] = y[i] + v, exactly as numpy runs it (also for repeated indices).
            element = gast.Subscript(value=stmt.target.value, slice=stmt.target.slice, ctx=gast.Load())
            self.store_element(stmt.target, gast.BinOp(left=element, op=stmt.op, right=stmt.value), origin)
            return None
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
            self.store_element(stmt.targets[0], self.hoist_pops(stmt.value, origin), origin)
            return None
        if isinstance(stmt, gast.AugAssign):
            name = stmt.target.id
            if name not in self.env:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate `{name} {_op_text(stmt.op)}= ...`: "
                    f"`{name}` is not a local variable here.",
                    origin=origin, hint="Assign it first, or pass it in as an argument.")
            old = self.env[name]
            right = self.atom(stmt.value, origin)
            # Who shares the old value's memory, taken before the rewrite adds its own copies. Inside a
            # loop, a read anywhere in the loop may come after the write (in the next iteration).
            start = self.loop_start if self.depth > 0 else len(self.ops)
            self.aug_writes.append((len(self.ops), old, set(self.aliases.get(old, {old})), start,
                                    self.provenance.get(old, "unknown")))
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

    def assign_to(self, user_name, value, origin):
        value = self.expression(value, origin, want_atom=False)
        version = self.new_version(user_name)
        if self.depth > 0 and version in {n.id for n in gast.walk(value) if isinstance(n, gast.Name)}:
            # x = x * w inside a loop: compute into a temporary, then copy, so that no statement reads
            # the name it overwrites (the backward pass relies on this to restore old values).
            temp = self.namer.fresh(temp_name(value, lambda n: n in self.aliases))
            self.emit("assign", temp, value, origin)
            self.record_aliases(temp, value)
            self.emit("assign", version, load(temp), origin)
            self.env[user_name] = version
            # The temporary is read only by this copy, so the name does not share memory with it.
            self.aliases[version] = {version}
            self.provenance[version] = self.provenance[temp]
            return
        self.emit("assign", version, value, origin)
        self.env[user_name] = version
        self.record_aliases(version, value)

    def into_temporary(self, value, origin):
        """A fresh name holding ``value``, computed now."""
        temp = self.namer.fresh(temp_name(value, lambda n: n in self.aliases))
        self.emit("assign", temp, value, origin)
        self.record_aliases(temp, value)
        return temp

    def define_inline(self, name, args, body, origin):
        if name in self.env:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this definition of `{name}`: the name also holds a value.",
                origin=origin, hint="Give the function a name of its own.")
        self.inlined[name] = ([a.id for a in args.args], body)

    def inline_call(self, node, origin, hint):
        """A call of a nested function or lambda: its return expression, with the arguments put in.

        Names the body reads from the enclosing function take their values at the call, as Python's
        closures do.
        """
        params, body = self.inlined[node.func.id]
        if len(node.args) != len(params) or node.keywords:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot inline this call of `{node.func.id}`: pass exactly its "
                f"{len(params)} argument(s), positionally.", origin=origin)
        placeholders = {}
        for param, arg in zip(params, node.args):
            atom = self.atom(arg, origin)
            name = self.namer.fresh(param)
            if isinstance(atom, gast.Name):
                self.env[name] = atom.id
            else:
                self.emit("assign", name, atom, origin)
                self.env[name] = name
                self.aliases[name], self.provenance[name] = {name}, "fresh"
            placeholders[param] = name
        body = copy.deepcopy(body)
        for n in gast.walk(body):
            if isinstance(n, gast.Name) and n.id in placeholders:
                n.id = placeholders[n.id]
            n.origin = origin
        return self.expression(body, origin, want_atom=True, hint=hint)

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
        items = self.env[items_name]
        return self.provenance.get(items) == "fresh" and self.aliases.get(items, {items}) == {items}

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
        self.aliases[version], self.provenance[version] = {version}, "unknown"

    def append(self, name, value, origin):
        """``items.append(value)`` on a list the function made itself."""
        items = self.env[name]
        stored = self.atom(value, origin)
        if self.provenance.get(items) != "fresh" or self.aliases.get(items, {items}) != {items}:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this append to `{name}`: the compiler cannot tell that "
                f"`{name}` is a list made inside this function that no other name refers to.",
                origin=origin, hint=f"Start the list inside the function: `{name} = []`.")
        op = Op("append", items, load(items), origin, nested=self.depth > 0, stored=stored)
        self.ops.append(op)
        self.block.append(op)

    def comprehension(self, node, origin, hint):
        """``[f(x) for x in xs if c]``: a loop appending to a new list, with its own variable names."""
        generator = node.generators[0]
        result = self.namer.fresh(hint or "items")
        self.emit("assign", result, gast.List(elts=[], ctx=gast.Load()), origin)
        self.env[result] = result
        self.aliases[result], self.provenance[result] = {result}, "fresh"
        # The comprehension's variables are its own: rename them so they cannot clobber the function's.
        renames = {n.id: self.namer.fresh(n.id) for n in gast.walk(generator.target) if isinstance(n, gast.Name)}

        def renamed(tree):
            tree = copy.deepcopy(tree)
            for n in gast.walk(tree):
                if isinstance(n, gast.Name) and n.id in renames:
                    n.id = renames[n.id]
            for n in gast.walk(tree):
                n.origin = origin
            return tree

        append = gast.Expr(value=gast.Call(func=gast.Attribute(value=gast.Name(id=result, ctx=gast.Load(),
                                                                                annotation=None, type_comment=None),
                                                               attr="append", ctx=gast.Load()),
                                           args=[renamed(node.elt)], keywords=[]))
        body = [append]
        for condition in reversed(generator.ifs):
            body = [gast.If(test=renamed(condition), body=body, orelse=[])]
        loop = gast.For(target=renamed(generator.target), iter=generator.iter, body=body, orelse=[],
                        type_comment=None)
        for n in gast.walk(loop):
            if not hasattr(n, "origin"):
                n.origin = origin
        self.loop_statement(loop, origin)
        return load(result)

    def store_element(self, target, value, origin):
        """``y[index] = value``: an in-place write, allowed into arrays the function made itself."""
        name = target.value.id
        if name not in self.env:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate a write into `{name}`, which is not a local variable here.",
                origin=origin, hint="Write into a copy: `y = np.array(...)` or `y = x.copy()` inside the function.")
        array = self.env[name]
        stored = self.atom(value, origin)
        index = self.index(target.slice, origin)
        if self.provenance.get(array) != "fresh" or self.aliases.get(array, {array}) != {array}:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this write into `{name}`: the compiler cannot tell that "
                f"`{name}` is an array made inside this function that no other name refers to, and writing "
                "into an array that is also seen elsewhere would change values the derivative depends on.",
                origin=origin, hint=f"Make a new array first, for example `{name} = {name}.copy()` or "
                                    f"`{name} = np.zeros(...)`, and write into that.")
        self.element_writes.append((len(self.ops), array, origin))
        op = Op("setitem", array, gast.Subscript(value=load(array), slice=index, ctx=gast.Load()), origin,
                nested=self.depth > 0, stored=stored)
        self.ops.append(op)
        self.block.append(op)

    # -- control flow -------------------------------------------------------------------------------

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
        if all(r == "always" for r in results):
            return "always"
        return "maybe" if any(results) else None

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
        it, target = stmt.iter, stmt.target

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

        import builtins
        index = None
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
            atom = self.atom(node, origin)
            if isinstance(atom, gast.Name) and atom.id in rebound:
                held = self.namer.fresh(f"{atom.id}_iterated")
                self.emit("assign", held, atom, origin)
                self.aliases[held], self.provenance[held] = {held}, "unknown"
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
        self.aliases[version] = {version}
        self.provenance[version] = "unknown"
        return version

    def record_aliases(self, version, value):
        shared = self.alias_set(value)
        self.aliases[version] = shared | {version}
        for other in self.aliases[version]:
            self.aliases.setdefault(other, {other}).add(version)
        self.provenance[version] = self.provenance_of(value, shared)

    def provenance_of(self, value, shared):
        if shared:
            sources = {self.provenance.get(v, "unknown") for v in shared}
            return "unknown" if "unknown" in sources else "view"
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Constant, gast.Tuple, gast.List,
                              gast.JoinedStr, gast.Dict)):
            return "fresh"
        if isinstance(value, gast.Attribute):
            return "fresh" if value.attr in FRESH_METHODS else "unknown"
        if isinstance(value, gast.Call):
            func = value.func
            copy_kw = any(k.arg == "copy" for k in value.keywords)
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id in self.aliases:
                if func.attr == "astype" and not copy_kw:
                    return "fresh"
                return "fresh" if func.attr in FRESH_METHODS else "unknown"
            fn = self.resolve_static(func)
            if fn is np.array and not copy_kw:
                return "fresh"
            if type(fn) is np.ufunc or any(fn is f for f in FRESH_FUNCTIONS):
                return "fresh"
        return "unknown"

    def alias_set(self, value):
        source = None
        if isinstance(value, gast.Name):
            source = value.id
        elif isinstance(value, gast.Attribute) and value.attr in VIEW_METHODS:
            source = value.value.id if isinstance(value.value, gast.Name) else None
        elif isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                    and func.value.id in self.aliases and func.attr in VIEW_METHODS:
                source = func.value.id
            elif value.args and isinstance(value.args[0], gast.Name):
                fn = self.resolve_static(func)
                if any(fn is v for v in VIEW_FUNCTIONS):
                    source = value.args[0].id
        if source in self.aliases:
            return set(self.aliases[source])
        return set()

    def resolve_static(self, func):
        root = static_path_root(func)
        if root is None or self.is_local(root):
            return None
        return resolve_path(func, self.parsed)

    def unpack(self, target, value, origin):
        names = [e.id for e in target.elts]
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(names):
            # Parallel assignment: evaluate every right-hand side with the old names, then rebind.
            atoms = [self.atom(e, origin) for e in value.elts]
            versions = [self.new_version(n) for n in names]
            # a, b = b, a inside a loop or branch stores into the names it reads: read them first.
            atoms = [load(self.into_temporary(atom, origin)) if isinstance(atom, gast.Name) and atom.id in versions
                     else atom for atom in atoms]
            for version, atom in zip(versions, atoms):
                self.emit("assign", version, atom, origin)
            for name, version, atom in zip(names, versions, atoms):
                self.env[name] = version
                self.record_aliases(version, atom)
            return
        value = self.expression(value, origin, want_atom=False)
        if not isinstance(value, (gast.Call, gast.Name)):
            value = self.atom(value, origin)
        versions = tuple(self.new_version(n) for n in names)
        if {n.id for n in gast.walk(value) if isinstance(n, gast.Name)} & set(versions):
            # h, c = cell(h, c) inside a loop or branch: compute into a temporary, then unpack it, so that
            # no statement reads a name it overwrites (as assign_to does).
            value = load(self.into_temporary(value, origin))
        self.emit("unpack", versions, value, origin)
        for name, version in zip(names, versions):
            self.env[name] = version
            self.aliases[version] = {version}
            self.provenance[version] = "unknown"

    def return_statement(self, stmt, origin):
        if stmt.value is None:
            value = gast.Constant(value=None, kind=None)
        elif isinstance(stmt.value, gast.Tuple):
            value = gast.Tuple(elts=[self.atom(e, origin) for e in stmt.value.elts], ctx=gast.Load())
        else:
            value = self.atom(stmt.value, origin, hint="out")
        self.emit("return", None, value, origin)

    def check_views_after_writes(self):
        """``r = y[1]`` may be a view of ``y``: after ``y[1] = v`` it shows the new values. The compiler
        treats ``r`` as the value read, so a read of ``r`` after a write into ``y`` is refused."""
        for index, array, origin in self.element_writes:
            reads = {op.target: i for i, op in enumerate(self.ops[:index]) if op.kind == "assign"
                     and isinstance(op.value, gast.Subscript) and isinstance(op.value.value, gast.Name)
                     and op.value.value.id == array}
            for op in self.ops[index + 1:]:
                if op.kind in ("assign", "unpack") and op.target in reads:
                    reads.pop(op.target)  # assigned anew: later reads see the new value
                used = {n.id for n in gast.walk(op.value) if isinstance(n, gast.Name)}
                if op.stored is not None:
                    used |= {n.id for n in gast.walk(op.stored) if isinstance(n, gast.Name)}
                shared = sorted(used & set(reads))
                if shared:
                    raise UnsupportedSyntaxError(
                        f"autodiff_st cannot differentiate this write into `{array}`: `{shared[0]}` was read "
                        f"from `{array}` before it and is used after it, and if it is a view it changes with the "
                        "write.", origin=origin,
                        hint=f"Copy what you read first, for example `{shared[0]} = {array}[...].copy()`.")

    def check_aug_writes(self):
        for index, old, sharers, reads_from, provenance in self.aug_writes:
            if provenance == "unknown":
                user = self.ops[index].origin
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot differentiate this augmented assignment: it would change an array "
                    "in place, and the compiler cannot tell which other names share that array (it comes "
                    "from a call or a name the compiler does not follow).",
                    origin=user, hint="Write `x = x + ...` to make a new array, or .copy() the array first.")
            others = sharers - {old}
            for op in self.ops[reads_from:]:
                if op is self.ops[index] and reads_from > index:
                    continue  # outside a loop, the write's own read happens before the write
                read = {n.id for n in gast.walk(op.value) if isinstance(n, gast.Name)}
                shared = sorted(read & others)
                if shared:
                    user_op = self.ops[index]
                    raise UnsupportedSyntaxError(
                        f"autodiff_st cannot differentiate this augmented assignment: it changes an array "
                        f"in place that `{shared[0]}` also refers to, and `{shared[0]}` is read later.",
                        origin=user_op.origin,
                        hint="Write `x = x + ...` to make a new array, or .copy() the array before "
                             "changing it.")

    # -- expressions --------------------------------------------------------------------------------

    def atom(self, node, origin, hint=None):
        value = self.expression(node, origin, want_atom=True, hint=hint)
        return value

    def expression(self, node, origin, want_atom, hint=None):
        """Normalize ``node``. With want_atom, the result is a name or constant; without, it may be
        one operation on atoms."""
        if isinstance(node, gast.Name):
            if node.id in self.inlined:
                raise UnsupportedSyntaxError(
                    f"autodiff_st can use the nested function `{node.id}` only by calling it.", origin=origin,
                    hint="Define the function at module level to pass it around.")
            return load(self.env.get(node.id, node.id))
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in self.inlined:
            return self.inline_call(node, origin, hint)
        if isinstance(node, gast.Constant):
            return node
        if isinstance(node, gast.JoinedStr):
            return self.rename_loads(node)
        if isinstance(node, (gast.Tuple, gast.List)):
            return type(node)(elts=[self.atom(e, origin) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Dict):
            return gast.Dict(keys=node.keys, values=[self.atom(v, origin) for v in node.values])
        if isinstance(node, (gast.ListComp, gast.GeneratorExp)):
            return self.comprehension(node, origin, hint)
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
                and isinstance(node.operand, gast.Constant) and isinstance(node.operand.value, (int, float)):
            return gast.Constant(value=-node.operand.value, kind=None)
        if isinstance(node, gast.IfExp):
            return self.conditional_expression(node, origin, hint)
        if isinstance(node, gast.BoolOp):
            return self.boolean_expression(node, origin, hint)
        if isinstance(node, gast.Compare) and len(node.ops) > 1:
            return self.chained_comparison(node, origin, hint)
        if isinstance(node, gast.BinOp):
            value = gast.BinOp(left=self.atom(node.left, origin), op=node.op, right=self.atom(node.right, origin))
        elif isinstance(node, gast.UnaryOp):
            value = gast.UnaryOp(op=node.op, operand=self.atom(node.operand, origin))
        elif isinstance(node, gast.Compare):
            value = gast.Compare(left=self.atom(node.left, origin), ops=node.ops,
                                 comparators=[self.atom(c, origin) for c in node.comparators])
        elif isinstance(node, gast.Call):
            value = gast.Call(func=self.callee(node.func, origin),
                              args=[self.atom(a, origin) for a in node.args],
                              keywords=[gast.keyword(arg=k.arg, value=self.atom(k.value, origin))
                                        for k in node.keywords])
        elif isinstance(node, gast.Attribute):
            value = gast.Attribute(value=self.atom(node.value, origin), attr=node.attr, ctx=gast.Load())
        elif isinstance(node, gast.Subscript):
            value = gast.Subscript(value=self.atom(node.value, origin), slice=self.index(node.slice, origin),
                                   ctx=gast.Load())
        else:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate the expression `{type(node).__name__}`.",
                origin=origin, hint="Rewrite it with arithmetic and numpy calls.")
        value.origin = origin
        if not want_atom:
            return value
        name = self.namer.fresh(hint or temp_name(value, lambda n: n in self.aliases))
        self.emit("assign", name, value, origin)
        self.record_aliases(name, value)
        return load(name)

    def index(self, node, origin):
        """An index expression with atoms in it: ``i``, ``1:n:2``, ``..., None``, ``mask``."""
        if isinstance(node, gast.Slice):
            return gast.Slice(lower=node.lower and self.atom(node.lower, origin),
                              upper=node.upper and self.atom(node.upper, origin),
                              step=node.step and self.atom(node.step, origin))
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e, origin) for e in node.elts], ctx=gast.Load())
        return self.atom(node, origin)

    def conditional_expression(self, node, origin, hint):
        """``a if c else b`` becomes an if statement assigning one fresh name in both branches."""
        test = self.condition(node.test, origin, [])
        result = self.namer.fresh(hint or "chosen")
        body = self.nested(lambda: self.emit("assign", result, self.atom(node.body, origin), origin))
        orelse = self.nested(lambda: self.emit("assign", result, self.atom(node.orelse, origin), origin))
        self.block.append(If(test, body, orelse, origin))
        self.aliases[result], self.provenance[result] = {result}, "unknown"
        return load(result)

    def short_circuit(self, first, rest, origin, hint, keep_going_when):
        """Python's ``and``/``or`` and chained comparisons: evaluate the next part only if needed."""
        result = self.namer.fresh(hint or "either" if not keep_going_when else hint or "both")
        self.emit("assign", result, first, origin)
        for part in rest:
            test = self.namer.fresh(f"{result}_so_far")
            self.emit("assign", test, load(result), origin)
            step = self.nested(lambda: self.emit("assign", result, self.atom_or_value(part, origin), origin))
            self.block.append(If(test, step, [], origin) if keep_going_when else If(test, [], step, origin))
        self.aliases[result], self.provenance[result] = {result}, "unknown"
        return load(result)

    def atom_or_value(self, part, origin):
        return part(origin) if callable(part) else self.atom(part, origin)

    def boolean_expression(self, node, origin, hint):
        first = self.atom(node.values[0], origin)
        return self.short_circuit(first, node.values[1:], origin, hint, isinstance(node.op, gast.And))

    def chained_comparison(self, node, origin, hint):
        left = self.atom(node.left, origin)
        rights = [self.atom(c, origin) for c in node.comparators[:1]]
        first = gast.Compare(left=left, ops=node.ops[:1], comparators=rights)
        parts = []
        previous = node.comparators[0]
        for op, comparator in zip(node.ops[1:], node.comparators[1:]):
            parts.append(lambda origin, a=previous, o=op, b=comparator: gast.Compare(
                left=self.atom(a, origin), ops=[o], comparators=[self.atom(b, origin)]))
            previous = comparator
        return self.short_circuit(first, parts, origin, hint, True)

    def callee(self, func, origin):
        root = static_path_root(func)
        if root is not None and not self.is_local(root):
            return func  # a module-level path such as np.linalg.inv
        if isinstance(func, gast.Name):
            return load(self.env[func.id])
        if isinstance(func, gast.Attribute):
            return gast.Attribute(value=self.atom(func.value, origin), attr=func.attr, ctx=gast.Load())
        return self.atom(func, origin)


def _walk_own(node):
    """Like gast.walk, but not into nested functions and lambdas: their returns are their own."""
    yield node
    for child in gast.iter_child_nodes(node):
        if not isinstance(child, (gast.FunctionDef, gast.Lambda)):
            yield from _walk_own(child)


def _has_nested_return(fn_node):
    """Whether a ``return`` appears inside a loop or a branch (not only as the last statement)."""
    for stmt in fn_node.body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)) and _has_return([stmt]):
            return True
    return False


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
    names = set()
    for stmt in stmts:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                names.add(env.get(node.id, node.id))
    return names


def _op_text(op):
    return {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.MatMult: "@",
            gast.Pow: "**"}.get(type(op), "?")


def temp_name(value, is_local):
    """A name that says what ``value`` holds: ``exp_x``, ``a_times_b``, ``x_sum``.

    Operands with long names are left out rather than truncated, so a name never ends mid-word.
    """

    def short(node, limit=12):
        word = describe_operand(node)
        return word if word and len(word) <= limit else None

    if isinstance(value, gast.BinOp):
        word = OP_WORDS.get(type(value.op), "result")
        left, right = short(value.left), short(value.right)
        return f"{left}_{word}_{right}" if left and right else f"{word}_result"
    if isinstance(value, gast.UnaryOp):
        word = UNARY_WORDS.get(type(value.op), "result")
        operand = short(value.operand, 20)
        return f"{word}_{operand}" if operand else f"{word}_result"
    if isinstance(value, gast.Compare):
        word = COMPARE_WORDS.get(type(value.ops[0]), "cmp")
        left, right = short(value.left), short(value.comparators[0])
        return f"{left}_{word}_{right}" if left and right else f"{word}_result"
    if isinstance(value, gast.Call):
        func = value.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and is_local(func.value.id):
            receiver = short(func.value, 16)
            return f"{receiver}_{func.attr}" if receiver else f"{func.attr}_result"
        fname = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "call")
        if len(value.args) == 1:
            arg = short(value.args[0], 20)
            if arg:
                return f"{fname}_{arg}"
        return f"{fname}_result"
    if isinstance(value, gast.Attribute):
        base = short(value.value, 20)
        return f"{base}_{value.attr}" if base else f"{value.attr}_result"
    if isinstance(value, gast.Subscript):
        base, at = short(value.value, 16), short(value.slice, 8)
        if base and at:
            return f"{base}_{at}"
        return f"{base}_part" if base else "part"
    return "tmp"


def normalize(parsed, namer):
    return Normalizer(parsed, namer).run()
