"""The value generated code gives a local name before the user's function binds it.

The forward pass of a reverse transform keeps the old value of a name on the tape before each
assignment inside a loop or a branch, so every such name needs a value from the start: ``unbound``.
Where the user's function reads a name that may still have none (bound only in a loop that can run no
times, or in one branch of an ``if``), the generated code first calls ``check_bound``, which raises the
``UnboundLocalError`` Python would raise at that line.
"""

import sys

__all__ = ["unbound", "check_bound"]


class _Unbound:
    """The type of ``unbound``: one object, which no user value can be."""

    __slots__ = ()

    def __repr__(self):
        return "unbound"

    def __reduce__(self):
        return "unbound"


unbound = _Unbound()


def check_bound(value, name):
    """Raise ``UnboundLocalError`` where ``value`` is ``unbound``: the user's function reads ``name``
    before binding it."""
    if value is unbound:
        if sys.version_info >= (3, 11):
            message = f"cannot access local variable '{name}' where it is not associated with a value"
        else:
            message = f"local variable '{name}' referenced before assignment"
        raise UnboundLocalError(message)
