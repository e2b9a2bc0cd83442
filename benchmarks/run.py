"""Benchmarks of autodiff_st against hand-written numpy adjoints, and against autograd and jax if installed.

    .venv/bin/python benchmarks/run.py            # the full run (make bench)
    .venv/bin/python benchmarks/run.py --quick    # a few rounds, to check that it runs

Speed is reported as the median, over many interleaved rounds, of each contender's time divided by the
time of the hand-written numpy adjoint in the same round (see timing.py). Absolute times are printed
only as context. Each target gets a PASS or MISS marker; the exit code is 0 regardless.
"""

import argparse
import importlib.util
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
import types

import numpy as np

import autodiff_st as ad

from timing import interleaved, median_difference, minor_faults_per_call, ratio_summary, time_calls

RATIO_TARGET = 1.3
FIRST_TRANSFORM_TARGET_MS = 100.0
HAND = "numpy, hand-written adjoint"
AD = "autodiff_st ad.grad"


# --------------------------------------------------------------------------------------------------
# The functions differentiated: plain numpy, as a user would write them. autograd and jax run the very
# same code objects, with the global `np` bound to autograd.numpy or jax.numpy (see `with_numpy`).

def logistic_loss(w, X, y):
    """Mean logistic loss; labels y are -1.0 or +1.0."""
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def mlp_loss(W1, W2, b1, b2, x, onehot):
    """784-256-10 MLP, tanh hidden layer, softmax cross-entropy with a stable log-sum-exp."""
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    mx = np.max(logits, axis=1, keepdims=True)
    shifted = logits - mx
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    logp = shifted - lse
    return -np.mean(np.sum(onehot * logp, axis=1))


def tiny(x):
    return x * x


def scalar_loop(x):
    """sum over i < 100 of sin(x i) x, for a Python float x: a loop of scalar operations, with math.sin."""
    s = 0.0
    for i in range(100):
        s = s + math.sin(x * i) * x
    return s


def scalar_loop_np(x):
    """The same loop with np.sin, for autograd and jax (math.sin cannot take their traced values)."""
    s = 0.0
    for i in range(100):
        s = s + np.sin(x * i) * x
    return s


def rnn_loss(W, xs):
    """A tanh recurrence over the rows of xs, from h = 0; the loss is the squared norm of the last h."""
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)


# --------------------------------------------------------------------------------------------------
# Hand-written adjoints, derived on paper.

def logistic_grad_hand(w, X, y):
    # L = mean_i log(1 + e_i), e_i = exp(-y_i z_i), z = X w
    # dL/dz_i = -y_i e_i / (1 + e_i) / n;  dL/dw = X^T dL/dz
    e = np.exp(-y * (X @ w))
    return X.T @ (-y * e / (1.0 + e)) / X.shape[0]


