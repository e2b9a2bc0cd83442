"""Pytrees: dataclasses, NamedTuples and classes registered with ad.register_pytree, as differentiated
arguments, outputs and auxiliary outputs of every transform. Each derivative is checked against finite
differences (check_grads, with its value check), and the Jacobians of reverse and forward mode against
each other."""

import dataclasses
import typing

import numpy as np
import pytest

import autodiff_st as ad
from tests.tree_examples import Node, Pair, Point


@dataclasses.dataclass(frozen=True)
class Params:
    w: np.ndarray
    b: float
    steps: int = 2  # not differentiated
    name: str = "layer"  # not differentiated


class State(typing.NamedTuple):
    pos: np.ndarray
    vel: np.ndarray


@dataclasses.dataclass
class Derived:
    w: np.ndarray
    norm: float = dataclasses.field(init=False)

    def __post_init__(self):
        self.norm = float(np.sum(self.w ** 2))


@dataclasses.dataclass
class Doubled:
    w: np.ndarray

    def __post_init__(self):
        self.w = self.w * 2.0


class WithProperty(typing.NamedTuple):
    w: np.ndarray

    @property
    def scaled(self):
        return self.w * 3.0


X = np.array([0.7, -1.3, 0.4])
P = Params(np.array([0.5, -1.0, 2.0]), 0.3)


def layer(p, x):
    h = x
    for _ in range(p.steps):
        h = np.tanh(p.w * h + p.b)
    return np.sum(h ** 2)


def pair_loss(q, x):
    return np.sum(np.sin(q.w * x)) * np.sum(q.b ** 2)


def node_loss(n, x):
    return np.sum(n.left * x) * np.sum(np.exp(n.right))


def point_loss(s, x):
    a, c = s  # a NamedTuple unpacks like a tuple
    return np.sum(s.x * x) + c * np.sum(a) + s.y ** 2


def make_state(x):
    return State(pos=x * 2.0, vel=np.sin(x))


def make_pair(x):
    return Pair(np.cos(x), b=x[:2] * 3.0)


def step_state(s, dt):
    return State(s.pos + dt * s.vel, s.vel - dt * s.pos)


def rollout(s, dt):
    for _ in range(3):
        s = step_state(s, dt)
    return np.sum(s.pos ** 2) + np.sum(s.vel)


def rebuilt(p, x):
    q = Params(p.w * 2.0, p.b + 1.0, p.steps, name="twice")
    return layer(q, x) * q.steps


def with_aux(p, x):
    return layer(p, x), State(p.w, x)


def loss_of_constructed(x):
    return np.sum(make_state(x).pos * make_pair(x).w)


def _assert_tree_close(a, b):
    assert type(a) is type(b)
    for u, v in zip(dataclasses.astuple(a) if dataclasses.is_dataclass(a) else tuple(a),
                    dataclasses.astuple(b) if dataclasses.is_dataclass(b) else tuple(b)):
        if isinstance(u, (str, int)) and not isinstance(u, float):
            assert u == v
        else:
            np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn, args", [
    (layer, (P, X)),
    (pair_loss, (Pair(np.array([0.3, 0.9, -0.4]), np.array([1.1, -0.6])), X)),
    (node_loss, (Node(np.array([0.2, -0.5, 0.8]), np.array([0.1, 0.3]), "n"), X)),
    (point_loss, (Point(np.array([0.2, -0.5, 0.8]), 0.6), X)),
    (rollout, (State(np.array([1.0, -0.5, 0.2]), np.array([0.3, 0.1, -0.2])), 0.1)),
    (rebuilt, (P, X)),
    (loss_of_constructed, (X,)),
], ids=["frozen-dataclass", "dataclass", "registered", "namedtuple", "constructed-in-loop", "rebuilt", "outputs"])
def test_gradients_match_finite_differences(fn, args):
    ad.testing.check_grads(fn, args)


@pytest.mark.parametrize("fn, p", [(layer, P), (node_loss, Node(np.array([0.2, -0.5, 0.8]), np.array([0.1, 0.3])))])
def test_gradient_is_an_object_of_the_argument_class(fn, p):
    g = ad.grad(fn)(p, X)
    assert type(g) is type(p)
    jr, jf = ad.jacrev(fn)(p, X), ad.jacfwd(fn)(p, X)
    assert type(jr) is type(p) and type(jf) is type(p)
    for k in ("w", "b") if isinstance(p, Params) else ("left", "right"):
        np.testing.assert_allclose(getattr(jr, k), getattr(g, k), rtol=1e-12)
        np.testing.assert_allclose(getattr(jf, k), getattr(g, k), rtol=1e-12)
    if isinstance(p, Params):  # the fields that are not differentiated are kept as they were
        assert g.steps == 2 and g.name == "layer"
    else:
        assert g.label == "node"


