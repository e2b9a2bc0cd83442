"""`make bench`: every workload of issue 14's table, side by side with autograd, JAX (eager and jit),
torch.func and tangent-ad where they are installed, each against its target.

    .venv/bin/python benchmarks/run.py                  # the full run: prints, writes docs/bench.png and
                                                        # the generated section of docs/performance.md
    .venv/bin/python benchmarks/run.py --quick          # few rounds, small samples: checks that it runs
    .venv/bin/python benchmarks/run.py --only c,lstm    # some workloads (keys or names, see --list)

Speed is the median, over interleaved rounds, of each contender's time divided by the reference's time in
the same round (timing.py): the reference is a hand-written numpy adjoint, or for the GradBench-style loops
(lstm, ode) the objective itself. The middle half (25th to 75th percentile) shows the spread. Each target
gets PASS or MISS; the exit code is 0 regardless (a benchmark is not a test). Sections that other files
provide (benchmarks/overhead.py, checkpoint.py, jacobians.py) run when those files exist.
"""

import argparse
import importlib
import importlib.util
import inspect
import os
import statistics
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import autodiff_st as ad  # noqa: E402
import gradbench_loops as gb  # noqa: E402
import libraries as libs  # noqa: E402
import workloads as w  # noqa: E402
from report import AD, Result, markdown, plot, print_summary, update_performance_md  # noqa: E402
from timing import interleaved, median_difference, minor_faults_per_call, ratio_summary, time_calls  # noqa: E402

HAND = "hand-written adjoint"
OBJECTIVE = "objective"
FIRST_TRANSFORM_TARGET_MS = 30.0


class Config:
    def __init__(self, quick, rounds=None):
        self.quick = quick
        self.rounds = rounds or (5 if quick else 100)
        self.sample = 0.5e-3 if quick else 3e-3
        self.loop_rounds = rounds or (3 if quick else 15)  # the long loops (f, lstm, ode)
        # a sample long enough that the fast reference of a long loop runs many times per round
        self.loop_sample = 5e-3 if quick else 50e-3


# --------------------------------------------------------------------------------------------------
# Checking and timing

def check_same(name, got, expected):
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected), f"{name}: {len(got)} gradients, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        g, e = np.asarray(g), np.asarray(e)  # a gradient with respect to a Python float is a float
        assert g.shape == e.shape and np.allclose(g, e, rtol=1e-7, atol=1e-10), (
            f"{name}: gradient {i} differs from the reference (max abs difference {np.max(np.abs(g - e)):.3g})")


def checked(contenders, expected, notes):
    """The contenders whose result matches ``expected``; a note for each that fails or does not match."""
    out = {}
    for name, call in contenders.items():
        try:
            check_same(name, call(), expected)
        except Exception as e:
            first_line = str(e).strip().splitlines()[0][:120] if str(e).strip() else ""
            notes.append(f"{name}: left out ({type(e).__name__}: {first_line})")
            continue
        out[name] = call
    return out


def timed(key, label, target, reference_name, reference, contenders, notes, rounds, sample, faults=True):
    """Time ``reference`` and ``contenders`` interleaved, print the workload's table, return its Result."""
    everyone = {reference_name: reference, **contenders}
    times = interleaved(everyone, rounds, sample)
    summary = ratio_summary(times, reference_name)
    ref = statistics.median(times[reference_name])
    print(f"\n{key}: {label}")
    print(f"  {'contender':<28} {'median ratio':>12}   {'middle half':>13}   {'time':>10}   "
          f"{'page faults':>11}   target")
    for name, (median, q1, q3) in summary.items():
        spread = "" if name == reference_name else f"{q1:.2f} - {q3:.2f}"
        target_text = f"<= {target:g}  {'PASS' if median <= target else 'MISS'}" if name == AD and target else ""
        fault = minor_faults_per_call(everyone[name], 3) if faults else None
        fault_text = "n/a" if fault is None else f"{fault:.0f}"
        print(f"  {name:<28} {median:>11.2f}x   {spread:>13}   {_duration(statistics.median(times[name]))}   "
              f"{fault_text:>11}   {target_text}")
    print(f"  ratio = time / time of the {reference_name} in the same round, median over {rounds} rounds; "
          f"the {reference_name} took {_duration(ref).strip()} per call.")
    for note in notes:
        print(f"  ({note})")
    ratios = {name: r for name, r in summary.items() if name != reference_name}
    return Result(key, label, target, reference_name, ratios, notes, rounds)


