"""Pytree classes the tests differentiate: a dataclass, a NamedTuple and a registered class."""

import dataclasses
import typing

import numpy as np

import autodiff_st as ad


@dataclasses.dataclass
class Pair:
    w: np.ndarray
    b: np.ndarray


class Point(typing.NamedTuple):
    x: np.ndarray
    y: float


class Node:
    """A registered class: children ``left`` and ``right``, aux data ``label``."""

    def __init__(self, left, right, label="node"):
        self.left = left
        self.right = right
        self.label = label

    def __repr__(self):
        return f"Node({self.left!r}, {self.right!r}, {self.label!r})"


ad.register_pytree(Node, lambda n: ((n.left, n.right), n.label), lambda label, kids: Node(kids[0], kids[1], label))

# Fixed objects the rule cases read for their structure (the children are these very arrays).
W, B = np.linspace(0.5, 1.5, 3), np.array([0.25, -0.75])
PAIR = Pair(W, B)
PAIR_VALUES = (W, B)
NODE = Node(W, B, "fixed")


def TREE(make, *domains):
    """A domain of pytree objects: ``make`` applied to samples of ``domains``."""
    from tests.rule_harness import Domain

    def sample(rng, shape):
        return make(*[d.sample(rng) for d in domains])
    return Domain("TREE", (None,), sample)
