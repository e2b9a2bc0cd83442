"""Specialisation on argument kinds: the workloads it speeds up, against hand-written adjoints, interleaved
in one process (see timing.py): `python benchmarks/scalar_loop.py [--rounds N]`.

- (c) the scalar loop of run.py with np.sin, and with math.sin, on a Python float, against two hand
  adjoints: run.py's, with math.sin and math.cos (target: within 2x), and one with np.sin and np.cos on
  the float (target: 0.3);
- (a) the logistic regression loss, X 1000x100;
- (d) the tanh RNN, 50 steps, h = 32.
The workloads and hand adjoints are run.py's own, imported from it.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import autodiff_st as ad  # noqa: E402
import workloads as run  # noqa: E402
from timing import interleaved, ratio_summary  # noqa: E402


def workloads():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 100))
    y = np.where(rng.normal(size=1000) > 0, 1.0, -1.0)
    w = rng.normal(size=100) * 0.1
    W = rng.normal(size=(32, 32)) * 0.3
    xs = rng.normal(size=(50, 32))
    return {
        "c scalar loop, np.sin": (run.scalar_loop_np, (0.7,), run.scalar_loop_grad_hand,
                                  run.scalar_loop_grad_hand_np),
        "c scalar loop, math.sin": (run.scalar_loop, (0.7,), run.scalar_loop_grad_hand,
                                    run.scalar_loop_grad_hand_np),
        "a logistic regression": (run.logistic_loss, (w, X, y), run.logistic_grad_hand),
        "d RNN": (run.rnn_loss, (W, xs), run.rnn_grad_hand),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sample", type=float, default=0.02, help="seconds per sample")
    options = parser.parse_args()
    for label, (fn, args, hand, *numpy_hand) in workloads().items():
        grad = ad.grad(fn)
        runs = {"ad": lambda: grad(*args), "hand": lambda: hand(*args)}
        if numpy_hand:
            runs["numpy hand"] = lambda: numpy_hand[0](*args)
        for reference in runs.values():
            np.testing.assert_allclose(grad(*args), reference(), rtol=1e-9, atol=1e-12)
        times = interleaved(runs, options.rounds, options.sample)
        median, low, high = ratio_summary(times, "hand")["ad"]
        print(f"{label:26s} autodiff_st / hand = {median:5.2f}  (quartiles {low:.2f}-{high:.2f}, "
              f"{options.rounds} rounds, hand {min(times['hand']) * 1e6:8.1f} us)")
        if numpy_hand:
            median, low, high = ratio_summary(times, "numpy hand")["ad"]
            print(f"{'':26s} autodiff_st / numpy hand = {median:5.2f}  (quartiles {low:.2f}-{high:.2f}, "
                  f"numpy hand {min(times['numpy hand']) * 1e6:8.1f} us)")


if __name__ == "__main__":
    main()
