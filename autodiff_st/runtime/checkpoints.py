"""What checkpointed loops call at run time (see compiler/checkpoint_loops.py).

A checkpointed loop keeps the values it carries at the start of some iterations only: at every
``every``-th iteration, or, when ``every`` is 0 (a while loop under the "sqrt" policy, whose length is
not known when it starts), at iterations 0, 1, 4, 9, 16, ... (segments of 2k + 1 iterations, about
sqrt(n) of them). No derivative flows through these helpers: they count iterations.
"""

import math

__all__ = ["checkpoint_every", "checkpoint_due", "checkpoint_segments"]


def checkpoint_every(count, policy):
    """The segment length of a loop of ``count`` iterations (None: not known yet) under ``policy``."""
    if isinstance(policy, int):
        return policy
    if count is None:
        return 0
    return math.isqrt(max(count - 1, 0)) + 1  # ceil(sqrt(count)) segments of at most that many iterations


def checkpoint_due(step, every):
    """Whether iteration ``step`` (from 0) starts a segment: its carried values are kept."""
    if every:
        return step % every == 0
    root = math.isqrt(step)
    return root * root == step


def checkpoint_segments(count, every):
    """How many segments a loop of ``count`` iterations kept the values of (see ``checkpoint_due``)."""
    if count <= 0:
        return 0
    if every:
        return -(-count // every)
    return math.isqrt(count - 1) + 1
