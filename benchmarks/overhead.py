"""Call and compile overhead: `python benchmarks/overhead.py [--quick]`.

* ``measure_call_overhead()``: what a cached call of ``ad.grad(f)``, ``ad.value_and_grad(f)`` and
  ``ad.vjp`` costs beyond calling the generated adjoint function directly, interleaved, as medians of
  per-round differences with their middle half.
* ``measure_first_transform()``: the first call of ``ad.grad`` on fresh functions of 5 to 80 statements
  (parse, transform, compile, run once), and a new process's first call with a warm disk cache.

Both print a report and return a dict (benchmarks/run.py shows it). Times are CPU time of the measuring
thread (``time.thread_time``), so that waiting for a core on a loaded machine does not count.
"""

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import autodiff_st as ad  # noqa: E402
from autodiff_st.compiler.cache import adjoint_functions  # noqa: E402  (internal: the generated function)
from autodiff_st.runtime.calls import argument_kinds  # noqa: E402

# CPU time of this thread, not wall time: on a shared, loaded machine a process waits for a core, and the
# waits are not the library's. On an idle machine the two agree.
CLOCK = time.thread_time


def interleaved(contenders, rounds, sample_seconds):
    """Like timing.interleaved (each round times every contender, in a rotating order), on ``CLOCK``."""
    names = list(contenders)
    numbers = {}
    for name in names:
        fn = contenders[name]
        fn()
        start = CLOCK()
        fn()
        numbers[name] = max(10, int(sample_seconds / max(CLOCK() - start, 1e-7)))
    times = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn, number = contenders[name], numbers[name]
            start = CLOCK()
            for _ in range(number):
                fn()
            times[name].append((CLOCK() - start) / number)
    return times

CALL_TARGET_US = 1.0
FIRST_TRANSFORM_TARGET_MS = 30.0
DISK_TARGET_MS = 10.0


def square(x):
    return x * x


def sine_loss(x):
    return np.sum(np.sin(x) * x)


def _spread(values):
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4)
    return statistics.median(values), q1, q3


def measure_call_overhead(quick=False):
    """Microseconds a cached call adds over the generated function it runs (median, 25th, 75th percentile
    of per-round differences)."""
    rounds, sample = (7, 0.01) if quick else (31, 0.03)
    cases = {"grad, float": (square, 3.0), "grad, array(100)": (sine_loss, np.linspace(0.1, 1.0, 100))}
    results = {}
    print("\nCall overhead of a cached transform, over the generated function called directly "
          f"(us; median of {rounds} interleaved rounds [25th-75th percentile])")
    for label, (fn, x) in cases.items():
        kinds = argument_kinds((x,))
        grad_only = adjoint_functions(fn, (0,), "grad_only", kinds)[0]
        value_grad = adjoint_functions(fn, (0,), "grad", kinds)[0]
        forward, backward = adjoint_functions(fn, (0,), "vjp", kinds)
        g, vg = ad.grad(fn), ad.value_and_grad(fn)
        assert np.allclose(g(x), grad_only(x)[1]) and np.allclose(vg(x)[1], value_grad(x)[1])
        out, residuals = forward(x)
        seed = np.ones_like(out) if isinstance(out, np.ndarray) else 1.0

        def generated_vjp():
            o, r = forward(x)
            return backward(r, seed)

        def library_vjp():
            o, vjp_fn = ad.vjp(fn, x)
            return vjp_fn(seed)

        contenders = {"grad_only generated": lambda: grad_only(x), "ad.grad": lambda: g(x),
                      "grad generated": lambda: value_grad(x), "ad.value_and_grad": lambda: vg(x),
                      "vjp generated": generated_vjp, "ad.vjp + vjp_fn": library_vjp}
        times = interleaved(contenders, rounds, sample)
        for name, reference in (("ad.grad", "grad_only generated"), ("ad.value_and_grad", "grad generated"),
                                ("ad.vjp + vjp_fn", "vjp generated")):
            diffs = [(t - r) * 1e6 for t, r in zip(times[name], times[reference])]
            median, q1, q3 = _spread(diffs)
            base = statistics.median(times[reference]) * 1e6
            key = f"{name} ({label}) overhead us"
            results[key] = round(median, 3)
            mark = "" if name == "ad.vjp + vjp_fn" else ("  ok" if median <= CALL_TARGET_US else "  OVER 1 us")
            print(f"  {label:<17} {name:<18} +{median:6.2f} [{q1:5.2f}, {q3:5.2f}]   "
                  f"(generated alone {base:7.2f} us){mark}")
    return results


