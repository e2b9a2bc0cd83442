"""Which values of the normal form may share memory, and the checks that refuse writes through shared memory.

The normal form rewrites ``x += e`` as ``x_2 = x + e``: the same value, but the array ``x`` is not
changed in place. That is the same program only if no other name shares ``x``'s memory and is read
afterwards. So each version gets a provenance:

- "fresh": a new array (an arithmetic result, ``np.copy``, a list display);
- "param": an argument of the function;
- "view": it may share memory with the versions in its alias set (``y = x``, ``y = x.T``), and only those;
- "unknown": it might share memory with anything (a call to a user function, ``np.asarray`` of a global).

Augmented assignment to an "unknown" value is refused, as is one whose old value is shared with a name
read afterwards, rather than differentiating a different program. Writes ``y[i] = v`` and the list
operations ``append`` and ``pop`` are allowed only on a fresh value that no other name shares.

The analysis (analyze.py) asks the same question again, of the finished normal form, for every name at
once: ``Aliasing``, below. It reads the normal form, the classified calls and the static kinds (a Python
number shares nothing: it cannot be changed in place). Each name is given the set of *roots* it may
reach: the places where memory it may share was made. A root is the name of the op that made a new
object (``y = x * 2`` makes ``y``), or ``OUTSIDE``: memory the function did not make, the arguments,
globals, closure values, attributes of objects, and whatever an unknown function returns. Two names may
share memory when their roots meet, so every argument may share memory with every other (a caller may
pass the same array twice).

The roots flow, to a fixed point and whatever the order of the statements, through copies (``y = x``),
views (``x.T``, ``x.reshape(...)``, ``np.transpose(x)``, subscripts, see VIEW_FUNCTIONS and
VIEW_METHODS), containers (a display or ``items.append(v)`` holds its elements; an item read back or
popped may be any of them), loops (a target may be any item of its source) and calls: a function known
to return a new array (FRESH_FUNCTIONS, ufuncs) shares nothing with its arguments; any other
numpy function may return a view of them; a function with no rule, or the user's own, may return any
argument or anything from outside, and may store any argument into another.
"""

import builtins

import gast
import numpy as np

from ..core import registry as rules
from ..core.errors import UnsupportedSyntaxError
from ..runtime.cotangents import restored_copy, zeros_like
from ..runtime.indexing import index_grad
from ..runtime.sharing import ARGUMENT_UPDATE, ARGUMENT_WRITE
from .ops import names_in

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
                   float, abs, len, int, list, restored_copy,
                   zeros_like, index_grad}  # the cotangent buffers generated code makes (differentiated again)
FRESH_METHODS = {"copy", "sum", "mean", "max", "min", "prod", "var", "std", "dot", "cumsum", "cumprod",
                 "trace", "flatten", "round", "clip", "shape", "ndim", "size", "dtype"}


