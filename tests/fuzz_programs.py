"""A second, wider program generator and its judges: the constructs where a compiler can be silently wrong.

Each program is a module: up to two helper functions and ``f(x, s)`` (``x`` a float array of shape (3,),
``s`` a Python float), built from snippets that exercise

- nested loops whose inner trip count depends on the outer index and may be zero (``range(i)``,
  ``range(i + 1, n)``), and ``while`` loops that may run zero times;
- early returns (on ``s``) before names, lists, arrays and loops are made;
- arrays, lists and dicts made inside loops and branches and then written (``y[i] = ...``,
  ``.append``, ``d["k"] = ...``);
- aliases through assignment, views (``b = y[1:]``), branches and loops, followed by in-place updates;
- ``out=`` (``np.multiply(x, 2.0, out=y)``);
- calls to the helpers, one of which may write into its argument;
- names bound only inside a loop that may run no times, read later: where the plain function raises
  ``UnboundLocalError``, every transform must raise it too (the "unbound" judge).

Values stay bounded (``np.tanh`` around anything that grows) and branch conditions compare ``s`` or a
loop index, so a finite difference never straddles a branch switch (a program whose ``s`` lies within
``MARGIN`` of a threshold is skipped by ``judge``).

``judge(seed)`` builds program ``seed`` and runs the judges picked by the seed: the value oracle (every
transform's value equals the plain function's: value_and_grad, vjp, jvp, has_aux), ``check_grads``
(finite differences, which checks the value too), jacrev against jacfwd, and hessian against finite
differences of grad. It returns an ``Outcome``: "pass", "refused" (an AutodiffError, counted by class),
"crash" (any other exception from the library) or "wrong" (a mismatch).

Run as a script it judges a range of seeds and prints the counts: ``python tests/fuzz_programs.py
--start 100000 --count 20000``.
"""

import argparse
import collections
import dataclasses
import importlib.util
import itertools
import random
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

import autodiff_st as ad

MARGIN = 1e-3
THRESHOLDS = ("0.0", "0.3", "-0.4")


# --------------------------------------------------------------------------------------------------
# KNOWN BUGS: patterns that fail today. ``known_bug(source)`` names the first one a program contains;
# the generator draws again when a program has one (``make_program(seed, avoid_known_bugs=True)``),
# and each has a minimal strict xfail in tests/test_fuzz.py (test_wide_known_bug). When a bug is fixed
# its xfail passes, and strictness fails it: remove the entry here and the xfail mark there.
# --------------------------------------------------------------------------------------------------

def main_body(source):
    """The text of the helpers and ``f``, the function the judges differentiate."""
    return source[:source.index("def f_aux(")]


# name -> (what fails, whether f's source has the pattern)
# (none open: "list appended in a loop that runs", np.array(ys + [0.0]) after the loop, was fixed when
# `+` of lists became a concatenation with its own rule, compiler/normalize_collections.py)
KNOWN_BUGS = {}


def known_bug(source):
    """The name of the first KNOWN BUG pattern in the program's ``f``, or None."""
    body = main_body(source)
    for name, (_, has_pattern) in KNOWN_BUGS.items():
        if has_pattern(body):
            return name
    return None


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------

