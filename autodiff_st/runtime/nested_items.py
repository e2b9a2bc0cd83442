"""The run-time check of a write into an element of an element of a list or dict (``rows[0][1] = v``).

The normal form writes ``rows[i][j] = v`` as new containers, ``row_2 = with_item(rows[i], j, v)`` then
``rows_2 = with_item(rows, i, row_2)`` (compiler/normalize_collections.py). That is Python's program
only when the inner list ``rows[i]`` is seen through no other place: the compiler proves that no other
name read later refers to it, and this check, run in the forward pass just before the write, that no
other position of ``rows`` holds it (``[[0.0] * 3] * 3`` holds one list three times, and Python's write
shows in every row). It walks the other positions, and the lists, dicts and tuples inside them.
"""

import sys

from ..core.errors import AliasingError
from .loader import origin_at

__all__ = ["check_item_to_write"]

_CONTAINERS = (list, dict, tuple)


def _values(container):
    return container.values() if isinstance(container, dict) else container


def _holds(container, item, seen):
    """Whether ``container`` (a list, dict or tuple) holds ``item`` at any depth."""
    if id(container) in seen:
        return False
    seen.add(id(container))
    for value in _values(container):
        if value is item or type(value) in _CONTAINERS and _holds(value, item, seen):
            return True
    return False


def check_item_to_write(container, key, user_text):
    """Refuse the write ``user_text`` into ``container[key]`` unless that item is a list or dict that no
    other position of ``container`` holds, at any depth."""
    item = container[key]
    problem = None
    if type(item) not in (list, dict):
        problem = f"the element written into is a {type(item).__name__}, not a list or dict"
    else:
        seen = {id(container)}
        positions = container.items() if isinstance(container, dict) else enumerate(container)
        for position, value in positions:
            if value is item:
                if position == key or isinstance(container, list) and position == key % len(container):
                    continue
                problem = f"the same list or dict is also at position {position!r}"
                break
            if type(value) in _CONTAINERS and _holds(value, item, seen):
                problem = f"the position {position!r} holds the same list or dict inside it"
                break
    if problem is None:
        return None
    frame = sys._getframe(1)
    raise AliasingError(
        f"autodiff_st cannot differentiate the write `{user_text}`: {problem}, so Python would show the "
        "write in more than one place, which the derivative would not follow.",
        origin=origin_at(frame.f_code.co_filename, frame.f_lineno),
        hint="Make each row a list of its own (`[[0.0] * n for _ in range(n)]`, not `[[0.0] * n] * n`), or "
             "build an array and write into it by index.")