def marker(ok):
    return "PASS" if ok else "MISS"


def _duration(seconds):
    if seconds >= 0.1:
        return f"{seconds:>8.2f} s"
    if seconds >= 1e-4:
        return f"{seconds * 1e3:>7.2f} ms"
    return f"{seconds * 1e6:>7.1f} us"


def gradient_workload(cfg, key, label, target, fn, args, argnums, hand, third_party_fn=None, torch_key=None,
                      which=libs.ORDER, extra=None, notes=(), other_hands=None):
    """autodiff_st's ad.grad of ``fn`` and the other libraries' gradients, against ``hand``; ``other_hands``
    (label -> function) are more hand-written adjoints, timed as contenders."""
    grad_fn = ad.grad(fn, grad_position=argnums)
    expected = hand(*args)
    check_same(AD, grad_fn(*args), expected)
    contenders = {AD: lambda: grad_fn(*args)}
    for name, other in (extra or {}).items():
        other_grad = ad.grad(other, grad_position=argnums)
        contenders[name] = lambda g=other_grad: g(*args)
    for name, other in (other_hands or {}).items():
        contenders[name] = lambda h=other: h(*args)
    notes = list(notes)
    torch_fn = None
    if torch_key and libs.available(libs.TORCH):
        torch_fn = w.torch_versions(libs.loaded(libs.TORCH)[0])[torch_key]
    others, more = libs.gradient_contenders(third_party_fn or fn, args, argnums, torch_fn, which)
    notes += more
    contenders.update(checked({**{k: v for k, v in contenders.items() if k != AD}, **others}, expected, notes))
    return timed(key, label, target, HAND, lambda: hand(*args), contenders, notes, cfg.rounds, cfg.sample)


# --------------------------------------------------------------------------------------------------
# The workloads of issue 14's table

def bench_a(cfg):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 100))
    wt = 0.1 * rng.standard_normal(100)
    y = np.where(rng.random(1000) < 0.5, -1.0, 1.0)
    return gradient_workload(cfg, "a", "logistic regression 1000x100, gradient w.r.t. w", 1.1,
                             w.logistic_loss, (wt, X, y), 0, w.logistic_grad_hand, torch_key="logistic")


def bench_b(cfg):
    rng = np.random.default_rng(1)
    batch = 128
    x = rng.standard_normal((batch, 784))
    onehot = np.eye(10)[rng.integers(0, 10, batch)]
    W1 = rng.standard_normal((784, 256)) / np.sqrt(784)
    W2 = rng.standard_normal((256, 10)) / np.sqrt(256)
    b1, b2 = 0.1 * rng.standard_normal(256), 0.1 * rng.standard_normal(10)
    return gradient_workload(cfg, "b", "MLP 784-256-10, batch 128, gradients w.r.t. W1 and W2", 1.1,
                             w.mlp_loss, (W1, W2, b1, b2, x, onehot), (0, 1), w.mlp_grad_hand, torch_key="mlp")


