"""Memory and time of a long loop's gradient, with and without checkpointing, and the tape economy of
an array loop against a hand-written numpy adjoint: `python benchmarks/checkpoint.py`.

Peak memory is measured with tracemalloc, which sees numpy's allocations; times are medians of
interleaved rounds in one process. ``measure_checkpoint()`` and ``measure_tape_economy()`` return dicts
for the bench runner. With matplotlib installed, ``main`` also writes docs/checkpoint_memory.png.
"""

import os
import statistics
import time
import tracemalloc

import numpy as np

import autodiff_st as ad


def rnn(x, w, h):
    for t in range(x.shape[0]):
        h = np.tanh(w @ h + x[t])
    return np.sum(h)


def cell_loop(x, w, h):
    for t in range(x.shape[0]):
        h = np.tanh(w * h + x[t])
    return np.sum(h)


def hand_adjoint(x, w, h):
    """The gradient of rnn with respect to w, written by hand: keep every h, then walk back."""
    hs = []
    for t in range(x.shape[0]):
        hs.append(h)
        h = np.tanh(w @ h + x[t])
    h_bar = np.ones_like(h)
    w_bar = np.zeros_like(w)
    for t in reversed(range(x.shape[0])):
        a_bar = h_bar * (1 - h * h)
        h = hs.pop()
        w_bar += np.outer(a_bar, h)
        h_bar = w.T @ a_bar
    return w_bar


def hand_adjoint_h(x, w, h):
    """The gradient of rnn with respect to its starting h, by hand: the tape is all the memory it needs."""
    hs = []
    for t in range(x.shape[0]):
        hs.append(h)
        h = np.tanh(w @ h + x[t])
    h_bar = np.ones_like(h)
    for t in reversed(range(x.shape[0])):
        a_bar = h_bar * (1 - h * h)
        h = hs.pop()
        h_bar = w.T @ a_bar
    return h_bar


def sine_map(x, w):
    for _ in range(200):
        x = np.sin(x) * w
    return np.sum(x)


def sine_map_hand(x, w):
    """The hand adjoint of sine_map with respect to x and w: keep each x, compute sin(x) again."""
    xs = []
    for _ in range(200):
        xs.append(x)
        x = np.sin(x) * w
    x_bar, w_bar = np.ones_like(x), np.zeros_like(w)
    for _ in range(200):
        x = xs.pop()
        w_bar += x_bar * np.sin(x)
        x_bar = x_bar * w * np.cos(x)
    return x_bar, w_bar


