"""The examples of the reference documents (../shared/seeds/), with numpy float32 arrays for Tensors.

Covered: mindspore.vjp (seed 001) and the examples of mindspore.ops.grad (seed 002), with the three cases
of its network example (inputs only; weights only; both), and vjp with weights. The expected numbers are
the ones the seeds print; the structures are the ones they unpack; gradients the seeds do not print are
checked against finite differences. The jacrev seeds belong to later steps.
"""

import numpy as np
import pytest

import autodiff_st as ad


F32 = np.float32


def f32(values):
    return np.array(values, dtype=F32)


def assert_f32(actual, expected):
    assert isinstance(actual, np.ndarray)
    assert actual.dtype == F32, actual.dtype
    expected = f32(expected)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------------------------------
# Seed 001: mindspore.vjp
# --------------------------------------------------------------------------------------------------

class CubePlusNet(ad.nn.Cell):
    def construct(self, x, y):
        return x**3 + y


def two_outputs(x, y):
    return 2 * x + y, y ** 3


def three_outputs(x, y):
    return 2 * x + y, y ** 3, x * y


def _vjp_inputs():
    x = f32([[1, 2], [3, 4]])
    y = f32([[1, 2], [3, 4]])
    v = f32([[1, 1], [1, 1]])
    return x, y, v


def test_vjp_cell_example():
    x, y, v = _vjp_inputs()
    outputs, vjp_fn = ad.vjp(CubePlusNet(), x, y)
    assert_f32(outputs, [[2., 10.], [30., 68.]])
    assert str(outputs) == "[[ 2. 10.]\n [30. 68.]]"
    gradient = vjp_fn(v)
    assert isinstance(gradient, tuple) and len(gradient) == 2
    assert_f32(gradient[0], [[3.0, 12.0], [27.0, 48.0]])
    assert_f32(gradient[1], [[1.0, 1.0], [1.0, 1.0]])


def test_vjp_has_aux_example():
    x, y, v = _vjp_inputs()
    result = ad.vjp(two_outputs, x, y, has_aux=True)
    assert isinstance(result, tuple) and len(result) == 3
    outputs, vjp_fn, aux = result
    gradient = vjp_fn(v)
    assert_f32(outputs, [[3., 6.], [9., 12.]])
    assert str(outputs) == "[[ 3.  6.]\n [ 9. 12.]]"
    # With exactly two outputs, aux is out2 itself, not a 1-tuple.
    assert not isinstance(aux, tuple)
    assert_f32(aux, [[1., 8.], [27., 64.]])
    assert str(aux) == "[[ 1.  8.]\n [27. 64.]]"
    assert isinstance(gradient, tuple) and len(gradient) == 2
    assert_f32(gradient[0], [[2.0, 2.0], [2.0, 2.0]])
    assert_f32(gradient[1], [[1.0, 1.0], [1.0, 1.0]])


def test_vjp_has_aux_with_three_outputs_gives_an_aux_tuple():
    # Not in the seed; SPEC: aux is (out2, ...) when fn returns more than two outputs.
    x, y, v = _vjp_inputs()
    outputs, vjp_fn, aux = ad.vjp(three_outputs, x, y, has_aux=True)
    assert isinstance(aux, tuple) and len(aux) == 2
    assert_f32(aux[0], y ** 3)
    assert_f32(aux[1], x * y)
    gx, gy = vjp_fn(v)
    assert_f32(gx, 2 * v)
    assert_f32(gy, v)


def test_vjp_fn_called_again_with_another_cotangent():
    x, y, v = _vjp_inputs()
    outputs, vjp_fn = ad.vjp(CubePlusNet(), x, y)
    first = vjp_fn(v)
    w = f32([[1, -1], [0.5, 2]])
    gx, gy = vjp_fn(w)
    # d(x**3 + y) = 3 x**2 dx + dy, so the cotangent w maps to (3 x**2 w, w).
    assert_f32(gx, 3 * x ** 2 * w)
    assert_f32(gy, w)
    again = vjp_fn(v)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------
# Seed 002: mindspore.ops.grad
# --------------------------------------------------------------------------------------------------

class ProductNet(ad.nn.Cell):
    def construct(self, x, y, z):
        return x * y * z


def exp_pow_fn(x, y, z):
    res = x * np.exp(y) * np.power(z, 2)
    return res, z


