"""Property-based fuzzing: random small programs, written as source text, checked against finite differences.

The compiler reads a function's source, so each generated program is written to a module file of its
own (under a pytest tmp directory) and imported from there. A program has 2 or 3 parameters (float
arrays of shape (3,) or (2, 3), or Python floats) and 1 to 6 top-level statements built from:

- arithmetic ``+ - * /`` (a divisor is always ``1 + x ** 2``), unary minus, ``** 2`` and broadcasting;
- smooth functions with safe domains: ``np.sin``, ``np.cos``, ``np.tanh``, ``np.exp(np.tanh(x))``,
  ``np.log(1 + x ** 2)``, ``np.sqrt(1 + x ** 2)``;
- reductions ``np.sum`` / ``np.mean`` (``axis=None/0/-1``, ``keepdims``) and the methods ``x.sum()``,
  ``x.mean(axis=0)``; ``x.T``; subscript reads ``x[0]``, ``x[-1]``, ``x[1:]``, ``x[:, 1]``,
  ``x[[0, 0, 2]]``;
- reassignment of a variable or a parameter (``a = np.sin(a) + ...``), also inside branches;
- augmented assignment (``+= -= *= /=``) on a fresh array or float (``np.zeros``, ``np.ones``,
  ``x.copy()``, an arithmetic result, ``0.0``);
- subscript writes ``y[k] = e`` and ``y[k] += e`` into a fresh array (``np.zeros``, ``np.ones``,
  ``x.copy()``, an arithmetic result), with integer, slice and 2-D indices;
- ``if`` / ``elif`` / ``else`` on ``np.sum(v) > t`` and the like, whose branches reassign variables,
  define a new one in every branch, or write into a fresh array;
- ``for i in range(n)`` loops with one or two loop-carried variables (updated by assignment or in
  place by ``+=``), reads ``v[i % 3]`` and ``i``, writes ``y[i % 3] = ...`` (which may read
  ``y[(i + 1) % 3]``), and an ``if`` inside the body;
- ``return np.sum(...)``, ``return np.mean(...)``, or a tuple of two outputs.
No kinks (``abs``, ``maximum``) are generated. Values are kept bounded (a subexpression that could
exceed a small bound is wrapped in ``np.tanh``) so that central finite differences are accurate, and
inputs whose branch conditions lie within 1e-3 of their threshold are rejected, so a finite difference
never straddles a branch switch. Which way each condition went is recorded with ``hypothesis.event``
(``pytest --hypothesis-show-statistics``): both ways occur, and a program with a branch is also checked
at its negated inputs.

The properties, all in float64: ``check_grads`` at order 1, and at order 2 for about a third of the
programs; the same program compiled from two module files (under two names) giving the same
``ad.source`` text up to those names; ``vjp_fn`` giving the same result when called twice, and leaving
its inputs alone; ``ad.grad`` (its own grad-only mode) agreeing with ``vjp_fn``. A failure's message
holds the generated source and the arguments, ready to paste.

A second generator, tests/fuzz_programs.py, writes the programs where a compiler is most easily silently
wrong (loops with index-dependent and zero trip counts, early returns, containers made in loops and
branches, aliases, ``out=``, helper calls); ``test_wide_programs_pass_or_refuse`` judges its programs
0 to 1999 and ``make fuzz`` 20,000 more. Its open bugs are the KNOWN_BUGS of that module, each with a
strict xfail at the end of this file.

The settings are derandomized, so the examples are the same on every run. Bugs found by this fuzzer
are at the end of the file: those still open as minimal programs in strict xfails, with the generator
avoiding exactly their pattern (marked KNOWN BUG n), and those since fixed as plain regression tests.
"""

import dataclasses
import importlib.util
import itertools
import re
import traceback
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st

import autodiff_st as ad

from . import fuzz_programs

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

BOUND = 6.0  # a subexpression that could exceed this in magnitude is wrapped in np.tanh
MARGIN = 1e-3  # a branch condition must be at least this far from its threshold
CONSTANTS = ("0.5", "2.0", "1.5", "0.25", "3.0")
PARAM_SHAPES = {"vec": (3,), "mat": (2, 3), "float": ()}
FRESH_SHAPES = ((3,), (2, 3))


# --------------------------------------------------------------------------------------------------
# The program generator
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Var:
    """What the generator knows about a variable."""
    shape: tuple
    bound: float  # an upper bound of its magnitude


@dataclasses.dataclass(frozen=True)
class E:
    """A generated expression. Every compound text is atomic: parenthesized, or a call."""
    text: str
    shape: tuple
    bound: float


def broadcast(s1, s2):
    try:
        return tuple(np.broadcast_shapes(s1, s2))
    except ValueError:
        return None


def fits(value_shape, slot_shape):
    """Whether a value of ``value_shape`` can be stored into (or added in place to) ``slot_shape``."""
    return broadcast(value_shape, slot_shape) == tuple(slot_shape)


def size(shape):
    return int(np.prod(shape)) if shape else 1


def shape_text(shape):
    return f"({shape[0]},)" if len(shape) == 1 else f"({', '.join(map(str, shape))})"