def bench_c(cfg):
    # Issue 14 states c as "<= 0.3 of the hand numpy adjoint (within 2x of the best pure-Python adjoint)". On
    # these machines the numpy hand adjoint is only ~3x the pure-Python one, so 0.3 of it is faster than the
    # best pure-Python adjoint itself; the verdict here is the parenthesis: autodiff_st on the np.sin loop
    # within 2x of the hand adjoint written with math.sin (the reference), and the numpy hand adjoint is
    # timed as a contender, so that its ratio shows the other reading.
    return gradient_workload(
        cfg, "c", "scalar loop x100, s = s + np.sin(x * i) * x on a Python float, against the math.sin hand adjoint",
        2.0, w.scalar_loop_np, (0.7,), 0, w.scalar_loop_grad_hand, torch_key="scalar",
        extra={"autodiff_st, math.sin": w.scalar_loop},
        other_hands={"hand adjoint, np.sin": w.scalar_loop_grad_hand_np},
        notes=["the reference is the best pure-Python hand adjoint (math.sin, math.cos); the target 2 is issue 14's "
               "'within 2x of the best pure-Python adjoint'; its '0.3 of the numpy hand adjoint' is autodiff_st's "
               "ratio divided by the ratio of 'hand adjoint, np.sin'",
               "'autodiff_st, math.sin' differentiates the same loop written with math.sin; jax.jit unrolls the "
               "100 iterations"])


def bench_d(cfg):
    rng = np.random.default_rng(4)
    steps, n = 50, 32
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    xs = rng.standard_normal((steps, n))
    return gradient_workload(cfg, "d", f"RNN h = tanh(W @ h + xs[t]), {steps} steps, h = {n}, gradient w.r.t. W",
                             1.1, w.rnn_loss, (W, xs), 0, w.rnn_grad_hand, torch_key="rnn",
                             notes=["jax.jit unrolls the 50 steps into one program"])


def bench_e(cfg):
    rng = np.random.default_rng(0)
    n = 200
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)
    expected = w.jacobian_hand(x, A)
    jac = ad.jacrev(w.jacobian_layer)
    contenders = {AD: lambda: jac(x, A)}
    torch_fn = None
    if libs.available(libs.TORCH):
        torch_fn = w.torch_versions(libs.loaded(libs.TORCH)[0])["jacrev"]
    others, notes = libs.jacobian_contenders(w.jacobian_layer, torch_fn, x, A)
    contenders = checked({**contenders, **others}, expected, notes)
    return timed("e", f"jacrev of tanh(A @ x), A {n}x{n}, against the batched hand VJP", 1.2, HAND,
                 lambda: w.jacobian_hand(x, A), contenders, notes, cfg.rounds, cfg.sample)


def bench_f(cfg, n):
    x = np.random.default_rng(0).normal(size=n)
    grad = ad.grad(w.index_loop)
    check_same(AD, grad(x, 0.5), w.index_loop_hand(x, 0.5))
    notes = ["no other library here: autograd and jax take seconds per call on this loop, as the issue's "
             "table says (-)"]
    return timed(f"f{n // 1000}k", f"s = s + x[i] * w, n = {n:,}, gradient w.r.t. x", 1.5, HAND,
                 lambda: w.index_loop_hand(x, 0.5), {AD: lambda: grad(x, 0.5)}, notes, cfg.loop_rounds,
                 cfg.loop_sample, faults=False)


def bench_loop(cfg, name):
    """A GradBench-style loop: gradient time / objective time."""
    (layers, length, width), (n, steps) = gb.sizes(cfg.quick)
    if name == "lstm":
        fn, args, argnums = gb.lstm_objective, gb.lstm_inputs(layers, length, width), (0, 1)
        label = f"GradBench-style LSTM, {layers} layers, {length} steps, width {width}: gradient / objective"
    else:
        fn, args, argnums = gb.ode_objective, (gb.ode_inputs(n), steps), 0
        label = f"GradBench-style ODE, n = {n}, {steps} Runge-Kutta steps: gradient / objective"
    grad = ad.grad(fn, grad_position=argnums)
    expected = grad(*args)
    others, notes = libs.gradient_contenders(fn, args, argnums, None, (libs.AUTOGRAD, libs.TANGENT))
    contenders = {AD: lambda: grad(*args), **checked(others, expected, notes)}
    notes.append("jax and torch.func are left out of the loops: they trace every step in Python "
                 "(jax.jit would unroll thousands of steps into one program)")
    return timed(name, label, gb.TARGET, OBJECTIVE, lambda: fn(*args), contenders, notes, cfg.loop_rounds,
                 cfg.loop_sample, faults=False)


