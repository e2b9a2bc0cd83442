"""Two GradBench-style evaluations written as plain numpy with Python loops: an LSTM over a sequence and
a fixed-step Runge-Kutta ODE solve. Each reports gradient time divided by objective time (the plain
function, untransformed), interleaved in one process (timing.py):

    .venv/bin/python benchmarks/gradbench_loops.py            # both, full sizes
    .venv/bin/python benchmarks/gradbench_loops.py --quick    # small sizes, few rounds
    .venv/bin/python benchmarks/gradbench_loops.py --quick --thread-time   # ratio of minimum thread times

On a loaded machine the interleaved wall-clock rounds spread widely; ``--thread-time`` reports instead the
minimum thread time of 7 repeats (of 10 calls at the quick sizes, 1 at full sizes) of the gradient over
that of the objective, which waiting for a core does not inflate.

The functions are written the way a numpy user writes them: slices of the weights (``w[i]``,
``gates[a:b]``, ``x[1:]``) inside the loops, no vectorisation across steps. The target of issue 14 is a
ratio of at most 4.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import autodiff_st as ad  # noqa: E402
from timing import interleaved, ratio_summary  # noqa: E402

TARGET = 4.0


# --------------------------------------------------------------------------------------------------
# LSTM: `layers` stacked cells of width b over a sequence of c vectors; the loss is the negative mean
# log-likelihood of each next vector under a log-softmax-like normalisation of the prediction.
# main (2 layers, 4 b): per layer a row of gate weights and a row of gate biases; extra (3, b): input
# scale, output scale, output offset; state (2 layers, b): per layer a hidden and a cell vector.

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_cell(weight, bias, hidden, cell, inp):
    b = hidden.shape[0]
    gates = np.concatenate((inp, hidden, inp, hidden)) * weight + bias
    forget = sigmoid(gates[0:b])
    ingate = sigmoid(gates[b:2 * b])
    outgate = sigmoid(gates[2 * b:3 * b])
    change = np.tanh(gates[3 * b:4 * b])
    cell = cell * forget + ingate * change
    hidden = outgate * np.tanh(cell)
    return hidden, cell


def lstm_objective(main, extra, state, sequence):
    layers = state.shape[0] // 2
    total = 0.0
    inp = sequence[0]
    for t in range(sequence.shape[0] - 1):
        x = inp * extra[0]
        new_state = []
        for k in range(layers):
            hidden, cell = lstm_cell(main[2 * k], main[2 * k + 1], state[2 * k], state[2 * k + 1], x)
            new_state.append(hidden)
            new_state.append(cell)
            x = hidden
        state = np.stack(new_state)
        prediction = x * extra[1] + extra[2]
        normalised = prediction - np.log(np.sum(np.exp(prediction)) + 2.0)
        target = sequence[t + 1]
        total = total + np.sum(target * normalised)
        inp = target
    return -total / ((sequence.shape[0] - 1) * sequence.shape[1])


def lstm_inputs(layers, length, width, seed=0):
    rng = np.random.default_rng(seed)
    main = rng.uniform(-1.0, 1.0, (2 * layers, 4 * width))
    extra = rng.uniform(-1.0, 1.0, (3, width))
    state = rng.uniform(-1.0, 1.0, (2 * layers, width))
    sequence = rng.uniform(-1.0, 1.0, (length, width))
    return main, extra, state, sequence


# --------------------------------------------------------------------------------------------------
# ODE: y' = f(x, y) with f_0 = x_0 and f_i = x_i y_{i-1}, from y = 0 over t in [0, 2], `steps` classical
# Runge-Kutta steps; the output is the last component of y, differentiated with respect to x.

def ode_rhs(x, y):
    return np.concatenate((x[0:1], x[1:] * y[:-1]))


def ode_objective(x, steps):
    y = np.zeros(x.shape[0])
    h = 2.0 / steps
    for _ in range(steps):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + (h / 2) * k1)
        k3 = ode_rhs(x, y + (h / 2) * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + (h / 6) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y[-1]


def ode_inputs(n, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, n)


# --------------------------------------------------------------------------------------------------

def sizes(quick):
    """(lstm layers, length, width), (ode n, steps)."""
    if quick:
        return (2, 32, 14), (10, 100)
    return (2, 1024, 14), (100, 1000)


def contenders_lstm(quick):
    main, extra, state, sequence = lstm_inputs(*sizes(quick)[0])
    grad = ad.grad(lstm_objective, grad_position=(0, 1))
    grad(main, extra, state, sequence)
    return {"objective": lambda: lstm_objective(main, extra, state, sequence),
            "autodiff_st ad.grad": lambda: grad(main, extra, state, sequence)}


def contenders_ode(quick):
    n, steps = sizes(quick)[1]
    x = ode_inputs(n)
    grad = ad.grad(ode_objective)
    grad(x, steps)
    return {"objective": lambda: ode_objective(x, steps), "autodiff_st ad.grad": lambda: grad(x, steps)}


def measure(name, quick, rounds=None):
    """(median, 25th, 75th percentile) of gradient time / objective time, interleaved."""
    contenders = {"lstm": contenders_lstm, "ode": contenders_ode}[name](quick)
    rounds = rounds or (5 if quick else 30)
    times = interleaved(contenders, rounds, 0.02 if quick else 0.2)
    return ratio_summary(times, "objective")["autodiff_st ad.grad"]


def thread_time_ratio(name, quick, repeats=7):
    """Minimum thread time of the gradient over that of the objective."""
    contenders = {"lstm": contenders_lstm, "ode": contenders_ode}[name](quick)
    calls = 10 if quick else 1
    best = {}
    for label, fn in contenders.items():
        for _ in range(repeats):
            start = time.thread_time()
            for _ in range(calls):
                fn()
            best[label] = min(best.get(label, float("inf")), (time.thread_time() - start) / calls)
    return best["autodiff_st ad.grad"] / best["objective"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--thread-time", action="store_true")
    options = parser.parse_args(argv)
    if options.thread_time:
        for name in ("lstm", "ode"):
            ratio = thread_time_ratio(name, options.quick)
            print(f"{name}: gradient / objective = {ratio:.2f} (minimum thread times)   target <= {TARGET:g}  "
                  f"{'PASS' if ratio <= TARGET else 'MISS'}")
        return 0
    for name in ("lstm", "ode"):
        median, q1, q3 = measure(name, options.quick)
        verdict = "PASS" if median <= TARGET else "MISS"
        print(f"{name}: gradient / objective = {median:.2f} (middle half {q1:.2f} - {q3:.2f})   "
              f"target <= {TARGET:g}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
