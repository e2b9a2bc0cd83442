"""Rules for scipy.signal.convolve, in both inputs, for every mode and any number of dimensions. Registered
only when scipy is importable. Real inputs.

Every mode's result is a centred part of the full convolution, whose length along each axis is
n1 + n2 - 1: 'same' keeps n1 values from (n2 - 1) // 2 on, 'valid' the |n1 - n2| + 1 values where the
inputs overlap completely. The cotangent is padded with zeros back to the full result; then each input's
cotangent is the valid convolution of it with the other input reversed along every axis. The body calls
convolve, flip and pad, which have rules, so it differentiates again.
"""

import numpy as np
from scipy import signal

from ..core.registry import vjp_rule, multilinear, nondifferentiable


def full_padding(in1, in2, out):
    """The zeros around a result of shape ``np.shape(out)`` inside the full convolution of ``in1`` and
    ``in2``: one (before, after) pair per axis, the result centred as scipy centres it."""
    pads = []
    for n1, n2, m in zip(np.shape(in1), np.shape(in2), np.shape(out)):
        extra = n1 + n2 - 1 - m
        pads.append((extra // 2, extra - extra // 2))
    return pads


nondifferentiable(full_padding)


@vjp_rule(signal.convolve, diff=("in1", "in2"))
def convolve(g, ans, in1, in2, mode="full", method="auto"):
    g_full = np.pad(g, full_padding(in1, in2, ans))
    return (signal.convolve(g_full, np.flip(in2), mode="valid", method=method),
            signal.convolve(g_full, np.flip(in1), mode="valid", method=method))


multilinear(signal.convolve)