def bench_cell(cfg):
    """One SGD step of workload b's MLP written as a Cell (two nn.Dense), value and gradients w.r.t. its 4
    Parameters, updated in place."""
    rng = np.random.default_rng(1)
    batch = 128
    x = rng.standard_normal((batch, 784))
    onehot = np.eye(10)[rng.integers(0, 10, batch)]
    net = w.MLPCell(rng)
    weights = net.trainable_params()
    hand_params = [np.array(p) for p in weights]
    step_grads = ad.value_and_grad(net, grad_position=None, weights=weights)
    loss, grads = step_grads(x, onehot)
    hand_loss, hand_grads = w.mlp_cell_grads_hand(*hand_params, x, onehot)
    assert np.isclose(loss, hand_loss)
    check_same(AD, grads, hand_grads)

    def ad_step():
        loss, grads = step_grads(x, onehot)
        for p, g in zip(weights, grads):
            p -= 1e-3 * g
        return loss

    def hand_step():
        loss, grads = w.mlp_cell_grads_hand(*hand_params, x, onehot)
        for p, g in zip(hand_params, grads):
            p -= 1e-3 * g
        return loss

    return timed("b-cell", "one SGD step of b's MLP as a Cell, weights=, updated in place", 1.1, HAND, hand_step,
                 {AD: ad_step}, [], cfg.rounds, cfg.sample)


# --------------------------------------------------------------------------------------------------
# Used when benchmarks/overhead.py is not there yet: what a cached call and a first transform cost.

def legacy_call_overhead(rounds, sample_seconds):
    """What a call of a cached ad.grad(f) costs beyond calling f, for f(x) = x * x on a float."""
    grad_tiny = ad.grad(w.tiny)
    assert grad_tiny(3.0) == 6.0
    contenders = {"f(3.0)": lambda: w.tiny(3.0), "ad.grad(f)(3.0)": lambda: grad_tiny(3.0)}
    try:  # internal API, for diagnosis only: the generated function without the api.Grad wrapper
        from autodiff_st.compiler.cache import adjoint_functions
        fused = adjoint_functions(w.tiny, (0,), "grad")[0]
        contenders["generated adjoint alone"] = lambda: fused(3.0)
    except Exception as e:
        print(f"  (generated adjoint alone: skipped, {type(e).__name__}: {e})")
    times = interleaved(contenders, rounds, sample_seconds)
    print("\nPer-call overhead of a cached ad.grad(f), f(x) = x * x on a Python float")
    print(f"  {'call':<26} {'us per call':>11}   {'overhead vs f(3.0)':>18}")
    for name, ts in times.items():
        overhead = "" if name == "f(3.0)" else f"{median_difference(times, name, 'f(3.0)') * 1e6:+.2f} us"
        print(f"  {name:<26} {statistics.median(ts) * 1e6:>11.2f}   {overhead:>18}")
    print(f"  medians over {rounds} interleaved rounds (absolute times: this one is about the machine too).")


FRESH_MODULE = '''\
import numpy as np


def loss(x, y):
    """Copy number COPY: the docstring makes each copy's code object distinct."""
    a = np.sin(x) * y
    b = np.cos(y) + a
    c = a * b - np.exp(-x)
    d = np.tanh(c) / (1.0 + b * b)
    e = d ** 2 + np.sqrt(x * x + 1.0)
    f = np.log1p(e * e)
    g = f * a - d
    h = g * np.exp(-0.5 * x * x)
    i = h + np.sin(h) * y
    j = i - np.mean(i)
    k = j * j + 0.5 * a
    m = k / (1.0 + np.abs(b))
    n = m * np.cos(x) - np.tanh(k)
    p = n * n + f
    q = np.exp(-p) * y
    r = q + np.sum(p * 0.01)
    s = r * a + np.sqrt(1.0 + r * r)
    t = s - np.mean(s * c)
    u = np.log(1.0 + t * t)
    return np.sum(u * x)
'''


