"""jacrev and jacfwd against finite-difference Jacobians on the whole step-1 and step-2 catalogues, with
every float argument differentiated (a tuple of positions) and tuple outputs kept: ``jac[out][in]``.

Every chunk size (None: one batched backward pass; 1: a loop of single passes; 2: batches of two rows)
must give the same Jacobian, and forward and reverse mode must agree.
"""

import copy

import numpy as np
import pytest

import autodiff_st as ad

from tests import test_catalogue
from tests import test_control_flow


def _is_float(x):
    return isinstance(x, float) or (isinstance(x, np.ndarray) and x.dtype.kind == "f")


def _leaves(out):
    return list(out) if isinstance(out, tuple) else [out]


def _numeric_jacobians(fn, args, positions, eps=1e-6):
    """fd[k][i]: the central finite-difference Jacobian of output leaf k with respect to argument i."""
    base = _leaves(fn(*copy.deepcopy(args)))  # copies: some entries write into their arguments
    fd = [[None] * len(positions) for _ in base]
    for slot, p in enumerate(positions):
        x = args[p]
        size = int(np.size(x))
        columns = [[] for _ in base]
        for j in range(size):
            def moved(sign):
                new = list(copy.deepcopy(args))
                if isinstance(x, float):
                    new[p] = x + sign * eps
                else:
                    step = np.zeros(size)
                    step[j] = sign * eps
                    new[p] = x + step.reshape(np.shape(x))
                return _leaves(fn(*new))
            plus, minus = moved(1), moved(-1)
            for k in range(len(base)):
                columns[k].append((np.asarray(plus[k], float) - np.asarray(minus[k], float)) / (2 * eps))
        for k, leaf in enumerate(base):
            stacked = np.stack(columns[k], axis=-1) if columns[k] else np.zeros(np.shape(leaf) + (0,))
            fd[k][slot] = stacked.reshape(np.shape(leaf) + np.shape(x))
    return fd


def _cases():
    out = []
    for case in test_catalogue.CATALOGUE:
        if not case.xfail:
            out.append(pytest.param(case.fn, case.args, id=f"straight-{case.name}"))
    for case in test_control_flow.CATALOGUE:
        if case.xfail or case.args is None or case.fn.__name__ == "<lambda>":
            continue
        out.append(pytest.param(case.fn, case.args, id=f"flow-{case.name}"))
    return out


def _setup(fn, make_args):
    args = make_args()
    positions = tuple(i for i, a in enumerate(args) if _is_float(a))
    out = fn(*copy.deepcopy(args))
    if not positions or not all(isinstance(leaf, (float, np.ndarray, np.floating)) and np.asarray(leaf).dtype.kind == "f"
                                for leaf in _leaves(out)):
        pytest.skip("not a function of float arrays to float arrays")
    if sum(np.size(args[p]) for p in positions) > 64 or sum(np.size(leaf) for leaf in _leaves(out)) > 64:
        pytest.skip("large: the finite-difference Jacobian would be slow")
    return args, positions, out


def _compare(jac, fd, tuple_out):
    blocks = jac if tuple_out else (jac,)
    assert len(blocks) == len(fd)
    for block, fd_block in zip(blocks, fd):
        assert isinstance(block, tuple) and len(block) == len(fd_block)
        for got, expected in zip(block, fd_block):
            assert np.shape(got) == np.shape(expected)
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, make_args", _cases())
def test_jacrev_every_chunk_size_matches_finite_differences(fn, make_args):
    args, positions, out = _setup(fn, make_args)
    fd = _numeric_jacobians(fn, args, positions)
    tuple_out = isinstance(out, tuple)
    results = {}
    for chunk in (None, 1, 2):
        try:
            results[chunk] = ad.jacrev(fn, argnums=positions, chunk_size=chunk)(*copy.deepcopy(args))
        except ad.AutodiffError as error:
            pytest.skip(f"refused by the compiler: {error}")
        _compare(results[chunk], fd, tuple_out)
    for chunk in (1, 2):  # not just close to the finite differences: the same numbers
        _same(results[None], results[chunk], tuple_out, rtol=1e-12)


