"""Loops that call the user's helper functions, through the fast call path (runtime/calls.py: a plain
function seen before goes straight to its compiled adjoint) and the fast cotangent splitting of
concatenate and stack (runtime/joining.py).

Each function is checked against finite differences at orders 1 and 2 (ad.testing.check_grads, float64,
reverse and forward mode), and each transform's value against the plain function's (the value oracle).
Some checks change what the fast path remembers between calls: a global the helper reads is rebound, a
rule is registered for a helper after its first call, a helper is redefined.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core import registry
from autodiff_st.runtime import calls, joining
from autodiff_st.testing import check_grads

RNG = np.random.default_rng(7)
X = RNG.uniform(0.5, 1.5, 6)
W = RNG.uniform(-1.0, 1.0, (3, 6))

SCALE = 1.5


def pair(a, b):
    return a * b, np.sin(a) + b


def tuples_returned(x, w):
    total = 0.0
    for i in range(w.shape[0]):
        p, q = pair(x, w[i])
        total = total + np.sum(p * q)
        x = np.tanh(q)
    return total


def head_tail(v):
    return np.concatenate((v[0:1] * 2.0, v[1:] * v[:-1]))


def arrays_sliced(x, w):
    y = x
    for i in range(3):
        y = head_tail(y) + w[i]
        y = np.concatenate((y[:2], np.cos(y[2:])))
    return np.sum(y * y)


def square_of(a, b, scale=1.0):  # a default: called through call_vjp_forward, not inlined (inline_helpers.py)
    return a * b * scale + np.sin(b)


def same_array_twice(x, w):
    y = x
    for i in range(w.shape[0]):
        y = square_of(y, y) * 0.5 + w[i]
    return np.sum(y)


def scaled(v):
    return SCALE * np.sin(v)


def reads_global(x, w):
    y = x
    for i in range(w.shape[0]):
        y = scaled(y * w[i])
    return np.sum(y)


def inner(v):
    return np.exp(-v * v)


def middle(v, k):
    return inner(v) * k + inner(k)


def outer(v, rows):
    return np.stack((middle(v, rows[0]), middle(rows[1], v)))


def nested(x, w):
    total = 0.0
    for i in range(2):
        s = outer(x, w[i:i + 2])
        total = total + np.sum(s[0] * s[1])
        x = s[1]
    return total


def passthrough(a, b):
    return a, b * 2.0


def returns_argument(x, w):
    y = x
    for i in range(w.shape[0]):
        same, doubled = passthrough(y, w[i])
        y = np.sin(same) + doubled
    return np.sum(y * x)


def stacked_rows(x, w):
    rows = []
    for i in range(w.shape[0]):
        rows.append(pair(x, w[i])[0])
    m = np.stack(rows)
    return np.sum(np.cos(m) * w)


FUNCTIONS = [tuples_returned, arrays_sliced, same_array_twice, reads_global, nested, returns_argument,
             stacked_rows]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_finite_differences_orders_1_and_2(fn):
    check_grads(fn, (X, W), order=1)
    check_grads(fn, (X, W), order=2, modes=("rev",))


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_value_oracle(fn):
    expected = fn(X, W)
    value, grads = ad.value_and_grad(fn, grad_position=(0, 1))(X, W)
    assert value == pytest.approx(expected, rel=1e-12)
    out, pullback = ad.vjp(fn, X, W)
    assert out == pytest.approx(expected, rel=1e-12)
    gx, gw = pullback(1.0)
    np.testing.assert_allclose(gx, grads[0], rtol=1e-12)
    np.testing.assert_allclose(gw, grads[1], rtol=1e-12)
    # the second call runs through the fast path, and must agree with the first
    again = ad.grad(fn, grad_position=(0, 1))(X, W)
    np.testing.assert_allclose(again[0], grads[0], rtol=1e-12)
    np.testing.assert_allclose(again[1], grads[1], rtol=1e-12)


def test_the_fast_path_is_taken():
    ad.grad(same_array_twice)(X, W)
    assert (square_of.__code__, (0, 1)) in calls._PLAIN_CALLEES


def test_rebinding_a_global_is_seen():
    global SCALE
    grad = ad.grad(reads_global)
    before = grad(X, W)
    try:
        SCALE = 3.0
        after = grad(X, W)
        check_grads(reads_global, (X, W), order=1)  # against finite differences with the new global
        ad.clear_cache()
        np.testing.assert_allclose(after, ad.grad(reads_global)(X, W), rtol=1e-12)  # and compiled afresh
    finally:
        SCALE = 1.5
    assert not np.allclose(after, before)
    np.testing.assert_allclose(grad(X, W), before, rtol=1e-12)


def helper_with_rule_later(v, scale=1.0):  # a default: called through call_vjp_forward, not inlined
    return np.sin(v) * scale


def calls_helper_with_rule_later(x):
    y = x
    for _ in range(2):
        y = helper_with_rule_later(y)
    return np.sum(y)


def test_a_rule_registered_after_the_first_call_is_used():
    grad = ad.grad(calls_helper_with_rule_later)
    np.testing.assert_allclose(grad(X), np.cos(np.sin(X)) * np.cos(X), rtol=1e-12)
    saved = registry.lookup(helper_with_rule_later)

    @ad.register_vjp(helper_with_rule_later)
    def deliberately_wrong(g, ans, v):  # twice the true cotangent: the rule must be what runs
        return 2.0 * g * np.cos(v)

    try:
        np.testing.assert_allclose(grad(X), 4.0 * np.cos(np.sin(X)) * np.cos(X), rtol=1e-12)
    finally:
        registry._RULES.pop(helper_with_rule_later, None)
        assert saved is None
    np.testing.assert_allclose(grad(X), np.cos(np.sin(X)) * np.cos(X), rtol=1e-12)


def make_closure(k):
    def helper(v):
        return v * k

    def fn(x):
        y = x
        for _ in range(3):
            y = helper(y)
        return np.sum(y)

    return fn


def test_closures_with_one_code_and_different_cells():
    # Two functions share one code object: the fast path's memo is keyed on the code, the adjoint on the
    # function, so each gets its own constant.
    for k in (2.0, 3.0):
        np.testing.assert_allclose(ad.grad(make_closure(k))(X), np.full_like(X, k ** 3), rtol=1e-12)


def test_keywords_and_defaults_take_the_general_path():
    def helper(a, b=2.0):
        return a * b

    def fn(x):
        y = x
        for _ in range(2):
            y = helper(y, b=3.0) + helper(y)
        return np.sum(y)

    check_grads(fn, (X,), order=2, modes=("rev",))
    np.testing.assert_allclose(ad.grad(fn)(X), np.full_like(X, 25.0), rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_split_like_matches_np_split(axis):
    parts = [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))]
    joined = np.concatenate(parts, axis=axis)
    v = RNG.standard_normal(joined.shape)
    sizes = [np.shape(a)[axis] for a in parts]
    expected = np.split(v, np.cumsum(sizes[:-1]), axis=axis)
    got = joining.split_like(v, parts, axis)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_array_equal(g, e)


def test_split_like_of_lists_and_scalars_in_the_arrays():
    v = np.arange(5.0)
    got = joining.split_like(v, ([1.0, 2.0], np.zeros(3)), 0)
    np.testing.assert_array_equal(got[0], [0.0, 1.0])
    np.testing.assert_array_equal(got[1], [2.0, 3.0, 4.0])


@pytest.mark.parametrize("axis", [0, 1])
def test_unstack_matches_take(axis):
    v = RNG.standard_normal((3, 4))
    got = joining.unstack(v, v.shape[axis], axis)
    for i, g in enumerate(got):
        np.testing.assert_array_equal(g, np.take(v, i, axis=axis))


# --- The adjoint reused at a call site (calls._LAST_ADJOINT): for one function object and argument
# kinds, while the compiled module's still_valid holds.

def rank_free(a, b, scale=1.0):  # a default: called through call_vjp_forward, not inlined (inline_helpers.py)
    return np.tanh(a) * b + a * a * scale


def ranks_alternate(x, w):
    # One call site, arrays of rank 1 and 2 in turn (and a number): three compiled adjoints of
    # rank_free, each used on its own kinds.
    total = 0.0
    for i in range(w.shape[0]):
        v = rank_free(x, w[i])                 # rank 1, rank 1
        m = rank_free(w, x)                    # rank 2, rank 1 (broadcast)
        s = rank_free(x[0] * 1.0, w[i, 1])     # 0-d arrays (a number and an np.float64)
        total = total + np.sum(v) + np.sum(m * m) + s
        x = np.sin(v)
    return total


@pytest.mark.parametrize("fn", [ranks_alternate], ids=lambda f: f.__name__)
def test_ranks_alternating_at_one_call_site(fn):
    check_grads(fn, (X, W), order=1)
    check_grads(fn, (X, W), order=2, modes=("rev",))
    expected = fn(X, W)
    value, grads = ad.value_and_grad(fn, grad_position=(0, 1))(X, W)
    assert value == pytest.approx(expected, rel=1e-12)
    for _ in range(3):  # again and again through the reused adjoints, alternating kinds
        again = ad.grad(fn, grad_position=(0, 1))(X, W)
        np.testing.assert_allclose(again[0], grads[0], rtol=1e-12)
        np.testing.assert_allclose(again[1], grads[1], rtol=1e-12)
    kinds_seen = {entry[1] for key, entry in calls._LAST_ADJOINT.items() if key[0] is rank_free.__code__}
    assert kinds_seen  # the fast path kept one


OFFSET = 0.25


def shifted(v, scale=1.0):  # a default: called through call_vjp_forward, not inlined (inline_helpers.py)
    return np.cos(v + OFFSET) * scale


def reads_offset(x, w):
    y = x
    for i in range(w.shape[0]):
        y = shifted(y) * w[i]
    return np.sum(y)


def test_a_global_rebound_between_calls_is_seen_at_the_call_site():
    global OFFSET
    grad = ad.grad(reads_offset)
    first = grad(X, W)
    grad(X, W)  # now through the reused adjoint
    try:
        OFFSET = -0.75
        rebound = grad(X, W)
        check_grads(reads_offset, (X, W), order=1)
        check_grads(reads_offset, (X, W), order=2, modes=("rev",))
        value, grads = ad.value_and_grad(reads_offset)(X, W)
        assert value == pytest.approx(reads_offset(X, W), rel=1e-12)
        np.testing.assert_allclose(grads, rebound, rtol=1e-12)
    finally:
        OFFSET = 0.25
    assert not np.allclose(rebound, first)
    np.testing.assert_allclose(grad(X, W), first, rtol=1e-12)


def test_clear_cache_between_calls_is_seen_at_the_call_site():
    grad = ad.grad(reads_offset)
    first = grad(X, W)
    stale = calls._LAST_ADJOINT[shifted.__code__, (0,)]
    ad.clear_cache()
    assert not stale[2].still_valid(shifted)
    np.testing.assert_allclose(grad(X, W), first, rtol=1e-12)
    fresh = calls._LAST_ADJOINT[shifted.__code__, (0,)]
    assert fresh[2] is not stale[2] and fresh[3] is not stale[3]
    check_grads(reads_offset, (X, W), order=1)


def test_a_redefined_helper_gets_its_own_adjoint():
    # Same code object, another function: the reused adjoint is keyed on the function object too.
    def make(k):
        def helper(v):
            return np.sin(v) * k

        def fn(x):
            y = x
            for _ in range(2):
                y = helper(y)
            return np.sum(y)

        return fn

    for k in (2.0, -1.0, 2.0):
        fn = make(k)
        check_grads(fn, (X,), order=1)
        inner_y = np.sin(X) * k
        expected = k * np.cos(inner_y) * k * np.cos(X)
        np.testing.assert_allclose(ad.grad(fn)(X), expected, rtol=1e-12)


def test_the_user_call_depth_is_restored_after_an_error():
    from autodiff_st.runtime import sharing

    def failing(v):
        return np.sin(v) / v[10]  # an IndexError on a 6-vector

    def fn(x):
        return np.sum(failing(x))

    before = sharing.USER_CALLS.depth
    for _ in range(2):
        with pytest.raises(IndexError):
            ad.grad(fn)(X)
    assert sharing.USER_CALLS.depth == before


def apply_twice(x, h):
    y = x
    for _ in range(2):
        y = h(y)
    return np.sum(y)


def test_a_dropped_closure_is_not_kept_alive_by_the_reused_adjoint():
    # The helper is passed as an argument (a helper read as a global or closure is held by its caller's
    # compiled module, as a guard). Once it is gone, so is its entry, and the array its closure held.
    import gc
    import weakref

    def make(data):
        def helper(v):
            return np.sin(v) * data[:6]

        return helper

    big = np.ones(100_000)
    helper = make(big)
    grad = ad.grad(apply_twice)
    first = grad(X, helper)
    np.testing.assert_allclose(grad(X, helper), first, rtol=1e-12)  # the second through the memo
    np.testing.assert_allclose(first, np.cos(np.sin(X)) * np.cos(X), rtol=1e-12)
    key = (helper.__code__, (0,))
    assert calls._LAST_ADJOINT[key][0]() is helper
    watch = weakref.ref(big)
    del helper, big
    gc.collect()
    assert key not in calls._LAST_ADJOINT
    assert watch() is None  # the closure's array is freed