def legacy_first_transform(repeats):
    """Time of the first ad.grad call of a fresh 20-line function: parse, transform, compile, one run."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    first_call_ms, steady_call_us = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats + 1):
            # A new module name and file each time. Code objects compare by value, and the file name is
            # not part of that comparison: identical source would give code objects that are *equal*, and
            # autodiff_st's cache (a dict keyed on the code object) would hit. Hence the numbered docstring.
            path = os.path.join(tmp, f"fresh_twenty_lines_{i}.py")
            with open(path, "w") as f:
                f.write(FRESH_MODULE.replace("COPY", str(i)))
            spec = importlib.util.spec_from_file_location(f"fresh_twenty_lines_{i}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            grad_fn = ad.grad(module.loss, grad_position=(0, 1))
            start = time.perf_counter()
            grad_fn(x, y)
            first_call_ms.append((time.perf_counter() - start) * 1e3)
            steady_call_us.append(time_calls(lambda: grad_fn(x, y), 200) * 1e6)
    cold, warm = first_call_ms[0], first_call_ms[1:]
    median = statistics.median(warm)
    body_lines = len(FRESH_MODULE.split('"""\n')[-1].splitlines())  # after the docstring
    print(f"\nFirst transform of a fresh {body_lines}-line function (first call of ad.grad: parse, transform, "
          "compile, run once)")
    print(f"  median over {len(warm)} fresh functions: {median:.1f} ms   (min {min(warm):.1f}, max {max(warm):.1f})"
          f"   target < {FIRST_TRANSFORM_TARGET_MS:.0f} ms  {marker(median < FIRST_TRANSFORM_TARGET_MS)}")
    print(f"  the very first transform in this process took {cold:.1f} ms (not in the median); "
          f"a cached call of the same gradient takes {statistics.median(steady_call_us):.0f} us.")


# --------------------------------------------------------------------------------------------------
# Sections other files provide: run when the file exists, with a note when it does not.

OPTIONAL = (
    ("overhead", ("measure_call_overhead", "measure_first_transform")),
    ("checkpoint", ("measure_checkpoint",)),
    ("jacobians", ("main",)),
)


def optional_section(cfg, module_name, function_names, extras):
    path = os.path.join(HERE, f"{module_name}.py")
    if not os.path.exists(path):
        note = f"benchmarks/{module_name}.py not found: {', '.join(function_names)} skipped"
        print(f"\n({note})")
        extras.append(note)
        return False
    module = importlib.import_module(module_name)
    for name in function_names:
        fn = getattr(module, name, None)
        if fn is None:
            note = f"benchmarks/{module_name}.py has no {name}(): skipped"
            print(f"\n({note})")
            extras.append(note)
            continue
        print(f"\n{module_name}.{name}()")
        parameters = inspect.signature(fn).parameters
        if name == "main":
            value = fn(["--quick"] if cfg.quick else [])
        else:
            value = fn(quick=cfg.quick) if "quick" in parameters else fn()
        for line in _described(value):
            line = f"{module_name}.{name}: {line}"
            print(f"  {line}")
            extras.append(line)
    return True


