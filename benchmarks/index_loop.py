"""The gradient of a loop reading every x[i] (`s = s + x[i] * w`), against a hand-written numpy adjoint,
interleaved in one process: `python benchmarks/index_loop.py`. Its cost should grow linearly with n."""

import statistics
import time

import numpy as np

import autodiff_st as ad


def index_loop(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * w
    return s


def hand_adjoint(x, w):
    x_bar = np.zeros_like(x)
    for i in range(x.shape[0]):
        x_bar[i] += w
    return x_bar


def main(rounds=5):
    grad = ad.grad(index_loop)
    for n in (10_000, 40_000):
        x = np.random.default_rng(0).normal(size=n)
        assert np.allclose(grad(x, 0.5), hand_adjoint(x, 0.5))
        ratios = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            grad(x, 0.5)
            t1 = time.perf_counter()
            hand_adjoint(x, 0.5)
            t2 = time.perf_counter()
            ratios.append((t1 - t0) / (t2 - t1))
        print(f"n = {n:6d}: autodiff_st / hand adjoint = {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {rounds} interleaved rounds)")


if __name__ == "__main__":
    main()
