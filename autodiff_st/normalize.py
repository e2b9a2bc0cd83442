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

from .errors import UnsupportedSyntaxError
from .naming import describe_operand
from .parsing import Origin, origin_of

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
                   float, abs, len, int}
FRESH_METHODS = {"copy", "sum", "mean", "max", "min", "prod", "var", "std", "dot", "cumsum", "cumprod",
                 "trace", "flatten", "round", "clip", "shape", "ndim", "size", "dtype"}


@dataclasses.dataclass
class Op:
    """One statement of the normal form.

    kind is one of:
      "assign": ``target = value``, value a single operation on atoms, or an atom (a copy);
      "unpack": ``targets = value``, value a call or a name;
      "return": ``return value``, value an atom or a tuple of atoms;
      "expr":   ``value`` evaluated for its effect (a call);
      "assert": ``assert value``.
    """

    kind: str
    target: object  # str, tuple of str, or None
    value: gast.expr
    origin: Origin


def is_atom(node):
    if isinstance(node, (gast.Name, gast.Constant, gast.JoinedStr)):
        return True
    if isinstance(node, (gast.Tuple, gast.List)):
        return all(is_atom(e) for e in node.elts)
    return False


def load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def static_path_root(node):
    """The root name of a dotted path such as ``np.linalg.inv``, or None."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


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

    # -- names --------------------------------------------------------------------------------------

    def new_version(self, user_name):
        if user_name in self.env:
            version = self.namer.fresh(user_name)
        else:
            version = user_name
            self.namer.reserve(version)
        return version

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
        for stmt in self.parsed.node.body:
            if self.statement(stmt):
                break
        self.check_aug_writes()
        return self.ops

    def emit(self, kind, target, value, origin):
        self.ops.append(Op(kind, target, value, origin))

    def statement(self, stmt):
        origin = origin_of(stmt)
        if isinstance(stmt, gast.Expr):
            if isinstance(stmt.value, gast.Constant):
                return False  # a docstring or a bare constant
            value = self.expression(stmt.value, origin, want_atom=False)
            if not is_atom(value):
                self.emit("expr", None, value, origin)
            return False
        if isinstance(stmt, (gast.Pass, gast.Delete)):
            return False  # `del name` only frees memory; the single-assignment form never reads it again
        if isinstance(stmt, gast.Assert):
            test = self.atom(stmt.test, origin)
            msg = self.atom(stmt.msg, origin) if stmt.msg is not None else None
            self.emit("assert", None, gast.Tuple(elts=[test] + ([msg] if msg is not None else []), ctx=gast.Load()),
                      origin)
            return False
        if isinstance(stmt, gast.Return):
            self.return_statement(stmt, origin)
            return True
        if isinstance(stmt, gast.AugAssign):
            name = stmt.target.id
            if name not in self.env:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate `{name} {_op_text(stmt.op)}= ...`: "
                    f"`{name}` is not a local variable here.",
                    origin=origin, hint="Assign it first, or pass it in as an argument.")
            old = self.env[name]
            right = self.atom(stmt.value, origin)
            self.aug_writes.append((len(self.ops), old))
            self.assign_to(name, gast.BinOp(left=load(old), op=stmt.op, right=right), origin)
            return False
        if isinstance(stmt, gast.AnnAssign):
            self.assign_to(stmt.target.id, stmt.value, origin)
            return False
        # Assign
        first, *others = stmt.targets
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
        return False

    def assign_to(self, user_name, value, origin):
        value = self.expression(value, origin, want_atom=False)
        version = self.new_version(user_name)
        self.emit("assign", version, value, origin)
        self.env[user_name] = version
        self.record_aliases(version, value)

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
                              gast.JoinedStr)):
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
        from .analyze import resolve_path
        return resolve_path(func, self.parsed)

    def unpack(self, target, value, origin):
        names = [e.id for e in target.elts]
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(names):
            # Parallel assignment: evaluate every right-hand side with the old names, then rebind.
            atoms = [self.atom(e, origin) for e in value.elts]
            versions = [self.new_version(n) for n in names]
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

    def check_aug_writes(self):
        for index, old in self.aug_writes:
            if self.provenance.get(old, "unknown") == "unknown":
                user = self.ops[index].origin
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot differentiate this augmented assignment: it would change an array "
                    "in place, and the compiler cannot tell which other names share that array (it comes "
                    "from a call or a name the compiler does not follow).",
                    origin=user, hint="Write `x = x + ...` to make a new array, or .copy() the array first.")
            others = self.aliases.get(old, {old}) - {old}
            for op in self.ops[index + 1:]:
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
            return load(self.env.get(node.id, node.id))
        if isinstance(node, gast.Constant):
            return node
        if isinstance(node, gast.JoinedStr):
            return self.rename_loads(node)
        if isinstance(node, (gast.Tuple, gast.List)):
            return type(node)(elts=[self.atom(e, origin) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
                and isinstance(node.operand, gast.Constant) and isinstance(node.operand.value, (int, float)):
            return gast.Constant(value=-node.operand.value, kind=None)
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

    def callee(self, func, origin):
        root = static_path_root(func)
        if root is not None and not self.is_local(root):
            return func  # a module-level path such as np.linalg.inv
        if isinstance(func, gast.Name):
            return load(self.env[func.id])
        if isinstance(func, gast.Attribute):
            return gast.Attribute(value=self.atom(func.value, origin), attr=func.attr, ctx=gast.Load())
        return self.atom(func, origin)


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
    return "tmp"


def normalize(parsed, namer):
    return Normalizer(parsed, namer).run()
