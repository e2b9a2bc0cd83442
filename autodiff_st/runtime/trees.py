"""What generated code calls for pytree objects: dataclasses, NamedTuples and registered classes
(core/trees.py).

An attribute read ``p.w`` of a differentiated object is differentiated as ``tree_field(p, "w")``: the
forward pass reads the attribute as Python does, the backward pass puts the cotangent of ``p.w`` at its
child's place (``field_cotangent``), and forward mode picks the child's tangent (``field_part``). A
construction ``P(a, b=c)`` of a pytree class becomes ``tree_build(P, ("b",), a, c)``, which calls the
class and matches each child of the result with the argument it is (``core.trees.constructor_sources``);
its cotangents are ``built_cotangents`` and its tangent ``values_cotangent``. The transforms rebuild
containers of pytrees from their leaves with ``tree_from_children``.

Each pair of helpers is one linear map and its transpose, so generated code that calls them can be
differentiated again.
"""

import sys

from ..core import trees
from .cotangents import Parts, zeros_like
from .loader import origin_at

__all__ = ["tree_field", "field_cotangent", "field_part", "tree_build", "built_cotangents", "values_cotangent",
           "tree_from_children", "children_cotangents", "children_tangent", "tree_children", "parts_of"]


def _caller_origin():
    """The user's line behind the nearest generated line that called into this module, or None."""
    frame = sys._getframe(1)
    while frame is not None:
        origin = origin_at(frame.f_code.co_filename, frame.f_lineno)
        if origin is not None:
            return origin
        frame = frame.f_back
    return None


def parts_of(v, tree):
    """The children's cotangents (or tangents) of the pytree node ``tree``, from ``v``: ``Parts`` or a
    tuple, an object of ``tree``'s class (a cotangent or tangent the user gave), or a zero."""
    if isinstance(v, (tuple, list)):
        return list(v)
    if trees.is_tree(v):  # an object the user gave: its children that hold no float carry no cotangent
        return [e if trees.holds_floats(kid) else zeros_like(kid)
                for e, kid in zip(trees.children(v), trees.children(tree))]
    if v is None or (isinstance(v, (int, float)) and v == 0):
        return [zeros_like(c) for c in trees.children(tree)]
    raise TypeError(f"a cotangent of a {type(tree).__qualname__} must hold one cotangent per child; "
                    f"got a {type(v).__name__}")


def tree_field(tree, name):
    """``tree.<name>``: what the derivative rules of an attribute read of a pytree object are keyed on."""
    return getattr(tree, name)


def _index(tree, name):
    return trees.child_index(tree, name, _caller_origin())


def field_cotangent(v, tree, name):
    """The cotangent of ``tree`` given the cotangent ``v`` of ``tree.<name>``: ``v`` at its child's place,
    zeros elsewhere (zeros everywhere for an attribute that is not differentiated)."""
    index = _index(tree, name)
    out = [zeros_like(c) for c in trees.children(tree)]
    if index is not None:
        out[index] = v
    return Parts(out)


def field_part(v, tree, name):
    """The cotangent (or tangent) of ``tree.<name>`` within ``v``, a cotangent (tangent) of ``tree``."""
    index = _index(tree, name)
    if index is None:
        return zeros_like(getattr(tree, name))
    return parts_of(v, tree)[index]


def tree_build(cls, keywords, *values):
    """``cls(*positional, **keywords)`` with ``values`` the positional values and then the keyword values.
    Its derivatives check that they are known (``core.trees.constructor_sources``): a construction that
    is not differentiated runs as Python runs it."""
    count = len(values) - len(keywords)
    return cls(*values[:count], **dict(zip(keywords, values[count:])))


def built_cotangents(v, tree, cls, keywords, values):
    """The cotangents of the values of ``tree = tree_build(cls, keywords, *values)``, from ``v``, the
    cotangent of ``tree``: each value takes the cotangent of the child it is (zeros if none)."""
    sources = trees.constructor_sources(tree, cls, keywords, values, _caller_origin())
    parts = parts_of(v, tree)
    out = [zeros_like(v) for v in values]
    for i, j in enumerate(sources):
        if j is not None:
            out[j] = out[j] + parts[i]
    return out


def values_cotangent(v, tree, cls, keywords, values):
    """The transpose of ``built_cotangents``: a cotangent of ``tree`` from one cotangent (or tangent) per
    value (None for a value without one). It is also the tangent of ``tree_build``."""
    sources = trees.constructor_sources(tree, cls, keywords, values, _caller_origin())
    kids = trees.children(tree)
    return Parts(zeros_like(kid) if j is None or v[j] is None else v[j] for kid, j in zip(kids, sources))


def tree_from_children(template, *kids):
    """An object like the pytree node ``template`` holding ``kids``: how the Jacobians rebuild a pytree
    argument from its leaves."""
    return trees.rebuild(template, kids)


def children_cotangents(v, tree):
    """The cotangents of the children of ``tree = tree_from_children(template, *kids)``, from its cotangent
    ``v``, as a list."""
    return list(parts_of(v, tree))


def children_tangent(t, tree):
    """The tangent of ``tree = tree_from_children(template, *kids)`` from the children's tangents (None
    for a child without one); also the transpose of ``children_cotangents``."""
    return Parts(zeros_like(kid) if tk is None else tk for kid, tk in zip(trees.children(tree), t))


def tree_children(tree):
    """The children of the pytree node ``tree``, as a tuple: how the Jacobians take a pytree output apart."""
    return tuple(trees.children(tree))
