"""Jacobian benchmarks: ``jacrev`` of ``tanh(A @ x)`` side by side with a hand-written batched adjoint,
``vmap`` of ``jacrev``/``jacfwd`` of small functions against their vectorised objective (with the count of
run-time batching dispatch calls), and the peak memory of ``chunk_size``.

    .venv/bin/python benchmarks/jacobians.py            # what `make bench` runs after benchmarks/run.py
    .venv/bin/python benchmarks/jacobians.py --quick    # a few rounds, to check that it runs

Times are reported as ratios to the hand-written adjoint in the same round (see timing.py): the
hand-written code seeds the backward pass of ``tanh(A @ x)`` with every row of the identity at once,
``(eye * (1 - t**2)) @ A``, which is what a batched backward pass computes. JAX (jit and eager),
torch.func and autograd run beside it where they are installed.
"""

import argparse
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import autodiff_st as ad  # noqa: E402
from autodiff_st.runtime import batched as batching_runtime  # noqa: E402
from timing import interleaved, ratio_summary  # noqa: E402

TARGET = 1.2
VMAP_TARGET = 20


def projection(camera, point):
    """A bundle-adjustment-like block: one point seen by one camera (9 parameters: a small-angle rotation,
    a translation, a focal length and two radial distortion terms), its 2 image coordinates."""
    w = camera[0:3]
    t = camera[3:6]
    p = point + np.cross(w, point) + t
    q = -p[0:2] / p[2]
    r2 = np.dot(q, q)
    distortion = 1.0 + camera[7] * r2 + camera[8] * r2 * r2
    return camera[6] * distortion * q


def projections(cameras, points):
    """The objective: ``projection`` of every observation, written vectorised by hand."""
    w = cameras[:, 0:3]
    p = points + np.cross(w, points) + cameras[:, 3:6]
    q = -p[:, 0:2] / p[:, 2:3]
    r2 = np.sum(q * q, axis=1)
    distortion = 1.0 + cameras[:, 7] * r2 + cameras[:, 8] * r2 * r2
    return (cameras[:, 6] * distortion)[:, None] * q


def two_layer(x, W1, W2):
    """A 2-layer tanh network of 6 inputs (one example)."""
    return np.tanh(W2 @ np.tanh(W1 @ x))


def two_layers(X, W1, W2):
    """The objective: ``two_layer`` of every example, vectorised by hand."""
    return np.tanh(np.tanh(X @ W1.T) @ W2.T)


def layer(x, A):
    return np.tanh(A @ x)


def hand_jacobian(x, A):
    t = np.tanh(A @ x)
    eye = np.eye(t.shape[0])
    return (eye * (1 - t ** 2)) @ A


def contenders(x, A):
    # Each transform is made once, as jax.jit's function is: its later calls take the cached-call path.
    rev, rev16, fwd = ad.jacrev(layer), ad.jacrev(layer, chunk_size=16), ad.jacfwd(layer)
    out = {
        "hand-written batched adjoint": lambda: hand_jacobian(x, A),
        "autodiff_st jacrev": lambda: rev(x, A),
        "autodiff_st jacrev chunk_size=16": lambda: rev16(x, A),
        "autodiff_st jacfwd": lambda: fwd(x, A),
    }
    skipped = []
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)

        def jax_layer(x, A):
            return jnp.tanh(A @ x)
        jac = jax.jacrev(jax_layer)
        jitted = jax.jit(jac)
        xj, Aj = jnp.asarray(x), jnp.asarray(A)
        out["jax.jacrev (eager)"] = lambda: np.asarray(jac(xj, Aj))
        out["jax.jit(jax.jacrev)"] = lambda: np.asarray(jitted(xj, Aj).block_until_ready())
    except ImportError:
        skipped.append("jax")
    try:
        import torch
        from torch.func import jacrev as torch_jacrev
        xt, At = torch.from_numpy(x), torch.from_numpy(A)
        tjac = torch_jacrev(lambda x: torch.tanh(At @ x))
        out["torch.func.jacrev"] = lambda: tjac(xt).numpy()
    except ImportError:
        skipped.append("torch")
    try:
        import autograd
        import autograd.numpy as anp
        ajac = autograd.jacobian(lambda x: anp.tanh(anp.dot(A, x)))
        out["autograd.jacobian"] = lambda: ajac(x)
    except ImportError:
        skipped.append("autograd")
    return out, skipped


