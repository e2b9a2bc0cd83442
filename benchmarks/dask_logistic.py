"""The gradient of a logistic loss on a dask array, on a local cluster of 2 workers (1 thread each), against
numpy on one core for the same data, and the task count of its graph against a hand-written dask adjoint.

    .venv/bin/python benchmarks/dask_logistic.py                  # 2,000,000 x 50 (make bench)
    .venv/bin/python benchmarks/dask_logistic.py --rows 200000    # smaller

Times are medians over interleaved rounds (cluster, numpy, cluster, ...); the data is persisted on the
workers first, so a round is the gradient's own work plus the scheduler's overhead.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

import autodiff_st as ad

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from dask_logistic_regression import loss  # noqa: E402  (the example's loss: one definition)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args(argv)
    try:
        import dask
        import dask.array as da
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("dask[distributed] is not installed: no dask benchmark")
        return
    grad = ad.grad(loss)
    chunk = max(1, options.rows // options.chunks)
    w_np = np.random.default_rng(0).normal(size=options.cols) * 0.1
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        rng = da.random.default_rng(1)
        X = client.persist(rng.standard_normal((options.rows, options.cols), chunks=(chunk, options.cols)))
        y = client.persist((rng.random(options.rows, chunks=chunk) < 0.5).astype(np.float64))
        X_np, y_np = dask.compute(X, y)  # the same data for numpy
        w = da.from_array(w_np, chunks=-1)
        g = grad(w, X, y, 1e-4)
        z = X @ w
        hand = X.T @ (1.0 / (1.0 + np.exp(-z)) - y) / X.shape[0] + 2e-4 * w
        tasks, hand_tasks = len(dict(g.__dask_graph__())), len(dict(hand.__dask_graph__()))
        assert np.allclose(g.compute(), grad(w_np, X_np, y_np, 1e-4), rtol=1e-10, atol=1e-14)
        cluster_times, numpy_times, hand_times = [], [], []
        for _ in range(options.rounds):
            t0 = time.perf_counter()
            grad(w, X, y, 1e-4).compute()
            t1 = time.perf_counter()
            grad(w_np, X_np, y_np, 1e-4)
            t2 = time.perf_counter()
            hand.compute()
            t3 = time.perf_counter()
            cluster_times.append(t1 - t0)
            numpy_times.append(t2 - t1)
            hand_times.append(t3 - t2)
    ratios = sorted(c / n for c, n in zip(cluster_times, numpy_times))
    print(f"dask logistic regression, {options.rows:,} x {options.cols} in {options.chunks} row chunks, "
          f"{os.cpu_count()} CPUs")
    print(f"  gradient on 2 workers: {statistics.median(cluster_times) * 1e3:.0f} ms; numpy on one core: "
          f"{statistics.median(numpy_times) * 1e3:.0f} ms; ratio {statistics.median(ratios):.2f} "
          f"(min {ratios[0]:.2f}, max {ratios[-1]:.2f}, {options.rounds} interleaved rounds)")
    print(f"  the hand-written dask adjoint on the same cluster: {statistics.median(hand_times) * 1e3:.0f} ms")
    print(f"  tasks in the gradient's graph: {tasks}; hand-written dask adjoint: {hand_tasks} "
          f"({tasks / hand_tasks:.2f} x)")


if __name__ == "__main__":
    main()
