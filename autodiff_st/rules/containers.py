"""Rules of the helpers through which the normal form writes into Python lists and dicts.

``d["k"] = v`` becomes ``d_2 = with_item(d, "k", v)`` (compiler/normalize_collections.py). The write
passes every other element through and puts ``v`` at ``"k"``: the cotangent of ``d`` is the result's
with the element at ``"k"`` zeroed (or dropped, if the write added the key), ``without_item``, and that
of ``v`` is the result's element at ``"k"``. Both helpers are linear, and each rule is written with the
other helper, so generated code is differentiated again to any order.

Their containers are sequences for the rule machinery (``sequences=``): a list written out in the call
takes its parts of the cotangent element by element, and one held in a name takes the whole list (a
dict's cotangent stays a ``DictParts``, see ``as_parts``).

``sorting_order`` and ``item_extremum`` give positions, which carry no derivative.
"""

import autodiff_st.runtime as runtime
from ..runtime import at_index, dict_from_values, dict_values, with_item, without_item, zeros_like
from ..core.registry import linear, nondifferentiable, vjp_rule
from ..runtime.nested_items import check_item_to_write


@vjp_rule(runtime.with_item, diff=("container", "value"), nograd=("key",), sequences=("container",))
def with_item_rule(g, ans, container, key, value):
    return without_item(g, key, container, value), at_index(g, (key,))


@vjp_rule(runtime.without_item, diff=("v",), nograd=("key", "container", "value"), sequences=("v",))
def without_item_rule(g, ans, v, key, container, value):
    # The transpose: the kept elements pass back, and the element at key (the written value's place in
    # the result) receives nothing.
    return with_item(g, key, zeros_like(value))


@vjp_rule(runtime.concatenated, sequences=("a", "b"))
def concatenated_rule(g, ans, a, b):
    # The first len(a) cotangents are a's, the rest b's.
    return at_index(g, (slice(None, len(a)),)), at_index(g, (slice(len(a), None),))


@vjp_rule(runtime.dict_values, sequences=("d",))
def dict_values_rule(g, ans, d):
    return dict_from_values(g, d)


@vjp_rule(runtime.dict_from_values, diff=("v",), nograd=("d",), sequences=("v",))
def dict_from_values_rule(g, ans, v, d):
    return dict_values(g)


linear(runtime.with_item, runtime.without_item, runtime.concatenated, runtime.dict_values, runtime.dict_from_values)
nondifferentiable(runtime.sorting_order, runtime.item_extremum, runtime.dict_keys)
nondifferentiable(check_item_to_write)  # a check of rows[i][j] = v (runtime/nested_items.py)
