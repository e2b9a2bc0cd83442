"""The values that derivatives travel in: cotangents of containers, zeros and seeds, and tangents.

A backward pass adds cotangents with ``+`` whatever they hold, so ``Parts`` and ``DictParts`` add element
by element; ``zeros_like`` and ``ones_like`` start an accumulation and seed a pass. A forward pass keeps
tangents in the structure of their values (``tangent_zeros``, ``add_tangents``). ``reversed_range`` is
how a backward pass walks the iterations of a loop.
"""

import numpy as np

from ..core import trees
from .namespaces import is_foreign, namespace_of
from .shapes import Shape

__all__ = [
    "Parts", "DictParts", "parts", "unpacked_cotangent", "items_cotangent", "as_parts", "push_part", "zeros_like", "ones_like", "reversed_range",
    "tangent_zeros", "broadcast_like", "owned", "add_tangents", "restored_copy", "copy_of",
]


class Parts(tuple):
    """The cotangent of a tuple or list: one cotangent per element.

    ``+`` adds element by element, so generated code accumulates ``x_bar = x_bar + c`` the same way
    whether ``x`` holds an array, a number or a sequence. A plain 0 (the zero cotangent of a value
    that was unbound) adds as nothing.
    """

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        if len(other) != len(self):
            raise ValueError(f"cotangents of sequences of different lengths: {len(self)} and {len(other)}")
        return Parts(a + b for a, b in zip(self, other))

    def __radd__(self, other):
        return self.__add__(other)

    def __getitem__(self, index):
        if type(index) is int:  # the common case: one element, as for ``hidden_bar = out_bar[0]``
            return tuple.__getitem__(self, index)
        item = tuple.__getitem__(self, index)
        return Parts(item) if isinstance(index, slice) else item

    def __repr__(self):
        return f"parts{tuple.__repr__(self)}"


class DictParts(dict):
    """The cotangent of a dict: one cotangent per key, added key by key."""

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        return DictParts({k: self[k] + other[k] for k in self})

    def __radd__(self, other):
        return self.__add__(other)


def parts(*cotangents):
    """The cotangent of a sequence, from its elements' cotangents: ``parts(a_bar, b_bar)``."""
    return Parts(cotangents)


def unpacked_cotangent(value, *cotangents):
    """The cotangent of ``value`` unpacked into names (``a, b = value``), from the names' cotangents: an
    array stacked along the first axis when ``value`` is an array (its rows were unpacked), ``Parts``
    for a tuple or a list."""
    if isinstance(value, np.ndarray):  # each cotangent has the shape of its row
        return np.stack(cotangents) if cotangents else np.zeros(value.shape)
    if is_foreign(value):
        xp = namespace_of(value)
        return xp.stack(cotangents) if cotangents else xp.zeros_like(value)
    return Parts(cotangents)


def items_cotangent(value, cotangents):
    """``unpacked_cotangent(value, *cotangents)``: the cotangent of ``value`` from those of its items, as
    for ``tuple(value)``."""
    return unpacked_cotangent(value, *cotangents)


def as_parts(cotangents):
    """A list of cotangents returned by a rule (as for np.concatenate's arrays), as ``Parts``; an array
    stays one (the cotangent of an array whose rows a rule took as a sequence, as ``tuple(x)``), and the
    cotangent of a dict (``DictParts``) stays as it is."""
    if isinstance(cotangents, (Parts, dict, np.ndarray)) or is_foreign(cotangents):
        return cotangents
    return Parts(cotangents)


def push_part(v, x_bar):
    """The cotangent of a list before ``x = items.pop()``: the cotangent after it, and ``x_bar`` last."""
    return Parts(tuple(v) + (x_bar,))


def zeros_like(x):
    """The zero gradient of ``x``: ``0.0`` for a Python number, an array of zeros otherwise, and the
    same structure of zeros for a tuple, list or dict (``Parts`` over the children for another pytree
    node, core/trees.py)."""
    if isinstance(x, (float, int, str, bytes)) or x is None:
        return 0.0  # a string (a key in a tuple, say) carries no derivative either
    if isinstance(x, Shape):
        return 0.0 if x.number else np.zeros(x.shape, dtype=x.dtype)
    if isinstance(x, complex):
        return 0j
    if isinstance(x, (tuple, list)):
        return Parts(zeros_like(e) for e in x)
    if isinstance(x, dict):
        return DictParts({k: zeros_like(v) for k, v in x.items()})
    if trees.is_tree(x):  # a dataclass, NamedTuple or registered class: one cotangent per child
        return Parts(zeros_like(e) for e in trees.children(x))
    if isinstance(x, (str, bytes)):
        return 0.0
    if not isinstance(x, np.ndarray) and is_foreign(x):
        return namespace_of(x).zeros_like(x)
    return np.zeros_like(x)