def mlp_grad_hand(W1, W2, b1, b2, x, onehot):
    # softmax cross-entropy with one-hot rows: dL/dlogits = (softmax(logits) - onehot) / n.
    # The max shift cancels out of the gradient.
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    dlogits = (e / e.sum(axis=1, keepdims=True) - onehot) / x.shape[0]
    dW2 = h.T @ dlogits
    dpre = (dlogits @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ dpre
    return dW1, dW2


def scalar_loop_grad_hand(x):
    # d/dx sin(x i) x = sin(x i) + x i cos(x i)
    g = 0.0
    for i in range(100):
        g += math.sin(x * i) + x * i * math.cos(x * i)
    return g


def rnn_grad_hand(W, xs):
    # Forward, keeping every h (hs[t] is h after t steps); then backward:
    # a_t = W h_{t-1} + x_t, h_t = tanh(a_t); da = dh (1 - h_t^2), dW += da h_{t-1}^T, dh_{t-1} = W^T da.
    steps, n = xs.shape
    hs = np.empty((steps + 1, n))
    hs[0] = 0.0
    h = hs[0]
    for t in range(steps):
        h = np.tanh(W @ h + xs[t])
        hs[t + 1] = h
    dh = 2.0 * h
    dW = np.zeros_like(W)
    for t in range(steps, 0, -1):
        da = dh * (1.0 - hs[t] * hs[t])
        dW += np.outer(da, hs[t - 1])
        dh = W.T @ da
    return dW


# --------------------------------------------------------------------------------------------------
# autograd and jax, when importable.

def with_numpy(fn, numpy_module):
    """The same code as ``fn``, with its global ``np`` bound to ``numpy_module``."""
    return types.FunctionType(fn.__code__, dict(fn.__globals__, np=numpy_module), fn.__name__,
                              fn.__defaults__, fn.__closure__)


def load_autograd():
    try:
        import autograd
        import autograd.numpy as anp
    except Exception as e:  # ImportError, or a broken install
        return None, f"autograd skipped: not importable ({type(e).__name__}: {e})"
    return (autograd, anp), None


def load_jax():
    try:
        import jax
        jax.config.update("jax_enable_x64", True)  # float64, like the numpy contenders
        import jax.numpy as jnp
    except Exception as e:
        return None, f"jax skipped: not importable ({type(e).__name__}: {e})"
    return (jax, jnp), None


AUTOGRAD, AUTOGRAD_SKIP = load_autograd()
JAX, JAX_SKIP = load_jax()


def third_party_contenders(fn, args, argnums):
    """name -> zero-argument callable returning the gradient, for autograd and jax; and skip messages.

    jax.grad and jax.jit trace ``fn`` in Python: a Python loop is unrolled, so jax.jit compiles all of
    its iterations into one program.
    """
    contenders, skipped = {}, []
    if AUTOGRAD:
        autograd, anp = AUTOGRAD
        # Each contender gets its own name: a lambda reads its free variables when called, so a name
        # reused below would make "autograd" call jax's gradient.
        autograd_grad = autograd.grad(with_numpy(fn, anp), argnums)
        contenders["autograd"] = lambda: autograd_grad(*args)
    else:
        skipped.append(AUTOGRAD_SKIP)
    if JAX:
        jax, jnp = JAX
        jargs = tuple(jax.device_put(a) for a in args)
        jax_grad = jax.grad(with_numpy(fn, jnp), argnums)
        jax_grad_jit = jax.jit(jax_grad)
        contenders["jax.grad (no jit)"] = lambda: jax.block_until_ready(jax_grad(*jargs))
        contenders["jax.jit(jax.grad)"] = lambda: jax.block_until_ready(jax_grad_jit(*jargs))
    else:
        skipped.append(JAX_SKIP)
    return contenders, skipped


# --------------------------------------------------------------------------------------------------
# Reporting.

def check_same(name, got, expected):
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected), f"{name}: {len(got)} gradients, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        g, e = np.asarray(g), np.asarray(e)  # a gradient with respect to a Python float is a float
        assert g.shape == e.shape and np.allclose(g, e), (
            f"{name}: gradient {i} differs from the hand-written adjoint "
            f"(max abs difference {np.max(np.abs(g - e)):.3g})")


def marker(ok):
    return "PASS" if ok else "MISS"


def print_ratio_table(title, times, faults, target_name, skipped, target=RATIO_TARGET, speedups=()):
    """``speedups`` holds (slower, faster, factor): a target that ``faster`` runs at least ``factor``
    times as fast as ``slower``, judged on the median over rounds of their time ratio in the same round."""
    summary = ratio_summary(times, HAND)
    print(f"\n{title}")
    print(f"  {'contender':<30} {'median ratio':>12}   {'middle half':>13}   {'page faults':>11}   target")
    for name, (median, q1, q3) in summary.items():
        target_text = ""
        if name == target_name:
            target_text = f"<= {target}  {marker(median <= target)}"
        spread = "" if name == HAND else f"{q1:.2f} - {q3:.2f}"
        fault_text = "n/a" if faults[name] is None else f"{faults[name]:.0f}"
        print(f"  {name:<30} {median:>11.2f}x   {spread:>13}   {fault_text:>11}   {target_text}")
    for slower, faster, factor in speedups:
        median, q1, q3 = ratio_summary(times, faster)[slower]
        print(f"  {faster} is {median:.1f}x as fast as {slower} (middle half {q1:.1f} - {q3:.1f})   "
              f"target >= {factor:g}x  {marker(median >= factor)}")
    for message in skipped:
        print(f"  ({message})")
    ref = statistics.median(times[HAND])
    print(f"  ratio = time / time of the hand-written adjoint in the same round, median over "
          f"{len(times[HAND])} rounds (middle half: 25th to 75th percentile).\n"
          f"  page faults = minor page faults per call, counted after the timing. "
          f"The hand-written adjoint took {ref * 1e6:.0f} us per call here.")