@dataclasses.dataclass
class Scope:
    pool: dict  # name (or a read such as "a[i % 3]") -> Var: what expressions may read
    writable: dict = dataclasses.field(default_factory=dict)  # fresh array -> shape: subscript targets
    carried: dict = dataclasses.field(default_factory=dict)  # loop-carried name -> Var
    in_loop: bool = False
    may_reassign: bool = True  # outer variables may be reassigned (not inside loops)
    updated_in_place: frozenset = frozenset()  # loop-carried arrays updated by `+=` and the like

    def child(self):
        """The scope of a branch of an if."""
        return dataclasses.replace(self, pool=dict(self.pool))

    def reads_in_place(self, text, views=r"(\.T|\[[^\]]*\])*"):
        """Whether ``text`` is a carried array updated in place, or a view of it."""
        return any(re.fullmatch(re.escape(name) + views, text) for name in self.updated_in_place)


class Program:
    """A generated program: its parameters, its lines, and a few facts about it."""

    def __init__(self, params, lines, features):
        self.params = params  # [(name, kind)]
        self.lines = lines  # [(indent, text, probe_text)]
        self.features = features

    def source(self, name="fuzzed", probe=False):
        header = "import numpy as np\n\n\n"
        sig = f"def {name}({', '.join(p for p, _ in self.params)}):\n"
        body = "".join("    " * indent + (probe_text if probe else text) + "\n"
                       for indent, text, probe_text in self.lines)
        return header + sig + body

    def __repr__(self):
        return self.source()


