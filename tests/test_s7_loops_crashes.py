"""Crashes inside the library that used to escape as AttributeError, KeyError, ValueError or SyntaxError:
each case now gives the right value and gradient (checked against the plain function and finite
differences), or a typed refusal quoting the user's line.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.names import identifier_for

X3 = np.array([0.5, -0.8, 1.3])
M = np.random.default_rng(0).standard_normal((4, 3))


# -- a non-scalar output reduced along an axis: grad sums it ------------------------------------------

def sum_axis0(x):
    return np.sum(x, axis=0)


def mean_axis0(x):
    return np.mean(x, axis=0)


def prod_axis0(x):
    return np.prod(x, axis=0)


def var_axis0(x):
    return np.var(x, axis=0)


def max_axis0(x):
    return np.max(x, axis=0)


def min_axis0(x):
    return np.min(x, axis=0)


def sum_method_axis0(x):
    return x.sum(axis=0)


def numeric_gradient_of_sum(fn, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (np.sum(fn(x + d)) - np.sum(fn(x - d))) / (2 * eps)
    return g


@pytest.mark.parametrize("fn", [sum_axis0, mean_axis0, prod_axis0, var_axis0, max_axis0, min_axis0,
                                sum_method_axis0], ids=lambda fn: fn.__name__)
def test_grad_of_a_reduction_along_an_axis_sums_the_output(fn):
    np.testing.assert_allclose(ad.grad(fn)(M), numeric_gradient_of_sum(fn, M), rtol=1e-6, atol=1e-8)
    value, grad = ad.value_and_grad(fn)(M)
    np.testing.assert_allclose(value, fn(M))
    ad.testing.check_grads(fn, (M,), order=2)


# -- second order through lists, indices computed in a loop, np.where in a loop -----------------------

def append_then_stack(x):
    ys = []
    for i in range(3):
        ys.append(x[i] * x[i])
    return np.sum(np.stack(ys))


def index_computed_in_loop(x):
    s = 0.0
    for i in range(3):
        k = 2 - i
        s = s + x[k] * x[i]
    return s


def where_in_loop(x):
    y = x
    for i in range(2):
        y = np.where(y > 0, y * y, -y)
    return np.sum(y)


@pytest.mark.parametrize("fn", [append_then_stack, index_computed_in_loop, where_in_loop],
                         ids=lambda fn: fn.__name__)
def test_second_order(fn):
    ad.testing.check_grads(fn, (X3,), order=2)
    hessian = ad.hessian(fn)(X3)
    np.testing.assert_allclose(hessian, ad.jacrev(ad.grad(fn))(X3), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hessian, ad.jacfwd(ad.grad(fn))(X3), rtol=1e-9, atol=1e-12)


# -- names of generated functions ---------------------------------------------------------------------

def test_second_order_of_a_lambda():
    cube = lambda x: np.sum(x ** 3)  # noqa: E731
    expected = np.diag(6 * X3)
    np.testing.assert_allclose(ad.jacrev(ad.grad(cube))(X3), expected, rtol=1e-12)
    np.testing.assert_allclose(ad.jacfwd(ad.grad(cube))(X3), expected, rtol=1e-12)
    np.testing.assert_allclose(ad.hessian(cube)(X3), expected, rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(ad.jacfwd(cube))(X3), np.diag(6 * X3), rtol=1e-12)


def test_second_order_of_a_function_whose_name_is_no_identifier():
    def cube(x):
        return np.sum(x ** 3)

    cube.__name__ = "cube of x-1"
    np.testing.assert_allclose(ad.jacrev(ad.grad(cube))(X3), np.diag(6 * X3), rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(ad.jacfwd(cube))(X3), np.diag(6 * X3), rtol=1e-12)


@pytest.mark.parametrize("name, expected", [("f", "f"), ("<lambda>", "lambda_"), ("cube of x-1", "cube_of_x_1"),
                                            ("1st", "v1st"), ("", "f"), ("class", "class_")])
def test_identifier_for(name, expected):
    assert identifier_for(name) == expected
    assert expected.isidentifier()


# -- empty arrays -------------------------------------------------------------------------------------

def double(x):
    return x * 2.0


def total(x):
    return np.sum(x * 2.0)


def test_jacobians_of_an_empty_array():
    empty = np.zeros(0)
    assert ad.jacrev(double)(empty).shape == (0, 0)
    assert ad.jacfwd(double)(empty).shape == (0, 0)
    assert ad.jacrev(total)(empty).shape == (0,)
    assert ad.hessian(total)(empty).shape == (0, 0)
    assert ad.grad(total)(empty).shape == (0,)


# -- writes into elements of lists and dicts: once refused, differentiated since step 8 ------------------

def dict_written(x):
    d = {}
    d["a"] = x * 2.0
    d["b"] = np.sin(x)
    return np.sum(d["a"] * d["b"])


def list_written(x):
    acc = [0.0, 0.0]
    acc[0] = np.sum(x)
    acc[1] = np.sum(x * x)
    return acc[0] * acc[1]


def aux_dict(x):
    aux = {}
    loss = np.sum(x ** 2)
    aux["norm"] = loss
    return loss, aux


def repeated_list_written(x):
    acc = [0.0] * 2
    acc[0] = np.sum(x)
    return acc[0] * 2.0


def list_of_array_written(x):
    acc = list(x)
    acc[0] = x[1] * 2.0
    return acc[0] + acc[1]


@pytest.mark.parametrize("fn", [dict_written, list_written, repeated_list_written, list_of_array_written],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_write_into_a_list_or_dict_element_is_differentiated(fn):
    # Each write becomes a new container (normalize_collections.py); checked against finite differences
    # at orders 1 and 2, in both modes, values included (tests/test_s8_collections.py has more).
    ad.testing.check_grads(fn, (X3,), order=2)


def test_aux_dict_written_element_by_element():
    grad, (aux,) = ad.grad(aux_dict, has_aux=True)(X3)
    np.testing.assert_allclose(grad, 2 * X3, rtol=1e-12)
    assert aux == {"norm": np.sum(X3 ** 2)}


def test_write_into_a_list_element_in_forward_mode():
    # d/dx (sum(x) * sum(x * x)) = sum(x * x) + 2 x sum(x)
    expected = np.sum(X3 * X3) + 2 * X3 * np.sum(X3)
    np.testing.assert_allclose(ad.jacfwd(list_written)(X3), expected, rtol=1e-12)
