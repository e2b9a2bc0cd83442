"""The facts the analysis (compiler/analyze.py) finds, checked on small functions.

Each expected value is worked out from the function's text: which names depend on the differentiated
input, which hold Python numbers, which arrays have a rank and dtype that numpy fixes, and which names
may share memory.
"""

import math

import numpy as np

import autodiff_st as ad
from autodiff_st.compiler.aliasing import OUTSIDE
from autodiff_st.compiler.analyze import analyze
from autodiff_st.compiler.fence import check_function
from autodiff_st.compiler.ir import Loop, walk_ops
from autodiff_st.compiler.kinds import Kind
from autodiff_st.compiler.naming import Namer, identifiers_in
from autodiff_st.compiler.normalize import normalize
from autodiff_st.compiler.parsing import parse_function

SCALE = np.ones(3)


def facts_of(fn, wrt=(0,), numbers=()):
    """The facts about ``fn`` differentiated in the parameters at ``wrt``; ``numbers`` names the
    parameters it is called with Python numbers."""
    parsed = parse_function(fn)
    check_function(parsed.node)
    namer = Namer(identifiers_in(parsed.node))
    body = normalize(parsed, namer)
    args = parsed.node.args
    params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    return analyze(parsed, body, [params[i] for i in wrt], namer, scalar_params=set(numbers))


def op_binding(facts, name):
    (op,) = [op for op in walk_ops(facts.body) if op.target == name]
    return op


# -- activity ----------------------------------------------------------------------------------------------

def mixed(x, w):
    h = x * w
    c = w + 1.0
    k = np.shape(x)
    big = x > 0.0
    out = h + c
    return out


def test_activity_follows_differentiable_operations_from_the_input():
    facts = facts_of(mixed)
    # h and out depend on x through *, +; c only on w; a shape and a comparison carry no derivative.
    assert facts.active == {"x", "h", "out"}
    assert id(op_binding(facts, "h")) in facts.active_ops
    assert id(op_binding(facts, "c")) not in facts.active_ops
    assert not facts.is_active("k") and not facts.is_active("big")


def test_activity_depends_on_what_is_differentiated():
    facts = facts_of(mixed, wrt=(1,))
    assert facts.active == {"w", "h", "c", "out"}


def helper(a, b, scale=1.0):  # a default: a call of the user's code, not inlined (inline_helpers.py)
    return a * b * scale


def calls_helper(x, y):
    z = helper(y, x)
    return z


def test_a_call_of_the_users_code_is_named_and_knows_its_differentiated_arguments():
    facts = facts_of(calls_helper)
    (call,) = facts.user_calls.values()
    assert call.residuals == "helper_residuals"
    assert call.active_args == [1]  # x is passed second
    assert facts.is_active("z")


# -- static kinds --------------------------------------------------------------------------------------

def numbers_and_arrays(x, n):
    a = 2.0
    b = a * n
    m = len(x)
    s = math.sqrt(b)
    y = x * b
    g = SCALE
    return y


def test_python_numbers_are_found_through_constants_parameters_and_arithmetic():
    facts = facts_of(numbers_and_arrays, numbers=("n",))
    kinds = facts.kinds
    assert {"a", "b", "m", "s", "n"} <= kinds.numbers
    assert kinds.kind("b") == Kind("number", 0)
    # x was not called with a number: nothing is known of it, nor of x * b, nor of a global.
    assert kinds.kind("x") == Kind("unknown")
    assert kinds.kind("y").kind == "unknown"
    assert kinds.kind("g").kind == "unknown"


def test_a_parameter_not_called_with_a_number_makes_what_it_touches_unknown():
    kinds = facts_of(numbers_and_arrays).kinds
    assert "a" in kinds.numbers and "m" in kinds.numbers
    assert "n" not in kinds.numbers and "b" not in kinds.numbers and "s" in kinds.numbers  # math.sqrt: a float