class Builder:
    def __init__(self, draw):
        self.draw = draw
        self.lines = []
        self.counter = itertools.count(1)
        self.features = set()
        self.recent = []  # names assigned, in order: the return reads the latest

    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def chance(self, one_in):
        return self.draw(st.integers(0, one_in - 1)) == 0

    def fresh(self, prefix):
        return f"{prefix}{next(self.counter)}"

    def emit(self, indent, text, probe=None):
        self.lines.append((indent, text, probe if probe is not None else text))

    # ---- expressions

    def leaf(self, scope):
        names = list(scope.pool)
        if names and not self.chance(4):
            name = self.pick(names)
            return E(name, scope.pool[name].shape, scope.pool[name].bound)
        c = self.pick(CONSTANTS)
        return E(c, (), float(c))

    def bounded(self, text, shape, bound):
        if bound > BOUND:
            return E(f"np.tanh({text})", shape, 1.0)
        return E(text, shape, bound)

    def expr(self, scope, depth):
        if depth <= 0 or self.chance(3):
            return self.leaf(scope)
        kind = self.pick(["+", "*", "-", "/", "call", "reduce", "neg", "square", "index", "T"])
        if kind in ("+", "-", "*", "/"):
            e1 = self.expr(scope, depth - 1)
            e2 = self.expr(scope, depth - 1)
            if broadcast(e1.shape, e2.shape) is None:
                e2 = self.bounded(f"np.sum({e2.text})", (), e2.bound * size(e2.shape))
            shape = broadcast(e1.shape, e2.shape)
            if kind == "/":
                return self.bounded(f"({e1.text} / (1 + {e2.text} ** 2))", shape, e1.bound)
            bound = e1.bound * e2.bound if kind == "*" else e1.bound + e2.bound
            return self.bounded(f"({e1.text} {kind} {e2.text})", shape, bound)
        e = self.expr(scope, depth - 1)
        s, b = e.shape, e.bound
        if kind == "neg":
            return E(f"(-{e.text})", s, b)
        if kind == "square":
            return self.bounded(f"({e.text} ** 2)", s, b * b)
        if kind == "call":
            template, bound = self.pick([
                ("np.sin({})", min(b, 1.0)), ("np.cos({})", 1.0), ("np.tanh({})", min(b, 1.0)),
                ("np.exp(np.tanh({}))", np.e), ("np.log(1 + {} ** 2)", np.log1p(b * b)),
                ("np.sqrt(1 + {} ** 2)", np.sqrt(1 + b * b)),
            ])
            return E(template.format(e.text), s, bound)
        if kind == "reduce":
            options = [("np.sum({})", (), b * size(s)), ("np.mean({})", (), b)]
            if s:
                options += [
                    ("np.sum({}, axis=0)", s[1:], b * s[0]),
                    ("np.mean({}, axis=0)", s[1:], b),
                    ("np.sum({}, axis=0, keepdims=True)", (1,) + s[1:], b * s[0]),
                    ("np.sum({}, axis=-1)", s[:-1], b * s[-1]),
                    ("np.mean({}, axis=-1, keepdims=True)", s[:-1] + (1,), b),
                    ("{}.sum()", (), b * size(s)),
                    ("{}.mean(axis=0)", s[1:], b),
                ]
            template, shape, bound = self.pick(options)
            return self.bounded(template.format(e.text), shape, bound)
        if not s:  # index and T need an array
            return e
        if kind == "T":
            if scope.in_loop and scope.reads_in_place(e.text, views=r"(\[[^\]]*\])*"):
                # KNOWN BUG 6 (test_known_bug_6_transpose_read_before_in_place_update): reading
                # `acc.T` in a loop that then updates `acc += ...` is refused, though no name keeps
                # the transpose. Such a read is left out.
                return e
            return E(f"{e.text}.T", s[::-1], b)
        options = [("{}[0]", s[1:]), ("{}[-1]", s[1:])]
        if s[0] >= 2:
            options.append(("{}[1:]", (s[0] - 1,) + s[1:]))
        if s[0] == 3:
            options.append(("{}[[0, 0, 2]]", s))
        if len(s) == 2 and s[1] >= 2:
            options.append(("{}[:, 1]", s[:1]))
        template, shape = self.pick(options)
        return E(template.format(e.text), shape, b)

    def rhs(self, scope, shape=None):
        """An expression for the right of an assignment; with ``shape``, one that fits into it."""
        e = self.expr(scope, self.draw(st.integers(1, 3)))
        if shape is not None and not fits(e.shape, shape):
            e = self.bounded(f"np.sum({e.text})", (), e.bound * size(e.shape))
        if scope.in_loop and scope.reads_in_place(e.text):
            # `t = acc` (or a view of it) while `acc += ...` runs in the loop: the compiler rightly
            # refuses the in-place update of a shared array. Take a copy instead.
            e = E(f"({e.text} * 1.0)", e.shape, e.bound)
        return e

    # ---- statements

    def block(self, scope, indent, count, kinds):
        for _ in range(count):
            kind = self.pick([k for k in kinds if k != "write" or scope.writable])
            getattr(self, "stmt_" + kind)(scope, indent)

    def stmt_assign(self, scope, indent):
        e = self.rhs(scope)
        name = self.fresh("v")
        self.emit(indent, f"{name} = {e.text}")
        scope.pool[name] = Var(e.shape, e.bound)
        self.recent.append(name)

    def stmt_reassign(self, scope, indent):
        """``x = f(x, e)``: a variable, or a parameter, gets a new value (possibly a new shape)."""
        names = [n for n in scope.pool if n.isidentifier() and n not in scope.carried]
        if not names:
            return self.stmt_assign(scope, indent)
        name = self.pick(names)
        x = scope.pool[name]
        e = self.rhs(scope)
        form = self.pick(["scale", "add", "mul", "sin", "div"])
        shape = broadcast(x.shape, e.shape)
        if form == "scale" or shape is None:
            text, shape, bound = f"{name} * 2.0", x.shape, 2 * x.bound
        elif form == "add":
            text, bound = f"{name} + {e.text}", x.bound + e.bound
        elif form == "mul":
            text, bound = f"{name} * {e.text}", x.bound * e.bound
        elif form == "sin":
            text, bound = f"np.sin({name}) + {e.text}", 1 + e.bound
        else:
            text, bound = f"{name} / (1 + {e.text} ** 2)", x.bound
        new = self.bounded(text, shape, bound)
        self.features.add("reassign")
        self.emit(indent, f"{name} = {new.text}")
        scope.pool[name] = Var(new.shape, new.bound)
        self.recent.append(name)

    def fresh_array(self, scope, indent, name, allow_scalar=False):
        """``name = <a fresh array>`` (outside loops); returns its Var."""
        copyable = [n for n, v in scope.pool.items() if n.isidentifier() and v.shape]
        options = ["zeros", "ones", "arith"] + (["copy"] if copyable else []) + (["float"] if allow_scalar else [])
        how = self.pick(options)
        if how in ("zeros", "ones"):
            shape = self.pick(FRESH_SHAPES)
            self.emit(indent, f"{name} = np.{how}({shape_text(shape)})")
            return Var(shape, 1.0)
        if how == "copy":
            source = self.pick(copyable)
            self.emit(indent, f"{name} = {source}.copy()")
            self.features.add("copy")
            return scope.pool[source]
        if how == "float":
            self.emit(indent, f"{name} = 0.0")
            return Var((), 0.0)
        e = self.rhs(scope)
        self.emit(indent, f"{name} = {e.text} + 0.0")
        return Var(e.shape, e.bound)

    def stmt_aug(self, scope, indent):
        """A fresh array (or a float), then one or two augmented assignments to it."""
        name = self.fresh("w")
        var = self.fresh_array(scope, indent, name, allow_scalar=True)
        bound = var.bound
        for _ in range(self.draw(st.integers(1, 2))):
            e = self.rhs(scope, var.shape)
            op = self.pick(["+=", "-=", "*=", "/="])
            if op == "*=":
                self.emit(indent, f"{name} *= np.cos({e.text})")
            elif op == "/=":
                self.emit(indent, f"{name} /= (1 + {e.text} ** 2)")
            else:
                self.emit(indent, f"{name} {op} {e.text}")
                bound += e.bound
        self.features.add("aug")
        scope.pool[name] = Var(var.shape, bound)
        self.recent.append(name)

    def index_for(self, shape, loop):
        """An index into an array of ``shape`` and the shape of the slot it selects."""
        if loop:
            return f"i % {shape[0]}", shape[1:]
        options = [("0", shape[1:]), ("-1", shape[1:])]
        if shape[0] >= 2:
            options += [("1", shape[1:]), ("1:", (shape[0] - 1,) + shape[1:])]
        if len(shape) == 2 and shape[1] >= 2:
            options += [("0, 1", ()), (":, 1", shape[:1])]
        return self.pick(options)

    def write(self, scope, indent, name, shape, loop):
        index, slot = self.index_for(shape, loop)
        e = self.rhs(scope, slot)
        text, bound = e.text, e.bound
        op = self.pick(["=", "+="])
        if loop and op == "=" and len(shape) == 1 and self.chance(2):
            # Read another element of the array being written: its old value must be restored right.
            # KNOWN BUG 7 (test_known_bug_7_row_view_overwritten): of a 2-D array the row read is a
            # view, kept for the backward pass and changed by the next write; so only 1-D arrays here.
            text, bound = f"np.sin({name}[(i + 1) % {shape[0]}]) + {text}", bound + 1
        self.emit(indent, f"{name}[{index}] {op} {text}")
        self.features.add("write")
        return bound

    def stmt_subscript(self, scope, indent):
        """A fresh array and one or two subscript writes into it; then it can be read."""
        name = self.fresh("y")
        var = self.fresh_array(scope, indent, name)
        if not var.shape:
            scope.pool[name] = var
            return
        bound = var.bound
        for _ in range(self.draw(st.integers(1, 2))):
            bound += self.write(scope, indent, name, var.shape, loop=False)
        scope.pool[name] = Var(var.shape, bound)
        self.recent.append(name)

    def stmt_write(self, scope, indent):
        name = self.pick(list(scope.writable))
        self.write(scope, indent, name, scope.writable[name], loop=scope.in_loop)

    def condition(self, scope):
        name = self.pick(list(scope.pool))
        threshold = self.pick(["0", "0.5", "-0.5"])
        op = self.pick([">", "<"])
        if scope.pool[name].shape == () and self.chance(2):
            value = name
        else:
            value = f"{self.pick(['np.sum', 'np.mean', 'np.max'])}({name})"
        return (f"{value} {op} {threshold}", f"_probe({value}, {threshold}, {op!r}) {op} {threshold}")

    def stmt_if(self, scope, indent):
        """if / elif / else: branches reassign variables, define new ones, or write fresh arrays."""
        self.features.add("if")
        inner = ["assign", "reassign", "write"] if scope.may_reassign else ["temp", "carried", "write"]
        written = None
        if not scope.in_loop and self.chance(2):  # a fresh array, written in the branches
            name = self.fresh("y")
            var = self.fresh_array(scope, indent, name)
            if var.shape:
                written = (name, var.shape)
                scope = dataclasses.replace(scope, writable={**scope.writable, name: var.shape})
            else:
                scope.pool[name] = var
        shared = self.fresh("v") if self.chance(2) else None  # a new name assigned in every branch
        arms = ["if"] + (["elif"] if self.chance(4) else [])
        has_else = shared is not None or not self.chance(3)
        if has_else:
            arms.append("else")
        outcomes = []
        for arm in arms:
            branch = scope.child()
            if arm == "else":
                self.emit(indent, "else:")
            else:
                text, probe = self.condition(scope)
                self.emit(indent, f"{arm} {text}:", f"{arm} {probe}:")
            if shared is not None:
                e = self.rhs(branch)
                self.emit(indent + 1, f"{shared} = {e.text}")
                branch.pool[shared] = Var(e.shape, e.bound)
                self.block(branch, indent + 1, self.draw(st.integers(0, 1)), inner)
            else:
                self.block(branch, indent + 1, self.draw(st.integers(1, 2)), inner)
            outcomes.append(branch.pool)
        if not has_else:
            outcomes.append(scope.pool)
        # After the if: the names every way through defines, with the same shape
        merged = {}
        for name in outcomes[0]:
            vars_ = [o.get(name) for o in outcomes]
            if all(v is not None and v.shape == vars_[0].shape for v in vars_):
                merged[name] = Var(vars_[0].shape, max(v.bound for v in vars_))
        scope.pool.clear()
        scope.pool.update(merged)
        if written is not None:  # the array written in the branches can be read from here on
            scope.pool[written[0]] = Var(written[1], BOUND)
        if shared is not None and shared in scope.pool:
            self.recent.append(shared)

    def stmt_temp(self, scope, indent):
        e = self.rhs(scope)
        name = self.fresh("t")
        self.emit(indent, f"{name} = {e.text}")
        scope.pool[name] = Var(e.shape, e.bound)

    def stmt_carried(self, scope, indent):
        """Update a loop-carried variable, keeping its shape and its bound."""
        name = self.pick(list(scope.carried))
        e = self.rhs(scope, scope.carried[name].shape)
        if name in scope.updated_in_place:
            self.emit(indent, self.pick([f"{name} += np.tanh({e.text})", f"{name} -= np.sin({e.text})",
                                         f"{name} *= np.cos({e.text})"]))
            self.features.add("aug")
        else:
            self.emit(indent, f"{name} = " + self.pick([
                f"np.tanh({name} * 0.5 + {e.text})", f"{name} + np.sin({e.text})",
                f"{name} * np.cos({e.text})", f"0.5 * {name} + np.tanh({e.text})"]))

    def stmt_for(self, scope, indent):
        """A loop with loop-carried variables, reads v[i % n], and maybe writes y[i % n]."""
        self.features.add("for")
        n = self.draw(st.integers(1, 3))
        carried = {}
        in_place = set()
        for _ in range(self.draw(st.integers(1, 2))):
            if self.chance(2):  # initialized fresh: may be updated in place
                name = self.fresh("acc")
                var = self.fresh_array(scope, indent, name, allow_scalar=True)
                if self.chance(2):
                    in_place.add(name)
            else:
                name = self.fresh("h")
                e = self.rhs(scope)
                self.emit(indent, f"{name} = {e.text}")
                var = Var(e.shape, e.bound)
            carried[name] = Var(var.shape, var.bound + n)  # each update adds at most 1
        writable = {}
        if self.chance(2):
            name = self.fresh("y")
            var = self.fresh_array(scope, indent, name)
            if var.shape:
                writable[name] = var.shape
            else:
                scope.pool[name] = var
        body = Scope({**scope.pool, **carried}, writable, carried, in_loop=True, may_reassign=False,
                     updated_in_place=frozenset(in_place))
        for name, var in list(body.pool.items()):
            if name.isidentifier() and var.shape and var.shape[0] >= 2:
                body.pool[f"{name}[i % {var.shape[0]}]"] = Var(var.shape[1:], var.bound)
        if self.chance(3):
            body.pool["i"] = Var((), n - 1)
        self.emit(indent, f"for i in range({n}):")
        kinds = ["carried"] * len(carried) + self.draw(st.lists(st.sampled_from(["temp", "write", "if"]), max_size=2))
        updated = set()
        for kind in self.draw(st.permutations(kinds)):
            if kind == "carried":  # each carried variable is updated once at the top of the body
                name = next(c for c in carried if c not in updated)
                updated.add(name)
                self.stmt_carried(dataclasses.replace(body, carried={name: carried[name]}), indent + 1)
            elif kind == "write" and not writable:
                self.stmt_temp(body, indent + 1)
            else:
                getattr(self, "stmt_" + kind)(body, indent + 1)
        for name, var in body.pool.items():
            if name.isidentifier() and name != "i":  # defined after the loop, which runs at least once
                scope.pool[name] = var
        for name, shape in writable.items():
            scope.pool[name] = Var(shape, BOUND)
        self.recent.extend(carried)
        self.recent.extend(writable)

    def returned(self, scope):
        pool = {n: v for n, v in scope.pool.items() if n.isidentifier()}
        if not pool:  # every variable was dropped, its shape depending on a branch
            self.emit(1, "return np.sum(a)")
            return
        latest = [n for n in self.recent if n in pool]
        names = ([latest[-1]] if latest else []) + self.draw(st.lists(st.sampled_from(sorted(pool)), max_size=2))
        if not names:
            names = [self.pick(sorted(pool))]

        def combine(names):
            text, shape = names[0], pool[names[0]].shape
            for other in names[1:]:
                op = self.pick(["+", "*"])
                s = pool[other].shape
                if broadcast(shape, s) is None:
                    text = f"({text} {op} np.sum({other}))"
                else:
                    text, shape = f"({text} {op} {other})", broadcast(shape, s)
            return text

        form = self.pick(["sum", "sum", "mean", "tuple", "tuple-arrays"])
        if form == "sum":
            self.emit(1, f"return np.sum({combine(names)})")
        elif form == "mean":
            self.emit(1, f"return np.mean({combine(names)})")
        else:
            second = self.pick(sorted(pool))
            first = f"np.sum({combine(names)})" if form == "tuple" else combine(names)
            self.emit(1, f"return {first}, np.tanh({second})")
            self.features.add("tuple")