def _names_in(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def _is_runtime_helper(fn):
    """A helper that generated code calls (``zeros_like``, ``push_part``): generated code never updates
    in place what one returns, so its result is not followed (its provenance is "unknown")."""
    return (getattr(fn, "__module__", None) or "").startswith("autodiff_st.runtime")


class AliasTracker:
    """The provenance and alias set of every version the normalizer assigns, and its in-place writes.

    ``resolve`` maps a callee expression to the module-level object it names (``np.reshape``), or to
    None for a local or an unknown name.
    """

    def __init__(self, params, resolve, current_block=lambda: None):
        self.resolve = resolve
        self.current_block = current_block  # the block of statements being normalized now
        self.bound_in = {}  # version -> the block it was last bound in
        self.aliases = {p: {p} for p in params}  # version -> versions that may share its memory
        self.provenance = {p: "param" for p in params}  # version -> "fresh", "param", "view" or "unknown"
        self.aug_writes = []  # (op index, version overwritten, its sharers, first op to check, provenance)
        self.element_writes = []  # (op index, array, origin) of each y[i] = v
        self.parts_of = {}  # version -> the version it was read from by a subscript (a view, perhaps)
        self.opaque = set()  # versions that may hold memory from outside the function (a global, an attribute)
        self.params = set(params)
        self.user_names = {p: p for p in params}  # version -> the user's name
        self.run_time_checks = []  # (check op, index of the write, array, first op to check, static sharers)
        # the reads ``t = y[i]`` of ``y[i] += v`` (``-=``): read once by the sum, before the write (normalize.py)
        self.read_before_write = set()

    # -- facts --------------------------------------------------------------------------------------

    def knows(self, version):
        return version in self.aliases

    def sharers(self, version):
        """The versions that may share ``version``'s memory, itself included."""
        return self.aliases.get(version, {version})

    def source(self, version):
        """Where ``version``'s value comes from: "fresh", "param", "view" or "unknown"."""
        return self.provenance.get(version, "unknown")

    def is_fresh_and_unshared(self, version):
        """Whether ``version`` holds a value made in this function that no other name refers to."""
        return self.provenance.get(version) == "fresh" and self.sharers(version) == {version}

    # -- recording ----------------------------------------------------------------------------------

    def own(self, version, provenance):
        """``version`` shares memory with no other version (a loop variable, an unpacked item, a copy).
        One of "unknown" provenance (an item of a list or of a call's result) may also be memory from
        outside the function."""
        self.bind(version, set(), provenance)
        if provenance == "unknown":
            self.opaque.add(version)

    def record_aliases(self, version, value):
        """``version = value``, where ``value`` is one operation on atoms or an atom."""
        shared = self.alias_set(value)
        self.bind(version, shared, self.provenance_of(value, shared))
        if self.reaches_outside(value) or shared & self.opaque:
            self.opaque.add(version)
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
            self.parts_of[version] = value.value.id

    def related(self, version):
        """The versions that may share memory with ``version`` through copies, views, calls or subscripts,
        taken both ways and as far as they reach: the only ones a run-time check needs to compare."""
        neighbours = {}
        for v, shared in self.aliases.items():
            for other in shared:
                neighbours.setdefault(v, set()).add(other)
                neighbours.setdefault(other, set()).add(v)
        for part, whole in self.parts_of.items():
            neighbours.setdefault(part, set()).add(whole)
            neighbours.setdefault(whole, set()).add(part)
        seen, todo = {version}, [version]
        while todo:
            for other in neighbours.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def reaches_outside(self, value):
        """Whether ``value`` may be (or be a view of) memory the function did not make and cannot see the
        other names of: a global, a closure value, an attribute of an object, or what a function other
        than numpy's returns (it may return a global). Arguments are not: the run-time check sees them."""
        if isinstance(value, gast.Name):
            return value.id not in self.aliases or value.id in self.opaque
        if isinstance(value, gast.Subscript):
            return self.reaches_outside(value.value)
        if isinstance(value, gast.Attribute):
            return value.attr not in FRESH_METHODS and not (value.attr in VIEW_METHODS | _VIEW_ATTRIBUTES
                                                           and not self.reaches_outside(value.value))
        if isinstance(value, gast.Call):
            if self.made_by(value) == "fresh":
                return False
            func = value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id in self.aliases:
                return self.reaches_outside(func.value)  # a method of a local array: x.reshape(...)
            fn = self.resolve(func)
            if _is_runtime_helper(fn):
                return False
            module = (getattr(fn, "__module__", None) or "") if fn is not None else ""
            if module.split(".")[0] in ("numpy", "scipy") or type(fn) is np.ufunc:
                return any(self.reaches_outside(a) for a in value.args + [k.value for k in value.keywords]
                           if isinstance(a, (gast.Name, gast.Attribute, gast.Subscript)))
            return True
        return False

    def is_argument(self, version):
        return self.provenance.get(version) == "param" and version in self.params

    def may_check_at_run_time(self, version):
        """Whether a write into ``version`` that the analysis cannot prove safe may be checked when it
        runs instead: it is not an argument itself (a write into one changes the caller's array, and a
        caller that is itself differentiated would not follow that), and its memory cannot come from
        outside the function but through an argument."""
        return self.provenance.get(version) != "param" and version not in self.opaque

    def note_run_time_check(self, check_op, write_index, array, reads_from, sharers=frozenset(), always=True):
        """``check_op`` (an "unshared" op, placed just before the write at op ``write_index``) will check
        at run time that ``array`` shares no memory with an argument or a name read from op
        ``reads_from`` on; ``check`` fills in those names. A check that is not ``always`` needed is
        needed only where one of ``sharers`` is read from op ``reads_from`` on (otherwise it is dropped)."""
        # Who may share the array is taken now: the write (and later bindings inside a loop or a branch,
        # which keep their names) rebind names and replace what they shared.
        check_op.related = self.related(array)
        self.run_time_checks.append((check_op, write_index, array, reads_from, frozenset(sharers), always))

    def bind(self, version, shared, provenance):
        """``version`` now holds a value sharing memory with ``shared``.

        A version bound before is one inside a loop or a branch (straight-line code makes a new version
        per assignment), and the assignment may not run, or run only on some paths: the old value may
        still be there, so what it shared is kept, and its provenance joins the new one. Where the earlier
        binding is in the same block, this one follows it on every path and replaces it."""
        block = self.current_block()
        replaces = block is not None and self.bound_in.get(version) == block
        self.bound_in[version] = block
        if version in self.aliases and not replaces:
            shared = shared | self.aliases[version]
            old = self.provenance[version]
            if old != provenance:
                provenance = "unknown" if "unknown" in (old, provenance) else "view"
        self.aliases[version] = shared | {version}
        for other in self.aliases[version]:
            self.aliases.setdefault(other, {other}).add(version)
        self.provenance[version] = provenance

    def provenance_of(self, value, shared):
        made = self.made_by(value)
        if made == "unknown" and not self.is_view(value):
            return "unknown"  # a call that may return anything, its arguments included
        if shared:
            sources = {self.provenance.get(v, "unknown") for v in shared}
            return "unknown" if "unknown" in sources else "view"
        return made

    def is_view(self, value):
        """Whether ``value`` is a name, or a view of the one name in it."""
        if isinstance(value, gast.Name):
            return True
        if isinstance(value, gast.Attribute):
            return value.attr in VIEW_METHODS or value.attr in _VIEW_ATTRIBUTES
        if isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id in self.aliases:
                return func.attr in VIEW_METHODS
            fn = self.resolve(func)
            return any(fn is v for v in VIEW_FUNCTIONS)
        return False

    def made_by(self, value):
        """"fresh" when ``value`` is always a new object, else "unknown"."""
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
            fn = self.resolve(func)
            if fn is np.array and not copy_kw:
                return "fresh"
            if type(fn) is np.ufunc or any(fn is f for f in FRESH_FUNCTIONS):
                return "fresh"
        return "unknown"

    def alias_set(self, value):
        """The versions whose memory ``value`` may share: those of the name it is, is a view of (``x.T``,
        ``x.real``, ``np.reshape(x)``), or is made from by a call that may return its argument or a view
        of it. A subscript ``x[i]`` is left out here: check_views_after_writes follows it."""
        sources = []
        if isinstance(value, gast.Name):
            sources = [value.id]
        elif isinstance(value, gast.Attribute):
            if value.attr not in FRESH_METHODS and isinstance(value.value, gast.Name):
                sources = [value.value.id]
        elif isinstance(value, gast.Call) and self.provenance_of(value, set()) != "fresh":
            func = value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id in self.aliases:
                sources = [func.value.id]
            fn = self.resolve(func)
            if any(fn is v for v in VIEW_FUNCTIONS):
                sources += [a.id for a in value.args[:1] if isinstance(a, gast.Name)]
            elif not _is_runtime_helper(fn):
                # Any other call may hand back an argument, or a view of one (np.diagonal, a user's
                # function that returns what it is given).
                sources += [a.id for a in value.args + [k.value for k in value.keywords] if isinstance(a, gast.Name)]
        shared = set()
        for source in sources:
            shared |= self.aliases.get(source, set())
        return shared

    def note_aug_write(self, index, old, reads_from):
        """``x += e``, normalized at op ``index``, replaces ``old``. Who shares ``old``'s memory is taken
        now, before the rewrite adds its own copies; reads from op ``reads_from`` on are checked."""
        self.aug_writes.append((index, old, set(self.sharers(old)), reads_from, self.source(old)))

    def note_element_write(self, index, array, origin):
        """``array[i] = v`` at op ``index``."""
        self.element_writes.append((index, array, origin))

    # -- checks -------------------------------------------------------------------------------------

    def check(self, ops):
        """Refuse the writes recorded while normalizing into ``ops`` that another name would see, and fill
        in the run-time checks of those the analysis cannot decide."""
        self.check_aug_writes(ops)
        self.check_views_after_writes(ops)
        self.fill_run_time_checks(ops)

    def fill_run_time_checks(self, ops):
        """Each run-time check compares the written array with the arguments and with every version bound
        before it that may share its memory (``related``: the names read later, and the values the
        backward pass reads, may be any of them). A version bound only inside an earlier loop or branch
        may be unbound where the check runs, so a write that such a version might see is refused as
        before."""
        for check_op, index, array, reads_from, sharers, always in self.run_time_checks:
            if getattr(check_op, "argument", None) == ARGUMENT_UPDATE:
                first, *described = check_op.value.elts
                empty = [gast.Tuple(elts=[], ctx=gast.Load()), gast.Tuple(elts=[], ctx=gast.Load())]
                check_op.value.elts = [first] + empty + described + [gast.Constant(value=ARGUMENT_UPDATE, kind=None)]
                continue
            later = set()
            for op in ops[reads_from:]:
                if op is check_op:
                    continue  # (the write itself counts: in a loop it runs again after the write)
                later |= _names_in(op.value) | (_names_in(op.stored) if op.stored is not None else set())
            later -= self.read_before_write
            if not always and not later & (sharers - {array}):
                check_op.value.elts = []  # the analysis proves this write safe: no check runs
                continue
            certain = check_op.bound_here | self.params
            related = check_op.related - self.read_before_write
            uncertain = sorted((check_op.bound_before & related) - certain - {array})
            if uncertain:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate this write into `{self.user_names.get(array, array)}`: "
                    f"it may share memory with `{self.user_names.get(uncertain[0], uncertain[0])}`, and the "
                    "compiler cannot check that when the line runs, since that name is bound only inside an "
                    "earlier loop or branch.", origin=ops[index].origin,
                    hint="Copy before changing it (`.copy()`), or write `x = x + ...` to make a new array.")
            # Arguments (which the caller sees) and the related names bound here; a list or dict among them
            # is searched for arrays.
            others = sorted(((certain & related) | self.params) - {array})
            first, *described = check_op.value.elts
            if getattr(check_op, "argument", None) == ARGUMENT_WRITE:  # a write into an argument
                described = described + [gast.Constant(value=ARGUMENT_WRITE, kind=None)]
            check_op.value.elts = [first, gast.Tuple(elts=[gast.Name(id=o, ctx=gast.Load(), annotation=None,
                                                                      type_comment=None) for o in others],
                                                     ctx=gast.Load()),
                                   gast.Tuple(elts=[gast.Constant(value=self.user_names.get(o, o), kind=None)
                                                    for o in others], ctx=gast.Load())] + described

    def check_views_after_writes(self, ops):
        """``r = y[1]`` may be a view of ``y``: after ``y[1] = v`` or ``y *= 2`` it shows the new values.
        The compiler treats ``r`` as the value read, so a read of ``r`` after a write into ``y`` is
        refused."""
        writes = [(index, {array}, array, origin) for index, array, origin in self.element_writes]
        writes += [(index, sharers, old, ops[index].origin) for index, old, sharers, _, _ in self.aug_writes]
        for index, arrays, array, origin in writes:
            reads = {op.target: i for i, op in enumerate(ops[:index]) if op.kind == "assign"
                     and isinstance(op.value, gast.Subscript) and isinstance(op.value.value, gast.Name)
                     and op.value.value.id in arrays}
            for op in ops[index + 1:]:
                if op.kind in ("assign", "unpack") and op.target in reads:
                    reads.pop(op.target)  # assigned anew: later reads see the new value
                used = _names_in(op.value)
                if op.stored is not None:
                    used |= _names_in(op.stored)
                shared = sorted(used & set(reads))
                if shared:
                    raise UnsupportedSyntaxError(
                        f"autodiff_st cannot differentiate this write into `{array}`: `{shared[0]}` was read "
                        f"from `{array}` before it and is used after it, and if it is a view it changes with the "
                        "write.", origin=origin,
                        hint=f"Copy what you read first, for example `{shared[0]} = {array}[...].copy()`.")

    def check_aug_writes(self, ops):
        # (The check of an argument's own update only refuses it inside a call: the static check stays.)
        checked = {index for op, index, _, _, _, _ in self.run_time_checks if getattr(op, "argument", None) is None}
        for index, old, sharers, reads_from, provenance in self.aug_writes:
            if index in checked:
                continue  # checked when it runs
            if provenance == "unknown":
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot differentiate this augmented assignment: it would change an array "
                    "in place, and the compiler cannot tell which other names share that array (it comes "
                    "from a call or a name the compiler does not follow).",
                    origin=ops[index].origin,
                    hint="Write `x = x + ...` to make a new array, or .copy() the array first.")
            others = sharers - {old}
            for op in ops[reads_from:]:
                if op is ops[index] and reads_from > index:
                    continue  # outside a loop, the write's own read happens before the write
                shared = sorted(_names_in(op.value) & others)
                if shared:
                    raise UnsupportedSyntaxError(
                        f"autodiff_st cannot differentiate this augmented assignment: it changes an array "
                        f"in place that `{shared[0]}` also refers to, and `{shared[0]}` is read later.",
                        origin=ops[index].origin,
                        hint="Write `x = x + ...` to make a new array, or .copy() the array before "
                             "changing it.")