def bench_jacrev(rounds, sample_seconds):
    rng = np.random.default_rng(0)
    n = 200
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)
    expected = hand_jacobian(x, A)
    runs, skipped = contenders(x, A)
    for name, run in runs.items():
        np.testing.assert_allclose(run(), expected, rtol=1e-9, atol=1e-12, err_msg=name)
    times = interleaved(runs, rounds, sample_seconds)
    summary = ratio_summary(times, "hand-written batched adjoint")
    print(f"\njacrev of tanh(A @ x), A {n}x{n}: time / hand-written batched adjoint, median over {rounds} rounds")
    print(f"  {'contender':<36} {'median ratio':>12}   {'middle half':>13}   target")
    for name, (median, q1, q3) in summary.items():
        target = f"<= {TARGET}" if name == "autodiff_st jacrev" else ""
        print(f"  {name:<36} {median:>11.2f}x   {q1:>5.2f} - {q3:<5.2f}   {target}")
    if skipped:
        print(f"  (not installed: {', '.join(skipped)})")


def count_dispatch(fn):
    """How many calls of the run-time batching dispatch (``runtime.batched.call``) one call of ``fn`` makes."""
    original = batching_runtime.call
    count = [0]

    def counting(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)
    fn()
    batching_runtime.call = counting
    try:
        fn()
    finally:
        batching_runtime.call = original
    return count[0]


def bench_vmap(rounds, sample_seconds, sizes=(50, 1000)):
    """``vmap(jacrev(block))`` and ``vmap(jacfwd(block))`` against the objective over the whole batch,
    written vectorised by hand: the GradBench measure (Jacobian time / objective time)."""
    rng = np.random.default_rng(2)
    print(f"\nvmap of a Jacobian of a small function: time / the vectorised objective, median over {rounds} rounds")
    print("  (best ratio: the fastest round of each, divided; steadier than the median on a loaded machine)")
    print(f"  {'workload':<52} {'median ratio':>12}   {'middle half':>13}   {'best':>5}   dispatch calls   target")
    for n in sizes:
        cameras = rng.standard_normal((n, 9)) * 0.1
        cameras[:, 5] += 5.0
        cameras[:, 6] = 1.0
        points = rng.standard_normal((n, 3))
        X = rng.standard_normal((n, 6))
        W1, W2 = rng.standard_normal((8, 6)) / 3, rng.standard_normal((4, 8)) / 3
        ba_rev = ad.vmap(ad.jacrev(projection, (0, 1)))
        ba_fwd = ad.vmap(ad.jacfwd(projection, (0, 1)))
        net_rev = ad.vmap(ad.jacrev(two_layer), in_axes=(0, None, None))
        expected = [np.stack(a) for a in zip(*[ad.jacrev(projection, (0, 1))(c, p)
                                                for c, p in zip(cameras, points)])]
        for got in (ba_rev(cameras, points), ba_fwd(cameras, points)):
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
        runs = {
            "objective": lambda: projections(cameras, points),
            "vmap(jacrev)": lambda: ba_rev(cameras, points),
            "vmap(jacfwd)": lambda: ba_fwd(cameras, points),
            "net objective": lambda: two_layers(X, W1, W2),
            "net vmap(jacrev)": lambda: net_rev(X, W1, W2),
        }
        times = interleaved(runs, rounds, sample_seconds)
        for name, reference, label in [
                ("vmap(jacrev)", "objective", f"projection, {n} observations, vmap(jacrev)"),
                ("vmap(jacfwd)", "objective", f"projection, {n} observations, vmap(jacfwd)"),
                ("net vmap(jacrev)", "net objective", f"2-layer tanh of 6 inputs, {n} examples, vmap(jacrev)")]:
            median, q1, q3 = ratio_summary({name: times[name], reference: times[reference]}, reference)[name]
            calls = count_dispatch(runs[name])
            best = min(times[name]) / min(times[reference])
            print(f"  {label:<52} {median:>11.1f}x   {q1:>5.1f} - {q3:<5.1f}   {best:>4.1f}x   {calls:>14}   "
                  f"<= {VMAP_TARGET}")


def peak_megabytes(fn):
    fn()  # compile first: the transform's own allocations are not the Jacobian's
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def bench_memory():
    rng = np.random.default_rng(1)
    outputs, inputs = 2000, 200
    B = rng.standard_normal((outputs, inputs)) / np.sqrt(inputs)
    x = rng.standard_normal(inputs)
    jacobian_mb = outputs * inputs * 8 / 1e6
    print(f"\nPeak memory of jacrev on tanh(B @ x) with {outputs} outputs and {inputs} inputs "
          f"(the Jacobian itself is {jacobian_mb:.1f} MB; tracemalloc peak during one call)")
    for chunk in (None, 256, 16, 1):
        peak = peak_megabytes(lambda: ad.jacrev(layer, chunk_size=chunk)(x, B))
        print(f"  chunk_size={str(chunk):<5} peak {peak:8.1f} MB   ({peak / jacobian_mb:5.1f}x the Jacobian)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke test, not a measurement")
    options = parser.parse_args(argv)
    rounds = 6 if options.quick else 60
    bench_jacrev(rounds, 0.5e-3 if options.quick else 5e-3)
    bench_vmap(rounds, 0.5e-3 if options.quick else 5e-3)
    bench_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