class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.counter = itertools.count(1)
        self.arrays = ["x"]  # names holding a float array of shape (3,)
        self.scalars = ["s"]  # names holding a float
        self.helpers = []
        self.features = set()

    def pick(self, options):
        return self.rng.choice(list(options))

    def chance(self, p):
        return self.rng.random() < p

    def name(self, prefix):
        return f"{prefix}{next(self.counter)}"

    def arr(self):
        return self.pick(self.arrays)

    def sca(self):
        return self.pick(self.scalars + ["x[0]", "x[2]"])

    def smooth(self, a):
        return self.pick([f"np.sin({a})", f"np.tanh({a})", f"({a} * 0.5)", f"np.cos({a})",
                          f"np.tanh({a} * {self.arr()})"])

    def cond(self, loop_index=None):
        if loop_index and self.chance(0.5):
            return f"{loop_index} % 2 == 0"
        return f"s {self.pick('<>')} {self.pick(THRESHOLDS)}"

    # ---- helpers

    def make_helpers(self):
        for _ in range(self.rng.randint(0, 2)):
            name = self.name("h")
            kind = self.pick(["pure", "loop", "mutates", "early", "display"])
            if kind == "display":  # a list or dict display returned as it is: the caller reads its items
                body = [self.pick(["return [np.sin(a) * b, {'k': np.cos(a) + b}]",
                                   "return {'k': [np.tanh(a)], 'j': a * b}"])]
            elif kind == "pure":
                body = [f"return np.sin(a) * np.tanh(b)"]
            elif kind == "loop":
                body = ["t = a * 1.0", "for k in range(n):", "    t = np.tanh(t * b + 0.5)", "return t"]
            elif kind == "mutates":
                body = ["a[0] = np.sin(a[1] * b)", "a *= 0.5", "return a"]
            else:
                body = ["if b > 0.0:", "    return a * 0.5", "r = np.cos(a)", "r[1] = b", "return r"]
            sig = "(a, b, n)" if kind == "loop" else "(a, b)"
            self.helpers.append((name, kind, f"def {name}{sig}:\n" + "".join(f"    {l}\n" for l in body)))

    # ---- snippets: each returns lines at indent 0 and may add names

    def snippet(self):
        kinds = ["nested", "while", "early", "container", "alias", "out", "plain", "unbound"]
        if self.helpers:
            kinds.append("call")
        kind = self.pick(kinds)
        self.features.add(kind)
        return getattr(self, "s_" + kind)()

    def s_plain(self):
        v = self.name("v")
        lines = [f"{v} = {self.smooth(self.arr())} + {self.sca()}"]
        self.arrays.append(v)
        return lines

    def s_nested(self):
        acc, n = self.name("acc"), self.rng.randint(0, 4)
        src = self.arr()
        inner = self.pick(["range(i)", f"range(i + 1, {n})", "range(i, 2)", "range(0)"])
        scalar = self.chance(0.4)
        lines = [f"{acc} = {'0.0' if scalar else self.pick(['np.zeros(3)', f'{src}.copy()', f'{src} * 1.0'])}",
                 f"for i in range({n}):", f"    for j in {inner}:"]
        term = f"np.tanh({src}[i % 3] * {self.sca()} + j)"
        if scalar:
            lines.append(f"        {acc} = np.tanh({acc} + {term})")
            self.scalars.append(acc)
        else:
            lines.append(self.pick([f"        {acc}[j % 3] += {term}",
                                    f"        {acc} = np.tanh({acc} * {term})",
                                    f"        {acc}[(i + j) % 3] = {acc}[j % 3] * {term}"]))
            self.arrays.append(acc)
        return lines

    def s_unbound(self):
        # bound only inside a loop that may run no times: a later read raises UnboundLocalError then
        u, n = self.name("u"), self.rng.randint(0, 2)
        lines = [f"for i in range({n}):", f"    {u} = {self.smooth(self.arr())} * (i + 1.0)"]
        self.arrays.append(u)
        return lines

    def s_while(self):
        v, k, n = self.name("w"), self.name("k"), self.rng.randint(0, 3)
        lines = [f"{v} = {self.arr()} * 1.0", f"{k} = 0", f"while {k} < {n}:",
                 f"    {v} = np.tanh({v} * {self.sca()} + 0.5)", f"    {k} += 1"]
        self.arrays.append(v)
        return lines

    def s_early(self):
        return [f"if {self.cond()}:", f"    return np.sum({self.smooth(self.arr())}) * {self.sca()}"]

    def s_container(self):
        kind = self.pick(["list", "dict", "array_branch", "array_loop"])
        src = self.arr()
        v = self.name("c")
        if kind == "list":
            ys, n = self.name("ys"), self.rng.randint(0, 3)
            lines = [f"{ys} = []", f"for i in range({n}):", f"    {ys}.append({src}[i % 3] * {self.sca()})"]
            if self.chance(0.5):
                lines += [f"    if {self.cond('i')}:", f"        {ys}.append(np.sin({src}[(i + 1) % 3]))"]
            lines.append(f"{v} = {src} * (1.0 + np.tanh(np.sum(np.array({ys} + [0.0]))))")
        elif kind == "dict":
            d = self.name("d")
            lines = [f"{d} = {{}}", f'{d}["k"] = {src} * 2.0',
                     f"if {self.cond()}:", f'    {d}["k"] = {d}["k"] + {self.smooth(self.arr())}',
                     f'    {d}["m"] = {self.sca()}', "else:", f'    {d}["m"] = 0.5',
                     f'{v} = np.tanh({d}["k"] * {d}["m"])']
        elif kind == "array_branch":
            lines = [f"if {self.cond()}:", f"    {v} = np.zeros(3)", "else:", f"    {v} = {src} * 1.0",
                     f"{v}[1] = {self.sca()} * {src}[2]"]
        else:
            n = self.rng.randint(0, 3)
            y = self.name("y")
            lines = [f"{v} = {src} * 0.5", f"for i in range({n}):", f"    {y} = np.ones(3)",
                     f"    {y}[i % 3] = {src}[(i + 1) % 3] * {self.sca()}", f"    {v} = np.tanh({v} + {y})"]
        self.arrays.append(v)
        return lines

    def s_alias(self):
        y, b = self.name("y"), self.name("b")
        src = self.arr()
        base = self.pick([f"{src} * 1.0", f"{src}.copy()", "np.ones(3)"])
        kind = self.pick(["assign", "view", "branch", "loop", "row"])
        lines = [f"{y} = {base}"]
        update = self.pick([f"{b} *= {self.sca()}", f"{b}[0] = np.sin({self.sca()})", f"{b} += {self.sca()}"])
        if kind == "assign":
            lines += [f"{b} = {y}", update]
        elif kind == "view":
            lines += [f"{b} = {y}[{self.pick(['1:', ':2', '::2', '::-1'])}]", update]
        elif kind == "branch":
            lines += [f"if {self.cond()}:", f"    {b} = {y}", "else:", f"    {b} = {y}[1:]", update]
        elif kind == "loop":
            n = self.rng.randint(0, 3)
            lines += [f"{b} = {y}", f"for i in range({n}):", f"    {b}[i % 2] += {self.sca()} * {y}[2]",
                      f"    {b} = {y}"]
        else:
            m = self.name("m")
            lines = [f"{m} = np.stack([{base}, {self.arr()} * 0.5])", f"{b} = {m}[1]", update, f"{y} = {m}[0] + {m}[1]"]
        lines.append(f"{y} = np.tanh({y})")
        self.arrays.append(y)
        if self.chance(0.5):
            lines.append(f"{b} = np.tanh({b})")
        return lines

    def s_out(self):
        y = self.name("o")
        src = self.arr()
        call = self.pick([f"np.multiply({src}, 2.0, out={y})", f"np.add({src}, {self.arr()}, out={y})",
                          f"np.sin({src}, out={y})", f"np.multiply({y}, {self.sca()}, out={y})"])
        lines = [f"{y} = {self.pick(['np.zeros(3)', f'{src} * 1.0'])}", call, f"{y} = np.tanh({y})"]
        self.arrays.append(y)
        return lines

    def s_call(self):
        name, kind, text = self.pick(self.helpers)
        v = self.name("r")
        src = self.arr()
        if kind == "loop":
            call = f"{name}({src}, {self.sca()}, {self.rng.randint(0, 2)})"
        elif kind == "mutates":
            src_copy = self.name("m")
            self.arrays.append(v)
            return [f"{src_copy} = {src} * 1.0", f"{v} = {name}({src_copy}, {self.sca()})",
                    f"{v} = np.tanh({v} + {src_copy})"]
        elif kind == "display":
            parts = self.name("p")
            read = f"{parts}[0] * {parts}[1]['k']" if "return [" in text else f"{parts}['k'][0] + {parts}['j']"
            self.arrays.append(v)
            return [f"{parts} = {name}({src}, {self.sca()})", f"{v} = np.tanh({read})"]
        else:
            call = f"{name}({src}, {self.sca()})"
        self.arrays.append(v)
        return [f"{v} = np.tanh({call})"]

    def program(self):
        self.make_helpers()
        body = []
        for _ in range(self.rng.randint(1, 4)):
            body += self.snippet()
        recent = self.arrays[-2:] + self.scalars[-1:]
        ret = " + ".join(f"np.sum({n})" for n in recent)
        aux = self.pick(self.arrays)
        lines = "".join(f"    {l}\n" for l in body)
        helpers = "".join(text + "\n\n" for _, _, text in self.helpers)
        main = f"def f(x, s):\n{lines}    return {ret}\n"
        with_aux = f"def f_aux(x, s):\n{lines}    return {ret}, {aux}\n"
        with_aux = re.sub(r"(\n\s+)return (np\.sum\([^\n]*\)) \* (\S+)\n", r"\1return \2 * \3, x\n", with_aux)
        return f"import numpy as np\n\n\n{helpers}{main}\n\n{with_aux}"


