"""Helpers shared by the test modules."""

import inspect


def line_of(fn, needle):
    """(line number, stripped text) of the first line of ``fn``'s source that contains ``needle``."""
    lines, first = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if needle in line:
            return first + i, line.strip()
    raise AssertionError(f"{needle!r} not in the source of {fn.__name__}")
