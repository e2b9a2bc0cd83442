"""Transforms of functions on dask arrays, on a real dask.distributed cluster (docs/backends.md).

Every transform returns dask arrays without computing anything (a scheduler that raises stands in while the
transform runs), and the computed results equal numpy's to 1e-12.
"""

import numpy as np
import pytest

import autodiff_st as ad

from .backend_functions import CATALOGUE, data, vector_output

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'dask[distributed]')")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _no_compute(*args, **kwargs):
    raise AssertionError("a transform computed a dask array before .compute() was called")


def lazily(run):
    """``run()`` with every dask compute refused: the transform must only build a graph."""
    with dask.config.set(scheduler=_no_compute):
        return run()


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [leaf for item in r for leaf in _leaves(item)]
    return [r]


def assert_lazy_and_equal(result, expected, client):
    leaves, expected_leaves = _leaves(result), _leaves(expected)
    assert len(leaves) == len(expected_leaves)
    for leaf in leaves:
        assert isinstance(leaf, da.Array), f"a transform returned a {type(leaf).__name__}, not a dask array"
    computed = client.compute(leaves, sync=True)
    for got, want in zip(computed, expected_leaves):
        assert isinstance(got, np.ndarray) or np.isscalar(got)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def dask_data(rows=12):
    w, x, y = data(rows=rows)
    chunk = rows // 3
    return (w, x, y), (da.from_array(w, chunks=3), da.from_array(x, chunks=(chunk, 3)), da.from_array(y, chunks=chunk))


TRANSFORMS = {
    "grad": lambda f, a: ad.grad(f, argnums=(0, 1))(*a),
    "value_and_grad": lambda f, a: ad.value_and_grad(f)(*a),
    "vjp": lambda f, a: ad.vjp(f, *a)[1](1.0),
    "jvp": lambda f, a: ad.jvp(f, a, tuple(v * 0.0 + 1.0 for v in a)),
    "jacrev": lambda f, a: ad.jacrev(f)(*a),
    "jacfwd": lambda f, a: ad.jacfwd(f)(*a),
}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("fn", CATALOGUE, ids=lambda f: f.__name__)
def test_transform_on_dask_is_lazy_and_equals_numpy(client, fn, transform):
    numpy_args, dask_args = dask_data()
    run = TRANSFORMS[transform]
    result = lazily(lambda: run(fn, dask_args))
    assert_lazy_and_equal(result, run(fn, numpy_args), client)


@pytest.mark.parametrize("transform", ["vjp", "jvp", "jacrev", "jacfwd"])
def test_vector_output(client, transform):
    numpy_args, dask_args = dask_data(rows=6)
    runs = {
        "vjp": lambda a: ad.vjp(vector_output, *a)[1](a[2] * 0.0 + 1.0),
        "jvp": lambda a: ad.jvp(vector_output, a, tuple(v * 0.0 + 1.0 for v in a)),
        "jacrev": lambda a: ad.jacrev(vector_output, argnums=(0, 2))(*a),
        "jacfwd": lambda a: ad.jacfwd(vector_output, argnums=(0, 2))(*a),
    }
    result = lazily(lambda: runs[transform](dask_args))
    assert_lazy_and_equal(result, runs[transform](numpy_args), client)


def test_gradient_agrees_with_finite_differences_on_dask(client):
    numpy_args, dask_args = dask_data()
    g = client.compute(lazily(lambda: ad.grad(CATALOGUE[0])(*dask_args)), sync=True)
    w, x, y = numpy_args
    eps = 1e-6
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = eps
        fd = (CATALOGUE[0](w + e, x, y) - CATALOGUE[0](w - e, x, y)) / (2 * eps)
        assert abs(g[i] - fd) < 1e-7


def test_gradient_graph_is_within_a_small_factor_of_a_hand_adjoint():
    w, x, y = data(rows=4000, cols=5)
    X = da.from_array(x, chunks=(500, 5))
    Y = da.from_array(y, chunks=500)
    W = da.from_array(w, chunks=5)
    g = lazily(lambda: ad.grad(CATALOGUE[0])(W, X, Y))
    # The adjoint a dask user would write: d/dw mean(logaddexp(0, z) - y z) = X^T (sigmoid(z) - y) / n
    z = X @ W
    hand = X.T @ (1.0 / (1.0 + np.exp(-z)) - Y) / X.shape[0]
    generated, written = len(dict(g.__dask_graph__())), len(dict(hand.__dask_graph__()))
    assert generated <= 3 * written, (generated, written)
    np.testing.assert_allclose(g.compute(scheduler="sync"), hand.compute(scheduler="sync"), rtol=1e-12,
                               atol=1e-14)


def test_vmap_on_a_lazy_array_is_refused():
    _, (w, x, y) = dask_data()
    with pytest.raises(ad.BackendError, match=r"vmap .*dask\.array.*per-element"):
        ad.vmap(np.sin)(x)


def test_an_integer_array_index_is_refused_naming_the_backend():
    _, (w, x, y) = dask_data()

    def pick(w, x, y):
        return np.sum(x[np.array([0, 2, 2])] ** 2)

    with pytest.raises(ad.BackendError, match=r"integer-array.*dask\.array"):
        lazily(lambda: ad.grad(pick, argnums=1)(w, x, y))


def test_integer_dask_input_is_refused():
    x = da.from_array(np.arange(6), chunks=3)
    with pytest.raises(ad.InputTypeError, match="int64"):
        ad.grad(lambda x: np.sum(x * 1.0))(x)


def _sin_energy(x):
    return np.sum(np.sin(x) ** 2)


def test_second_order_grad_of_grad_is_lazy(client):
    x = np.linspace(-1.0, 1.0, 6)
    dx = da.from_array(x, chunks=3)
    g2 = lazily(lambda: ad.grad(lambda x: np.sum(ad.grad(_sin_energy)(x)))(dx))
    assert_lazy_and_equal(g2, ad.grad(lambda x: np.sum(ad.grad(_sin_energy)(x)))(x), client)


def test_hessian_on_dask_is_refused():
    dx = da.from_array(np.linspace(-1.0, 1.0, 6), chunks=3)
    with pytest.raises(ad.BackendError, match=r"hessian .*dask\.array"):
        ad.hessian(_sin_energy)(dx)
