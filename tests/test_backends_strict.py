"""The run-time helpers under array-api-strict: they use only the array API standard on another library's
arrays (nothing numpy-only slipped in), return arrays of that library, and equal their numpy results.

array-api-strict implements the standard and nothing else, and refuses to mix with numpy, so a helper that
called ``np.zeros`` or ``np.asarray`` on its arguments fails here. (The user's own code calls ``np.*``, which
array-api-strict arrays do not dispatch, so whole transforms run on dask and CuPy, tests/test_backends_*.py.)
"""

import numpy as np
import pytest

from autodiff_st import runtime
from autodiff_st.runtime.namespaces import backend_name, is_foreign, is_lazy, namespace_of

xp = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed (pip install array-api-strict)")


def strict(a):
    return xp.asarray(np.asarray(a, dtype=np.float64))


STRICT_ARRAY = type(xp.asarray(0.0))


RNG = np.random.default_rng(0)
A = RNG.normal(size=(4, 3))
B = RNG.normal(size=(3, 5))
V = RNG.normal(size=(4, 5))
ROW = RNG.normal(size=(1, 3))
VEC = RNG.normal(size=3)

CASES = {
    "unbroadcast to a row": (runtime.unbroadcast, (A, ROW)),
    "unbroadcast to a vector": (runtime.unbroadcast, (A, VEC)),
    "expand_reduced axis 0": (lambda v, x: runtime.expand_reduced(v, x, 0, False), (VEC, A)),
    "expand_reduced full": (lambda v, x: runtime.expand_reduced(v, x, None, False), (np.float64(2.5), A)),
    "expand_reduced keepdims": (lambda v, x: runtime.expand_reduced(v, x, 1, True), (A[:, :1], A)),
    "zeros_like": (runtime.zeros_like, (A,)),
    "ones_like": (runtime.ones_like, (A,)),
    "tangent_zeros": (runtime.tangent_zeros, (A,)),
    "broadcast_like": (runtime.broadcast_like, (VEC, A)),
    "owned": (runtime.owned, (A,)),
    "restored_copy": (runtime.restored_copy, (A,)),
    "matmul_grad_left": (runtime.matmul_grad_left, (V, A, B)),
    "matmul_grad_right": (runtime.matmul_grad_right, (V, A, B)),
    "matmul_grad_left vector": (runtime.matmul_grad_left, (A[:, 0], A, VEC)),
    "matmul_grad_right vector": (runtime.matmul_grad_right, (A[:, 0], A, VEC)),
    "matmul_grad_left batched": (runtime.matmul_grad_left, (RNG.normal(size=(2, 4, 5)), A, RNG.normal(size=(2, 3, 5)))),
    "index_grad slice": (lambda v, x: runtime.index_grad(v, x, (slice(1, None), 0)), (A[1:, 0], A)),
    "index_grad new axis": (lambda v, x: runtime.index_grad(v, x, (slice(None), None)), (VEC[:, None], VEC)),
    "unpacked_cotangent": (lambda a, b, x: runtime.unpacked_cotangent(x, a, b), (VEC, VEC * 2, A[:2])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_helper_runs_under_array_api_strict(name):
    helper, args = CASES[name]
    expected = helper(*args)
    got = helper(*(strict(a) for a in args))
    assert isinstance(got, STRICT_ARRAY), f"{name} returned a {type(got).__name__}"
    np.testing.assert_allclose(np.from_dlpack(got), expected, rtol=1e-14, atol=0)


def test_reduced_count_and_shape_of():
    x = strict(A)
    assert runtime.reduced_count(x) == A.size
    assert runtime.reduced_count(x, 0) == A.shape[0]
    assert runtime.shape_of(x) is x  # kept: zeros and expansions are made in its namespace


def test_namespace_of():
    x = strict(A)
    assert namespace_of(A, 1.0, None) is np
    assert namespace_of(A[0, 0]) is np
    assert namespace_of(x, 1.0).__name__.startswith("array_api_strict")
    assert is_foreign(x) and not is_foreign(A) and not is_lazy(x)
    assert backend_name(x) == "array_api_strict"


def test_integer_array_index_is_refused_naming_the_backend():
    import autodiff_st as ad
    with pytest.raises(ad.BackendError, match=r"integer-array.*array_api_strict"):
        runtime.index_grad(strict(VEC[:2]), strict(VEC), (xp.asarray([0, 2]),))
