"""Deterministic names for generated code.

A ``Namer`` knows every identifier of the user's function, so a generated name never collides with one:
if the user already has a variable called ``x_bar``, the adjoint of ``x`` becomes ``x_bar_2``. Names
come from counters in the order they are asked for, so the same function gives the same text on every run.
"""

import keyword

import gast

from ..core.names import identifier_for  # noqa: F401  (the sanitizer generated names share)
from .ir import walk_tree

_SPELLED = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 10: "ten", 0.5: "half"}


def identifiers_in(node):
    names = set()
    for child in walk_tree(node):
        if isinstance(child, gast.Name):
            names.add(child.id)
        elif isinstance(child, (gast.FunctionDef, gast.ClassDef)):
            names.add(child.name)
    return names


class Namer:
    def __init__(self, taken=()):
        self.taken = set(taken) | set(keyword.kwlist) | {"None", "True", "False"}

    def reserve(self, name):
        self.taken.add(name)

    def fresh(self, base):
        base = _clean(base)
        if base not in self.taken:
            self.taken.add(base)
            return base
        k = 2
        while f"{base}_{k}" in self.taken:
            k += 1
        name = f"{base}_{k}"
        self.taken.add(name)
        return name


def _clean(base):
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in base).strip("_") or "tmp"
    if base[0].isdigit():
        base = "v" + base
    return base


def describe_operand(node):
    """A short word for an operand, used to build readable temporary names."""
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _SPELLED.get(node.value, "const")
    if isinstance(node, gast.Attribute):
        return node.attr
    return None
