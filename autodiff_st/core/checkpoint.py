"""``ad.checkpoint``: the marker of a function whose forward values are recomputed, not stored.

A ``Checkpointed`` wraps one of the user's functions. Called plainly, it calls the function. Called from
differentiated code, the forward pass calls the plain function and keeps only its arguments; the backward
pass runs the function's generated forward pass again on them, then its backward pass
(``runtime.calls.checkpoint_functions``). The marker lives in the bottom layer so that the compiler
(``compiler/analyze.py``) and the run-time dispatch recognise it without importing the transforms.

The loop policies of the reverse transforms (``checkpoint=None | "auto" | "sqrt" | int``) are checked
here too (``loop_policy``), where every layer can read them.
"""

import functools

from .errors import AutodiffError


class Checkpointed:
    """``fn`` marked for recomputation in the backward pass."""

    def __init__(self, fn):
        if isinstance(fn, Checkpointed):
            fn = fn.fn
        if not callable(fn):
            raise AutodiffError(f"ad.checkpoint expects a function, got {type(fn).__name__}.")
        self.fn = fn
        self.__wrapped__ = fn
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"checkpoint({getattr(self.fn, '__qualname__', self.fn)!r})"

    def __get__(self, obj, owner=None):  # a checkpointed method: checkpoint the bound method
        return self if obj is None else Checkpointed(self.fn.__get__(obj, owner))


def loop_policy(checkpoint):
    """The loop checkpointing policy of a reverse transform, checked: None (tape every iteration), "auto"
    (segments of about sqrt(n) iterations; "sqrt" is the same), or a positive int (segments of that many
    iterations)."""
    if checkpoint is None:
        return None
    if checkpoint in ("auto", "sqrt"):
        return "sqrt"
    if isinstance(checkpoint, int) and not isinstance(checkpoint, bool) and checkpoint > 0:
        return int(checkpoint)
    raise AutodiffError(f"checkpoint= expects None, \"auto\", \"sqrt\" or a positive int (segment length), "
                        f"got {checkpoint!r}.")


def mode_with(mode, policy):
    """A compilation mode (``"grad_only"``, ``"vjp"``, ...) with a loop checkpointing policy: the policy is
    part of the mode, so that the compiled code is cached per policy."""
    return mode if policy is None else f"{mode}:checkpoint={policy}"


def split_mode(mode):
    """``(mode, policy)`` from a mode written by ``mode_with``."""
    base, _, policy = mode.partition(":checkpoint=")
    if not policy:
        return base, None
    return base, (policy if policy == "sqrt" else int(policy))
