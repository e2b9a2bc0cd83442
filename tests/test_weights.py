"""weights=: gradients with respect to Parameters reached through attributes, methods, child Cells,
globals, closures, lists and arguments, each checked against central finite differences in float64."""

import numpy as np
import pytest

import autodiff_st as ad
from tests.support import check_weight_grads, line_of, numeric_weight_grads

RNG = np.random.default_rng(3)


def param(*shape, name=None):
    return ad.Parameter(RNG.standard_normal(shape), name=name)


def data(*shape):
    return RNG.standard_normal(shape)


# --------------------------------------------------------------------------------------------------
# How Parameters are reached

class Affine(ad.nn.Cell):
    def __init__(self, n_in, n_out):
        self.w = param(n_out, n_in, name="w")
        self.b = param(n_out, name="b")

    def construct(self, x):
        return np.tanh(x @ self.w.T + self.b)


def test_attributes_in_construct():
    net = Affine(3, 2)
    x = data(4, 3)
    check_weight_grads(net, (x,), net.trainable_params())


def test_inputs_and_weights_together():
    net = Affine(3, 2)
    x = data(4, 3)
    check_weight_grads(net, (x,), net.trainable_params(), grad_position=0)


class WithMethods(ad.nn.Cell):
    def __init__(self):
        self.w = param(3, 3)
        self.v = param(3)
        self.scale = 0.5  # a float attribute, not a Parameter

    def features(self, x):
        return np.sin(x @ self.w) * self.scale

    def head(self, h):
        return h @ self.v

    def construct(self, x):
        return np.sum(self.head(self.features(x)) ** 2)


def test_methods_called_from_construct():
    net = WithMethods()
    check_weight_grads(net, (data(5, 3),), net.trainable_params())


class Stack(ad.nn.Cell):
    def __init__(self, first, second):
        self.first = first
        self.second = second

    def construct(self, x):
        return self.second(self.first(x))


def test_child_cells():
    net = Stack(Affine(3, 4), Affine(4, 2))
    assert len(net.trainable_params()) == 4
    check_weight_grads(net, (data(2, 3),), net.trainable_params(), grad_position=0)


def test_a_parameter_shared_by_two_layers_gets_the_total():
    first, second = Affine(3, 3), Affine(3, 3)
    second.w = first.w  # one Parameter, used by both layers
    net = Stack(first, second)
    weights = net.trainable_params()
    assert len(weights) == 3 and weights[0] is first.w
    x = data(2, 3)
    got = check_weight_grads(net, (x,), weights)
    # Untied, with a copy in the second layer: the shared gradient is the sum of the two uses' gradients.
    untied = Stack(first, Affine(3, 3))
    untied.second.w, untied.second.b = ad.Parameter(np.array(first.w)), second.b
    g_first, g_second = ad.grad(untied, grad_position=None, weights=[first.w, untied.second.w])(x)
    np.testing.assert_allclose(got[0], g_first + g_second, rtol=1e-12)
    assert np.abs(g_first).max() > 1e-3 and np.abs(g_second).max() > 1e-3