@st.composite
def programs(draw):
    """(program, args): a random program and float64 arguments for it."""
    count = draw(st.integers(2, 3))
    params = [(name, draw(st.sampled_from(list(PARAM_SHAPES)))) for name in "abc"[:count]]
    builder = Builder(draw)
    scope = Scope({name: Var(PARAM_SHAPES[kind], 1.5) for name, kind in params})
    n = draw(st.integers(1, 6))
    builder.block(scope, 1, n, ["assign", "assign", "reassign", "aug", "subscript", "if", "for"])
    builder.returned(scope)
    program = Program(params, builder.lines, frozenset(builder.features))
    values = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)
    args = []
    for _, kind in params:
        shape = PARAM_SHAPES[kind]
        if shape:
            args.append(np.array(draw(st.lists(values, min_size=size(shape), max_size=size(shape))),
                                 dtype=np.float64).reshape(shape))
        else:
            args.append(float(draw(values)))
    return program, tuple(args)


# --------------------------------------------------------------------------------------------------
# Loading generated source, and reporting
# --------------------------------------------------------------------------------------------------

_MODULES = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_programs")


def load(directory, source, name, extra=None):
    """Write ``source`` to a new module file, import it, and return its function ``name``."""
    stem = f"fuzzed_{next(_MODULES)}"
    path = directory / f"{stem}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(extra or {})
    spec.loader.exec_module(module)
    return getattr(module, name)


