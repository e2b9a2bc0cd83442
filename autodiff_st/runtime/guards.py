"""What generated forward passes wrap a ``with`` block and a ``try`` statement in.

The forward pass runs the user's ``with`` and ``try`` statements as Python does. The derivative is
proven only for the path where the block runs to its end, so the two ways out of that path are refused
when they happen: a context manager that suppresses an exception raised inside its block (the
statements after the block would run after a part of it), and an ``except`` clause that catches one
(its body would run after a part of the ``try`` body). Each refusal is an ``UnsupportedCaseError``
naming the user's line, raised from the exception.
"""

from ..core.errors import AutodiffError, UnsupportedCaseError

__all__ = ["guarded_context", "caught_in_try"]


class guarded_context:
    """``with guarded_context(manager):`` is ``with manager:``, except that an exception the manager
    suppresses is refused instead."""

    def __init__(self, manager, where):
        self.manager = manager
        self.where = where

    def __enter__(self):
        return type(self.manager).__enter__(self.manager)

    def __exit__(self, kind, error, traceback):
        suppressed = type(self.manager).__exit__(self.manager, kind, error, traceback)
        if suppressed and kind is not None:
            raise UnsupportedCaseError(
                f"autodiff_st: the context manager of the `with` block at {self.where} suppressed an exception "
                f"({kind.__name__}) raised inside the block, so the code after the block would run after a "
                "part of it, and autodiff_st differentiates the block only as a whole.\n"
                "Handle the error outside the differentiated function, or avoid it in the block.") from error
        return False


def caught_in_try(error, where):
    """The error to raise when an ``except`` clause of the ``try`` statement at ``where`` would catch
    ``error``: autodiff_st's own errors pass through as they are."""
    if isinstance(error, AutodiffError):
        return error
    refusal = UnsupportedCaseError(
        f"autodiff_st: an `except` clause of the `try` statement at {where} would catch this "
        f"{type(error).__name__}: {error}. autodiff_st differentiates a `try` statement only when its body "
        "runs to the end, and cannot differentiate the except clause running after a part of it.\n"
        "Check for the failing case before the `try` (with an `if`), or handle the error outside the "
        "differentiated function.")
    return refusal