EXPRESSIONS = [  # each statement reads the one before ({p}), so that nothing is dead
    "np.sin({p}) * y", "np.cos(y) + {p}", "{p} * y - np.exp(-{p})", "np.tanh({p}) / (1.0 + y * y)",
    "{p} ** 2 + np.sqrt({p} * {p} + 1.0)", "np.log1p({p} * {p})", "{p} * x - y", "{p} * np.exp(-0.5 * x * x)",
    "{p} + np.sin({p}) * y", "{p} - np.mean({p})",
]


def fresh_source(statements, copy):
    """A function of ``statements`` statements (the return included), numbered ``copy`` so that its code
    object differs from every other copy's (code objects of equal text compare equal)."""
    lines, previous = [], "x"
    for k in range(statements - 1):
        lines.append(f"    v{k} = " + EXPRESSIONS[k % len(EXPRESSIONS)].format(p=previous))
        previous = f"v{k}"
    return (f"import numpy as np\n\n\ndef loss(x, y):\n    \"\"\"Copy {copy}.\"\"\"\n" + "\n".join(lines)
            + f"\n    return np.sum({previous} * x)\n")


def _first_call_ms(directory, statements, copy, x, y):
    name = f"fresh_{statements}_{copy}"
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as f:
        f.write(fresh_source(statements, copy))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grad = ad.grad(module.loss, (0, 1))
    start = CLOCK()
    grad(x, y)
    return (CLOCK() - start) * 1e3


DISK_SCRIPT = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import autodiff_st as ad
    import fresh_disk
    ad.enable_disk_cache()
    x, y = np.linspace(0.1, 1.0, 50), np.linspace(1.0, 2.0, 50)
    grad = ad.grad(fresh_disk.loss, (0, 1))
    start = time.thread_time()
    grad(x, y)
    print((time.thread_time() - start) * 1e3)
''')


def measure_disk_cache(repeats=5):
    """A new process's first call of ad.grad on a 20-statement function, with a cold and a warm disk cache."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "fresh_disk.py"), "w") as f:
            f.write(fresh_source(20, 0))
        with open(os.path.join(tmp, "run.py"), "w") as f:
            f.write(DISK_SCRIPT)
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"),
                   PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))

        def run():
            out = subprocess.run([sys.executable, os.path.join(tmp, "run.py"), tmp], env=env, capture_output=True,
                                 text=True, check=True)
            return float(out.stdout.strip().splitlines()[-1])

        cold = run()
        warm = [run() for _ in range(repeats)]
    return cold, warm


def measure_first_transform(quick=False):
    """Milliseconds of the first ad.grad call on fresh functions of 5 to 80 statements, and of a new
    process's first call with a warm disk cache."""
    repeats = 3 if quick else 9
    sizes = (5, 20, 40) if quick else (5, 10, 20, 40, 80)
    x, y = np.linspace(0.1, 1.0, 50), np.linspace(1.0, 2.0, 50)
    results = {}
    print("\nFirst transform: the first call of ad.grad on a fresh function (parse, transform, compile, run "
          f"once); median of {repeats} fresh functions [min, max]")
    with tempfile.TemporaryDirectory() as tmp:
        _first_call_ms(tmp, 5, "warmup", x, y)  # the process's very first transform reads every rule
        per_size = {n: [] for n in sizes}
        for copy in range(repeats):  # interleaved over sizes
            for n in sizes:
                per_size[n].append(_first_call_ms(tmp, n, copy, x, y))
    for n in sizes:
        median = statistics.median(per_size[n])
        results[f"first transform {n} statements ms"] = round(median, 2)
        mark = ("  ok" if median <= FIRST_TRANSFORM_TARGET_MS else "  OVER 30 ms") if n == 20 else ""
        print(f"  {n:3d} statements: {median:7.1f} ms [{min(per_size[n]):.1f}, {max(per_size[n]):.1f}]"
              f"   {median / n:.2f} ms per statement{mark}")
    big, small = sizes[-1], sizes[0]
    slope = (statistics.median(per_size[big]) - statistics.median(per_size[small])) / (big - small)
    results["ms per added statement"] = round(slope, 3)
    print(f"  slope from {small} to {big} statements: {slope:.2f} ms per statement")
    cold, warm = measure_disk_cache(2 if quick else 5)
    median = statistics.median(warm)
    results["new process first call, cold disk cache ms"] = round(cold, 2)
    results["new process first call, warm disk cache ms"] = round(median, 2)
    print(f"  a new process, 20 statements: {cold:.1f} ms with an empty disk cache, {median:.1f} ms with a warm "
          f"one [{min(warm):.1f}, {max(warm):.1f}]{'  ok' if median < DISK_TARGET_MS else '  OVER 10 ms'}")
    return results


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(measure_call_overhead(quick))
    print(measure_first_transform(quick))