@dataclasses.dataclass
class Program:
    seed: int
    source: str
    args: tuple
    judges: tuple
    features: frozenset


def make_program(seed, avoid_known_bugs=True):
    """Program ``seed``. With ``avoid_known_bugs`` the generator draws again (from a seed derived from
    ``seed``) until the program has no KNOWN BUG pattern, so every seed gives a program to judge."""
    for attempt in itertools.count():
        gen = Gen(seed if attempt == 0 else f"{seed}:{attempt}")
        source = gen.program()
        if not avoid_known_bugs or known_bug(source) is None:
            break
    rng = np.random.default_rng(seed)
    args = (rng.uniform(-1.0, 1.0, 3), float(rng.uniform(-1.0, 1.0)))
    judges = ["value", "check_grads"]
    if seed % 4 == 0:
        judges.append("aux")
    if seed % 4 == 1:
        judges.append("jacobians")
    if seed % 10 == 3:
        judges.append("hessian")
    return Program(seed, source, args, tuple(judges), frozenset(gen.features))


# --------------------------------------------------------------------------------------------------
# The judges
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    kind: str  # "pass", "refused", "crash", "wrong", "skipped"
    judge: str = ""
    detail: str = ""

    def label(self):
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


class Mismatch(Exception):
    pass


_MODULES = itertools.count()
_DIRECTORY = None


