"""jacrev with weights= (and its alias grad_vars=): Jacobians with respect to Parameters reached through
attributes, child Cells and their methods, lists of layers, globals and closures. Every weight Jacobian is
checked against central finite differences in float64 (each Parameter element changed in place and put
back), at chunk_size None (one batched backward pass), 2 (batches of two rows) and 1 (a loop of single
backward passes), which must agree to 1e-12."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import batching
from autodiff_st.runtime import batched as batching_runtime
from autodiff_st.runtime.weights import WeightGradients, collect_weight_grad

RNG = np.random.default_rng(7)
CHUNKS = (None, 1, 2)


def param(*shape, name=None):
    return ad.Parameter(RNG.standard_normal(shape), name=name)


def data(*shape):
    return RNG.standard_normal(shape)


def dense(n_in, n_out, seed):
    return ad.nn.Dense(n_in, n_out, dtype=np.float64, seed=seed, bias_init=RNG.standard_normal(n_out))


# --------------------------------------------------------------------------------------------------
# Finite differences, and the structure jacrev promises

def _leaves(out):
    return list(out) if isinstance(out, tuple) else [out]


def numeric_weight_jacobian(fn, args, w, k, eps=1e-6):
    """d fn(*args)[k] / d w by central differences, changing each element of the Parameter ``w`` in place."""
    shape = np.shape(_leaves(fn(*args))[k])
    jac = np.zeros(shape + w.shape)
    for i in np.ndindex(w.shape):
        old = w[i].copy()
        w[i] = old + eps
        plus = np.asarray(_leaves(fn(*args))[k], dtype=np.float64)
        w[i] = old - eps
        minus = np.asarray(_leaves(fn(*args))[k], dtype=np.float64)
        w[i] = old
        jac[(Ellipsis,) + i] = (plus - minus) / (2 * eps)
    return jac


def numeric_input_jacobian(fn, args, p, k, eps=1e-6):
    """d fn(*args)[k] / d args[p] by central differences, on a copy of the argument (a Parameter passed as
    an argument is changed only there, not where the function reads it through a global or attribute)."""
    x = np.array(args[p], dtype=np.float64)
    shape = np.shape(_leaves(fn(*args))[k])
    jac = np.zeros(shape + x.shape)
    for i in np.ndindex(x.shape):
        moved = []
        for step in (eps, -eps):
            y = x.copy()
            y[i] += step
            moved.append(np.asarray(_leaves(fn(*args[:p], y, *args[p + 1:]))[k], dtype=np.float64))
        jac[(Ellipsis,) + i] = (moved[0] - moved[1]) / (2 * eps)
    return jac


def expected_jacobians(fn, args, weights, positions):
    """What jacrev(fn, grad_position=positions, weights=weights) must return, by finite differences."""
    out = fn(*args)
    tuple_out = isinstance(out, tuple)
    if isinstance(weights, ad.Parameter):
        params, shape = [weights], lambda js: js[0]
    elif isinstance(weights, dict):
        params, shape = list(weights.values()), lambda js: dict(zip(weights, js))
    else:
        params, shape = list(weights), tuple
    per_output = []
    for k in range(len(_leaves(out))):
        weight_jacs = shape([numeric_weight_jacobian(fn, args, w, k) for w in params])
        if positions is None:
            per_output.append(weight_jacs)
            continue
        inputs = [numeric_input_jacobian(fn, args, p, k) for p in
                  ((positions,) if isinstance(positions, int) else positions)]
        per_output.append((inputs[0] if isinstance(positions, int) else tuple(inputs), weight_jacs))
    if positions is None:
        return tuple(per_output) if tuple_out else per_output[0]
    input_jacs = tuple(j for j, _ in per_output) if tuple_out else per_output[0][0]
    weight_jacs = tuple(w for _, w in per_output) if tuple_out else per_output[0][1]
    return input_jacs, weight_jacs


def assert_tree_close(got, expected, rtol, atol):
    """Same nesting (tuples, dicts, arrays) and close leaves, with the expected shapes."""
    if isinstance(expected, tuple):
        assert type(got) is tuple and len(got) == len(expected), (type(got), got)
        for g, e in zip(got, expected):
            assert_tree_close(g, e, rtol, atol)
    elif isinstance(expected, dict):
        assert type(got) is dict and list(got) == list(expected)
        for key in expected:
            assert_tree_close(got[key], expected[key], rtol, atol)
    else:
        assert type(got) is np.ndarray and got.shape == np.shape(expected), (type(got), np.shape(got))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def check(fn, args, weights, positions=None):
    """jacrev with weights at every chunk size: the chunk sizes agree to 1e-12, and match finite differences."""
    results = {c: ad.jacrev(fn, grad_position=positions, weights=weights, chunk_size=c)(*args) for c in CHUNKS}
    for c in CHUNKS[1:]:
        assert_tree_close(results[c], results[None], rtol=1e-12, atol=1e-12)
    assert_tree_close(results[None], expected_jacobians(fn, args, weights, positions), rtol=1e-6, atol=1e-7)
    return results[None]


# --------------------------------------------------------------------------------------------------
# The functions

class MLP(ad.nn.Cell):
    """Dense layers in a list, and a loss Cell: construct gives a matrix, loss a scalar."""

    def __init__(self):
        self.layers = [dense(3, 4, 0), dense(4, 4, 1), dense(4, 2, 2)]
        self.loss_fn = ad.nn.MSELoss()

    def construct(self, x):
        h = x
        for layer in self.layers[:-1]:
            h = np.tanh(layer(h))
        return self.layers[-1](h)

    def loss(self, x, y):
        return self.loss_fn(self(x), y)


class TwoHeads(ad.nn.Cell):
    """A tuple output: a vector and a scalar."""

    def __init__(self):
        self.body = dense(3, 4, 3)
        self.head = dense(4, 2, 4)

    def construct(self, x):
        h = np.sin(self.body(x))
        return self.head(h)[0], np.sum(h ** 2)


class Shared(ad.nn.Cell):
    """One Parameter used by two layers: its Jacobian is the total over both uses."""

    def __init__(self):
        self.first = dense(3, 3, 5)
        self.second = dense(3, 3, 6)
        self.second.weight = self.first.weight

    def construct(self, x):
        return self.second(np.tanh(self.first(x)))


class Encoder(ad.nn.Cell):
    def __init__(self):
        self.proj = dense(3, 4, 7)
        self.gain = param(4, name="gain")

    def features(self, x):
        return np.tanh(self.proj(x)) * self.gain


class Model(ad.nn.Cell):
    """A Cell calling a child Cell's method, and a Parameter it never reads."""

    def __init__(self):
        self.encoder = Encoder()
        self.head = dense(4, 2, 8)
        self.unused = param(2, 3, name="unused")

    def construct(self, x):
        return self.head(self.encoder.features(x))


