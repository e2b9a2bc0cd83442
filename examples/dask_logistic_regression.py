"""Logistic regression fitted by gradient descent on a dask array, gradients from ``ad.value_and_grad``.

    .venv/bin/python examples/dask_logistic_regression.py                 # 2,000,000 x 50, chunked by rows
    .venv/bin/python examples/dask_logistic_regression.py --rows 20000    # a short run (the tests run one)

The data is a dask array chunked by rows and held by the workers of a local dask.distributed cluster
(2 worker processes, 1 thread each). The loss is ordinary numpy code. ``ad.value_and_grad(loss)`` of it on
dask arrays returns the loss and the gradient as lazy dask arrays; each step computes both in one pass over
the data on the cluster, and the driver keeps only the 50 weights. At the end the example fits the same
model with numpy on a subsample and prints how the two agree: the gradient there (dask against numpy, which
must be equal to rounding) and the fitted weights (equal up to the subsample's statistical noise).
See docs/backends.md.
"""

import argparse
import time

import numpy as np

import autodiff_st as ad


def loss(w, X, y, l2):
    """Mean logistic loss of labels y in {0, 1} with a small ridge penalty."""
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + l2 * np.sum(w * w)


def make_data(da, rows, cols, chunk_rows, seed=0):
    """Rows of standard normal features and labels drawn from a logistic model, as dask arrays."""
    true_w = np.random.default_rng(seed).normal(size=cols) / np.sqrt(cols) * 3.0
    rng = da.random.default_rng(seed + 1)
    X = rng.standard_normal((rows, cols), chunks=(chunk_rows, cols))
    p = 1.0 / (1.0 + np.exp(-(X @ true_w)))
    y = (rng.random(rows, chunks=chunk_rows) < p).astype(np.float64)
    return X, y, true_w


def fit(value_and_grad, w, steps, lr, compute, report):
    """Gradient descent; ``compute`` turns the (possibly lazy) loss and gradient into numpy values."""
    losses = []
    for step in range(steps):
        value, g = compute(*value_and_grad(w))
        w = w - lr * g
        losses.append(float(value))
        report(step, float(value))
    return w, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: rows / 16)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--subsample", type=int, default=50_000, help="rows of the numpy fit")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args(argv)

    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    chunk_rows = options.chunk_rows or max(1, options.rows // 16)
    with LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        X, y, true_w = make_data(da, options.rows, options.cols, chunk_rows)
        X, y = client.persist([X, y])  # the data lives on the workers from here on
        print(f"{options.rows:,} x {options.cols} rows in {X.numblocks[0]} chunks of {chunk_rows:,} rows, "
              f"{options.workers} workers")

        value_and_grad = ad.value_and_grad(loss)
        l2 = options.l2
        w0 = np.zeros(options.cols)

        def on_cluster(w):
            return value_and_grad(da.from_array(w, chunks=-1), X, y, l2)  # lazy: a graph, nothing computed

        def report(step, value):
            print(f"step {step:3d}  loss {value:.6f}")

        start = time.perf_counter()
        w, losses = fit(on_cluster, w0, options.steps, options.lr, lambda v, g: dask.compute(v, g), report)
        seconds = time.perf_counter() - start
        print(f"{options.steps} steps in {seconds:.2f} s ({seconds / options.steps * 1e3:.0f} ms a step)")

        n_sub = min(options.subsample, options.rows)
        X_sub, y_sub = dask.compute(X[:n_sub], y[:n_sub])

    numpy_w, _ = fit(lambda w: value_and_grad(w, X_sub, y_sub, l2), w0, options.steps, options.lr,
                     lambda v, g: (v, g), lambda step, value: None)
    numpy_grad = ad.grad(loss)(w, X_sub, y_sub, l2)
    dask_grad = ad.grad(loss)(da.from_array(w, chunks=-1), da.from_array(X_sub, chunks=(max(1, n_sub // 4), -1)),
                              da.from_array(y_sub, chunks=max(1, n_sub // 4)), l2).compute(scheduler="sync")
    gradient_difference = float(np.max(np.abs(dask_grad - numpy_grad)))
    weight_difference = float(np.max(np.abs(w - numpy_w)) / np.max(np.abs(numpy_w)))
    labels_agree = float(np.mean(((X_sub @ w) > 0) == ((X_sub @ numpy_w) > 0)))
    print(f"gradient on the {n_sub:,}-row subsample, dask against numpy: max difference {gradient_difference:.2e}")
    print(f"weights of the dask fit against a numpy fit on the subsample: max relative difference "
          f"{weight_difference:.3f}; the two agree on {labels_agree:.1%} of the subsample's labels")
    assert losses[-1] < losses[0], "the loss did not fall"
    return {"losses": losses, "w": w, "numpy_w": numpy_w, "gradient_difference": gradient_difference,
            "labels_agree": labels_agree}


if __name__ == "__main__":
    main()