def load(source, directory=None):
    global _DIRECTORY
    if directory is None:
        if _DIRECTORY is None:
            _DIRECTORY = Path(tempfile.mkdtemp(prefix="fuzz_programs_"))
        directory = _DIRECTORY
    stem = f"wide_fuzzed_{next(_MODULES)}"
    path = Path(directory) / f"{stem}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copied(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def same(got, expected, what, rtol=1e-7, atol=1e-9):
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            raise Mismatch(f"{what}: {got!r} != {expected!r}")
        for g, e in zip(got, expected):
            same(g, e, what, rtol, atol)
        return
    if np.shape(got) != np.shape(expected) or not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise Mismatch(f"{what}: {got!r} != plain {expected!r}")


def judge_value(module, args):
    f = module.f
    expected = f(*copied(args))
    value, _ = ad.value_and_grad(f, grad_position=(0, 1))(*copied(args))
    same(value, expected, "value_and_grad's value")
    out, vjp_fn = ad.vjp(f, *copied(args))
    same(out, expected, "vjp's output")
    vjp_fn(1.0)
    primal, _ = ad.jvp(f, copied(args), (np.ones(3), 1.0))
    same(primal, expected, "jvp's primal")


def judge_aux(module, args):
    f = module.f_aux
    transform = ad.value_and_grad(f, grad_position=(0, 1), has_aux=True)
    try:
        expected = f(*copied(args))
    except UnboundLocalError:  # the aux is bound only in a loop that ran no times
        try:
            got = transform(*copied(args))
        except UnboundLocalError:
            return
        raise Mismatch(f"value_and_grad(has_aux=True) returned {got!r} where the plain function raises "
                       "UnboundLocalError") from None
    value, _ = transform(*copied(args))
    same(tuple(value), tuple(expected), "value_and_grad(has_aux=True)'s outputs")


def judge_check_grads(module, args):
    try:
        ad.testing.check_grads(module.f, copied(args), order=1)
    except AssertionError as exc:
        raise Mismatch(str(exc)) from None


def judge_jacobians(module, args):
    rev = ad.jacrev(module.f)(*copied(args))
    fwd = ad.jacfwd(module.f)(*copied(args))
    same(rev, fwd, "jacrev against jacfwd", rtol=1e-6, atol=1e-8)