def args_text(args):
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(f"np.array({a.tolist()!r})")
        else:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def report(program, args, what, exc):
    return (f"{what}\n\n--- generated program ---\n{program.source()}\n--- arguments ---\nargs = {args_text(args)}\n"
            f"\n--- error ---\n{''.join(traceback.format_exception(exc)).rstrip()}")


def margin_ok(directory, program, args):
    """Run an instrumented copy of the program: every branch condition must be clear of its threshold.

    Records, as hypothesis events, which way the conditions went."""
    records = []

    def probe(value, threshold, op):
        records.append((float(value) - threshold, op))
        return value

    fn = load(directory, program.source("probed", probe=True), "probed", {"_probe": probe})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            fn(*copy_args(args))
        except (FloatingPointError, RuntimeWarning):
            return False
    for distance, op in records:
        event(f"branch condition {'true' if (distance > 0) == (op == '>') else 'false'}")
    return all(abs(d) >= MARGIN for d, _ in records)


def copy_args(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def negated(args):
    return tuple(-a for a in args)


# --------------------------------------------------------------------------------------------------
# Exclusions for known bugs (each has a minimal strict xfail below)
# --------------------------------------------------------------------------------------------------

def second_order_excluded(program):
    """No known bug excludes a program from order 2 now (bug 3, second derivatives through subscript
    writes, is fixed)."""
    return False


# --------------------------------------------------------------------------------------------------
# The properties
# --------------------------------------------------------------------------------------------------

@FUZZ
@given(programs(), st.integers(0, 2))
def test_gradients_match_finite_differences(fuzz_dir, generated, second_choice):
    program, args = generated
    assume(margin_ok(fuzz_dir, program, args))
    for feature in sorted(program.features):
        event(f"feature: {feature}")
    fn = load(fuzz_dir, program.source(), "fuzzed")
    points = [args]
    if "if" in program.features and margin_ok(fuzz_dir, program, negated(args)):
        points.append(negated(args))  # likely the other way through the branches
    order = 2 if second_choice == 0 and not second_order_excluded(program) else 1
    event(f"order {order}")
    for point in points:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                ad.testing.check_grads(fn, copy_args(point), order=order)
        except Exception as exc:
            raise AssertionError(report(program, point, f"check_grads(fn, args, order={order}) failed", exc)) from None


def normalized(source, name, module_file):
    stem = module_file.rsplit("/", 1)[-1].removesuffix(".py")
    return re.sub(rf"\b{re.escape(stem)}\b", "MODULE", source.replace(name, "FN"))


@FUZZ
@given(programs())
def test_same_program_compiles_to_the_same_source(fuzz_dir, generated):
    program, args = generated
    try:
        texts = []
        for name in ("first_copy", "second_copy"):
            fn = load(fuzz_dir, program.source(name), name)
            general = ad.source(fn)
            specialized = ad.vjp(fn, *copy_args(args))[1].source
            grad_text = ad.source(ad.grad(fn, grad_position=tuple(range(len(args)))))
            texts.append([normalized(t, name, fn.__code__.co_filename) for t in (general, specialized, grad_text)])
    except Exception as exc:
        raise AssertionError(report(program, args, "compiling or running the program failed", exc)) from None
    for what, one, two in zip(("ad.source(fn)", "vjp_fn.source", "ad.source(ad.grad(fn))"), *texts):
        assert one == two, f"{what} differs between two copies of the same program:\n{program.source()}"


def cotangent_like(out, rng):
    if isinstance(out, tuple):
        return tuple(cotangent_like(o, rng) for o in out)
    if np.ndim(out) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(out))


