"""The shared timing helper of benchmarks/run.py.

Machines are noisy, so contenders are never timed one after the other in long blocks. Each round times
every contender once, in an order that rotates from round to round, and each contender's time is
divided by the reference's time *in the same round*. What is reported is the median of those per-round
ratios, which cancels most of the drift (frequency scaling, other processes) that both share.
"""

import gc
import statistics
import time

try:
    import resource
except ImportError:  # not on Windows
    resource = None


def time_calls(fn, number):
    """Seconds per call of ``fn()``, over ``number`` back-to-back calls, with the GC paused (as timeit does)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number
    finally:
        if gc_was_enabled:
            gc.enable()


def calls_per_sample(fn, sample_seconds):
    """How many calls of ``fn`` make one sample of about ``sample_seconds`` (at least 1)."""
    fn()  # warm up: caches, JIT compilation, lazy imports
    once = min(time_calls(fn, 1) for _ in range(3))
    return max(1, int(sample_seconds / max(once, 1e-9)))


def interleaved(contenders, rounds, sample_seconds):
    """Time each contender in every round, rotating the order.

    ``contenders`` maps a name to a zero-argument callable. Returns a dict mapping each name to its list
    of seconds per call, one entry per round, so that entry ``i`` of any two lists comes from round ``i``.
    """
    names = list(contenders)
    numbers = {name: calls_per_sample(contenders[name], sample_seconds) for name in names}
    times = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(time_calls(contenders[name], numbers[name]))
    return times


def ratio_summary(times, reference):
    """For each contender: (median, 25th percentile, 75th percentile) of its per-round ratio to ``reference``."""
    out = {}
    for name, ts in times.items():
        ratios = sorted(t / ref for t, ref in zip(ts, times[reference]))
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        out[name] = (statistics.median(ratios), q1, q3)
    return out


def median_difference(times, name, baseline):
    """Median over rounds of ``times[name] - times[baseline]`` (seconds per call)."""
    return statistics.median(t - b for t, b in zip(times[name], times[baseline]))


def minor_faults_per_call(fn, number=20):
    """Minor page faults per call of ``fn()`` (None where the resource module is missing).

    A call that gets fresh pages from the kernel every time (because the allocator gave its memory back
    to the system at the end of the previous call) pays for it in system time; this makes it visible.
    """
    if resource is None:
        return None
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(number):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / number