# -- the analysis' facts ----------------------------------------------------------------------------


OUTSIDE = "<outside>"

_CONTAINERS = {builtins.list, builtins.tuple, builtins.dict, builtins.set, builtins.sorted, builtins.reversed}
_IMMUTABLE = {builtins.float, builtins.int, builtins.len, builtins.bool, builtins.str, builtins.repr}
_VIEW_ATTRIBUTES = {"T", "mT", "real", "imag", "flat", "base"}


class Aliasing:
    """Which names may share memory: ``roots(name)``, ``may_share_memory(a, b)``, ``aliases(name)``,
    ``from_outside(name)``."""

    def __init__(self, facts):
        self._facts = facts
        self._roots = {}
        for p in facts.params:
            self._roots[p] = set() if facts.kinds.is_number(p) else {OUTSIDE}
        changed = True
        while changed:  # the roots only grow
            changed = False
            for name, roots in self._flows():
                if facts.kinds.is_number(name):
                    roots = set()
                known = self._roots.setdefault(name, set())
                if not roots <= known:
                    known |= roots
                    changed = True

    # -- queries --------------------------------------------------------------------------------------

    def roots(self, name):
        """The roots of the memory ``name`` may share: op names and ``OUTSIDE``."""
        if not self._facts.is_local(name):
            return frozenset({OUTSIDE})
        return frozenset(self._roots.get(name, ()))

    def may_share_memory(self, a, b):
        """Whether a change made through ``a`` may be seen through ``b``."""
        return bool(self.roots(a) & self.roots(b))

    def aliases(self, name):
        """The names the function binds that may share memory with ``name``, ``name`` included unless it
        holds a number."""
        return {other for other in self._roots if self.may_share_memory(name, other)}

    def from_outside(self, name):
        """Whether ``name`` may share memory with an argument, a global, a closure value or an object's
        attribute: a change made through it may be seen by the caller."""
        return OUTSIDE in self.roots(name)

    # -- the flows --------------------------------------------------------------------------------------

    def _flows(self):
        """(name, roots it may reach) for every place that binds or fills a name."""
        facts = self._facts
        for op in facts.body_ops:
            if op.kind == "assign":
                yield op.target, self._value_roots(op, op.target)
            elif op.kind == "unpack":
                for name in op.target:
                    yield name, self._value_roots(op, name)
            elif op.kind == "pop":
                yield op.target, self._of(op.value)
            elif op.kind == "append":
                yield op.target, self._of(op.stored)
            elif op.kind == "setitem":
                kind = facts.kinds.kind(op.target)
                if not (kind.kind == "array" and kind.dtype not in (None, "object")):
                    yield op.target, self._of(op.stored)  # a list, or an array of objects, holds the value
            if isinstance(op.value, gast.Call) and self._may_store(op):
                arguments = self._arguments(op.value)
                shared = self._of(*arguments)
                for name in {n for a in arguments for n in names_in(a)}:
                    if facts.is_local(name):
                        yield name, shared
        for loop in facts.loops:
            if not loop.range_args:
                for target, source in zip(loop.targets, loop.sources):
                    yield target, self._of(source)

    def _of(self, *nodes):
        roots = set()
        for node in nodes:
            for name in names_in(node):
                roots |= self.roots(name)
        return roots

    def _arguments(self, call):
        """The atoms a call is given, the receiver of a method of a local value included."""
        func = call.func
        receiver = [func.value] if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
            and self._facts.is_local(func.value.id) else []
        return list(call.args) + [k.value for k in call.keywords] + receiver

    def _may_store(self, op):
        """Whether a call may store one of its arguments into another (one the compiler cannot read)."""
        callee = self._facts.callees.get(id(op))
        return callee is None or callee.kind in ("user", "unknown", "unknown_method")

    def _value_roots(self, op, site):
        value = op.value
        if isinstance(value, (gast.Constant, gast.JoinedStr)):
            return set()
        if isinstance(value, gast.Name):
            return self._of(value)
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            return {site} | self._of(value)
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            if all(self._facts.kinds.kind(n).kind in ("array", "number") for n in names_in(value)):
                return {site}
            return {site} | self._of(value)  # [a] + [b] holds a and b
        if isinstance(value, gast.Subscript):
            return self._of(value.value)  # a view, or an element
        if isinstance(value, gast.Attribute):
            if value.attr in VIEW_METHODS or value.attr in _VIEW_ATTRIBUTES:
                return self._of(value.value)
            if value.attr in FRESH_METHODS or value.attr in rules.NONDIFF_ATTRIBUTES:
                return set()
            return self._of(value.value) | {OUTSIDE}  # whatever the object holds
        if isinstance(value, gast.Call):
            return self._call_roots(op, site)
        return {site, OUTSIDE} | self._of(value)

    def _call_roots(self, op, site):
        call = op.value
        callee = self._facts.callees.get(id(op))
        arguments = self._of(*self._arguments(call))
        out = {k.value for k in call.keywords if k.arg == "out"}
        written = self._of(*out)
        if callee is None or callee.kind in ("user", "unknown", "unknown_method"):
            return {site, OUTSIDE} | arguments
        if callee.kind in ("method", "nondiff", "astype") and isinstance(call.func, gast.Attribute) \
                and isinstance(call.func.value, gast.Name) and self._facts.is_local(call.func.value.id):
            name = call.func.attr
            receiver = self._of(call.func.value)
            if name in VIEW_METHODS:
                return receiver | written
            if name in FRESH_METHODS or name in rules.NONDIFF_METHODS:
                return {site} | written
            if name == "astype":
                copy = next((k.value for k in call.keywords if k.arg == "copy"), None)
                if copy is None or isinstance(copy, gast.Constant) and copy.value is True:
                    return {site}
            return {site} | arguments | written
        fn = callee.obj
        try:
            if fn in _IMMUTABLE:
                return set()
            if fn in _CONTAINERS:
                return {site} | arguments
            if type(fn) is np.ufunc or fn is builtins.abs or any(fn is f for f in FRESH_FUNCTIONS):
                return {site} | written
            if fn is np.array and not any(k.arg == "copy" for k in call.keywords):
                return {site}
            if any(fn is f for f in VIEW_FUNCTIONS) and call.args:
                return {site} | self._of(call.args[0]) | written
        except TypeError:  # an unhashable object
            return {site, OUTSIDE} | arguments
        module = getattr(fn, "__module__", None) or ""
        if module == "numpy" or module.startswith("numpy."):
            return {site} | arguments  # a new array, or a view of an argument
        return {site, OUTSIDE} | arguments