@pytest.mark.parametrize("fn, make_args", _cases())
def test_jacfwd_matches_finite_differences_and_jacrev(fn, make_args):
    args, positions, out = _setup(fn, make_args)
    try:
        forward = ad.jacfwd(fn, argnums=positions)(*copy.deepcopy(args))
    except ad.AutodiffError as error:
        pytest.skip(f"refused by the compiler: {error}")
    _compare(forward, _numeric_jacobians(fn, args, positions), isinstance(out, tuple))
    reverse = ad.jacrev(fn, argnums=positions)(*copy.deepcopy(args))
    _same(forward, reverse, isinstance(out, tuple), rtol=1e-10)


def _same(jac_a, jac_b, tuple_out, rtol):
    for a, b in zip(jac_a if tuple_out else (jac_a,), jac_b if tuple_out else (jac_b,)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * 1e-2)


def times_count(x, n):
    return x * n


def test_allow_int_gives_a_zero_jacobian_and_is_refused_without_it():
    x = np.array([1.0, 2.0])
    jac_x, jac_n = ad.jacrev(times_count, argnums=(0, 1), allow_int=True)(x, 3)
    np.testing.assert_array_equal(jac_x, 3 * np.eye(2))
    assert jac_n.shape == (2,) and not jac_n.any()
    with pytest.raises(TypeError, match="allow_int=True"):
        ad.jacrev(times_count, argnums=(0, 1))(x, 3)


def test_holomorphic_jacobian_is_the_complex_derivative():
    z = np.array([1 + 1j, 2j, -0.5 + 0.25j])
    np.testing.assert_allclose(ad.jacrev(np.sin, holomorphic=True)(z), np.diag(np.cos(z)), rtol=1e-14)
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.jacrev(np.sin)(z)


@pytest.mark.parametrize("chunk", [0, -2, 1.5, True])
def test_chunk_size_must_be_a_positive_int(chunk):
    with pytest.raises(ValueError, match="chunk_size"):
        ad.jacrev(np.sin, chunk_size=chunk)


def test_jvp_checks_tangent_shapes():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        ad.jvp(times_count, (np.ones(2), 2.0), (np.ones(3), 0.0))


def cubic_with_aux(x, y):
    return np.sum(x ** 3 * y), x * 2


def test_hessian_against_the_closed_form_with_positions_and_aux():
    x, y = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    (hxx, hxy), (hyx, hyy) = ad.hessian(cubic_with_aux, argnums=(0, 1), has_aux=True)(x, y)[0]
    np.testing.assert_allclose(hxx, np.diag(6 * x * y))
    np.testing.assert_allclose(hxy, np.diag(3 * x ** 2))
    np.testing.assert_allclose(hyx, np.diag(3 * x ** 2))
    np.testing.assert_allclose(hyy, np.zeros((2, 2)))
    _, aux = ad.hessian(cubic_with_aux, has_aux=True)(x, y)
    np.testing.assert_allclose(aux, x * 2)


def test_jacfwd_of_jacrev_and_jacrev_of_jacrev_agree_with_hessian():
    x = np.array([0.3, -0.7, 1.1])
    fn = sum_sin_cube
    expected = ad.hessian(fn)(x)
    np.testing.assert_allclose(ad.jacfwd(ad.jacrev(fn))(x), expected, rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(ad.jacrev(fn))(x), expected, rtol=1e-12)
    np.testing.assert_allclose(expected, np.diag(-np.sin(x) + 6 * x), rtol=1e-12)


def sum_sin_cube(x):
    return np.sum(np.sin(x) + x ** 3)


def test_source_of_each_jacobian_transform_is_its_generated_code():
    assert "def sum_sin_cube_jvp(tangents, x)" in ad.source(ad.jacfwd(sum_sin_cube))
    assert "def sum_sin_cube_backward(residuals, out_bar)" in ad.source(ad.jacrev(sum_sin_cube))
    assert "_jvp(tangents, x)" in ad.source(ad.hessian(sum_sin_cube))


# -- tuples, lists and dicts of arrays at differentiated positions (JAX's convention) ---------------------

def layer(params, x):
    return np.tanh(params["w"] @ x + params["b"]) * params["scale"][0]


def layer_loss(params, x):
    return np.sum(layer(params, x) ** 2)


