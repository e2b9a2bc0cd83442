"""A name read before the user's function binds it: Python raises UnboundLocalError, and so must every
transform, never a value computed from the placeholder generated code gives such a name.

The reverse transform binds names assigned only inside loops or branches before its forward pass (it
keeps their old values on the tape), and a gradient-only pass drops statements whose value it does not
need; either would let a read of an unbound name go through. The generated code checks each read where
the name may be unbound (compiler/liveness.py ``unbound_reads``, runtime/unbound.py).
"""

import re

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def last_part_sum(x, n):
    for i in range(n):
        part = x[1:] * x[:-1]
    return np.sum(part ** 2)


def carried_from_a_branch(x, n):
    for i in range(n):
        if i > 0:
            s = s + p * x[i]
        else:
            s = x[0]
        p = np.sin(x[i])
    return s * 2.0


def bound_in_one_branch(x, flag):
    if flag:
        y = np.tanh(x)
    return np.sum(y * x)


def read_only_in_a_dropped_statement(x, n):
    # The gradient does not need y's value: a gradient-only pass would drop the read of y.
    for i in range(n):
        y = x * 2.0
    return np.sum(y) * 3.0


def bound_before_the_loop(x, n):
    h = x
    for i in range(n):
        h = np.tanh(h * 0.5 + x)
    return np.sum(h)


def transforms(fn):
    def summed_grad(x, a):
        return np.sum(ad.grad(fn)(x, a) ** 2)

    return {
        "grad": ad.grad(fn),
        "value_and_grad": ad.value_and_grad(fn),
        "vjp": lambda x, a: ad.vjp(lambda v: fn(v, a), x)[1](1.0),
        "jacrev": ad.jacrev(fn),
        "jacfwd": ad.jacfwd(fn),
        "hessian": ad.hessian(fn),
        "jacrev(grad)": ad.jacrev(ad.grad(fn)),
        "jacfwd(grad)": ad.jacfwd(ad.grad(fn)),
        "grad(grad)": ad.grad(summed_grad),
        "vmap(grad)": lambda x, a: ad.vmap(ad.grad(fn), in_axes=(0, None))(np.stack([x, x + 1.0]), a),
    }


UNBOUND = [(last_part_sum, 0, "part"), (carried_from_a_branch, 0, "s"), (bound_in_one_branch, False, "y"),
           (read_only_in_a_dropped_statement, 0, "y")]


def python_error(fn, x, a):
    with pytest.raises(UnboundLocalError) as caught:
        fn(x, a)
    return str(caught.value)


@pytest.mark.parametrize("fn, a, name", UNBOUND, ids=[case[0].__name__ for case in UNBOUND])
@pytest.mark.parametrize("transform", list(transforms(last_part_sum)))
def test_a_read_of_an_unbound_name_raises_as_python_does(fn, a, name, transform):
    x = np.array([0.3, -1.2, 0.8])
    expected = python_error(fn, x, a)
    assert f"'{name}'" in expected
    with pytest.raises(UnboundLocalError, match=re.escape(expected)):
        transforms(fn)[transform](x, a)


BOUND = [(last_part_sum, 3), (carried_from_a_branch, 3), (bound_in_one_branch, True),
         (read_only_in_a_dropped_statement, 2), (bound_before_the_loop, 0), (bound_before_the_loop, 3)]


@pytest.mark.parametrize("fn, a", BOUND, ids=[f"{case[0].__name__}-{case[1]}" for case in BOUND])
def test_where_the_name_is_bound_derivatives_match_finite_differences(fn, a):
    x = np.array([0.3, -1.2, 0.8])
    check_grads(lambda v: fn(v, a), (x,), order=2)
    value, _ = ad.value_and_grad(fn)(x, a)
    assert value == fn(x, a)


def test_the_check_sits_under_the_users_line_and_only_where_needed():
    text = ad.source(ad.grad(last_part_sum))
    assert "part = unbound" in text
    before_check = text.split("check_bound(part, 'part')")[0].rstrip().splitlines()[-1]
    assert before_check.strip().endswith("return np.sum(part ** 2)")
    # h has a value before the loop: no placeholder, no check
    assert "check_bound" not in ad.source(ad.grad(bound_before_the_loop))
    assert "= unbound" not in ad.source(ad.grad(bound_before_the_loop))


def test_a_name_the_user_binds_to_none_is_not_mistaken_for_unbound():
    def f(x, n):
        for i in range(n):
            y = None
        if y is None:
            return np.sum(x ** 2)
        return np.sum(x)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(ad.grad(f)(x, 2), 2 * x)
    with pytest.raises(UnboundLocalError):
        ad.grad(f)(x, 0)


# -- `del name`: the generated code leaves it out, so a read after it is refused -------------------------

def read_after_del(x):
    y = x * 2.0
    del y
    return np.sum(y)


def read_in_the_next_iteration(x):
    t = x * 1.0
    for i in range(3):
        x = x + np.sin(t)
        del t
    return np.sum(x)


def del_then_rebound_in_the_loop(x):
    for i in range(3):
        t = x * i
        x = x + np.sin(t)
        del t
    return np.sum(x)


def del_of_a_value_no_longer_read(x):
    y = x * 2.0
    z = np.sin(y)
    del y
    return np.sum(z)


@pytest.mark.parametrize("fn, name", [(read_after_del, "y"), (read_in_the_next_iteration, "t")])
def test_a_read_that_may_follow_del_is_refused_with_the_line(fn, name):
    x = np.array([0.3, -1.2])
    with pytest.raises(ad.UnsupportedSyntaxError, match=f"a read of `{name}` after `del {name}`") as caught:
        ad.grad(fn)(x)
    assert "test_unbound_reads.py" in str(caught.value)
    with pytest.raises((UnboundLocalError, NameError)):
        fn(x)


@pytest.mark.parametrize("fn", [del_then_rebound_in_the_loop, del_of_a_value_no_longer_read])
def test_del_of_a_name_not_read_again_is_differentiated(fn):
    check_grads(fn, (np.array([0.3, -1.2]),), order=2)