def test_grad_cell_example():
    x = f32([1, 2])
    y = f32([-2, 3])
    z = f32([0, 3])
    net = ProductNet()
    output = ad.grad(net, grad_position=(1, 2))(x, y, z)
    assert isinstance(output, tuple) and len(output) == 2
    assert_f32(output[0], [0.0, 6.0])
    assert_f32(output[1], [-2.0, 6.0])


def test_grad_has_aux_example_with_positional_options():
    x = f32([3, 3])
    y = f32([0, 0])
    z = f32([5, 5])
    gradient, aux = ad.grad(exp_pow_fn, (1, 2), None, True)(x, y, z)
    assert isinstance(gradient, tuple) and len(gradient) == 2
    assert_f32(gradient[0], [75.0, 75.0])
    assert_f32(gradient[1], [30.0, 30.0])
    # The single extra output still comes back as a 1-tuple: (out2,).
    assert isinstance(aux, tuple) and len(aux) == 1
    assert_f32(aux[0], [5.0, 5.0])


def test_grad_has_aux_example_with_keyword_options():
    x = f32([3, 3])
    y = f32([0, 0])
    z = f32([5, 5])
    gradient, (aux_z,) = ad.grad(exp_pow_fn, grad_position=(1, 2), weights=None, has_aux=True)(x, y, z)
    assert_f32(gradient[0], [75.0, 75.0])
    assert_f32(gradient[1], [30.0, 30.0])
    assert_f32(aux_z, [5.0, 5.0])


# Case 1 of the network example: gradient with respect to inputs, weights=None, has_aux=True.
# The network is reached through globals, as in the seed. ``SmallDense`` and ``SquaredError`` are this
# file's own cells with MindSpore's Dense layout (weight (out, in), then bias; x @ W.T + b); the second
# test runs the seed verbatim with ad.nn.Dense and ad.nn.MSELoss once they exist.

class SmallDense(ad.nn.Cell):
    def __init__(self, in_channels, out_channels, seed=0):
        rng = np.random.default_rng(seed)
        self.weight = ad.Parameter(rng.standard_normal((out_channels, in_channels)).astype(F32) * F32(0.1),
                                   name="weight")
        self.bias = ad.Parameter(np.full(out_channels, 0.05, F32), name="bias")

    def construct(self, x):
        return x @ self.weight.T + self.bias


class SquaredError(ad.nn.Cell):
    def construct(self, logits, labels):
        return np.mean((logits - labels) ** 2)


own_net = SmallDense(10, 1)
own_loss_fn = SquaredError()


def own_forward(inputs, labels):
    logits = own_net(inputs)
    loss = own_loss_fn(logits, labels)
    return loss, logits


HAS_DENSE = hasattr(ad.nn, "Dense") and hasattr(ad.nn, "MSELoss")
seed_net = ad.nn.Dense(10, 1) if HAS_DENSE else None
seed_loss_fn = ad.nn.MSELoss() if HAS_DENSE else None


def seed_forward(inputs, labels):
    logits = seed_net(inputs)
    loss = seed_loss_fn(logits, labels)
    return loss, logits


def _network_data():
    rng = np.random.default_rng(7)
    inputs = rng.standard_normal((16, 10)).astype(F32)
    labels = rng.standard_normal((16, 1)).astype(F32)
    return inputs, labels


def _check_case_1(forward, weight, bias):
    inputs, labels = _network_data()
    grad_fn = ad.grad(forward, grad_position=(0, 1), weights=None, has_aux=True)
    inputs_gradient, (aux_logits,) = grad_fn(inputs, labels)
    assert len(inputs_gradient) == 2
    assert aux_logits.shape == (16, 1)
    # By hand: loss = mean((logits - labels)**2) over 16 values, so dloss/dlogits = 2 (logits - labels) / 16,
    # dloss/dinputs = dloss/dlogits @ W, and dloss/dlabels = -dloss/dlogits.
    logits = inputs.astype(np.float64) @ np.asarray(weight, np.float64).T + np.asarray(bias, np.float64)
    dlogits = 2 * (logits - labels) / 16
    np.testing.assert_allclose(aux_logits, logits, rtol=1e-5, atol=1e-6)
    g_inputs, g_labels = inputs_gradient
    assert g_inputs.dtype == F32 and g_labels.dtype == F32 and aux_logits.dtype == F32
    assert g_inputs.shape == (16, 10) and g_labels.shape == (16, 1)
    np.testing.assert_allclose(g_inputs, dlogits @ np.asarray(weight, np.float64), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g_labels, -dlogits, rtol=1e-4, atol=1e-6)