def judge_hessian(module, args, eps=1e-5):
    x, s = args
    hess = ad.hessian(module.f)(*copied(args))
    grad = ad.grad(module.f)
    columns = []
    for k in range(3):
        step = np.zeros(3)
        step[k] = eps
        columns.append((grad(x + step, s) - grad(x - step, s)) / (2 * eps))
    numeric = np.stack(columns, axis=1)
    if not np.allclose(hess, numeric, rtol=1e-4, atol=1e-5):
        raise Mismatch(f"hessian {hess!r} != finite differences of grad {numeric!r}")


def judge_unbound(module, args):
    """The plain function raised UnboundLocalError: so must every transform."""
    f = module.f
    tangents = (np.ones(3), 1.0)
    for what, run in [("grad", lambda: ad.grad(f)(*copied(args))),
                      ("value_and_grad", lambda: ad.value_and_grad(f, grad_position=(0, 1))(*copied(args))),
                      ("vjp", lambda: ad.vjp(f, *copied(args))[1](1.0)),
                      ("jvp", lambda: ad.jvp(f, copied(args), tangents)),
                      ("jacrev", lambda: ad.jacrev(f)(*copied(args))),
                      ("jacfwd", lambda: ad.jacfwd(f)(*copied(args))),
                      ("hessian", lambda: ad.hessian(f)(*copied(args)))]:
        try:
            got = run()
        except UnboundLocalError:
            continue
        raise Mismatch(f"{what} returned {got!r} where the plain function raises UnboundLocalError")


JUDGES = {"value": judge_value, "aux": judge_aux, "check_grads": judge_check_grads,
          "jacobians": judge_jacobians, "hessian": judge_hessian, "unbound": judge_unbound}


def margin_ok(args):
    """Whether ``s`` is clear of every threshold a condition compares it with."""
    s = args[1]
    return all(abs(s - float(t)) >= MARGIN for t in THRESHOLDS)


def judge(seed, avoid_known_bugs=True):
    program = make_program(seed, avoid_known_bugs)
    if not margin_ok(program.args):
        return program, Outcome("skipped", detail="branch margin")
    module = load(program.source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        judges = program.judges
        try:
            module.f(*copied(program.args))
        except UnboundLocalError:  # a read after a loop that ran no times: every transform raises it too
            judges = ("unbound",)
        except Exception as exc:  # the generator's own fault
            return program, Outcome("skipped", detail=f"plain function raised {type(exc).__name__}: {exc}")
        for name in judges:
            try:
                JUDGES[name](module, program.args)
            except Mismatch as exc:
                return program, Outcome("wrong", name, str(exc).splitlines()[0][:300])
            except ad.AutodiffError as exc:
                first = str(exc).splitlines()[0][:200] if str(exc) else ""
                return program, Outcome("refused", name, f"{type(exc).__name__}: {first}")
            except Exception as exc:
                return program, Outcome("crash", name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
    return program, Outcome("pass")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--all", action="store_true", help="judge the known-bug programs too")
    parser.add_argument("--show", type=int, default=3, help="programs to print per failure class")
    options = parser.parse_args(argv)
    counts = collections.Counter()
    refusals = collections.Counter()
    examples = collections.defaultdict(list)
    for seed in range(options.start, options.start + options.count):
        program, outcome = judge(seed, avoid_known_bugs=not options.all)
        counts[outcome.kind] += 1
        if outcome.kind == "refused":
            refusals[outcome.detail.split(":")[0] + ": " + re.sub(r"line \d+|'[^']*'", "…", outcome.detail)[:120]] += 1
        done = seed - options.start + 1
        if done % 500 == 0:
            print(f"after {done} programs:", dict(counts), flush=True)
        if outcome.kind in ("crash", "wrong"):
            key = (outcome.kind, outcome.judge, re.sub(r"[-\d.e]+", "N", outcome.detail)[:80])
            if len(examples[key]) < options.show:
                examples[key].append((program, outcome))
    for (kind, judge_name, _), found in sorted(examples.items()):
        for program, outcome in found:
            print(f"==== {kind} ({judge_name}) seed {program.seed}: {outcome.detail}\n{program.source}"
                  f"args = (np.array({program.args[0].tolist()}), {program.args[1]!r})\n")
    print("counts:", dict(counts))
    for label, n in refusals.most_common():
        print(f"  refused {n}: {label}")
    return 1 if counts["crash"] or counts["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
