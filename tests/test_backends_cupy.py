"""Transforms of functions on CuPy arrays, when CuPy is installed and a GPU is present; skipped, with the
reason in the test output (pytest -rs), otherwise. Results are CuPy arrays and equal numpy's to 1e-10."""

import numpy as np
import pytest

import autodiff_st as ad

from .backend_functions import CATALOGUE, data, vector_output


def _gpu_reason():
    try:
        import cupy
    except Exception as error:  # noqa: BLE001 - any import failure means no CuPy here
        return None, f"CuPy is not importable ({type(error).__name__}: {error}); the CuPy backend tests need it"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # noqa: BLE001 - a driver without a device raises its own error types
        return None, f"CuPy is installed but no GPU is usable ({type(error).__name__}: {error})"
    if count < 1:
        return None, "CuPy is installed but no GPU is present"
    return cupy, None


cp, REASON = _gpu_reason()
pytestmark = pytest.mark.skipif(cp is None, reason=REASON or "")

TRANSFORMS = {
    "grad": lambda f, a: ad.grad(f, argnums=(0, 1))(*a),
    "value_and_grad": lambda f, a: ad.value_and_grad(f)(*a),
    "vjp": lambda f, a: ad.vjp(f, *a)[1](1.0),
    "jvp": lambda f, a: ad.jvp(f, a, tuple(v * 0.0 + 1.0 for v in a)),
    "jacrev": lambda f, a: ad.jacrev(f)(*a),
    "jacfwd": lambda f, a: ad.jacfwd(f)(*a),
}


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [leaf for item in r for leaf in _leaves(item)]
    return [r]


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("fn", CATALOGUE + [vector_output], ids=lambda f: f.__name__)
def test_transform_on_cupy_equals_numpy(fn, transform):
    if fn is vector_output and transform in ("grad", "value_and_grad", "vjp"):
        pytest.skip("a vector output has no gradient; its vjp is in test_backends_dask.py's form")
    numpy_args = data(rows=8)
    gpu_args = tuple(cp.asarray(a) for a in numpy_args)
    got, want = _leaves(TRANSFORMS[transform](fn, gpu_args)), _leaves(TRANSFORMS[transform](fn, numpy_args))
    for g, w in zip(got, want):
        assert isinstance(g, cp.ndarray), f"{transform} returned a {type(g).__name__}, not a CuPy array"
        np.testing.assert_allclose(cp.asnumpy(g), w, rtol=1e-10, atol=1e-10)


def test_integer_array_index_is_refused():
    x = cp.asarray(data(rows=8)[1])

    def pick(x):
        return np.sum(x[np.array([0, 2, 2])] ** 2)

    with pytest.raises(ad.BackendError, match=r"integer-array.*cupy"):
        ad.grad(pick)(x)
