"""The jacrev examples of the reference documents (../shared/seeds/): MindSpore jacrev (seed 000), BrainPy
jacrev's return structures (seed 003) and torch.func.jacrev (seed 004), with numpy arrays for Tensors.

Expected numbers are those the seeds print, or, for the torch examples, the closed forms they assert
(``diag(cos x)``, ``diag(-sin x)``, ``diag(2 y)``).
"""

import numpy as np
import pytest

import autodiff_st as ad


class MultipleInputsMultipleOutputsNet(ad.nn.Cell):
    def construct(self, x, y, z):
        return x ** 2 + y ** 2 + z ** 2, x * y * z


def test_mindspore_jacrev_net_example():
    x = np.array([[1, 2], [3, 4]]).astype(np.float32)
    y = np.array([[1, 2], [3, 4]]).astype(np.float32)
    z = np.array([[1, 1], [1, 1]]).astype(np.float32)
    net = MultipleInputsMultipleOutputsNet()
    jac, aux = ad.jacrev(net, grad_position=0, has_aux=True)(x, y, z)
    expected = np.array([[[[2, 0], [0, 0]], [[0, 4], [0, 0]]],
                         [[[0, 0], [6, 0]], [[0, 0], [0, 8]]]], dtype=np.float32)
    assert jac.shape == (2, 2, 2, 2) and jac.dtype == np.float32
    np.testing.assert_array_equal(jac, expected)
    np.testing.assert_array_equal(aux, np.array([[1, 4], [9, 16]], dtype=np.float32))


def sin_of(x):
    return np.sin(x)


def sin_twice(x):
    result = sin_of(x)
    return result, result


def sum_of_sin(x):
    return np.sum(np.sin(x))


def x_plus_y_squared(x, y):
    return x + y ** 2


@pytest.fixture
def x5():
    return np.random.default_rng(0).standard_normal(5)


def test_torch_jacrev_of_sin_is_diag_cos(x5):
    np.testing.assert_allclose(ad.jacrev(np.sin)(x5), np.diag(np.cos(x5)), rtol=1e-14)
    np.testing.assert_allclose(ad.jacrev(sin_of)(x5), np.diag(np.cos(x5)), rtol=1e-14)


def test_torch_jacrev_has_aux_returns_the_aux_output(x5):
    jacobian, f_x = ad.jacrev(sin_twice, has_aux=True)(x5)
    np.testing.assert_allclose(f_x, np.sin(x5))
    np.testing.assert_allclose(jacobian, np.diag(np.cos(x5)), rtol=1e-14)


def test_torch_vmap_of_jacrev_of_sin_gives_batched_jacobians():
    x = np.random.default_rng(1).standard_normal((64, 5))
    jacobian = ad.vmap(ad.jacrev(np.sin))(x)
    assert jacobian.shape == (64, 5, 5)
    for row, jac in zip(x, jacobian):
        np.testing.assert_allclose(jac, np.diag(np.cos(row)), rtol=1e-14)


def test_torch_jacrev_of_jacrev_is_the_hessian(x5):
    hessian = ad.jacrev(ad.jacrev(sum_of_sin))(x5)
    np.testing.assert_allclose(hessian, np.diag(-np.sin(x5)), rtol=1e-12, atol=1e-14)


def test_torch_jacrev_argnums(x5):
    y = np.random.default_rng(2).standard_normal(5)
    np.testing.assert_allclose(ad.jacrev(x_plus_y_squared, argnums=1)(x5, y), np.diag(2 * y), rtol=1e-14)
    jac_x, jac_y = ad.jacrev(x_plus_y_squared, argnums=(0, 1))(x5, y)
    np.testing.assert_allclose(jac_x, np.eye(5))
    np.testing.assert_allclose(jac_y, np.diag(2 * y), rtol=1e-14)


def value_and_aux(x):
    return np.sin(x) * x, np.cos(x)


@pytest.mark.parametrize("has_aux, return_value", [(False, False), (True, False), (False, True), (True, True)])
def test_brainpy_jacrev_return_structures(x5, has_aux, return_value):
    """BrainPy: arg_grads, (arg_grads, aux), (arg_grads, value), (arg_grads, value, aux)."""
    fn = value_and_aux if has_aux else (lambda x: np.sin(x) * x)
    result = ad.jacrev(fn, argnums=0, has_aux=has_aux, return_value=return_value)(x5)
    expected_jac = np.diag(np.cos(x5) * x5 + np.sin(x5))
    if not has_aux and not return_value:
        np.testing.assert_allclose(result, expected_jac, rtol=1e-14)
        return
    assert isinstance(result, tuple) and len(result) == 1 + has_aux + return_value
    np.testing.assert_allclose(result[0], expected_jac, rtol=1e-14)
    if return_value:
        np.testing.assert_allclose(result[1], np.sin(x5) * x5)
    if has_aux:
        np.testing.assert_allclose(result[-1], np.cos(x5))