G_SCALE = param(3, name="g_scale")  # read through a global


def make_closure():
    mixing = param(3, 2, name="mixing")  # read through a closure

    def f(x):
        return np.sin(x * G_SCALE) @ mixing

    return f, mixing


CASES = {
    "dense_layers": lambda: (MLP(), (data(2, 3),)),
    "tuple_output": lambda: (TwoHeads(), (data(3),)),
    "shared_parameter": lambda: (Shared(), (data(2, 3),)),
    "child_cell_method_and_unread_parameter": lambda: (Model(), (data(2, 3),)),
}


@pytest.mark.parametrize("positions", [None, 0, (0,)], ids=["none", "int", "tuple"])
@pytest.mark.parametrize("case", list(CASES))
def test_weight_jacobians_match_finite_differences(case, positions):
    net, args = CASES[case]()
    check(net, args, net.trainable_params(), positions)


def test_global_and_closure():
    f, mixing = make_closure()
    x = data(4, 3)
    for positions in (None, 0, (0,)):
        check(f, (x,), [G_SCALE, mixing], positions)


def test_loss_of_a_cell_with_two_inputs():
    net = MLP()
    x, y = data(5, 3), data(5, 2)
    check(net.loss, (x, y), net.trainable_params(), positions=(0, 1))


def test_a_parameter_never_read_gets_zeros_at_every_chunk_size():
    net = Model()
    for c in CHUNKS:
        jac = ad.jacrev(net, grad_position=None, weights=[net.unused, net.head.bias], chunk_size=c)(data(2, 3))
        assert jac[0].shape == (2, 2, 2, 3) and not jac[0].any()
        assert jac[1].shape == (2, 2, 2) and jac[1].any()