def _layer_args():
    params = {"w": np.array([[0.5, -1.0], [2.0, 0.3], [0.1, 0.2]]), "b": np.array([0.1, 0.2, -0.3]),
              "scale": (1.5,)}
    return params, np.array([0.7, -0.4])


def _replace_leaf(params, path, value):
    if len(path) == 1:
        if isinstance(params, dict):
            return {**params, path[0]: value}
        items = list(params)
        items[path[0]] = value
        return type(params)(items)
    head = path[0]
    inner = _replace_leaf(params[head], path[1:], value)
    return _replace_leaf(params, (head,), inner)


def _leaf_jacobian_by_differences(fn, params, x, path, leaf, eps=1e-6):
    leaf = np.asarray(leaf, dtype=float)
    columns = []
    for i in range(leaf.size):
        e = np.zeros_like(leaf)
        e.flat[i] = eps
        plus = fn(_replace_leaf(params, path, (leaf + e) if leaf.ndim else float(leaf + e)), x)
        minus = fn(_replace_leaf(params, path, (leaf - e) if leaf.ndim else float(leaf - e)), x)
        columns.append((np.asarray(plus) - np.asarray(minus)) / (2 * eps))
    return np.stack(columns, axis=-1).reshape(np.shape(fn(params, x)) + leaf.shape)


LEAF_PATHS = [("w",), ("b",), ("scale", 0)]


@pytest.mark.parametrize("transform", [ad.jacrev, ad.jacfwd, lambda f: ad.jacrev(f, chunk_size=1)],
                         ids=["jacrev", "jacfwd", "jacrev_chunk_1"])
def test_jacobian_with_respect_to_a_dict_has_the_dicts_structure(transform):
    params, x = _layer_args()
    jac = transform(layer)(params, x)
    assert isinstance(jac, dict) and list(jac) == ["w", "b", "scale"] and isinstance(jac["scale"], tuple)
    for path in LEAF_PATHS:
        got = jac[path[0]] if len(path) == 1 else jac[path[0]][path[1]]
        leaf = params[path[0]] if len(path) == 1 else params[path[0]][path[1]]
        np.testing.assert_allclose(got, _leaf_jacobian_by_differences(layer, params, x, path, leaf),
                                   rtol=1e-6, atol=1e-9)


def test_hessian_with_respect_to_a_dict_nests_dicts_and_matches_jacobians_of_the_gradient():
    params, x = _layer_args()
    hess = ad.hessian(layer_loss)(params, x)
    assert list(hess) == ["w", "b", "scale"] and list(hess["w"]) == ["w", "b", "scale"]
    assert hess["w"]["b"].shape == (3, 2, 3) and hess["scale"][0]["w"].shape == (3, 2)
    # hess[a][b] is the derivative of the gradient's leaf a along leaf b
    eps = 1e-6
    b = params["b"]
    for i in range(b.size):
        e = np.zeros_like(b)
        e[i] = eps
        plus = ad.grad(layer_loss)({**params, "b": b + e}, x)["w"]
        minus = ad.grad(layer_loss)({**params, "b": b - e}, x)["w"]
        np.testing.assert_allclose(hess["w"]["b"][..., i], (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_list_and_an_array_with_aux_and_value():
    def fn(pair, x):
        a, b = pair
        return np.sin(a * x) + b, np.sum(a)

    pair, x = [np.array([0.3, -0.2]), np.array([1.0, 2.0])], np.array([0.5, 1.5])
    (jac_pair, jac_x), value, aux = ad.jacrev(fn, argnums=(0, 1), has_aux=True, return_value=True)(pair, x)
    assert isinstance(jac_pair, list) and len(jac_pair) == 2
    np.testing.assert_allclose(jac_pair[0], np.diag(x * np.cos(pair[0] * x)), rtol=1e-12)
    np.testing.assert_allclose(jac_pair[1], np.eye(2), rtol=1e-12)
    np.testing.assert_allclose(jac_x, np.diag(pair[0] * np.cos(pair[0] * x)), rtol=1e-12)
    np.testing.assert_allclose(value, np.sin(pair[0] * x) + pair[1])
    assert aux == pytest.approx(0.1)
