"""Python lists and dicts in every transform (step 8): element writes, methods, comprehensions, and the
builtins that walk them. Each construct of tests/s8_collection_cases.py is checked against finite
differences at order 2 in both modes (values included), and jacrev against jacfwd; the cases the compiler
cannot follow are refused with the line quoted.
"""

import numpy as np
import pytest

import autodiff_st as ad
from tests import s8_collection_cases as cases
from tests.s8_collection_cases import CASES, X

SUPPORTED = [c for c in CASES if c[1] != "aux_dict"]  # nested writes: tests/test_nonlocal_nested_writes.py too


def _ids(case):
    return case[1]


@pytest.mark.parametrize("case", SUPPORTED, ids=_ids)
def test_order_two_against_finite_differences(case):
    _, _, fn, args = case
    ad.testing.check_grads(fn, args, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("case", SUPPORTED, ids=_ids)
def test_jacrev_equals_jacfwd(case):
    _, _, fn, args = case
    rev = ad.jacrev(fn)(*args)
    fwd = ad.jacfwd(fn)(*args)
    np.testing.assert_allclose(rev, fwd, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["dict_new_keys", "list_write_in_loop", "dict_in_loop", "dict_update",
                                  "sorted_key", "two_for_comprehension", "map_lambda"])
def test_hessian_against_finite_differences_of_grad(name):
    fn = getattr(cases, name)
    grad = ad.grad(fn)
    eps = 1e-5
    numeric = np.stack([(grad(X + eps * e) - grad(X - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(ad.hessian(fn)(X), numeric, rtol=1e-5, atol=1e-7)


def test_jax_aux_dict_idiom():
    # aux = {}; aux["k"] = ... with has_aux, in every transform that takes has_aux
    (g, (aux,)) = ad.grad(cases.aux_dict, has_aux=True)(X)
    loss = np.sum(X ** 2)
    np.testing.assert_allclose(g, 3 * np.sqrt(loss) * X, rtol=1e-12)
    assert aux == {"loss": loss, "norm": np.sqrt(loss)}
    out, vjp_fn, aux = ad.vjp(cases.aux_dict, X, has_aux=True)
    np.testing.assert_allclose(vjp_fn(1.0)[0], g, rtol=1e-12)
    jac, aux = ad.jacrev(cases.aux_dict, has_aux=True)(X)
    np.testing.assert_allclose(jac, ad.jacfwd(cases.aux_dict, has_aux=True)(X)[0], rtol=1e-12)
    hess, aux = ad.hessian(cases.aux_dict, has_aux=True)(X)
    grad = ad.grad(cases.aux_dict, has_aux=True)
    eps = 1e-5
    numeric = np.stack([(grad(X + eps * e)[0] - grad(X - eps * e)[0]) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(hess, numeric, rtol=1e-5, atol=1e-7)
    assert aux == {"loss": loss, "norm": np.sqrt(loss)}


def test_vjp_fn_called_twice_sees_the_same_containers():
    out, vjp_fn = ad.vjp(cases.list_write_in_loop, X)
    first, second = vjp_fn(1.0), vjp_fn(2.0)
    np.testing.assert_allclose(second[0], 2 * first[0], rtol=1e-12)


# -- Python's meaning, case by case ---------------------------------------------------------------------

def setdefault_existing(x):
    d = {"a": x[0]}
    v = d.setdefault("a", x[1])  # the key exists: d is unchanged, v is x[0]
    return v * 3.0 + d["a"]


def get_default_evaluated(x):
    d = {"a": x[0]}
    return d.get("b", x[1] * x[2]) + d.get("a") * 2.0


def pop_negative(x):
    ys = [x[0], x[1] * 2.0, x[2] * 3.0]
    last = ys.pop(-1)
    middle = ys.pop(1)
    return last * middle + ys[0] + len(ys)


def insert_beyond(x):
    ys = [x[0]]
    ys.insert(10, x[1])  # appends, as Python does
    ys.insert(-5, x[2])  # prepends
    return ys[0] * 100.0 + ys[1] * 10.0 + ys[2]


def sorted_reverse_stable(x):
    pairs = [(1, x[0]), (0, x[1]), (1, x[2])]
    ordered = sorted(pairs, key=lambda p: p[0], reverse=True)  # equal keys keep their order
    return ordered[0][1] * 3.0 + ordered[1][1] * 2.0 + ordered[2][1]


def max_of_three(x):
    return max(x[0], x[1] * 2.0, np.sin(x[2])) + min(t for t in x)


def dict_from_zip(x):
    d = dict(zip(["a", "b"], [x[0] * 2.0, x[1]]))
    e = dict([("c", x[2]), ("d", x[0])])
    return d["a"] * d["b"] + e["c"] * e["d"]


def enumerate_map_filter(x):
    total = 0.0
    for i, t in enumerate(map(lambda u: u * u, filter(lambda u: u > -5.0, x))):
        total = total + (i + 1) * t
    return total


def list_plus(x):
    ys = [x[0]] + [x[1], x[2]]
    zs = ys + ys
    return zs[0] * zs[4] + zs[5]


def dict_keys_loop(x):
    d = {"a": x[0], "b": x[1]}
    total = 0.0
    for k in d:
        total = total + d[k] * 2.0
    for k in d.keys():
        total = total * d[k]
    return total


def appended_tuple(x):
    ys = []
    ys.append((x[0], x[1] * 2.0))
    return ys[0][0] * ys[0][1]


def comprehension_over_display(x):
    return sum(t * t for t in [x[0], x[1] * 3.0])


PYTHON_CASES = [setdefault_existing, get_default_evaluated, pop_negative, insert_beyond, sorted_reverse_stable,
                max_of_three, dict_from_zip, enumerate_map_filter, list_plus, dict_keys_loop, appended_tuple,
                comprehension_over_display]


@pytest.mark.parametrize("fn", PYTHON_CASES, ids=lambda f: f.__name__)
def test_python_semantics_at_order_two(fn):
    ad.testing.check_grads(fn, (X,), order=2)
    np.testing.assert_allclose(ad.jacrev(fn)(X), ad.jacfwd(fn)(X), rtol=1e-10, atol=1e-12)


def test_setdefault_and_pop_give_python_values():
    # the value oracle in check_grads compares with the plain function; these spell out what it is
    assert ad.value_and_grad(setdefault_existing)(X)[0] == pytest.approx(4 * X[0])
    assert ad.value_and_grad(pop_negative)(X)[0] == pytest.approx(3 * X[2] * 2 * X[1] + X[0] + 1)
    assert ad.value_and_grad(insert_beyond)(X)[0] == pytest.approx(100 * X[2] + 10 * X[0] + X[1])


# -- refused: what Python would show through another name -----------------------------------------------

def write_seen_through_alias(x):
    d = {"a": x[0]}
    e = d
    d["a"] = x[1] * 2.0
    return e["a"]


def write_seen_through_holder(x):
    ys = [x[0], x[1]]
    rows = [ys, [1.0]]
    ys[0] = x[2] * 3.0
    return rows[0][0] + ys[0]


def write_seen_through_append(x):
    ys = [x[0], x[1]]
    rows = []
    rows.append(ys)
    ys[0] = x[2] * 3.0
    return rows[0][0]


def write_in_loop_seen_next_iteration(x):
    d = {"a": 0.0}
    s = 0.0
    for i in range(3):
        e = d
        d["a"] = x[i] * 2.0
        s = s + e["a"]
    return s


def write_while_walking_a_snapshot(x):
    ys = [x[0], x[1], x[2]]
    total = 0.0
    for t in reversed(ys):
        ys[0] = t * 2.0  # Python's reversed iterator would show this write
        total = total + t
    return total + ys[0]


def write_while_walking_values(x):
    d = {"a": x[0], "b": x[1]}
    for v in d.values():
        d["b"] = v * 2.0
    return d["b"]


def write_into_argument(x, d):
    d["a"] = x[0]
    return d["a"]


@pytest.mark.parametrize("fn, line", [
    (write_seen_through_alias, 'd["a"] = x[1] * 2.0'),
    (write_seen_through_holder, "ys[0] = x[2] * 3.0"),
    (write_seen_through_append, "ys[0] = x[2] * 3.0"),
    (write_in_loop_seen_next_iteration, 'd["a"] = x[i] * 2.0'),
    (write_while_walking_a_snapshot, "ys[0] = t * 2.0"),
    (write_while_walking_values, 'd["b"] = v * 2.0'),
], ids=lambda v: getattr(v, "__name__", ""))
def test_writes_another_name_would_see_are_refused(fn, line):
    for transform in (ad.grad, ad.jacfwd):
        with pytest.raises(ad.UnsupportedSyntaxError) as info:
            transform(fn)(X)
        assert line in str(info.value) and "test_s8_collections.py" in str(info.value)


def test_write_into_an_argument_dict_is_refused():
    with pytest.raises(ad.UnsupportedSyntaxError) as info:
        ad.grad(write_into_argument)(X, {"a": 1.0})
    assert 'd["a"] = x[0]' in str(info.value)


def array_held_by_dict(x):
    y = x * 1.0
    d = {"a": y}
    y[0] = x[1] * 3.0  # d["a"] is y: Python shows the write through d
    return np.sum(d["a"] * 2.0)


def array_held_by_list_then_updated(x):
    y = x * 1.0
    ys = [y]
    y += x[1]  # in place: ys[0] changes too
    return np.sum(ys[0])


def array_appended(x):
    y = x * 1.0
    ys = []
    ys.append(y)
    y[0] = x[1] * 3.0
    return np.sum(ys[0] * 2.0)


@pytest.mark.parametrize("fn", [array_held_by_dict, array_held_by_list_then_updated, array_appended],
                         ids=lambda f: f.__name__)
def test_array_written_while_a_container_holds_it_is_refused(fn):
    # These gave wrong gradients silently before: the container was not counted among the array's
    # sharers. Now the run-time sharing check finds the array in the container.
    with pytest.raises(ad.AliasingError):
        ad.grad(fn)(X)


def slice_write(x):
    ys = [x[0], x[1], x[2]]
    ys[0:2] = [x[2], x[2]]
    return ys[0]


def iterator_bound_to_a_name(x):
    it = map(np.sin, x)
    return sum(it) + sum(it)  # the second sum is 0 in Python: the iterator is spent


@pytest.mark.parametrize("fn, words", [
    (slice_write, "slice of the list"),
    (iterator_bound_to_a_name, "map"),
], ids=lambda v: getattr(v, "__name__", "") if callable(v) else "")
def test_refused_with_the_line(fn, words):
    with pytest.raises(ad.AutodiffError) as info:
        ad.grad(fn)(X)
    assert words in str(info.value) and "test_s8_collections.py" in str(info.value)


def written_into_non_container_at_run_time(x, flag):
    d = {}
    for i in range(2):
        d["a"] = x[i]
        if flag:
            d = x * 1.0  # the next write is into an array: with_item refuses it when it runs
    return np.sum(d["a"])


def test_a_write_that_meets_an_array_at_run_time_is_refused():
    with pytest.raises(ad.UnsupportedCaseError):
        ad.grad(written_into_non_container_at_run_time)(X, True)
    ad.testing.check_grads(written_into_non_container_at_run_time, (X, False), order=2)
