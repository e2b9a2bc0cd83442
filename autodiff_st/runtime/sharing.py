"""The run-time sharing check of an in-place write that the analysis could not prove safe.

The normal form rewrites ``x += e`` as ``x_2 = x + e`` and differentiates ``y[i] = v`` as a write into
``y`` alone. Both are Python's program only when no other name that the function reads afterwards (and
no argument, which the caller sees) shares the written array's memory. Where the analysis proves that,
nothing runs; where it cannot decide (``Q = np.diag(v)``, which is a new array for a vector and a view
for a matrix; ``b = a`` where ``a`` may be a Python float), the generated forward pass calls
``check_unshared`` just before the write. It costs one ``np.may_share_memory`` per name checked (a
comparison of memory bounds), and an exact ``np.shares_memory`` only where the bounds overlap.
"""

import sys
import threading

import numpy as np

from ..core.errors import AliasingError
from .loader import origin_at

__all__ = ["ARGUMENT_UPDATE", "ARGUMENT_WRITE", "USER_CALLS", "check_unshared", "user_call"]

# What ``check_unshared`` is told about an argument of the function: it is updated in place (``a *= b``),
# or written into (``a[i] = v``).
ARGUMENT_UPDATE = "update"
ARGUMENT_WRITE = "write"

class _Depth(threading.local):
    depth = 0  # each thread starts at 0 (an instance attribute, once set, is the thread's own)


# How many calls into the user's functions, made by generated code, enclose the code running now, per
# thread. runtime/calls.py adds one around the run of a helper's forward pass itself
# (``USER_CALLS.depth += 1``, then ``-= 1`` in a ``finally``): cheaper than a ``with`` in a loop.
USER_CALLS = _CALLS = _Depth()


class _UserCall:
    """The context of ``user_call``: a plain class with ``__enter__`` and ``__exit__``."""

    __slots__ = ()

    def __enter__(self):
        _CALLS.depth += 1

    def __exit__(self, *exc):
        _CALLS.depth -= 1
        return False


_USER_CALL = _UserCall()


def user_call():
    """Marks the run of a generated function for a call the differentiated code makes into the user's own
    function (runtime/calls.py): there, an argument is the caller's array."""
    return _USER_CALL

# The most work np.shares_memory may do before the answer counts as "shared" (refusing is safe).
_MAX_WORK = 100_000


def _shares(array, other):
    if isinstance(other, np.ndarray):
        if not np.may_share_memory(array, other):
            return False
        try:
            return bool(np.shares_memory(array, other, max_work=_MAX_WORK))
        except np.exceptions.TooHardError if hasattr(np, "exceptions") else Exception:
            return True
    if isinstance(other, (list, tuple)):
        return any(_shares(array, item) for item in other)
    if isinstance(other, dict):
        return any(_shares(array, item) for item in other.values())
    return False


def check_unshared(array, others, names, written, write, argument=None):
    """Raise an ``AliasingError`` at the user's line if ``array`` (the user's ``written``) shares memory
    with one of ``others`` (the user's ``names``): a write into it would change them too, and the
    derivative would not see that. ``write`` says what the line does.

    With ``argument``, ``array`` is an argument of the function, written into (``ARGUMENT_WRITE``:
    ``a[i] = v``, which changes the caller's array as Python does) or updated (``ARGUMENT_UPDATE``:
    ``a *= b``, which the normal form rewrites as a new array). Either is Python's program, as far as the derivative goes, when the function is the one the
    user transformed (the caller is the user), but not when a differentiated caller passed the array
    and may read it again: refused there, for arrays."""
    if argument == ARGUMENT_WRITE and not isinstance(array, np.ndarray):
        frame = sys._getframe(1)
        raise AliasingError(
            f"autodiff_st cannot differentiate this {write}: `{written}` is an argument that is not an array (a "
            "list or dict of the caller's), and writing into it would change the caller's container.",
            origin=origin_at(frame.f_code.co_filename, frame.f_lineno),
            hint=f"Make a new one first: `{written} = dict({written})` or `{written} = list({written})`.")
    if not isinstance(array, np.ndarray):
        return  # a number or a list: only an array can share memory with another name
    if argument is not None and _CALLS.depth > 0:
        frame = sys._getframe(1)
        raise AliasingError(
            f"autodiff_st cannot differentiate this {write}: `{written}` is an argument, and changing it in "
            "place changes the array of the differentiated function that called this one, which its "
            "derivative would not follow.", origin=origin_at(frame.f_code.co_filename, frame.f_lineno),
            hint=f"Make a new array first (`{written} = {written}.copy()`), or return the new values.")
    for other, name in zip(others, names):
        if other is not array and not _shares(array, other):
            continue
        frame = sys._getframe(1)
        origin = origin_at(frame.f_code.co_filename, frame.f_lineno)
        raise AliasingError(
            f"autodiff_st cannot differentiate this {write}: `{written}` shares memory with `{name}` here "
            "(checked when the line ran), and changing it in place would change that too, which the "
            "derivative would not follow.", origin=origin,
            hint=f"Copy before changing it: `{written} = {written}.copy()`, or write `{written} = {written} + ...` "
                 "to make a new array.")