def loop_target_reassigned(xs):
    s = 0.0
    for v in xs:
        v = v * 2.0
        s = s + v
    for i in range(3):
        i = np.ones(2)
        s = s + i
    return s


def test_a_name_is_a_number_only_if_every_binding_is_one():
    kinds = facts_of(loop_target_reassigned).kinds
    # v is also bound by the loop to the items of xs; i by its second assignment to an array.
    assert not kinds.is_number("v")
    assert not kinds.is_number("i")
    assert not kinds.is_number("s")


def test_the_gradient_through_a_loop_target_reassigned_in_the_loop():
    # s = 2 * (xs[0] + xs[1] + xs[2]) + 3 * ones(2), broadcast from xs's rows of shape (1,): the sum of s
    # grows by 2 * 2 for each element of xs.
    grads = ad.grad(loop_target_reassigned)(np.ones((3, 1)))
    assert np.allclose(grads, np.full((3, 1), 4.0))


def number_reassigned(x, n):
    for i in range(3):
        n = n + x
    return n


def test_a_parameter_called_with_a_number_and_reassigned_to_an_array():
    assert not facts_of(number_reassigned, numbers=("n",)).kinds.is_number("n")
    assert np.allclose(ad.grad(number_reassigned)(np.ones(2), 1.0), [3.0, 3.0])


def shapes(x):
    z = np.zeros((3, 4))
    t = z.T
    r = z[0]
    e = z[0, 1]
    total = np.sum(z)
    cols = np.sum(z, axis=0)
    kept = np.mean(z, axis=1, keepdims=True)
    v = np.array([1.0, 2.0])
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = m @ v
    q = v @ v
    s = z + 1.0
    u = z * z
    i = np.ones(3, dtype="int32")
    f = i.astype("float32")
    j = i + 1.0
    g = np.exp(-z) / 2.0
    w = x * z
    for row in m:
        last = row
    return w


def test_array_ranks_and_dtypes_that_numpy_fixes():
    kinds = facts_of(shapes).kinds
    assert kinds.kind("z") == Kind("array", 2, "float64")  # np.zeros defaults to float64
    assert kinds.kind("t") == Kind("array", 2, "float64")
    assert kinds.kind("r") == Kind("array", 1, "float64")  # one integer index drops one axis
    assert kinds.kind("e") == Kind("number", 0)  # one element of a float64 ndarray: an np.float64, a number
    assert kinds.kind("total").rank == 0  # a full reduction
    assert kinds.kind("cols").rank == 1
    assert kinds.kind("kept").rank == 2
    assert kinds.kind("v") == Kind("array", 1, "float64")
    assert kinds.kind("m") == Kind("array", 2, "float64")
    assert kinds.rank("p") == 1  # (2, 2) @ (2,)
    assert kinds.rank("q") == 0  # (2,) @ (2,)
    # float64 arrays with Python numbers stay float64 under numpy's rules, legacy and NEP 50 alike (kinds.py
    # asks numpy, on samples); another dtype with a Python float is numpy's business
    assert kinds.kind("s") == Kind("array", 2, "float64")
    assert kinds.kind("g") == Kind("array", 2, "float64")
    assert kinds.kind("j") == Kind("array", 1, None)
    assert kinds.kind("p").dtype == "float64" and kinds.kind("q").dtype == "float64"  # float64 @ float64
    assert kinds.kind("u") == Kind("array", 2, "float64")
    assert kinds.kind("i") == Kind("array", 1, "int32")
    assert kinds.kind("f") == Kind("array", 1, "float32")
    assert kinds.kind("row") == Kind("array", 1, "float64")  # an item of a rank-2 array
    assert kinds.kind("last") == Kind("array", 1, "float64")
    assert kinds.kind("w") == Kind("unknown")  # x could be anything
    assert not kinds.holds_one_number("z") and kinds.holds_one_number("total")


def joined(flag):
    if flag:
        y = np.zeros(3)
    else:
        y = np.ones((2, 2))
    return y