def ones_like(x):
    """The seed of a backward pass: ``1.0`` for a Python number, an array of ones otherwise, and the
    same structure of ones for a tuple, list or dict."""
    if isinstance(x, (float, int)):
        return 1.0
    if isinstance(x, complex):
        return 1.0 + 0j
    if trees.is_tree(x):  # its children that hold no floats are not differentiated: no seed
        return Parts(ones_like(e) if trees.holds_floats(e) else zeros_like(e) for e in trees.children(x))
    if isinstance(x, (tuple, list)):
        return Parts(ones_like(e) for e in x)
    if isinstance(x, dict):
        return DictParts({k: ones_like(v) for k, v in x.items()})
    if not isinstance(x, np.ndarray) and is_foreign(x):
        return namespace_of(x).ones_like(x)
    return np.ones_like(x)


def reversed_range(values):
    """The values of a ``range`` (the iterations a loop ran), last first: how a backward pass walks a loop.
    No derivative flows through it, also when generated code is differentiated again."""
    return reversed(values)


def tangent_zeros(x):
    """The zero tangent of ``x``, with ``x``'s structure: 0.0 for a number, zeros for an array, and a
    tuple, list or dict of zero tangents for a container, and a tuple over its children for another pytree
    node (core/trees.py)."""
    if trees.is_tree(x):
        return tuple(tangent_zeros(e) for e in trees.children(x))
    if isinstance(x, tuple):
        return tuple(tangent_zeros(e) for e in x)
    if isinstance(x, list):
        return [tangent_zeros(e) for e in x]
    if isinstance(x, dict):
        return {k: tangent_zeros(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=x.dtype if x.dtype.kind in "fc" else float)
    if is_foreign(x):
        xp = namespace_of(x)
        return xp.zeros_like(x) if xp.isdtype(x.dtype, ("real floating", "complex floating")) \
            else xp.zeros(x.shape, dtype=xp.float64)
    if isinstance(x, range):  # a loop's iteration range, sliced by the backward pass: zeros, as for an int array
        return np.zeros(len(x))
    if isinstance(x, complex):
        return 0j
    if isinstance(x, np.generic):
        return np.zeros((), dtype=x.dtype if x.dtype.kind in "fc" else float)[()]
    if x is None or isinstance(x, (int, float, bool, str)):
        return 0.0
    return 0.0


def broadcast_like(t, result):
    """``t`` broadcast to the shape of ``result``: a tangent term of an elementwise operation whose
    differentiated operand was broadcast against a larger one."""
    result_shape = getattr(result, "shape", None)
    if result_shape is None:
        result_shape = np.shape(result)
    if getattr(t, "shape", ()) == result_shape:
        return t
    if is_foreign(t) or is_foreign(result):
        xp = namespace_of(t, result)
        return xp.broadcast_to(xp.asarray(t), result_shape)
    return np.broadcast_to(t, result_shape)


def owned(t):
    """A tangent the generated code may write elements into: a copy of an array, anything else as is."""
    if isinstance(t, np.ndarray):
        return t.copy()
    if is_foreign(t):
        xp = namespace_of(t)
        return xp.asarray(t, copy=True)
    return np.array(t, dtype=float)


def copy_of(t):
    """The tangent of ``v.copy()`` for a ``v`` whose type the compiler does not know: a copy of ``t`` of
    its own type, as ``v.copy()`` is of ``v``'s (a list stays a list, where ``np.copy`` makes an array)."""
    if isinstance(t, (np.ndarray, np.generic, list, dict)):
        return t.copy()
    return namespace_of(t).asarray(t, copy=True) if is_foreign(t) else t


def restored_copy(x):
    """A copy of ``x``, a value the backward pass restored from the tape and writes old elements back
    into; None, the placeholder of a name that was not bound yet, stays None. Always a new object, so
    the backward pass never writes into the forward pass's array. A number (a tangent of zeros, say) is
    immutable and stays as it is."""
    if isinstance(x, (np.ndarray, list, dict)):
        return x.copy()
    return namespace_of(x).asarray(x, copy=True) if is_foreign(x) else x


def add_tangents(*terms):
    """The sum of tangent terms of a primitive that returns a tuple: element by element."""
    return tuple(sum(parts[1:], parts[0]) for parts in zip(*terms))
