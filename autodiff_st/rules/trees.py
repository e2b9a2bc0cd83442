"""Rules for pytree objects (dataclasses, NamedTuples, registered classes): attribute reads, constructions,
and the helpers their derivatives call (runtime/trees.py).

Every helper is linear in its cotangent (or tangent) argument; the object passed for its structure is
``nograd``. The pairs are each other's transposes, so derivatives of any order go through them.
"""

import autodiff_st.runtime as runtime
from ..core.registry import jvp_rule, linear, vjp_rule


@vjp_rule(runtime.tree_field, diff=("tree",))
def tree_field_rule(g, ans, tree, name):
    return runtime.field_cotangent(g, tree, name)


@jvp_rule(runtime.tree_field)
def tree_field_jvp(t, ans, tree, name):
    return runtime.field_part(t, tree, name)


@vjp_rule(runtime.field_cotangent, nograd=("tree",), diff=("v",))
def field_cotangent_rule(g, ans, v, tree, name):
    return runtime.field_part(g, tree, name)


@vjp_rule(runtime.field_part, nograd=("tree",), diff=("v",), sequences=("v",))
def field_part_rule(g, ans, v, tree, name):
    return runtime.field_cotangent(g, tree, name)


@vjp_rule(runtime.tree_build, diff=("values",))
def tree_build_rule(g, ans, cls, keywords, *values):
    return runtime.built_cotangents(g, ans, cls, keywords, values)


@jvp_rule(runtime.tree_build)
def tree_build_jvp(t, ans, cls, keywords, *values):
    return runtime.values_cotangent(t, ans, cls, keywords, values)


@vjp_rule(runtime.built_cotangents, nograd=("tree", "values"), diff=("v",), sequences=("v",))
def built_cotangents_rule(g, ans, v, tree, cls, keywords, values):
    return runtime.values_cotangent(g, tree, cls, keywords, values)


@vjp_rule(runtime.values_cotangent, nograd=("tree", "values"), diff=("v",), sequences=("v",))
def values_cotangent_rule(g, ans, v, tree, cls, keywords, values):
    return runtime.built_cotangents(g, tree, cls, keywords, values)


@vjp_rule(runtime.tree_from_children)
def tree_from_children_rule(g, ans, template, *kids):
    return runtime.children_cotangents(g, ans)


@jvp_rule(runtime.tree_from_children)
def tree_from_children_jvp(t, ans, template, *kids):
    return runtime.children_tangent(t, ans)


@vjp_rule(runtime.children_cotangents, nograd=("tree",), diff=("v",), sequences=("v",))
def children_cotangents_rule(g, ans, v, tree):
    return runtime.children_tangent(g, tree)


@vjp_rule(runtime.children_tangent, nograd=("tree",), diff=("t",), sequences=("t",))
def children_tangent_rule(g, ans, t, tree):
    return runtime.children_cotangents(g, tree)


@vjp_rule(runtime.tree_children)
def tree_children_rule(g, ans, tree):
    return runtime.children_tangent(g, tree)


@jvp_rule(runtime.tree_children)
def tree_children_jvp(t, ans, tree):
    return tuple(runtime.children_cotangents(t, tree))


linear(runtime.field_cotangent, runtime.field_part, runtime.built_cotangents, runtime.values_cotangent,
       runtime.children_cotangents, runtime.children_tangent)