def _described(value):
    """Lines for what a measure_* function returned (it may also have printed its own report)."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return []
    if isinstance(value, dict):
        return [f"{k}: {_short(v)}" for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [_short(v) for v in value]
    return [_short(value)]


def _short(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_short(x)}" for k, x in v.items())
    return str(v)


# --------------------------------------------------------------------------------------------------

WORKLOADS = {  # key: (aliases, run)
    "a": (("logistic",), bench_a),
    "b": (("mlp",), bench_b),
    "c": (("scalar",), bench_c),
    "d": (("rnn",), bench_d),
    "e": (("jacrev",), bench_e),
    "f10k": (("f", "index"), lambda cfg: bench_f(cfg, 10_000)),
    "f40k": (("f", "index"), lambda cfg: bench_f(cfg, 40_000)),
    "lstm": ((), lambda cfg: bench_loop(cfg, "lstm")),
    "ode": ((), lambda cfg: bench_loop(cfg, "ode")),
    "b-cell": (("cell",), bench_cell),
}
SECTIONS = ("overhead", "checkpoint", "jacobians")


def selected(only):
    if not only:
        return list(WORKLOADS), list(SECTIONS)
    wanted = {s.strip() for s in only.split(",") if s.strip()}
    keys = [k for k, (aliases, _) in WORKLOADS.items() if k in wanted or wanted & set(aliases)]
    sections = [s for s in SECTIONS if s in wanted]
    unknown = wanted - set(keys) - set(sections) - {a for k in keys for a in WORKLOADS[k][0]}
    if unknown:
        raise SystemExit(f"unknown workloads {sorted(unknown)}; known: {', '.join(list(WORKLOADS) + list(SECTIONS))}")
    return keys, sections


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, small samples: a smoke test")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per workload")
    parser.add_argument("--only", default="", help="comma-separated workload keys or names (see --list)")
    parser.add_argument("--list", action="store_true", help="print the workload keys and exit")
    parser.add_argument("--plot", default=None, help="where to write the PNG plot (default: docs/bench.png "
                        "on a full run without --only)")
    parser.add_argument("--no-docs", action="store_true", help="write neither the plot nor docs/performance.md")
    options = parser.parse_args(argv)
    if options.list:
        for key, (aliases, _) in WORKLOADS.items():
            print(f"{key:<8} {' '.join(aliases)}")
        for s in SECTIONS:
            print(f"{s:<8} (benchmarks/{s}.py)")
        return 0
    cfg = Config(options.quick, options.rounds)
    keys, sections = selected(options.only)
    print(f"autodiff_st benchmarks: numpy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
          f"{', QUICK run: numbers are rough' if cfg.quick else ''}")
    results, extras = [], []
    for key in keys:
        try:
            results.append(WORKLOADS[key][1](cfg))
        except Exception:  # report it and go on: one broken workload should not hide the others
            print(f"\nERROR in workload {key}:")
            traceback.print_exc(file=sys.stdout)
            extras.append(f"workload {key}: ERROR (see the output of make bench)")
    for section in sections:
        try:
            found = optional_section(cfg, section, dict(OPTIONAL)[section], extras)
            if section == "overhead" and not found:
                print("  (measured here instead, as before)")
                legacy_call_overhead(cfg.rounds, cfg.sample)
                legacy_first_transform(3 if cfg.quick else 15)
        except Exception:
            print(f"\nERROR in section {section}:")
            traceback.print_exc(file=sys.stdout)
            extras.append(f"section {section}: ERROR (see the output of make bench)")
    if not options.only:
        extras += libs.missing_notes()
    print_summary(results, extras)
    write_docs = not options.no_docs and not options.only and not cfg.quick
    plot_path = options.plot or (os.path.join(ROOT, "docs", "bench.png") if write_docs else None)
    if plot_path and results and not options.no_docs:
        try:
            plot(results, plot_path)
            print(f"\nplot written to {os.path.relpath(plot_path)}")
        except ImportError as e:
            print(f"\n(no plot: {e}; pip install matplotlib, or the bench extra)")
            plot_path = None
    if write_docs:
        docs = os.path.join(ROOT, "docs", "performance.md")
        name = os.path.relpath(plot_path, os.path.dirname(docs)) if plot_path else None
        update_performance_md(docs, markdown(results, extras, "make bench", name))
        print("docs/performance.md: generated section updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