def ones_like(out):
    if isinstance(out, tuple):
        return tuple(ones_like(o) for o in out)
    return 1.0 if np.ndim(out) == 0 else np.ones(np.shape(out))


def assert_same(x, y, exact=True):
    if isinstance(x, tuple):
        assert isinstance(y, tuple) and len(x) == len(y)
        for a, b in zip(x, y):
            assert_same(a, b, exact)
        return
    assert type(x) is type(y), (type(x), type(y))
    if exact:
        np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


@FUZZ
@given(programs())
def test_vjp_fn_is_repeatable_and_agrees_with_grad(fuzz_dir, generated):
    program, args = generated
    fn = load(fuzz_dir, program.source(), "fuzzed")
    rng = np.random.default_rng(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            kept = copy_args(args)
            expected = fn(*copy_args(args))
            out, vjp_fn = ad.vjp(fn, *kept)
            v = cotangent_like(out, rng)
            v_kept = cotangent_like(out, np.random.default_rng(0))
            first = vjp_fn(v)
            second = vjp_fn(v)
            summed = vjp_fn(ones_like(out))
            via_grad = ad.grad(fn, grad_position=tuple(range(len(args))))(*copy_args(args))
    except Exception as exc:
        raise AssertionError(report(program, args, "running vjp or grad failed", exc)) from None
    try:
        assert_same(kept, args)  # the inputs are not changed
        assert_same(v, v_kept)  # nor the cotangent
        for o, e in zip(out if isinstance(out, tuple) else (out,),
                        expected if isinstance(expected, tuple) else (expected,)):
            np.testing.assert_allclose(o, e, rtol=1e-12, atol=1e-14)  # the value is fn's
        assert_same(first, second)  # vjp_fn called twice gives the same result
        assert_same(tuple(via_grad), summed, exact=False)  # ad.grad (its own fused mode) agrees
    except AssertionError as exc:
        raise AssertionError(report(program, args, "vjp / grad property failed", exc)) from None


# --------------------------------------------------------------------------------------------------
# Bugs found by the fuzzer, reduced to minimal programs
# --------------------------------------------------------------------------------------------------

V3 = np.array([0.3, 0.2, 0.1])
M23 = np.array([[0.3, 0.2, 0.1], [0.5, -0.4, 0.9]])


# KNOWN BUG 2: a value popped from a list and stored by a subscript write. The backward pass undoes the
# append (a pop) but not the pop (no push), so it pops from an empty list. The generator has no lists,
# but the gradient code of every subscript write restores the old elements with `y[k] = tape.pop()`,
# so this is what breaks second derivatives through writes of constants (bug 3, `constant_write`).

def pop_into_write(x):
    items = []
    items.append(1.0)
    y = np.zeros(3)
    y[0] = items.pop()
    return np.sum(x * y)


def test_fixed_bug_2_list_pop_into_subscript_write():
    # y[0] = items.pop() is now normalized as popped = items.pop(); y[0] = popped.
    np.testing.assert_allclose(ad.grad(pop_into_write)(V3), [1.0, 0.0, 0.0])


# FIXED BUG 3: second derivatives through subscript writes. The generated gradient of a write calls
# runtime.stored_grad and runtime.zero_at, which had no derivative rules, and restores the old elements
# with `y[i] = tape.pop()` (and `y = tape.pop().copy()`), which the normal form did not take. Now both
# helpers have rules and the normal form pops first; the fuzzer checks programs with writes at order 2.

def write_of_input(x):  # was MissingRuleError: runtime.stored_grad
    y = np.zeros(3)
    y[0] = x[0]
    return np.sum(y)


def write_over_input(x):  # was MissingRuleError: runtime.zero_at
    y = x.copy()
    y[0] = 2.0
    return np.sum(y)


def write_unused(x):  # was MissingRuleError: the method .pop() (the restore of a write nothing reads)
    y = x * 2.0
    y[0] = 1.0
    return np.sum(x)


def constant_write(x):  # was IndexError: pop from empty list (bug 2, in the gradient code)
    y = np.zeros(3)
    y[0] = 2.0
    return np.sum(x)


def write_then_branch(x):  # was IndexError: pop from empty list
    y = np.ones(3)
    y[0] += 1.0
    if np.mean(y) > -0.5:
        y = y + 1.0
    return np.sum(x)


@pytest.mark.parametrize("fn", [write_of_input, write_over_input, write_unused, constant_write, write_then_branch])
def test_fixed_bug_3_second_order_through_subscript_write(fn):
    ad.testing.check_grads(fn, (V3,), order=1)  # first order is right
    ad.testing.check_grads(fn, (V3,), order=2)


# KNOWN BUG 6: `acc.T` read in a loop before `acc += ...` is refused ("it changes an array in place
# that `acc_T` also refers to, and `acc_T` is read later"), though only the compiler's own temporary
# holds the transpose, and only until np.sin has read it. With t = acc[0] instead, or without the
# loop, it is accepted. The generator leaves out exactly such transposes.

def transpose_then_in_place(x):
    acc = np.zeros(3)
    for i in range(2):
        t = np.sin(acc.T)  # noqa: F841 (unused on purpose: only the read matters)
        acc += x
    return np.sum(acc)


@pytest.mark.xfail(strict=True, raises=ad.UnsupportedSyntaxError,
                   reason="bug 6: a transpose read in a loop is taken for an alias of the array updated in place")
def test_known_bug_6_transpose_read_before_in_place_update():
    ad.testing.check_grads(transpose_then_in_place, (V3,), order=1)


# KNOWN BUG 7: a wrong gradient, silently. y[1] of a 2-D array is a view; the forward pass keeps it for
# the rule of np.sin, and the write y[1] = 0.0 then changes it, so the backward pass computes cos(0)
# instead of cos(b[1]): ad.grad gives [[0, 0, 0], [1, 1, 1]]. (Of a 1-D array y[1] is a copy, and the
# gradient is right.) The generator reads rows of an array it is writing only for 1-D arrays.

def row_read_then_overwritten(b):
    y = b.copy()
    t = np.sin(y[1])
    y[1] = 0.0
    return np.sum(t)


def test_known_bug_7_row_view_overwritten():
    expected = np.zeros((2, 3))
    expected[1] = np.cos(M23[1])
    np.testing.assert_allclose(ad.grad(row_read_then_overwritten)(M23), expected)


# Found by the fuzzer and fixed since (commits c01c0ec and 331e83b): plain regression tests.

def negative_constant_base(x):  # was generated as -2.0 ** 2: value -2.0 and gradient -4.0
    return x * (-2.0) ** 2


def test_fixed_bug_1_negative_constant_base_of_power():
    assert ad.value_and_grad(negative_constant_base)(0.5) == (2.0, 4.0)


def write_then_reassign_in_branch(x):  # a second vjp_fn call read the restored array
    y = np.ones(3)
    y[0] = x[0]
    if np.sum(x) > 0:
        y = y * x
    return np.sum(y)


def test_fixed_bug_4_vjp_fn_twice_after_write_and_branch():
    _, vjp_fn = ad.vjp(write_then_reassign_in_branch, np.array([0.5, 0.2, 0.3]))
    np.testing.assert_allclose(vjp_fn(1.0)[0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(vjp_fn(1.0)[0], [1.0, 1.0, 1.0])


def recomputed_scalar_reduced(a):  # TypeError: the shape of a * 2.0 was pushed on the tape, never popped
    s = 1.0
    for i in range(2):
        s = s * np.sum(a * 2.0)
    return s


def recomputed_scalar_wrong(a):  # the same misaligned tape, silently: gradient 0.703, not 1.015
    h = 0.5
    s = 1.0
    for i in range(2):
        s = s * np.sum(a * 2.0)
        h = np.tanh(h + s)
    return h


def recomputed_scalar_broadcast(b, c):  # ValueError: cannot reshape array of size 3 into shape (3,2)
    acc = np.ones(3)
    for i in range(3):
        acc -= np.sin(np.sum(b.T + c ** 2))
    return np.sum(b ** 2)


@pytest.mark.parametrize("fn, args", [(recomputed_scalar_reduced, (0.3,)), (recomputed_scalar_wrong, (0.3,)),
                                      (recomputed_scalar_broadcast, (M23, 0.5))])
def test_fixed_bug_5_recomputed_scalar_in_loop_keeps_no_shape_on_tape(fn, args):
    ad.testing.check_grads(fn, args, order=1)


def two_loops_one_unused(x):  # ad.grad: UnboundLocalError, the counter `iterations` was dropped
    for i in range(2):
        pass
    for i in range(2):
        pass
    return np.sum(x)


def test_fixed_bug_8_grad_with_two_loops_whose_results_nothing_reads():
    np.testing.assert_allclose(ad.grad(two_loops_one_unused)(V3), [1.0, 1.0, 1.0])


# --------------------------------------------------------------------------------------------------
# The wide generator (tests/fuzz_programs.py): loops with index-dependent and zero trip counts, early
# returns, containers made in loops and branches, aliases, out=, helper calls. CI judges programs
# 0 to 1999 (the generator avoids the KNOWN BUG patterns of fuzz_programs.KNOWN_BUGS); `make fuzz`
# judges 20,000 more and prints the counts.
# --------------------------------------------------------------------------------------------------

WIDE_SEEDS = 2000
WIDE_CHUNKS = 8


@pytest.mark.parametrize("chunk", range(WIDE_CHUNKS))
def test_wide_programs_pass_or_refuse(chunk):
    """Every program passes every judge it draws, or is refused with an AutodiffError."""
    per_chunk = WIDE_SEEDS // WIDE_CHUNKS
    failures = []
    for seed in range(chunk * per_chunk, (chunk + 1) * per_chunk):
        program, outcome = fuzz_programs.judge(seed)
        if outcome.kind in ("crash", "wrong"):
            failures.append(f"seed {seed}: {outcome.kind} ({outcome.judge}) {outcome.detail}\n{program.source}"
                            f"args = {args_text(program.args)}\n")
    assert not failures, f"{len(failures)} programs failed:\n\n" + "\n".join(failures[:5])


def test_wide_generator_avoids_exactly_the_known_bug_patterns():
    """Each KNOWN BUG pattern occurs in unfiltered programs, and never in the filtered ones."""
    seen = {fuzz_programs.known_bug(fuzz_programs.make_program(seed, avoid_known_bugs=False).source)
            for seed in range(400)}
    assert set(fuzz_programs.KNOWN_BUGS) <= seen
    assert all(fuzz_programs.known_bug(fuzz_programs.make_program(seed).source) is None for seed in range(100))


# KNOWN BUGS of the wide generator, one minimal program each (fuzz_programs.KNOWN_BUGS names the
# pattern the generator avoids). Arguments: x = [0.3, -0.7, 0.5], s = 0.6.

def triangular_nested_loop(x, s):  # wrong gradient, silently: the inner trip count depends on i
    acc = 0.0
    for i in range(2):
        for j in range(i, 2):
            acc = np.tanh(acc + np.tanh(x[i] * s + j))
    return acc


def outer_loop_runs_zero_times(x, s):  # UnboundLocalError: 'j_values'
    acc = x.copy()
    for i in range(0):
        for j in range(2):
            acc = acc * x[i]
    return np.sum(acc)


def early_return_before_loop(x, s):  # UnboundLocalError: 'i_values'
    if s > 0.0:
        return np.sum(x)
    c = x * 0.5
    for i in range(2):
        c = np.tanh(c + x[i])
    return np.sum(c)


def dict_entry_rebound_in_branch(x, s):  # KeyError: 'k'
    d = {}
    d["k"] = x * 2.0
    if s > 0.0:
        d["k"] = d["k"] + x
    return np.sum(d["k"])


def multiply_out(x, s):  # wrong reverse-mode gradient, silently
    o = np.zeros(3)
    np.multiply(x, 2.0, out=o)
    return np.sum(np.tanh(o))


def early_return_before_write(x, s):  # AttributeError: 'NoneType' object has no attribute 'copy'
    if s > 0.0:
        return np.sum(x * 0.5)
    r = np.cos(x)
    r[1] = s
    return np.sum(r)


def list_appended_in_loop(x, s):  # IndexError: too many indices for array: array is 0-dimensional
    ys = []
    for i in range(3):
        ys.append(x[i] * x[0])
    return np.sum(np.array(ys + [0.0]))


def array_made_and_written_in_loop(x, s):  # AttributeError: 'NoneType' object has no attribute 'copy'
    c = x * 0.5
    for i in range(2):
        y = np.ones(3)
        y[i] = x[i + 1] * s
        c = np.tanh(c + y)
    return np.sum(c)


# Found by the wide generator and fixed since: each must now give the right value and derivatives (the
# dict written into after it is made was refused in reverse mode before step 8's container writes).
WIDE_FIXED_BUGS = [triangular_nested_loop, outer_loop_runs_zero_times, early_return_before_loop,
                   dict_entry_rebound_in_branch, multiply_out, early_return_before_write,
                   array_made_and_written_in_loop, list_appended_in_loop]
WIDE_KNOWN_BUGS = []


def test_every_wide_known_bug_has_a_regression_test():
    assert [name for name, _, _ in WIDE_KNOWN_BUGS] == list(fuzz_programs.KNOWN_BUGS)


def _judge_small(fn):
    args = (np.array([0.3, -0.7, 0.5]), 0.6)
    ad.testing.check_grads(fn, copy_args(args), order=1)
    np.testing.assert_allclose(ad.jacrev(fn)(*copy_args(args)), ad.jacfwd(fn)(*copy_args(args)), rtol=1e-6)


@pytest.mark.parametrize("fn", WIDE_FIXED_BUGS, ids=lambda fn: fn.__name__)
def test_wide_fixed_bug(fn):
    _judge_small(fn)


@pytest.mark.parametrize("pattern, fn, error", [
    pytest.param(name, fn, error, id=fn.__name__,
                 marks=pytest.mark.xfail(strict=True, raises=error, reason=f"KNOWN BUG: {name}"))
    for name, fn, error in WIDE_KNOWN_BUGS])
def test_wide_known_bug(pattern, fn, error):
    _judge_small(fn)
