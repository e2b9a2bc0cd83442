"""A transform called inside the differentiated function: jacrev, jacfwd and hessian inside a function
that grad, value_and_grad, vjp, jvp, jacrev, jacfwd or hessian differentiates (inner_jacobians.py).

Each case is checked against finite differences at order 1 (and order 2 where cheap), the value each
transform computes against the plain function's (check_grads does both), and jacrev against jacfwd of
the outer function. The GradBench shapes: particle (a force from the gradient of a potential, inside a
simulated trajectory) and saddle (gradient steps inside, an outer gradient)."""

import numpy as np
import pytest

import autodiff_st as ad


def pair(x):
    return np.sin(x) * x[::-1]


def two_outputs(x, w):
    return np.tanh(x * w), np.sum(x ** 2) * w


def scalar(x):
    return np.sum(np.sin(x) * x ** 2)


def scalar_of_two(x, w):
    return np.sum(np.cos(x * w)) + np.sum(x ** 2 * w[::-1])


def with_aux(x):
    return np.sin(x) * x[0], np.cos(x)


# -- functions that call a transform inside: each returns a scalar of its two arguments ---------------------


def jacfwd_of_tanh(x, w):
    J = ad.jacfwd(np.tanh)(x * w)
    return np.sum(J ** 2)


def jacrev_of_pair(x, w):
    J = ad.jacrev(pair)(x * w)
    return np.sum(J ** 2) + np.sum(J * w)


def jacfwd_of_pair(x, w):
    J = ad.jacfwd(pair)(x * w)
    return np.sum(np.sin(J)) * w[0]


def jacrev_of_two_outputs(x, w):
    (a, b), (c, d) = ad.jacrev(two_outputs, argnums=(0, 1))(x, w)
    return np.sum(a ** 2) + np.sum(b * c) + np.sum(np.sin(d))


def jacfwd_of_two_outputs(x, w):
    a, c = ad.jacfwd(two_outputs, argnums=1)(x, w)
    return np.sum(a * x) + np.sum(c ** 2)


def hessian_of_scalar(x, w):
    H = ad.hessian(scalar)(x * w)
    return np.sum(H ** 2)


def hessian_of_two(x, w):
    (hxx, hxw), (hwx, hww) = ad.hessian(scalar_of_two, argnums=(0, 1))(x, w)
    return np.sum(hxx * hww) + np.sum(hxw ** 2) - np.sum(hwx)


def jacrev_with_aux(x, w):
    J, aux = ad.jacrev(with_aux, has_aux=True)(x * w)
    return np.sum(J ** 2) + np.sum(aux * w)


def jacfwd_with_value(x, w):
    J, y = ad.jacfwd(pair, return_value=True)(x + w)
    return np.sum(J * y)


def jacrev_of_a_closure(x, w):
    J = ad.jacrev(lambda y: np.sin(y * w))(x)  # reads w from the enclosing function
    return np.sum(J ** 2)


def jacrev_of_a_grad(x, w):
    H = ad.jacrev(ad.grad(scalar))(x * w)
    return np.sum(H * w)


def hessian_with_aux(x, w):
    H, aux = ad.hessian(lambda y: (np.sum(np.sin(y) ** 2), y * 2.0), has_aux=True)(x * w)
    return np.sum(H ** 2) + np.sum(aux * w)


def value_and_grad_inside(x, w):
    v, (gx, gw) = ad.value_and_grad(scalar_of_two, argnums=(0, 1))(x, w)
    return v * np.sum(gx ** 2) + np.sum(gw * x)


def grad_with_aux_inside(x, w):
    g, aux = ad.grad(with_aux_scalar, has_aux=True)(x * w)
    return np.sum(g ** 2) + np.sum(aux[0] * w) * aux[1]


def with_aux_scalar(y):
    return np.sum(np.sin(y) * y), np.cos(y), np.sum(y)


def grad_with_value_inside(x, w):
    g, v = ad.grad(scalar, return_value=True)(x * w)
    return np.sum(g * x) * v


def grad_and_value_inside(x, w):
    g, v = ad.grad_and_value(scalar_of_two, argnums=1)(x, w)
    return np.sum(g ** 2) + v


