"""The GradBench-style loops (gradbench_loops.py) with the fast call path into helpers and the fast
cotangent splitting of concatenate and stack, against the same gradients with those turned off, in one
process, interleaved (docs/performance.md, "Calls into helpers in loops"):

    .venv/bin/python benchmarks/call_path.py            # full sizes, 9 rounds
    .venv/bin/python benchmarks/call_path.py --quick    # small sizes, 15 rounds

"Before" loads a copy of gradbench_loops.py (its functions are other functions, compiled apart),
compiles its gradients with the np.split / np.take forms of split_like and unstack, and calls them with
the call path's memo of plain helpers emptied (every call takes the general path) and with the
generator-based user_call context manager. Each round times the objective and the gradient of each;
printed are the medians of gradient / objective with the 25th and 75th percentiles, and the median per
round of after / before.
"""

import argparse
import contextlib
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import autodiff_st as ad  # noqa: E402
import autodiff_st.rules.shape as shape_rules  # noqa: E402
from autodiff_st import runtime  # noqa: E402
from autodiff_st.runtime import calls, joining, sharing  # noqa: E402


def load_copy(name, folder):
    """gradbench_loops.py as the module ``name``, from a copy in ``folder``: a file of its own, so that
    nothing compiled for one copy's functions is reused for the other's."""
    path = os.path.join(folder, name + ".py")
    shutil.copyfile(os.path.join(HERE, "gradbench_loops.py"), path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def np_split_like(v, arrays, axis=0):
    """split_like as it was: through np.split."""
    sizes = [np.shape(a)[axis] for a in arrays]
    return np.split(v, np.cumsum(sizes[:-1]), axis=axis)


def np_take_unstack(v, count, axis=0):
    """unstack as it was: through np.take."""
    return [np.take(v, i, axis=axis) for i in range(count)]


@contextlib.contextmanager
def generator_user_call():
    """runtime.sharing.user_call as it was: a generator-based context manager."""
    sharing._CALLS.depth = getattr(sharing._CALLS, "depth", 0) + 1
    try:
        yield
    finally:
        sharing._CALLS.depth -= 1


class _NeverSeen(dict):
    def get(self, key, default=None):
        return None


FAST = (joining.split_like, joining.unstack)


def _use(functions):
    for module in (joining, runtime, shape_rules):
        module.split_like, module.unstack = functions


def contenders(module, fast, quick):
    """{"lstm": (objective, gradient), "ode": (...)} for ``module``'s functions."""
    _use(FAST if fast else (np_split_like, np_take_unstack))
    try:
        (layers, length, width), (n, steps) = module.sizes(quick)
        main, extra, state, sequence = module.lstm_inputs(layers, length, width)
        x = module.ode_inputs(n)
        lstm_grad = ad.grad(module.lstm_objective, grad_position=(0, 1))
        ode_grad = ad.grad(module.ode_objective)
        lstm_grad(main, extra, state, sequence)  # compiled now, with the helpers chosen above
        ode_grad(x, steps)
    finally:
        _use(FAST)

    def run(grad, *args):
        if fast:
            return grad(*args)
        memo, user_call = calls._PLAIN_CALLEES, calls.user_call
        calls._PLAIN_CALLEES, calls.user_call = _NeverSeen(), generator_user_call
        try:
            return grad(*args)
        finally:
            calls._PLAIN_CALLEES, calls.user_call = memo, user_call

    return {"lstm": (lambda: module.lstm_objective(main, extra, state, sequence),
                     lambda: run(lstm_grad, main, extra, state, sequence)),
            "ode": (lambda: module.ode_objective(x, steps), lambda: run(ode_grad, x, steps))}


def clock(fn, budget):
    count, start = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed > budget:
            return elapsed / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    options = parser.parse_args(argv)
    rounds = options.rounds or (15 if options.quick else 9)
    with tempfile.TemporaryDirectory() as folder:
        before = contenders(load_copy("gradbench_loops_before", folder), False, options.quick)
        after = contenders(load_copy("gradbench_loops_after", folder), True, options.quick)
    for name in ("lstm", "ode"):
        ratios = {"before": [], "after": []}
        for _ in range(rounds):
            for label, timed in (("before", before), ("after", after)):
                objective, gradient = timed[name]
                ratios[label].append(clock(gradient, 0.05) / clock(objective, 0.05))
        text = []
        for label, values in ratios.items():
            q1, _, q3 = statistics.quantiles(values, n=4)
            text.append(f"{label} {statistics.median(values):.2f} ({q1:.2f} - {q3:.2f})")
        change = statistics.median(a / b for a, b in zip(ratios["after"], ratios["before"]))
        print(f"{name}: gradient / objective  " + "   ".join(text) + f"   after / before per round {change:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
