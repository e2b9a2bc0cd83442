"""Rule cases for pytree objects (runtime/trees.py): attribute reads, constructions, and the helpers their
derivatives call. The objects are those of tests/tree_examples.py; every input is any real numbers. The
float32 checks run where the structure is not a fixed float64 object (whose zeros are float64)."""

from autodiff_st import runtime
from tests.rule_harness import FLOAT, R, case
from tests.tree_examples import TREE, Node, Pair, Point

CASES = [
    # p.w of a dataclass, a NamedTuple (a float child), a registered class
    case(runtime.tree_field, TREE(Pair, R(3), R(2)), path="runtime.tree_field(a0, 'w')", float32=False),
    case(runtime.tree_field, TREE(Point, R(3), FLOAT(R())), path="runtime.tree_field(a0, 'y')", float32=False),
    case(runtime.tree_field, TREE(Node, R(3), R(2)), path="runtime.tree_field(a0, 'right')", float32=False),
    case(runtime.field_cotangent, R(3), path="runtime.field_cotangent(a0, PAIR, 'w')", float32=False),
    case(runtime.field_cotangent, R(2), path="runtime.field_cotangent(a0, NODE, 'right')", float32=False),
    case(runtime.field_part, R(3), R(2), path="runtime.field_part([a0, a1], PAIR, 'b')", float32=False),
    # P(a, b=c): by position and keyword for a dataclass, by identity for a registered class
    case(runtime.tree_build, R(3), R(2), path="runtime.tree_build(Pair, ('b',), a0, a1)"),
    case(runtime.tree_build, R(3), R(2), path="runtime.tree_build(Node, (), a0, a1)"),
    case(runtime.built_cotangents, R(3), R(2), path="runtime.built_cotangents([a0, a1], PAIR, Pair, (), PAIR_VALUES)", float32=False),
    case(runtime.values_cotangent, R(3), R(2), path="runtime.values_cotangent([a0, a1], PAIR, Pair, (), PAIR_VALUES)", float32=False),
    # the Jacobians' rebuilding of a pytree argument from its leaves, and taking an output apart
    case(runtime.tree_from_children, R(3), R(2), path="runtime.tree_from_children(NODE, a0, a1)", float32=False),
    case(runtime.children_cotangents, R(3), R(2), path="runtime.children_cotangents([a0, a1], PAIR)", float32=False),
    case(runtime.children_tangent, R(3), R(2), path="runtime.children_tangent([a0, a1], NODE)", float32=False),
    case(runtime.tree_children, TREE(Pair, R(3), R(2)), path="runtime.tree_children(a0)", float32=False),
]
