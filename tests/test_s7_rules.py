"""Functions once taken for constants, and values that leave numpy: each gives the right value and
gradient (against finite differences), or a typed refusal quoting the user's line; never a zero."""

import math

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

X = np.array([0.3, -0.7, 1.1])
M = np.array([[0.3, -0.7], [1.1, 0.4], [-0.2, 0.9]])


def linspace_between(a, b):
    return np.sum(np.linspace(a, b, 5) ** 2)


def geomspace_between(a, b):
    return np.sum(np.sin(np.geomspace(a, b, 4)))


def logspace_between(a, b):
    return np.sum(np.logspace(a, b, 4, base=2.0))


def full_of(v):
    return np.sum(np.full((2, 3), v) ** 2)


def full_like_of(v):
    return np.sum(np.full_like(M, v) * M)


def arange_from(start, step):
    return np.sum(np.sin(np.arange(start, 4.0, step)))


def r_join(x):
    return np.sum(np.r_[x, 2.0 * x, 1:4] ** 2)


def c_join(x):
    return np.sum(np.c_[x, x ** 2] * np.arange(6.0).reshape(3, 2))


def r_join_of_matrices(m):
    return np.sum(np.sin(np.r_[m, M]))


def tolist_sum(x):
    return sum(x.tolist()) * x[0]


def tolist_elements(x):
    values = x.tolist()
    return values[0] * values[2] + math.sin(values[1])


def list_sum(x):
    return sum(list(x)) * 2


def iterate(x):
    total = 0.0
    for v in x:
        total = total + v * v
    return total


def std_of_one(x):
    return np.std(x)


def std_rows_of_one(m):
    return np.sum(np.std(m[:, :1], axis=1))


@pytest.mark.parametrize("fn, args", [
    (linspace_between, (0.5, 2.0)), (geomspace_between, (0.5, 2.0)), (logspace_between, (0.5, 2.0)),
    (full_of, (0.7,)), (full_like_of, (0.7,)), (arange_from, (0.3, 0.7)),
    (r_join, (X,)), (c_join, (X,)), (r_join_of_matrices, (M,)),
    (tolist_sum, (X,)), (tolist_elements, (X,)), (list_sum, (X,)), (iterate, (X,)),
])
def test_value_and_gradient(fn, args):
    assert np.allclose(ad.value_and_grad(fn)(*args)[0], fn(*args))
    check_grads(fn, args=args, order=1)
    for argnum in range(len(args)):
        assert np.any(ad.grad(fn, argnum)(*args) != 0)


def test_std_of_a_single_value_has_gradient_zero():
    assert ad.grad(std_of_one)(3.5) == 0.0
    assert np.array_equal(ad.grad(std_of_one)(np.array([3.5])), [0.0])
    assert np.array_equal(ad.grad(std_rows_of_one)(M), np.zeros_like(M))


def test_std_of_a_constant_array_takes_the_zero_subgradient():
    assert np.array_equal(ad.grad(std_of_one)(np.array([2.0, 2.0])), [0.0, 0.0])


def test_arange_with_one_argument_is_constant_in_it():
    def count_up(n):
        return np.sum(np.arange(n))

    assert ad.grad(count_up)(4.0) == 0.0


def r_with_directive(x):
    return np.sum(np.r_["0,2", x, x])


def map_over_list(x):
    return sum(tuple(map(math.sin, x.tolist())))  # a map kept as an iterator (sum(map(...)) is supported)


def test_map_over_a_list_is_differentiated():
    # Refused before step 8's containers work; map is now a comprehension calling math.sin
    # (compiler/normalize_iteration.py). Order 1: the rule of .tolist() has no rule of its own yet.
    np.testing.assert_allclose(ad.grad(map_over_list)(X), np.cos(X), rtol=1e-12)
    ad.testing.check_grads(map_over_list, (X,), order=1)


@pytest.mark.parametrize("fn, line", [
    (r_with_directive, 'np.r_["0,2", x, x]'),
])
def test_refused_with_the_users_line(fn, line):
    with pytest.raises(ad.AutodiffError) as info:
        ad.grad(fn)(X)
    assert line in str(info.value)