class Chain(ad.nn.Cell):
    def __init__(self, sizes):
        self.layers = [Affine(a, b) for a, b in zip(sizes, sizes[1:])]

    def construct(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_list_of_cells():
    net = Chain([3, 4, 4, 2])
    assert len(net.trainable_params()) == 6
    check_weight_grads(net, (data(2, 3),), net.trainable_params())


class ListOfParameters(ad.nn.Cell):
    def __init__(self):
        self.ws = [param(3, 3), param(3, 3)]

    def construct(self, x):
        for w in self.ws:
            x = np.tanh(x @ w)
        return x + self.ws[0][0]


def test_a_list_of_parameters():
    net = ListOfParameters()
    check_weight_grads(net, (data(2, 3),), net.trainable_params())


class Recurrent(ad.nn.Cell):
    def __init__(self):
        self.w = param(3, 3)

    def construct(self, h, steps):
        for _ in range(steps):
            h = np.tanh(h @ self.w)  # the same Parameter at every step
        return h


def test_several_uses_in_a_loop():
    net = Recurrent()
    check_weight_grads(net, (data(2, 3), 4), [net.w])


W_GLOBAL = ad.Parameter(RNG.standard_normal((3, 2)))
B_GLOBAL = ad.Parameter(RNG.standard_normal(2))


def uses_globals(x):
    h = x @ W_GLOBAL + B_GLOBAL
    return np.sum(h * h) + np.sum(W_GLOBAL)


def test_parameters_in_globals():
    check_weight_grads(uses_globals, (data(4, 3),), [W_GLOBAL, B_GLOBAL], grad_position=0)


def test_parameters_in_closures():
    w = param(3)
    c = param()

    def loss(x):
        return np.sum(np.exp(x * w)) * c

    check_weight_grads(loss, (data(3),), [w, c])


def helper(x, w):
    return np.sin(x * w)


def test_parameters_passed_as_arguments_to_the_users_functions():
    w = param(3)

    def loss(x):
        return np.sum(helper(x, w) * helper(w, x))  # two uses, through a differentiated argument each time

    check_weight_grads(loss, (data(3),), [w])


def test_a_parameter_passed_as_an_argument_not_differentiated():
    w = param(3)

    def loss(x, weight):
        return np.sum(np.cos(x * weight))

    check_weight_grads(loss, (data(3), w), [w], grad_position=0)


def test_a_parameter_passed_as_a_differentiated_argument_counts_for_both():
    w = param(3)

    def loss(x):
        return np.sum(x ** 3)

    x_grad, (w_grad,) = ad.grad(loss, grad_position=0, weights=[w])(w)
    np.testing.assert_allclose(x_grad, 3 * np.asarray(w) ** 2)
    np.testing.assert_allclose(w_grad, x_grad)


def test_a_weight_the_function_never_reads_gets_zeros():
    net = Affine(3, 2)
    unused = ad.Parameter(np.ones((2, 2), np.float32))
    w_grad, unused_grad = ad.grad(net, grad_position=None, weights=[net.w, unused])(data(1, 3))
    assert unused_grad.dtype == np.float32 and unused_grad.shape == (2, 2) and not unused_grad.any()
    assert w_grad.shape == (2, 3)


def test_a_rebound_global_is_seen():
    global W_GLOBAL
    saved = W_GLOBAL
    x = data(4, 3)
    grad_fn = ad.grad(uses_globals, grad_position=None, weights=[saved])
    first = grad_fn(x)[0]
    try:
        W_GLOBAL = ad.Parameter(np.array(saved) * 2.0)
        again = ad.grad(uses_globals, grad_position=None, weights=[W_GLOBAL, saved])(x)
        assert not again[1].any()  # the old Parameter is no longer read
        np.testing.assert_allclose(again[0], numeric_weight_grads(uses_globals, (x,), [W_GLOBAL])[0], rtol=1e-6)
        assert not np.allclose(again[0], first)
    finally:
        W_GLOBAL = saved


# --------------------------------------------------------------------------------------------------
# What comes back

def test_result_structures():
    net = Affine(3, 2)
    w, b = net.trainable_params()
    x = data(4, 3)

    def with_aux(x):
        y = net(x)
        return np.sum(y), y

    weights_only = ad.grad(net, grad_position=None, weights=net.trainable_params())(x)
    assert isinstance(weights_only, tuple) and len(weights_only) == 2
    (gx, (gw, gb)) = ad.grad(net, grad_position=0, weights=[w, b])(x)
    assert gx.shape == x.shape
    np.testing.assert_allclose(gw, weights_only[0])
    single = ad.grad(net, grad_position=None, weights=w)(x)
    np.testing.assert_allclose(single, gw)
    as_dict = ad.grad(net, grad_position=None, grad_vars={"w": w, "b": b})(x)
    assert set(as_dict) == {"w", "b"}
    np.testing.assert_allclose(as_dict["b"], gb)
    (gw2, gb2), (aux,) = ad.grad(with_aux, grad_position=None, weights=[w, b], has_aux=True)(x)
    assert aux.shape == (4, 2)
    np.testing.assert_allclose(gw2, gw)
    value, (gw3, gb3) = ad.value_and_grad(net, grad_position=None, weights=[w, b])(x)
    np.testing.assert_allclose(value, net(x))
    np.testing.assert_allclose(gb3, gb)
    (gx4, (gw4, gb4)), value4 = ad.grad(net, weights=[w, b], return_value=True)(x)
    np.testing.assert_allclose(value4, net(x))
    np.testing.assert_allclose(gx4, gx)


def test_vjp_with_weights():
    net = Affine(3, 2)
    x = data(4, 3)
    v = data(4, 2)
    out, vjp_fn = ad.vjp(net, x, weights=net.trainable_params())
    np.testing.assert_allclose(out, net(x))

    def weighted(x):
        return net(x) * v

    for _ in range(2):  # vjp_fn may run again
        (gx,), (gw, gb) = vjp_fn(v)
        expected = numeric_weight_grads(weighted, (x,), net.trainable_params())
        np.testing.assert_allclose(gw, expected[0], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, expected[1], rtol=1e-6, atol=1e-8)
    assert gx.shape == x.shape
    assert "collect_weight_grad" in ad.source(vjp_fn)
    with pytest.raises(ad.CotangentError):
        vjp_fn(np.ones(3))


def test_vjp_with_weights_and_aux():
    net = Affine(3, 2)

    def fn(x):
        y = net(x)
        return y, np.sum(y)

    out, vjp_fn, aux = ad.vjp(fn, data(2, 3), grad_vars=[net.w], has_aux=True)
    (gx,), (gw,) = vjp_fn(np.ones_like(out))
    assert np.ndim(aux) == 0 and gw.shape == (2, 3)


def test_parameters_are_not_changed_and_gradients_are_plain_arrays():
    net = Affine(3, 2)
    before = np.array(net.w)
    gw, gb = ad.grad(net, grad_position=None, weights=net.trainable_params())(data(2, 3))
    np.testing.assert_array_equal(net.w, before)
    assert type(gw) is np.ndarray and type(gb) is np.ndarray


def test_the_no_weights_path_is_unchanged():
    net = Affine(3, 2)
    x = data(2, 3)
    assert "collect_weight_grad" not in ad.source(ad.grad(net))
    g = ad.grad(net)(x)
    assert g.shape == x.shape


# --------------------------------------------------------------------------------------------------
# Errors

def test_weights_and_grad_vars_together_is_a_type_error():
    w = param(2)
    with pytest.raises(TypeError, match="grad_vars"):
        ad.grad(np.sum, weights=[w], grad_vars=[w])
    with pytest.raises(TypeError, match="grad_vars"):
        ad.vjp(np.sin, np.ones(2), weights=[w], grad_vars=[w])


def test_no_positions_and_no_weights_is_a_value_error_at_grad():
    with pytest.raises(ValueError):
        ad.value_and_grad(np.sum, grad_position=None, grad_vars=None)


def test_weights_must_be_parameters():
    with pytest.raises(TypeError, match="ad.Parameter"):
        ad.grad(np.sum, weights=[np.ones(2)])
    with pytest.raises(TypeError, match="Parameter"):
        ad.grad(np.sum, weights=3)


class WritesIntoParameter(ad.nn.Cell):
    def __init__(self):
        self.w = param(3)

    def subscript(self, x):
        self.w[0] = 1.0
        return np.sum(x * self.w)

    def augmented(self, x):
        w = self.w
        w += x
        return np.sum(w)

    def method(self, x):
        self.w.fill(0.0)
        return np.sum(x * self.w)

    def out_argument(self, x):
        np.multiply(x, 2.0, out=self.w)
        return np.sum(x * self.w)


@pytest.mark.parametrize("method, needle", [
    ("subscript", "self.w[0] = 1.0"), ("augmented", "w += x"), ("method", "self.w.fill(0.0)"),
    ("out_argument", "np.multiply(x, 2.0, out=self.w)"),
])
def test_changing_a_parameter_in_place_is_refused(method, needle):
    net = WritesIntoParameter()
    before = np.array(net.w)
    fn = getattr(net, method)
    with pytest.raises(ad.AutodiffError) as info:
        ad.grad(fn, grad_position=None, weights=[net.w])(data(3))
    line, text = line_of(getattr(WritesIntoParameter, method), needle)
    message = str(info.value)
    assert f"line {line}" in message and text in message and "test_weights.py" in message
    np.testing.assert_array_equal(net.w, before)  # refused before anything ran


class StoresAView(ad.nn.Cell):
    def __init__(self):
        self.w = param(2, 3)
        self.w_t = self.w.T  # a view of the Parameter, itself read below

    def construct(self, x):
        return np.sum(x @ self.w_t)


def test_a_stored_view_of_a_parameter_is_refused():
    net = StoresAView()
    with pytest.raises(ad.AutodiffError, match="view of the Parameter"):
        ad.grad(net, grad_position=None, weights=[net.w])(data(1, 3))


def test_dense_and_mse_loss():
    dense = ad.nn.Dense(3, 2, dtype=np.float64, seed=0)
    assert dense.weight.shape == (2, 3) and dense.bias.shape == (2,)
    assert [p.name for p in dense.trainable_params()] == ["weight", "bias"]
    x, y = data(5, 3), data(5, 2)
    np.testing.assert_allclose(dense(x), x @ np.asarray(dense.weight).T + np.asarray(dense.bias))
    loss_fn = ad.nn.MSELoss()
    assert loss_fn(x, x + 2.0) == pytest.approx(4.0)

    def loss(x, y):
        return loss_fn(dense(x), y)

    check_weight_grads(loss, (x, y), dense.trainable_params(), grad_position=(0, 1))
    no_bias = ad.nn.Dense(3, 2, has_bias=False, dtype=np.float64, seed=1)
    assert len(no_bias.trainable_params()) == 1
    check_weight_grads(no_bias, (x,), no_bias.trainable_params())


def test_train_regression_example_loss_falls():
    import pathlib
    import re
    import subprocess
    import sys

    script = pathlib.Path(__file__).parent.parent / "examples" / "train_regression.py"
    run = subprocess.run([sys.executable, str(script), "--steps", "30"], capture_output=True, text=True,
                         timeout=120, check=True)
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", run.stdout)]
    assert len(losses) >= 3, run.stdout
    assert losses[-1] < 0.7 * losses[0], run.stdout
    assert all(b <= a for a, b in zip(losses, losses[1:])), run.stdout  # reported every few steps


@pytest.mark.parametrize("fn_name, needle", [("writes_named", "w[0] = 1.0"), ("writes_global", "W_GLOBAL[0] = 2.0")])
def test_writes_into_parameters_through_names_are_refused(fn_name, needle):
    fn = globals()[fn_name]
    with pytest.raises(ad.AutodiffError) as info:
        ad.grad(fn, grad_position=None, weights=[W_GLOBAL])(data(3, 2) if fn_name == "writes_named" else data(3))
    line, text = line_of(fn, needle)
    assert f"line {line}" in str(info.value) and text in str(info.value)


def writes_named(x):
    w = W_GLOBAL
    w[0] = 1.0
    return np.sum(x @ w)


def writes_global(x):
    W_GLOBAL[0] = 2.0
    return np.sum(x @ W_GLOBAL)