def peak_bytes(fn, *args):
    """The peak of traced memory during one call, above what was allocated before it."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _median_time(fns, args, rounds):
    """Median seconds per function, the functions interleaved within each round."""
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn(*args)
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times], times


def _inputs(steps, size, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(steps, size)), rng.normal(size=(size, size)) / np.sqrt(size), rng.normal(size=size)


def measure_checkpoint(steps=(250, 500, 1000, 2000), size=1000, rounds=5):
    """Per number of steps: peak bytes and median seconds of the gradient of cell_loop with respect to w,
    taped (checkpoint=None) and checkpointed (checkpoint="auto"), with their ratios (checkpointed over
    taped; the times interleaved round by round)."""
    taped = ad.grad(cell_loop, 1)
    checked = ad.grad(cell_loop, 1, checkpoint="auto")
    rows = []
    for n in steps:
        rng = np.random.default_rng(0)
        args = rng.normal(size=(n, size)), rng.normal(size=size) * 0.5, rng.normal(size=size)
        np.testing.assert_allclose(checked(*args), taped(*args), rtol=1e-10, atol=1e-12)
        memory = [peak_bytes(taped, *args), peak_bytes(checked, *args)]
        (t_taped, t_checked), times = _median_time([taped, checked], args, rounds)
        ratios = [c / t for t, c in zip(*times)]
        rows.append({"steps": n, "taped_bytes": memory[0], "checkpointed_bytes": memory[1],
                     "memory_ratio": memory[1] / memory[0], "taped_s": t_taped, "checkpointed_s": t_checked,
                     "time_ratio": statistics.median(ratios), "time_ratio_min": min(ratios),
                     "time_ratio_max": max(ratios)})
    return {"workload": f"h = np.tanh(w * h + x[t]), h and w of {size} floats, gradient with respect to w",
            "rows": rows}


def measure_tape_economy(steps=200, size=1000, rounds=5):
    """The peak memory and time of the taped gradient of rnn against the hand adjoint's: with respect to w
    (the gradient's own n x n arrays dominate) and with respect to the starting h (the tape dominates)."""
    out = {"steps": steps, "size": size}
    args = _inputs(steps, size)
    for key, position, hand in (("w", 1, hand_adjoint), ("h", 2, hand_adjoint_h)):
        grad = ad.grad(rnn, position)
        np.testing.assert_allclose(grad(*args), hand(*args), rtol=1e-10, atol=1e-12)
        mine, theirs = peak_bytes(grad, *args), peak_bytes(hand, *args)
        _, times = _median_time([grad, hand], args, rounds)
        ratios = [a / b for a, b in zip(*times)]
        out[key] = {"autodiff_st_bytes": mine, "hand_bytes": theirs, "memory_ratio": mine / theirs,
                    "time_ratio": statistics.median(ratios), "time_ratio_min": min(ratios),
                    "time_ratio_max": max(ratios)}
    rng = np.random.default_rng(0)
    args = rng.normal(size=size), rng.uniform(0.5, 1.2, size=size)
    grad = ad.grad(sine_map, (0, 1))
    mine, theirs = peak_bytes(grad, *args), peak_bytes(sine_map_hand, *args)
    _, times = _median_time([grad, sine_map_hand], args, rounds)
    ratios = [a / b for a, b in zip(*times)]
    out["sine"] = {"autodiff_st_bytes": mine, "hand_bytes": theirs, "memory_ratio": mine / theirs,
                   "time_ratio": statistics.median(ratios), "time_ratio_min": min(ratios),
                   "time_ratio_max": max(ratios)}
    return out


def plot(result, path):
    """Write the memory against steps, with and without checkpointing, to ``path`` (needs matplotlib)."""
    import matplotlib  # a bench-only extra: imported only when plotting
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = [r["steps"] for r in result["rows"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [r["taped_bytes"] / 2 ** 20 for r in result["rows"]], "o-", label="checkpoint=None (taped)")
    ax.plot(steps, [r["checkpointed_bytes"] / 2 ** 20 for r in result["rows"]], "s-", label='checkpoint="auto"')
    ax.set_xlabel("loop steps")
    ax.set_ylabel("peak memory of the gradient (MiB, tracemalloc)")
    ax.set_title(result["workload"], fontsize=8)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    economy = measure_tape_economy()
    print(f"tape economy, {economy['steps']} steps of h = np.tanh(w @ h + x[t]), h of {economy['size']} floats:")
    for key in ("w", "h", "sine"):
        e = economy[key]
        what = "x and w of x = np.sin(x) * w (200 steps)" if key == "sine" else key
        print(f"  gradient with respect to {what}: peak memory autodiff_st {e['autodiff_st_bytes'] / 2 ** 20:.2f} MiB, "
              f"hand adjoint {e['hand_bytes'] / 2 ** 20:.2f} MiB, ratio {e['memory_ratio']:.3f}; time ratio "
              f"{e['time_ratio']:.2f} (min {e['time_ratio_min']:.2f}, max {e['time_ratio_max']:.2f})")
    result = measure_checkpoint()
    print(f"checkpointing: {result['workload']}")
    print(f"{'steps':>6} {'taped MiB':>10} {'ckpt MiB':>9} {'memory':>7} {'time ratio (min-max)':>22}")
    for r in result["rows"]:
        print(f"{r['steps']:>6} {r['taped_bytes'] / 2 ** 20:>10.2f} {r['checkpointed_bytes'] / 2 ** 20:>9.2f} "
              f"{r['memory_ratio']:>7.3f} {r['time_ratio']:>9.2f} ({r['time_ratio_min']:.2f}-{r['time_ratio_max']:.2f})")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "checkpoint_memory.png")
    try:
        plot(result, path)
        print(f"wrote {os.path.normpath(path)}")
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")


if __name__ == "__main__":
    main()