def test_hessian_of_a_dataclass_argument():
    h = ad.hessian(pair_loss)(Pair(np.array([0.3, 0.9, -0.4]), np.array([1.1, -0.6])), X)
    q = Pair(np.array([0.3, 0.9, -0.4]), np.array([1.1, -0.6]))
    eps = 1e-6
    g0 = ad.grad(pair_loss)
    for i in range(3):  # the w-row of the Hessian by finite differences of the gradient
        e = np.zeros(3)
        e[i] = eps
        diff = (g0(Pair(q.w + e, q.b), X).w - g0(Pair(q.w - e, q.b), X).w) / (2 * eps)
        np.testing.assert_allclose(h.w.w[:, i], diff, rtol=1e-5, atol=1e-8)
        diff_b = (g0(Pair(q.w + e, q.b), X).b - g0(Pair(q.w - e, q.b), X).b) / (2 * eps)
        np.testing.assert_allclose(h.b.w[:, i], diff_b, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("fn", [make_state, make_pair])
def test_jacobians_of_pytree_outputs(fn):
    jr, jf = ad.jacrev(fn)(X), ad.jacfwd(fn)(X)
    out = fn(X)
    assert type(jr) is type(out) and type(jf) is type(out)
    _assert_tree_close(jr, jf)
    ad.testing.check_grads(fn, (X,))


def test_vjp_and_jvp_with_pytree_outputs_and_tangents():
    out, vjp_fn = ad.vjp(make_state, X)
    v = State(np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 0.25]))
    (g,) = vjp_fn(v)
    jac = ad.jacrev(make_state)(X)
    np.testing.assert_allclose(g, v.pos @ jac.pos + v.vel @ jac.vel, rtol=1e-12)
    t = np.array([0.1, -0.2, 0.3])
    y, y_dot = ad.jvp(make_pair, (X,), (t,))
    assert type(y_dot) is Pair
    jp = ad.jacfwd(make_pair)(X)
    np.testing.assert_allclose(y_dot.w, jp.w @ t, rtol=1e-12)
    np.testing.assert_allclose(y_dot.b, jp.b @ t, rtol=1e-12)
    # a tangent of a dataclass argument is an object of its class
    _, dot = ad.jvp(layer, (P, X), (Params(np.ones(3), 1.0), np.zeros(3)))
    g = ad.grad(layer)(P, X)
    assert dot == pytest.approx(np.sum(g.w) + g.b, rel=1e-10)
    with pytest.raises(ad.CotangentError):
        vjp_fn(State(np.ones(2), np.ones(3)))


def test_has_aux_and_value_and_grad():
    g, aux = ad.grad(with_aux, has_aux=True)(P, X)
    assert type(g) is Params and type(aux[0]) is State
    value, (gp, gx) = ad.value_and_grad(layer, grad_position=(0, 1))(P, X)
    assert value == pytest.approx(layer(P, X))
    _assert_tree_close(gp, g)
    np.testing.assert_allclose(gx, ad.grad(layer, grad_position=1)(P, X), rtol=1e-12)
    jac, aux = ad.jacrev(with_aux, has_aux=True)(P, X)
    assert type(jac) is Params and type(aux) is State


class Scaled(ad.nn.Cell):
    def __init__(self):
        self.scale = ad.Parameter(np.array([1.5, -0.5, 2.0]), name="scale")

    def construct(self, p, x):
        return np.sum(np.tanh(p.w * self.scale * x) + p.b)


def test_weights_with_a_pytree_argument():
    net = Scaled()
    (gp, (gs,)) = ad.grad(net, grad_position=0, weights=net.trainable_params())(P, X)
    assert type(gp) is Params
    eps = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        net.scale[...] += e
        up = net(P, X)
        net.scale[...] -= 2 * e
        down = net(P, X)
        net.scale[...] += e
        assert gs[i] == pytest.approx((up - down) / (2 * eps), rel=1e-6)
    ad.testing.check_grads(lambda_free_cell_call, (P, X))


def lambda_free_cell_call(p, x):
    return Scaled()(p, x)


def read_derived(d):
    return d.norm * np.sum(d.w)


def read_property(s):
    return np.sum(s.scaled)


def build_doubled(w):
    return np.sum(Doubled(w).w)


def test_attributes_that_are_not_children_are_refused():
    with pytest.raises(ad.NonDifferentiableError, match="norm"):
        ad.grad(read_derived)(Derived(np.array([1.0, 2.0])))
    with pytest.raises(ad.NonDifferentiableError, match="scaled"):
        ad.grad(read_property)(WithProperty(np.array([1.0, 2.0])))
    with pytest.raises(ad.NonDifferentiableError, match="Doubled"):
        ad.grad(build_doubled)(np.array([1.0, 2.0]))


def test_register_pytree_takes_a_class():
    with pytest.raises(ad.OptionTypeError):
        ad.register_pytree(lambda x: x, lambda n: ((), None), lambda aux, kids: None)


def test_jacobians_from_pytree_to_pytree():
    s = State(np.array([1.0, -0.5, 0.2]), np.array([0.3, 0.1, -0.2]))
    jr, jf = ad.jacrev(step_state)(s, 0.1), ad.jacfwd(step_state)(s, 0.1)
    assert type(jr) is State and type(jr.pos) is State and type(jf.vel) is State
    for a, b in zip(jr, jf):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-12)
    np.testing.assert_allclose(jr.pos.vel, 0.1 * np.eye(3), rtol=1e-12)
    q = Pair(np.array([0.3, 0.9, -0.4]), np.array([1.1, -0.6]))
    jr, jf = ad.jacrev(make_pair_of)(q), ad.jacfwd(make_pair_of)(q)
    assert type(jr) is Pair and type(jr.w) is Pair
    for a, b in zip((jr.w.w, jr.w.b, jr.b.w, jr.b.b), (jf.w.w, jf.w.b, jf.b.w, jf.b.b)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    ad.testing.check_grads(make_pair_of, (q,))


def make_pair_of(q):
    return Pair(q.w * np.sum(q.b), b=np.exp(q.b))