CASES = [value_and_grad_inside, grad_with_aux_inside, grad_with_value_inside, grad_and_value_inside,
         jacfwd_of_tanh, jacrev_of_pair, jacfwd_of_pair, jacrev_of_two_outputs, jacfwd_of_two_outputs,
         hessian_of_scalar, hessian_of_two, jacrev_with_aux, jacfwd_with_value, jacrev_of_a_closure,
         jacrev_of_a_grad, hessian_with_aux]
CHEAP = [value_and_grad_inside, grad_with_aux_inside, jacfwd_of_tanh, jacrev_of_pair, jacfwd_of_pair, hessian_of_scalar, jacrev_with_aux, jacrev_of_a_closure]

X = np.array([0.3, -0.5, 0.8])
W = np.array([1.1, 0.7, -0.4])


@pytest.mark.parametrize("fn", CASES, ids=lambda f: f.__name__)
def test_first_order_against_finite_differences(fn):
    ad.testing.check_grads(fn, (X.copy(), W.copy()), order=1)


@pytest.mark.parametrize("fn", CHEAP, ids=lambda f: f.__name__)
def test_second_order_against_finite_differences(fn):
    ad.testing.check_grads(fn, (X.copy(), W.copy()), order=2)


@pytest.mark.parametrize("fn", CASES, ids=lambda f: f.__name__)
def test_every_outer_transform_agrees(fn):
    value = fn(X, W)
    gx, gw = ad.grad(fn, argnums=(0, 1))(X, W)
    v, (gx2, gw2) = ad.value_and_grad(fn, argnums=(0, 1))(X, W)
    np.testing.assert_allclose(v, value, rtol=1e-12)
    np.testing.assert_allclose(gx2, gx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gw2, gw, rtol=1e-10, atol=1e-12)
    y, pullback = ad.vjp(fn, X, W)
    np.testing.assert_allclose(y, value, rtol=1e-12)
    px, pw = pullback(1.0)
    np.testing.assert_allclose(px, gx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pw, gw, rtol=1e-10, atol=1e-12)
    u, t = np.array([0.2, -0.3, 0.5]), np.array([0.1, 0.4, -0.6])
    y, y_dot = ad.jvp(fn, (X, W), (u, t))
    np.testing.assert_allclose(y, value, rtol=1e-12)
    np.testing.assert_allclose(y_dot, gx @ u + gw @ t, rtol=1e-8, atol=1e-10)
    rev = ad.jacrev(fn, argnums=(0, 1))(X, W)
    fwd = ad.jacfwd(fn, argnums=(0, 1))(X, W)
    for r, f, g in zip(rev, fwd, (gx, gw)):
        np.testing.assert_allclose(r, g, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(f, g, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("fn", [jacrev_of_pair, hessian_of_scalar, jacfwd_of_two_outputs], ids=lambda f: f.__name__)
def test_hessian_of_the_outer_function(fn):
    """Second order through the inner transform: hessian of the outer function against finite differences of
    its gradient, and against jacfwd(jacrev(...))."""
    H = ad.hessian(fn)(X, W)
    eps = 1e-6
    columns = []
    for j in range(X.size):
        e = np.zeros_like(X)
        e[j] = eps
        columns.append((ad.grad(fn)(X + e, W) - ad.grad(fn)(X - e, W)) / (2 * eps))
    np.testing.assert_allclose(H, np.stack(columns, axis=-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ad.jacfwd(ad.jacrev(fn))(X, W), H, rtol=1e-8, atol=1e-10)


def test_the_value_inside_is_the_transforms_value():
    """What the differentiated function sees is what the transform returns when called plainly."""
    seen = {}

    def keep(J):
        seen.setdefault("values", []).append(np.array(J))
        return J

    ad.nondifferentiable(keep)

    def uses(x):
        J = ad.jacrev(two_outputs, argnums=(0, 1))(x, W)
        keep(J[0][0])
        return np.sum(J[0][0] ** 2)

    ad.grad(uses)(X)
    np.testing.assert_allclose(seen["values"][-1], ad.jacrev(two_outputs, argnums=(0, 1))(X, W)[0][0], rtol=1e-12)


# -- GradBench's shapes -------------------------------------------------------------------------------------


def potential(position, charges):
    centres = np.array([[1.0, 0.5], [-0.8, 1.2], [0.3, -1.0]])
    distances = np.sqrt(np.sum((position - centres) ** 2, axis=1) + 0.1)
    return np.sum(charges / distances)


def particle_with(force):
    def landing(charges):
        x, v = np.array([0.0, 2.0]), np.array([0.5, 0.0])
        dt = 0.05
        for _ in range(6):
            v = v - dt * force(x, charges)
            x = x + dt * v
        return np.sum(x ** 2)
    return landing


def force_by_grad(x, charges):
    return ad.grad(potential)(x, charges)


def force_by_jacfwd(x, charges):
    return ad.jacfwd(potential)(x, charges)


def force_by_jacrev(x, charges):
    return ad.jacrev(potential)(x, charges)


@pytest.mark.parametrize("force", [force_by_grad, force_by_jacfwd, force_by_jacrev], ids=lambda f: f.__name__)
def test_particle(force):
    landing = particle_with(force)
    charges = np.array([0.4, -0.3, 0.2])
    ad.testing.check_grads(landing, (charges,), order=1)
    expected = ad.grad(particle_with(force_by_grad))(charges)
    np.testing.assert_allclose(ad.grad(landing)(charges), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ad.jacfwd(landing)(charges), expected, rtol=1e-8, atol=1e-11)


def objective(p1, p2):
    return np.sum(p1 ** 2) - np.sum(p2 ** 2) + np.sum(np.sin(p1) * p2) + 0.3 * np.sum(p1 * p2[::-1])


def saddle(start):
    """Gradient ascent on p2 inside each descent step on p1: inner transforms inside two loops."""
    p1 = start
    for _ in range(3):
        p2 = np.zeros_like(start)
        for _ in range(3):
            p2 = p2 + 0.2 * ad.jacrev(objective, argnums=1)(p1, p2)
        p1 = p1 - 0.2 * ad.jacfwd(objective)(p1, p2)
    return objective(p1, p2)


def saddle_by_grad(start):
    p1 = start
    for _ in range(3):
        p2 = np.zeros_like(start)
        for _ in range(3):
            p2 = p2 + 0.2 * ad.grad(objective, argnums=1)(p1, p2)
        p1 = p1 - 0.2 * ad.grad(objective)(p1, p2)
    return objective(p1, p2)


def test_saddle():
    start = np.array([0.6, -0.4])
    ad.testing.check_grads(saddle, (start,), order=1)
    np.testing.assert_allclose(saddle(start), saddle_by_grad(start), rtol=1e-12)
    np.testing.assert_allclose(ad.grad(saddle)(start), ad.grad(saddle_by_grad)(start), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ad.jacrev(saddle)(start), ad.jacfwd(saddle)(start), rtol=1e-8, atol=1e-11)


# -- refusals: typed, with the user's line --------------------------------------------------------------------


def holomorphic_inside(x):
    J = ad.jacrev(pair, holomorphic=True)(x)
    return np.sum(J)


def keywords_inside(x):
    J = ad.jacfwd(pair)(x=x)
    return np.sum(J)


def dict_output_inside(x):
    J = ad.jacrev(lambda y: {"y": y * 2.0})(x)
    return np.sum(J["y"])


def tuple_hessian_inside(x):
    H = ad.hessian(lambda y: (np.sum(y), np.sum(y ** 2)))(x)
    return np.sum(H)


@pytest.mark.parametrize("fn, option, line", [
    (holomorphic_inside, "holomorphic=True", "ad.jacrev(pair, holomorphic=True)(x)"),
    (keywords_inside, "keyword arguments", "ad.jacfwd(pair)(x=x)"),
    (dict_output_inside, "returns a dict", 'ad.jacrev(lambda y: {"y": y * 2.0})(x)'),
    (tuple_hessian_inside, "returns a tuple", "ad.hessian(lambda y: (np.sum(y), np.sum(y ** 2)))(x)"),
], ids=["holomorphic", "keywords", "dict_output", "tuple_hessian"])
def test_refusals_name_the_option_and_quote_the_line(fn, option, line):
    with pytest.raises(ad.UnsupportedCaseError) as info:
        ad.grad(fn)(X)
    message = str(info.value)
    assert "made inside the differentiated function" in message
    assert option in message
    assert line in message
    assert "test_inner_transforms.py" in message