def test_grad_network_case_1_with_own_dense_cell():
    _check_case_1(own_forward, own_net.weight, own_net.bias)


@pytest.mark.xfail(not HAS_DENSE, strict=True, reason="ad.nn.Dense and ad.nn.MSELoss do not exist yet (SPEC)")
def test_grad_network_case_1_with_nn_dense():
    assert HAS_DENSE
    weight, bias = seed_net.trainable_params()
    assert weight.shape == (1, 10) and bias.shape == (1,)
    _check_case_1(seed_forward, weight, bias)


def test_grad_network_case_1_leaves_parameters_unchanged():
    # Differentiating must not change the network's own parameters.
    before = (own_net.weight.copy(), own_net.bias.copy())
    inputs, labels = _network_data()
    ad.grad(own_forward, grad_position=(0, 1), has_aux=True)(inputs, labels)
    np.testing.assert_array_equal(own_net.weight, before[0])
    np.testing.assert_array_equal(own_net.bias, before[1])
    assert own_net.weight.dtype == F32 and own_net.bias.dtype == F32


# Cases 2 and 3 of the network example, verbatim with ad.nn.Dense and ad.nn.MSELoss reached through
# globals; every gradient is also checked against central finite differences, in float64.

def _numeric(fn, args, weights):
    """Finite differences of fn's first output, in float64, on float64 copies of the Parameters."""
    from tests.support import numeric_weight_grads
    saved = [np.array(w) for w in weights]
    wide = [ad.Parameter(np.asarray(w, np.float64)) for w in weights]
    seed_net.weight, seed_net.bias = wide
    try:
        wide_args = tuple(np.asarray(a, np.float64) for a in args)
        return numeric_weight_grads(lambda *a: fn(*a)[0], wide_args, wide)
    finally:
        seed_net.weight, seed_net.bias = weights
        for w, s in zip(weights, saved):
            np.testing.assert_array_equal(w, s)


def test_grad_network_case_2_weights_only():
    inputs, labels = _network_data()
    weights = seed_net.trainable_params()
    grad_fn = ad.grad(seed_forward, grad_position=None, weights=weights, has_aux=True)
    params_gradient, (aux_logits,) = grad_fn(inputs, labels)
    assert len(weights) == len(params_gradient) == 2
    assert aux_logits.shape == (16, 1)
    for g, w, expected in zip(params_gradient, weights, _numeric(seed_forward, (inputs, labels), weights)):
        assert g.shape == w.shape and g.dtype == F32
        np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-5)


def test_grad_network_case_3_inputs_and_weights():
    inputs, labels = _network_data()
    weights = seed_net.trainable_params()
    grad_fn = ad.grad(seed_forward, grad_position=0, weights=weights, has_aux=False)
    inputs_gradient, params_gradient = grad_fn(inputs, labels)
    assert len(weights) == len(params_gradient) == 2
    assert inputs_gradient.shape == inputs.shape and inputs_gradient.dtype == F32
    # Without has_aux both outputs are differentiated (each seeded with ones): loss + sum(logits).
    logits = inputs.astype(np.float64) @ np.asarray(seed_net.weight, np.float64).T + np.asarray(seed_net.bias)
    dlogits = 2 * (logits - labels) / 16 + 1.0
    np.testing.assert_allclose(inputs_gradient, dlogits @ np.asarray(seed_net.weight, np.float64), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(params_gradient[0], dlogits.T @ inputs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(params_gradient[1], dlogits.sum(axis=0), rtol=1e-4, atol=1e-5)


def test_vjp_with_weights():
    inputs, labels = _network_data()
    weights = seed_net.trainable_params()
    outputs, vjp_fn, aux_logits = ad.vjp(seed_forward, inputs, labels, weights=weights, has_aux=True)
    assert np.ndim(outputs) == 0 and aux_logits.shape == (16, 1)
    input_grads, weight_grads = vjp_fn(F32(1.0))
    assert len(input_grads) == 2 and len(weight_grads) == 2
    expected = ad.grad(seed_forward, grad_position=(0, 1), weights=weights, has_aux=True)(inputs, labels)[0]
    for got, want in zip(input_grads + weight_grads, expected[0] + expected[1]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    (g_inputs, _), (g_weight, _) = vjp_fn(F32(2.0))  # linear in the cotangent
    np.testing.assert_allclose(g_weight, 2 * weight_grads[0], rtol=1e-6)