def test_a_name_bound_to_arrays_of_two_ranks_has_no_rank():
    assert facts_of(joined).kinds.kind("y") == Kind("array", None, "float64")


# -- aliasing ------------------------------------------------------------------------------------------

def views(x, y):
    a = np.zeros(3)
    b = a.reshape(3, 1)
    c = b
    d = a * 2.0
    e = x.T
    h = a.T
    items = [a, d]
    g = items[0]
    return g


def test_views_copies_and_containers_share_memory():
    aliasing = facts_of(views).aliasing
    assert aliasing.may_share_memory("a", "b")  # a reshape is a view
    assert aliasing.may_share_memory("a", "c")  # through the copy c = b
    assert aliasing.may_share_memory("h", "a") and not aliasing.from_outside("h")  # a transpose is a view
    assert not aliasing.may_share_memory("a", "d")  # a * 2.0 is a new array
    assert aliasing.may_share_memory("items", "a") and aliasing.may_share_memory("items", "d")
    assert aliasing.may_share_memory("g", "a") and aliasing.may_share_memory("g", "d")  # either element
    assert not aliasing.from_outside("a") and not aliasing.from_outside("g")
    assert aliasing.aliases("d") == {"d", "items", "g"}


def test_arguments_may_share_memory_with_each_other_and_their_views():
    aliasing = facts_of(views).aliasing
    assert aliasing.may_share_memory("x", "y")  # a caller may pass one array twice
    assert aliasing.may_share_memory("e", "y")
    assert aliasing.from_outside("e")
    assert not aliasing.may_share_memory("e", "a")
    assert aliasing.roots("x") == {OUTSIDE}


def stores(p, x, w):
    out = []
    out.append(x)
    w.update(out)
    n = 3.0
    return p * n


def test_an_unknown_call_may_store_its_arguments_into_one_another():
    aliasing = facts_of(stores).aliasing
    assert aliasing.may_share_memory("out", "x")  # appended
    assert aliasing.may_share_memory("out", "w")  # w.update may keep out, and out may now reach w's values
    assert aliasing.roots("n") == frozenset()  # a Python number cannot be changed in place


# -- liveness ------------------------------------------------------------------------------------------

def carried(x, c):
    y = x * 1.0
    for i in range(4):
        t = c * i
        y = y * t
    return y


def test_a_value_reassigned_in_a_loop_may_be_overwritten():
    facts = facts_of(carried, numbers=("c",))
    liveness = facts.liveness
    (loop,) = [node for node in facts.body if isinstance(node, Loop)]
    in_loop = [op for op in walk_ops(loop.body) if op.target == "y"]
    assert in_loop and all(liveness.overwrites(op, "y") for op in in_loop)
    first = [op for op in walk_ops(facts.body) if op.target == "y" and not op.nested]
    assert first and not liveness.overwrites(first[0], "y")
    assert "y" in liveness.may_be_overwritten and "y" in liveness.bound_before_nesting
    assert "x" not in liveness.may_be_overwritten


def test_cheap_arithmetic_on_numbers_is_recomputed_not_taped():
    facts = facts_of(carried, numbers=("c",))
    (loop,) = [node for node in facts.body if isinstance(node, Loop)]
    # t = c * i: c does not change in the loop, and i is the range loop's own counter.
    assert [op.target for op in facts.liveness.recomputed[id(loop)]] == ["t"]
    # Called with an array for c, t is no number: it is taped like any other value.
    assert facts_of(carried).liveness.recomputed == {}


def written(x):
    y = np.zeros(3)
    y[0] = x
    z = y * 2.0
    return z


def test_what_is_written_in_place_and_what_only_its_shape_is_needed_for():
    liveness = facts_of(written).liveness
    assert liveness.written_in_place == {"y"} and liveness.parts_written == {"y"}
    assert liveness.keeps_only_shape("z")  # bound once by a plain assignment
    assert not liveness.keeps_only_shape("y")  # changed in place
    assert not liveness.keeps_only_shape("x")  # a parameter