def ratio_workload(title, fn, args, argnums, hand, rounds, sample_seconds, target=RATIO_TARGET,
                   third_party_fn=None, extra=None, speedups=(), notes=()):
    """Check that autodiff_st matches ``hand``, then time everyone, interleaved, and print the table.

    ``third_party_fn`` is what autograd and jax differentiate, when it is not ``fn`` itself (``fn`` may call
    ``math`` functions, which they cannot trace). ``extra`` maps more contender names to functions
    differentiated by autodiff_st. ``speedups`` as in ``print_ratio_table``; ``notes`` are printed last.
    """
    grad_fn = ad.grad(fn, grad_position=argnums)
    expected = hand(*args)
    check_same(AD, grad_fn(*args), expected)
    contenders = {HAND: lambda: hand(*args), AD: lambda: grad_fn(*args)}
    for name, other_fn in (extra or {}).items():
        other_grad = ad.grad(other_fn, grad_position=argnums)
        check_same(name, other_grad(*args), expected)
        contenders[name] = lambda g=other_grad: g(*args)
    others, skipped = third_party_contenders(third_party_fn or fn, args, argnums)
    for name, call in others.items():
        check_same(name, call(), expected)
    contenders.update(others)
    times = interleaved(contenders, rounds, sample_seconds)
    faults = {name: minor_faults_per_call(call) for name, call in contenders.items()}
    speedups = [s for s in speedups if s[0] in times and s[1] in times]
    print_ratio_table(title, times, faults, AD, skipped, target, speedups)
    for note in notes:
        print(f"  {note}")


# --------------------------------------------------------------------------------------------------
# The workloads: one function each.

def bench_logistic(rounds, sample_seconds):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 100))
    w = 0.1 * rng.standard_normal(100)
    y = np.where(rng.random(1000) < 0.5, -1.0, 1.0)
    ratio_workload("Workload 1: logistic regression loss, X 1000x100, gradient w.r.t. w",
                   logistic_loss, (w, X, y), 0, logistic_grad_hand, rounds, sample_seconds)


def bench_mlp(rounds, sample_seconds):
    rng = np.random.default_rng(1)
    batch = 128
    x = rng.standard_normal((batch, 784))
    onehot = np.eye(10)[rng.integers(0, 10, batch)]
    W1 = rng.standard_normal((784, 256)) / np.sqrt(784)
    W2 = rng.standard_normal((256, 10)) / np.sqrt(256)
    b1, b2 = 0.1 * rng.standard_normal(256), 0.1 * rng.standard_normal(10)
    ratio_workload("Workload 2: MLP 784-256-10, tanh, softmax cross-entropy, batch 128, "
                   "gradients w.r.t. W1 and W2",
                   mlp_loss, (W1, W2, b1, b2, x, onehot), (0, 1), mlp_grad_hand, rounds, sample_seconds)


SCALAR_LOOP_TARGET = 2.0
SCALAR_LOOP_SPEEDUP_OVER_AUTOGRAD = 20.0


def bench_scalar_loop(rounds, sample_seconds):
    ratio_workload("Workload 3: scalar loop, s = s + math.sin(x * i) * x for i in range(100), x a Python float, "
                   "gradient w.r.t. x",
                   scalar_loop, (0.7,), 0, scalar_loop_grad_hand, rounds, sample_seconds,
                   target=SCALAR_LOOP_TARGET, third_party_fn=scalar_loop_np,
                   extra={"autodiff_st ad.grad, np.sin": scalar_loop_np},
                   speedups=[("autograd", AD, SCALAR_LOOP_SPEEDUP_OVER_AUTOGRAD)],
                   notes=["autodiff_st ad.grad and the hand-written adjoint use math.sin and math.cos; autograd and "
                          "jax run the same loop with",
                          "their np.sin (autograd.numpy.sin, jax.numpy.sin on a Python float). "
                          "'autodiff_st ad.grad, np.sin' differentiates that loop too:",
                          "numpy functions on floats return np.float64 scalars, slower than math's floats.",
                          "jax.jit unrolls the 100 iterations into one compiled program."])


def bench_rnn(rounds, sample_seconds):
    rng = np.random.default_rng(4)
    steps, n = 50, 32
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    xs = rng.standard_normal((steps, n))
    ratio_workload(f"Workload 4: RNN-like recurrence h = tanh(W @ h + xs[t]), {steps} steps, h of size {n}, "
                   "loss sum(h ** 2), gradient w.r.t. W",
                   rnn_loss, (W, xs), 0, rnn_grad_hand, rounds, sample_seconds,
                   notes=["jax.jit unrolls the 50 steps into one compiled program."])