def test_shared_parameter_is_the_total_of_both_uses():
    net = Shared()
    x = data(2, 3)
    jac_w = ad.jacrev(net, grad_position=None, weights=net.first.weight)(x)
    # Two Parameters in place of the shared one: the shared Jacobian is the sum of theirs.
    twin = Shared()
    twin.first.weight[...] = net.first.weight
    twin.second.weight = ad.Parameter(np.array(net.first.weight))
    twin.first.bias[...], twin.second.bias[...] = net.first.bias, net.second.bias
    first, second = ad.jacrev(twin, grad_position=None, weights=[twin.first.weight, twin.second.weight])(x)
    assert np.abs(first).max() > 1e-3 and np.abs(second).max() > 1e-3
    np.testing.assert_allclose(jac_w, first + second, rtol=1e-12, atol=1e-14)


def test_a_parameter_passed_as_a_differentiated_argument_counts_toward_its_weight():
    W = param(2, 3, name="W")
    b = param(2, name="b")

    def f(bias, x):
        return np.tanh(x @ W.T + bias) + b * np.sum(W)  # b is also read through the closure

    x = data(3)
    for c in CHUNKS:
        (jac_bias, (jac_W, jac_b)) = ad.jacrev(f, grad_position=0, weights=[W, b], chunk_size=c)(b, x)
        # as an input: only the use through the argument; as a weight: the total over both uses
        np.testing.assert_allclose(jac_bias, numeric_input_jacobian(f, (b, x), 0, 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(jac_b, numeric_weight_jacobian(f, (b, x), b, 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(jac_W, numeric_weight_jacobian(f, (b, x), W, 0), rtol=1e-6, atol=1e-8)
        assert not np.allclose(jac_b, jac_bias)


# --------------------------------------------------------------------------------------------------
# Return structures

def test_forms_of_weights_one_parameter_tuple_and_dict():
    net = MLP()
    x = data(2, 3)
    w, b = net.layers[0].weight, net.layers[0].bias
    as_tuple = ad.jacrev(net, grad_position=None, weights=(w, b))(x)
    one = ad.jacrev(net, grad_position=None, weights=w)(x)
    as_dict = ad.jacrev(net, grad_position=None, weights={"w": w, "b": b})(x)
    assert type(as_tuple) is tuple and len(as_tuple) == 2
    assert type(one) is np.ndarray and one.shape == (2, 2) + w.shape
    assert type(as_dict) is dict and list(as_dict) == ["w", "b"]
    np.testing.assert_array_equal(one, as_tuple[0])
    np.testing.assert_array_equal(as_dict["w"], as_tuple[0])
    np.testing.assert_array_equal(as_dict["b"], as_tuple[1])
    check(net, (x,), {"w": w, "b": b}, positions=0)
    check(net, (x,), b, positions=None)


def test_tuple_outputs_nest_outputs_outside_in_both_parts():
    net = TwoHeads()
    x = data(3)
    params = net.trainable_params()
    input_jacs, weight_jacs = ad.jacrev(net, grad_position=0, weights=params)(x)
    outs = net(x)
    assert len(input_jacs) == 2 and len(weight_jacs) == 2
    for k, out in enumerate(outs):
        assert input_jacs[k].shape == np.shape(out) + x.shape
        assert len(weight_jacs[k]) == len(params)
        for w, jac in zip(params, weight_jacs[k]):
            assert jac.shape == np.shape(out) + w.shape
    by_dict = ad.jacrev(net, grad_position=None, weights={"body_w": net.body.weight})(x)
    assert type(by_dict) is tuple and [list(d) for d in by_dict] == [["body_w"], ["body_w"]]


def aux_fn(x):
    h = np.tanh(x @ G_SCALE[:, None] * 2.0)
    return h[:, 0] * 3.0, np.sum(h), "tag"


@pytest.mark.parametrize("chunk", CHUNKS)
def test_has_aux_and_return_value(chunk):
    x = data(4, 3)
    plain = ad.jacrev(lambda x: aux_fn(x)[0], grad_position=0, weights=[G_SCALE], chunk_size=chunk)(x)
    expected_aux = aux_fn(x)[1:]
    value = aux_fn(x)[0]

    jac, aux = ad.jacrev(aux_fn, grad_position=0, weights=[G_SCALE], has_aux=True, chunk_size=chunk)(x)
    assert_tree_close(jac, plain, rtol=1e-12, atol=1e-14)
    assert aux[0] == expected_aux[0] and aux[1] == "tag"

    jac, val = ad.jacrev(lambda x: aux_fn(x)[0], grad_position=None, weights=G_SCALE, return_value=True,
                         chunk_size=chunk)(x)
    assert_tree_close(jac, plain[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(val, value)

    jac, val, aux = ad.jacrev(aux_fn, grad_position=None, weights={"g": G_SCALE}, has_aux=True,
                              return_value=True, chunk_size=chunk)(x)
    assert list(jac) == ["g"]
    np.testing.assert_allclose(jac["g"], plain[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(val, value)
    assert aux[1] == "tag"
    np.testing.assert_allclose(plain[1][0], numeric_weight_jacobian(lambda x: aux_fn(x)[0], (x,), G_SCALE, 0),
                               rtol=1e-6, atol=1e-8)


def test_grad_vars_is_an_alias_and_both_is_a_type_error():
    net = MLP()
    x = data(2, 3)
    params = net.trainable_params()
    by_weights = ad.jacrev(net, grad_position=0, weights=params)(x)
    by_alias = ad.jacrev(net, grad_position=0, grad_vars=params)(x)
    assert_tree_close(by_alias, by_weights, rtol=0, atol=0)
    with pytest.raises(TypeError, match="grad_vars"):
        ad.jacrev(net, weights=params, grad_vars=params)


def test_errors():
    with pytest.raises(ValueError, match="both None"):
        ad.jacrev(np.sin, grad_position=None)
    with pytest.raises(TypeError, match="Parameter"):
        ad.jacrev(np.sin, weights=[np.ones(2)])
    with pytest.raises(ad.AutodiffError, match="weights"):
        ad.jacrev(ad.jacrev(np.sin), weights=[G_SCALE])
    f, mixing = make_closure()
    for outer in (ad.jacrev, ad.jacfwd):  # differentiating a jacrev with weights again: refused, not ignored
        with pytest.raises(ad.AutodiffError, match="weights="):
            outer(ad.jacrev(f, weights=mixing))(data(4, 3))


def test_grad_with_weights_differentiated_again_is_refused():
    def energy(x):
        return np.sum(np.sin(x * G_SCALE))

    for outer in (ad.jacrev, ad.jacfwd):  # not the Jacobian of the input gradient alone, silently
        with pytest.raises(ad.AutodiffError, match="weights="):
            outer(ad.grad(energy, weights=G_SCALE))(data(3))


def test_container_inputs_and_weights():
    """A tuple at a differentiated position: its Jacobians in its structure, the weights' as usual."""
    W = param(2, 2, name="W")

    def f(xs, y):
        return np.tanh(W @ xs[0]) * xs[1] + y

    xs, y = (data(2), data(2)), data(2)
    flat = lambda a, b, y: f((a, b), y)  # noqa: E731 - the same function of the leaves, for the differences
    for c in CHUNKS:
        (jac_xs, jac_y), jac_W = ad.jacrev(f, grad_position=(0, 1), weights=W, chunk_size=c)(xs, y)
        assert type(jac_xs) is tuple and len(jac_xs) == 2
        for k in range(2):
            np.testing.assert_allclose(jac_xs[k], numeric_input_jacobian(flat, (*xs, y), k, 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(jac_y, np.eye(2), rtol=1e-12)
        np.testing.assert_allclose(jac_W, numeric_weight_jacobian(f, (xs, y), W, 0), rtol=1e-6, atol=1e-8)


def test_decorator_form():
    scale = param(2)

    @ad.jacrev(grad_position=None, weights=scale)
    def f(x):
        return np.exp(x * scale)

    x = data(2)
    np.testing.assert_allclose(f(x), np.diag(x * np.exp(x * scale)), rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Agreement with grad, precision, composition, source

@pytest.mark.parametrize("positions", [None, 0, (0, 1)])
def test_scalar_output_agrees_with_grad(positions):
    net = MLP()
    x, y = data(5, 3), data(5, 2)
    params = net.trainable_params()
    for chunk in CHUNKS:
        jac = ad.jacrev(net.loss, grad_position=positions, weights=params, chunk_size=chunk)(x, y)
        grads = ad.grad(net.loss, grad_position=positions, weights=params)(x, y)
        assert_tree_close(jac, grads, rtol=1e-12, atol=1e-14)


def test_float32_parameters_and_float64_data():
    """A Jacobian has the dtype of the output and the Parameter together (grad gives the Parameter's)."""
    layer = ad.nn.Dense(3, 2, seed=0)  # float32 Parameters
    x = data(3)
    jac_w, jac_b = ad.jacrev(layer, grad_position=None, weights=layer.trainable_params())(x)
    assert jac_w.dtype == np.float64 and jac_b.dtype == np.float64
    np.testing.assert_allclose(jac_w, np.einsum("ij,k->ijk", np.eye(2), x), rtol=1e-14)
    np.testing.assert_array_equal(jac_b, np.eye(2))
    x32 = x.astype(np.float32)
    jac_w, _ = ad.jacrev(layer, grad_position=None, weights=layer.trainable_params())(x32)
    assert jac_w.dtype == np.float32


def test_vmap_of_jacrev_with_weights():
    net = Model()
    params = net.trainable_params()
    xs = data(4, 3)
    jacobian = ad.jacrev(net, grad_position=None, weights=params)
    batched = ad.vmap(jacobian)(xs)
    for i in range(len(xs)):
        assert_tree_close(tuple(j[i] for j in batched), jacobian(xs[i]), rtol=1e-12, atol=1e-14)


def test_source_is_the_weights_adjoint():
    net = Model()
    jacobian = ad.jacrev(net, grad_position=None, weights=net.trainable_params())
    before = ad.source(jacobian)
    assert "collect_weight_grad" in before and "def construct_backward(residuals, out_bar)" in before
    jacobian(data(2, 3))
    after = ad.source(jacobian)
    assert "call_vjp_forward_weights" in after and "collect_weight_grad" not in ad.source(ad.jacrev(net))
    assert ad.source(jacobian) == after  # deterministic


def test_batched_path_runs_one_backward_pass_per_chunk(monkeypatch):
    """chunk_size None: one batched backward pass, the cotangent carrying all rows; the collector gets
    Batched cotangents (and no per-row fallback is taken)."""
    net = MLP()
    x = data(3, 3)
    seen = []
    original = WeightGradients.add

    def spy(self, value, g):
        seen.append((self.batch, type(g).__name__))
        return original(self, value, g)

    monkeypatch.setattr(WeightGradients, "add", spy)
    with batching_runtime.recording() as fallbacks:
        ad.jacrev(net, grad_position=None, weights=net.trainable_params())(x)
    one_pass = list(seen)
    seen.clear()
    ad.jacrev(net, grad_position=None, weights=net.trainable_params(), chunk_size=4)(x)
    chunks = list(seen)
    seen.clear()
    ad.jacrev(net, grad_position=None, weights=net.trainable_params(), chunk_size=1)(x)
    rows = list(seen)
    assert fallbacks == []
    assert one_pass == [(6, "Batched")] * 6  # six Parameters read once each, for all 6 rows at once
    assert chunks == [(4, "Batched")] * 6 + [(2, "Batched")] * 6
    assert len(rows) == 6 * 6 and all(batch is None for batch, _ in rows)


# --------------------------------------------------------------------------------------------------
# The collector under a batched backward pass, hand-written here to reach every path: a cotangent that is
# batched, one that does not depend on the rows, and a function that falls back to one run per row
# after it has collected something batched (which must be taken back)

HELD = ad.Parameter(np.array([1.0, -2.0, 0.5]))


def backward_without_a_branch(residuals, g):
    collect_weight_grad(HELD, g * residuals)
    collect_weight_grad(HELD, residuals)  # a cotangent that does not depend on g: the same for every row
    return (g * 3.0,)


def backward_with_a_branch(residuals, g):
    collect_weight_grad(HELD, g * residuals)  # collected batched, before the fallback below
    if np.sum(g) > 0:  # a condition on the cotangent: the whole function runs again once per row
        collect_weight_grad(HELD, 2.0 * g)
    collect_weight_grad(HELD, residuals)
    return (g * 3.0,)


RESIDUALS = np.array([0.5, 1.5, -1.0])
V = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 2.0], [-1.0, -1.0, 0.5]])


def batched_collection(backward):
    # batching remembers a function that had to fall back and loops at once the next time: forget it, so
    # that every run makes the batched attempt that the collector must take back
    batching._LOOPED.difference_update({key for key in batching._LOOPED if key[0] is backward.__code__})
    with batching_runtime.recording() as fallbacks:
        with WeightGradients((HELD,), batch=len(V)) as collector:
            (grads,) = batching.batched_backward(backward)(RESIDUALS, V)
    return grads, collector.results("sequence")[0], bool(fallbacks)


@pytest.mark.parametrize("inside_a_loop", [False, True], ids=["alone", "inside_an_outer_loop"])
@pytest.mark.parametrize("backward, branch", [(backward_without_a_branch, False), (backward_with_a_branch, True)],
                         ids=["batched", "falls_back"])
def test_collector_of_a_batched_backward_pass(backward, branch, inside_a_loop):
    expected = []
    for v in V:  # the plain loop: one collector per row
        with WeightGradients((HELD,)) as row:
            backward(RESIDUALS, v)
        expected.append(row.results("sequence")[0])
    by_hand = V * RESIDUALS + RESIDUALS + (2.0 * V * (V.sum(axis=1) > 0)[:, None] if branch else 0.0)
    np.testing.assert_allclose(np.stack(expected), by_hand, rtol=1e-15)
    if inside_a_loop:  # as under vmap(jacrev(...)): an outer per-element loop is running already
        outer = batching_runtime.loop_call(lambda _: batched_collection(backward), (batching_runtime.Batched(
            np.zeros(2)),), {})
        grads, totals, fallbacks = (outer[0].value[1], outer[1].value[1], outer[2])
    else:
        grads, totals, fallbacks = batched_collection(backward)
    assert fallbacks == branch
    np.testing.assert_array_equal(grads, 3.0 * V)
    np.testing.assert_allclose(totals, by_hand, rtol=1e-15)
