"""Writes into Python lists and dicts, as the normal form differentiates them.

Python changes a list or dict in place: ``d["k"] = v``, ``ys[i] = v``. The normal form writes the same
value as a new container, ``d_2 = with_item(d, "k", v)`` (compiler/normalize_collections.py), after
proving (or refusing) that no other name the function reads afterwards refers to the old one, so the
program is Python's. The old container stays as it was, so the backward pass reads it by name, and a
loop that writes into a list puts the old reference on the tape, never a copy of an element.

``with_item`` and ``without_item`` are linear in their containers and values, and each is the other's
transpose (rules/containers.py), so generated code that calls them can be differentiated again.
"""

import numpy as np

from ..core.errors import UnsupportedCaseError
from .cotangents import DictParts, Parts, zeros_like

__all__ = ["with_item", "without_item", "concatenated", "dict_keys", "dict_values", "dict_from_values", "sorting_order",
           "item_extremum"]


def _copy(container):
    if isinstance(container, DictParts):
        return DictParts(container)
    if isinstance(container, dict):
        return dict(container)
    if isinstance(container, (list, tuple)):
        return list(container)
    raise UnsupportedCaseError(
        f"autodiff_st differentiates an element write `c[key] = value` into a list or dict here, but the "
        f"value written into is a {type(container).__name__}.",
        hint="Make the list or dict in the function (`d = {}`, `ys = [0.0] * n`), or write into an array "
             "made with np.zeros.")


def _like(container, items):
    """``items`` (a list or dict) as a value of ``container``'s type: a cotangent stays a cotangent."""
    if isinstance(container, Parts):
        return Parts(items)
    if isinstance(container, tuple):
        return tuple(items)
    return items


def with_item(container, key, value):
    """A new list or dict: ``container`` with ``container[key] = value``, as Python's element write gives
    (a list's index must exist, and may be negative; a dict's key may be new). The cotangent of a list is
    ``Parts``, of a dict ``DictParts``; they keep their type, as does a tuple (a cotangent given for a
    tuple). The normal form never writes into a tuple of the user's: that stays Python's TypeError."""
    out = _copy(container)
    out[key] = value
    return _like(container, out)


def without_item(v, key, container, value):
    """The cotangent of ``container`` in ``with_item(container, key, value)``, from ``v``, the cotangent
    of the result: the old element at ``key`` reaches nothing after the write (its cotangent is zero),
    and a key the write added is dropped. ``value`` is read for its structure only."""
    if isinstance(v, (int, float)) and v == 0:
        return v  # the zero cotangent of a value nothing read
    if isinstance(v, np.ndarray) and v.ndim and not isinstance(container, dict):
        v = list(v)  # a list's cotangent given as an array (by np.array(rows)'s rule): its rows
    out = _copy(v)
    if isinstance(container, dict) and key not in container:
        del out[key]
    else:
        out[key] = zeros_like(container[key])
    return DictParts(out) if isinstance(out, dict) else Parts(out)


def concatenated(a, b):
    """``a + b`` of two lists (or two tuples): what ``xs + [y]``, ``ys += zs`` and ``ys.extend(zs)`` give. Its
    cotangent splits into the two parts."""
    return a + b


def dict_keys(d):
    """The keys of ``d``, a new list (``d.keys()``, ``for k in d``). Keys carry no derivative."""
    return list(d)


def dict_values(d):
    """The values of ``d``, a new list in the order of its keys (``d.values()``); of a list, its items."""
    if isinstance(d, (int, float)) and d == 0:
        return d  # the zero cotangent of a dict nothing read
    items = d.values() if isinstance(d, dict) else d
    return Parts(items) if isinstance(d, (DictParts, Parts)) else list(items)


def dict_from_values(v, d):
    """The dict with ``d``'s keys and the items of ``v``, in order: the cotangent of ``d`` from the
    cotangent ``v`` of ``dict_values(d)`` (of a list ``d``, the items of ``v``)."""
    if isinstance(v, (int, float)) and v == 0:
        return v
    return DictParts(zip(d, v)) if isinstance(d, dict) else Parts(v)


def sorting_order(keys, reverse=False):
    """The positions of ``keys`` in the order Python's ``sorted`` puts them (stable, also with
    ``reverse=True``): ``sorted(xs, key=f)`` is ``[xs[i] for i in sorting_order([f(x) for x in xs])]``. An
    order carries no derivative."""
    keys = list(keys)
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


def item_extremum(items, largest):
    """The position of the first largest (or smallest) of ``items``, as Python's ``max`` and ``min`` pick
    it: ``max(xs)`` is ``xs[item_extremum(xs, True)]``. A position carries no derivative."""
    items = list(items)
    if not items:
        raise ValueError(f"{'max' if largest else 'min'}() iterable argument is empty")
    best = 0
    for i, item in enumerate(items):
        if (item > items[best]) if largest else (item < items[best]):
            best = i
    return best