class MLPCell(ad.nn.Cell):
    """The MLP of workload 2 as a Cell: two ad.nn.Dense layers (weights stored (out, in), as MindSpore
    does), tanh, softmax cross-entropy with a stable log-sum-exp."""

    def __init__(self, rng):
        self.hidden = ad.nn.Dense(784, 256, weight_init=rng.standard_normal((256, 784)) / np.sqrt(784),
                                  bias_init=0.1 * rng.standard_normal(256), dtype=np.float64)
        self.out = ad.nn.Dense(256, 10, weight_init=rng.standard_normal((10, 256)) / np.sqrt(256),
                               bias_init=0.1 * rng.standard_normal(10), dtype=np.float64)

    def construct(self, x, onehot):
        h = np.tanh(self.hidden(x))
        logits = self.out(h)
        mx = np.max(logits, axis=1, keepdims=True)
        shifted = logits - mx
        lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        logp = shifted - lse
        return -np.mean(np.sum(onehot * logp, axis=1))


def mlp_cell_grads_hand(W1, b1, W2, b2, x, onehot):
    """The loss of MLPCell and its gradients with respect to W1, b1, W2, b2 (weights stored (out, in))."""
    h = np.tanh(x @ W1.T + b1)
    logits = h @ W2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum(onehot * (shifted - np.log(s)), axis=1))
    dlogits = (e / s - onehot) / x.shape[0]
    dpre = (dlogits @ W2) * (1.0 - h * h)
    return loss, (dpre.T @ x, dpre.sum(axis=0), dlogits.T @ h, dlogits.sum(axis=0))


def bench_mlp_cell_sgd(rounds, sample_seconds, learning_rate=1e-3):
    """One SGD step of workload 2's MLP, written as a Cell and differentiated with weights=."""
    rng = np.random.default_rng(1)
    batch = 128
    x = rng.standard_normal((batch, 784))
    onehot = np.eye(10)[rng.integers(0, 10, batch)]
    net = MLPCell(rng)
    weights = net.trainable_params()
    hand_params = [np.array(w) for w in weights]  # the hand-written step updates its own copies
    step_grads = ad.value_and_grad(net, grad_position=None, weights=weights)
    loss, grads = step_grads(x, onehot)
    hand_loss, hand_grads = mlp_cell_grads_hand(*hand_params, x, onehot)
    assert np.isclose(loss, hand_loss)
    check_same(AD, grads, hand_grads)

    def ad_step():
        loss, grads = step_grads(x, onehot)
        for w, g in zip(weights, grads):
            w -= learning_rate * g
        return loss

    def hand_step():
        loss, grads = mlp_cell_grads_hand(*hand_params, x, onehot)
        for w, g in zip(hand_params, grads):
            w -= learning_rate * g
        return loss

    name = "autodiff_st, weights="
    times = interleaved({HAND: hand_step, name: ad_step}, rounds, sample_seconds)
    faults = {HAND: minor_faults_per_call(hand_step), name: minor_faults_per_call(ad_step)}
    print_ratio_table("Workload 5: one SGD step of workload 2's MLP written as a Cell (two nn.Dense), "
                      "value and gradients w.r.t. its 4 Parameters, updated in place",
                      times, faults, name, [])


def bench_call_overhead(rounds, sample_seconds):
    """What a call of a cached ad.grad(f) costs beyond calling f, for f(x) = x * x on a float."""
    grad_tiny = ad.grad(tiny)
    assert grad_tiny(3.0) == 6.0
    contenders = {"f(3.0)": lambda: tiny(3.0), "ad.grad(f)(3.0)": lambda: grad_tiny(3.0)}
    try:  # internal API, for diagnosis only: the generated function without the api.Grad wrapper
        from autodiff_st.compiler.cache import adjoint_functions
        fused = adjoint_functions(tiny, (0,), "grad")[0]
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


def bench_first_transform(repeats):
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

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke test, not a measurement")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per workload")
    options = parser.parse_args(argv)
    rounds = options.rounds or (8 if options.quick else 200)
    sample_seconds = 0.5e-3 if options.quick else 3e-3
    print(f"autodiff_st benchmarks: numpy {np.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs{', QUICK run: numbers are rough' if options.quick else ''}")
    sections = [
        lambda: bench_logistic(rounds, sample_seconds),
        lambda: bench_mlp(rounds, sample_seconds),
        lambda: bench_scalar_loop(rounds, sample_seconds),
        lambda: bench_rnn(rounds, sample_seconds),
        lambda: bench_mlp_cell_sgd(rounds, sample_seconds),
        lambda: bench_call_overhead(rounds, sample_seconds),
        lambda: bench_first_transform(3 if options.quick else 15),
    ]
    for section in sections:
        try:
            section()
        except Exception:  # report it and go on: one broken section should not hide the others
            print("\nERROR in a benchmark section:")
            traceback.print_exc(file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
