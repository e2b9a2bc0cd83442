"""vmap of jacrev, jacfwd and grad runs the transform's generated code batched (transforms/vmap_jacobians.py),
and the Jacobians reuse their basis and run plain code where one row or column is asked for.

Every result is checked against the per-example loop of the unbatched transform and against finite
differences; the run-time dispatch is counted to show that its calls do not grow with the batch and that
no per-element fallback is taken for ordinary numpy code, and that where one is taken ad.source says so."""

import sys

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.runtime import batched as batching_runtime
from autodiff_st.transforms import jacobian_parts, vmap_jacobians
from autodiff_st.transforms.jacobians import CHUNK_ELEMENTS, JacFwd, JacRev, default_chunk_size


def projection(camera, point):
    w = camera[0:3]
    t = camera[3:6]
    p = point + np.cross(w, point) + t
    q = -p[0:2] / p[2]
    r2 = np.dot(q, q)
    distortion = 1.0 + camera[7] * r2 + camera[8] * r2 * r2
    return camera[6] * distortion * q


def two_layer(x, W1, W2):
    return np.tanh(W2 @ np.tanh(W1 @ x))


def loss(x, W1, W2):
    return np.sum(two_layer(x, W1, W2) ** 2)


def branchy(x):
    if x[0] > 0:  # a condition on a batched value: vmap has to run this once per element
        return np.sin(x) * x[1]
    return np.cos(x) * x[1]


def cubic(s):
    return np.array([s ** 3, np.sin(s)])


def _cameras(n, dtype):
    rng = np.random.default_rng(0)
    cameras = rng.standard_normal((n, 9)) * 0.1
    cameras[:, 5] += 5.0
    cameras[:, 6] = 1.0
    return cameras.astype(dtype), rng.standard_normal((n, 3)).astype(dtype)


def _net(n, dtype):
    rng = np.random.default_rng(1)
    return (rng.standard_normal((n, 6)).astype(dtype), (rng.standard_normal((8, 6)) / 3).astype(dtype),
            (rng.standard_normal((4, 8)) / 3).astype(dtype))


def _tolerance(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-5)


def _finite_jacobian(f, x, eps=1e-6):
    """Central differences of ``f`` at ``x`` (float64): the Jacobian with the output's axes first."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = eps
        e = e.reshape(x.shape)
        columns.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(columns, axis=-1).reshape(np.shape(f(x)) + x.shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", [ad.jacrev, ad.jacfwd])
def test_vmap_of_jacobian_equals_the_loop_of_jacobians(make, dtype):
    cameras, points = _cameras(7, dtype)
    got = ad.vmap(make(projection, (0, 1)))(cameras, points)
    for i in range(len(cameras)):
        one = make(projection, (0, 1))(cameras[i], points[i])
        for g, e in zip(got, one):
            assert g.dtype == e.dtype == dtype
            np.testing.assert_allclose(g[i], e, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vmap_jacrev_equals_vmap_jacfwd_and_finite_differences(dtype):
    X, W1, W2 = _net(5, dtype)
    rev = ad.vmap(ad.jacrev(two_layer), in_axes=(0, None, None))(X, W1, W2)
    fwd = ad.vmap(ad.jacfwd(two_layer), in_axes=(0, None, None))(X, W1, W2)
    assert rev.shape == fwd.shape == (5, 4, 6) and rev.dtype == fwd.dtype == dtype
    np.testing.assert_allclose(rev, fwd, **_tolerance(dtype))
    W1d, W2d = W1.astype(np.float64), W2.astype(np.float64)
    for i in range(len(X)):
        expected = _finite_jacobian(lambda x: two_layer(x, W1d, W2d), X[i])
        np.testing.assert_allclose(rev[i], expected, rtol=1e-4 if dtype == np.float32 else 1e-7, atol=1e-5)


def test_vmap_jacobian_with_respect_to_an_unmapped_argument():
    """in_axes=None for W1, and the Jacobian taken with respect to it: one Jacobian per example."""
    X, W1, W2 = _net(4, np.float64)
    for make in (ad.jacrev, ad.jacfwd):
        got = ad.vmap(make(two_layer, (0, 1)), in_axes=(0, None, None))(X, W1, W2)
        for i in range(len(X)):
            one = make(two_layer, (0, 1))(X[i], W1, W2)
            np.testing.assert_allclose(got[0][i], one[0], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got[1][i], one[1], rtol=1e-10, atol=1e-12)
        assert got[1].shape == (4, 4, 8, 6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vmap_of_grad_equals_the_loop_and_finite_differences(dtype):
    X, W1, W2 = _net(6, dtype)
    got = ad.vmap(ad.grad(loss, (0, 1)), in_axes=(0, None, None))(X, W1, W2)
    for i in range(len(X)):
        one = ad.grad(loss, (0, 1))(X[i], W1, W2)
        np.testing.assert_allclose(got[0][i], one[0], **_tolerance(dtype))
        np.testing.assert_allclose(got[1][i], one[1], **_tolerance(dtype))
    if dtype == np.float64:
        ad.testing.check_grads(loss, (X[0], W1, W2), order=1)
        expected = _finite_jacobian(lambda x: loss(x, W1, W2), X[2])
        np.testing.assert_allclose(got[0][2], expected, rtol=1e-6, atol=1e-8)


def test_vmap_jacrev_return_value():
    cameras, points = _cameras(3, np.float64)
    jac, value = ad.vmap(ad.jacrev(projection, return_value=True))(cameras, points)
    np.testing.assert_allclose(value, np.stack([projection(c, p) for c, p in zip(cameras, points)]))
    assert jac.shape == (3, 2, 9)
    jac, value = ad.vmap(ad.jacfwd(projection, return_value=True))(cameras, points)
    np.testing.assert_allclose(value, np.stack([projection(c, p) for c, p in zip(cameras, points)]))
    assert jac.shape == (3, 2, 9)


def _counting(monkeypatch):
    """Count the calls of the run-time batching dispatcher that generated batched code makes."""
    count = [0]
    original = batching_runtime.call

    def counting(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)
    monkeypatch.setattr(batching_runtime, "call", counting)
    return count


@pytest.mark.parametrize("make", [ad.jacrev, ad.jacfwd])
def test_dispatch_calls_do_not_grow_with_the_batch_and_no_fallback_is_taken(monkeypatch, make):
    mapped = ad.vmap(make(projection, (0, 1)))
    calls = {}
    for n in (2, 40):
        cameras, points = _cameras(n, np.float64)
        mapped(cameras, points)  # compile
        count = _counting(monkeypatch)
        with batching_runtime.recording() as fallbacks:
            mapped(cameras, points)
        monkeypatch.undo()
        assert fallbacks == [] and mapped.last_fallbacks == []
        calls[n] = count[0]
    assert 0 < calls[2] == calls[40] < 100, calls
    assert "fell back" not in ad.source(mapped)


def test_a_fallback_is_reported_in_the_source():
    mapped = ad.vmap(ad.jacrev(branchy))
    x = np.array([[1.0, 2.0], [-1.0, 3.0], [0.5, -1.0]])
    got = mapped(x)
    for i in range(len(x)):
        np.testing.assert_allclose(got[i], ad.jacrev(branchy)(x[i]), rtol=1e-12)
    assert mapped.last_fallbacks
    text = ad.source(mapped)
    assert "# vmap fell back to one call per batch element" in text
    assert "test_batched_jacobians.py" in text


def test_a_transform_vmap_does_not_batch_says_so():
    mapped = ad.vmap(ad.jacrev(lambda x: (np.sin(x), np.sum(x)), has_aux=True))
    x = np.ones((3, 2))
    jac, aux = mapped(x)
    np.testing.assert_allclose(jac, np.stack([np.diag(np.cos(r)) for r in x]))
    text = ad.source(mapped)
    assert "once per batch element (has_aux)" in text
    assert text.startswith("# vmap fell back to one call per batch element: has_aux")


def test_jacfwd_of_a_scalar_input_runs_no_batching(monkeypatch):
    count = _counting(monkeypatch)
    jac = ad.jacfwd(cubic)(0.7)
    assert count[0] == 0
    np.testing.assert_allclose(jac, [3 * 0.7 ** 2, np.cos(0.7)], rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(cubic)(0.7), jac, rtol=1e-12)


def test_jacrev_of_a_scalar_output_runs_no_batching(monkeypatch):
    X, W1, W2 = _net(1, np.float64)
    count = _counting(monkeypatch)
    jac = ad.jacrev(loss)(X[0], W1, W2)
    assert count[0] == 0
    np.testing.assert_allclose(jac, ad.grad(loss)(X[0], W1, W2), rtol=1e-12)


def test_the_basis_is_reused_and_read_only():
    a = jacobian_parts.basis((3, 2), np.float64, 0, 6)
    assert a is jacobian_parts.basis((3, 2), np.float64, 0, 6)
    assert not a.flags.writeable
    np.testing.assert_array_equal(a.reshape(6, 6), np.eye(6))
    b = jacobian_parts.repeated_basis((2,), np.float32, 3)
    assert b.dtype == np.float32 and not b.flags.writeable
    np.testing.assert_array_equal(b, np.tile(np.eye(2, dtype=np.float32), (3, 1)))


def test_default_chunk_size_bounds_each_batched_array():
    assert default_chunk_size(200, [np.zeros(200)]) == 200  # tanh(A @ x), 200 x 200: one pass
    rows = default_chunk_size(100_000, [np.zeros(50)])
    assert rows * 100_000 <= CHUNK_ELEMENTS or rows == 1
    assert default_chunk_size(5000, [np.zeros(1000)]) * 5000 <= CHUNK_ELEMENTS


def test_jacobians_with_the_default_chunk_equal_finite_differences():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((30, 20)) / 5
    x = rng.standard_normal(20)

    def layer(x, A):
        return np.tanh(A @ x)
    expected = _finite_jacobian(lambda v: layer(v, A), x)
    for jac in (ad.jacrev(layer)(x, A), ad.jacfwd(layer)(x, A), ad.jacrev(layer, chunk_size=7)(x, A)):
        np.testing.assert_allclose(jac, expected, rtol=1e-7, atol=1e-9)


def test_jacrev_source_shows_the_batched_backward_headed_by_the_users_lines():
    text = ad.source(ad.jacrev(two_layer))
    assert text.startswith("# jacrev of two_layer (test_batched_jacobians.py:")
    assert "def two_layer_backward_batched(residuals, out_bar):" in text
    assert "# test_batched_jacobians.py:" in text.split("def two_layer_backward_batched")[1]
    text = ad.source(ad.jacfwd(two_layer))
    assert "def two_layer_jvp_batched(tangents, x, W1, W2):" in text
    text = ad.source(ad.vmap(ad.jacrev(projection, (0, 1))))
    assert "projection_forward_batched" in text and "projection_backward_batched" in text
    assert "# test_batched_jacobians.py:" in text


SCALE = 2.0  # globals read by scaled_layer: a rebound ACTIVATION must not reuse the compiled module
ACTIVATION = np.tanh


def scaled_layer(x, A):
    return SCALE * ACTIVATION(A @ x)


def _count_full_calls(monkeypatch, cls=JacRev):
    calls = []
    original = cls._full_call

    def counting(self, args):
        calls.append(len(args))
        return original(self, args)
    monkeypatch.setattr(cls, "_full_call", counting)
    return calls


def _layer_inputs(rows, columns, dtype=np.float64, seed=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(columns).astype(dtype), (rng.standard_normal((rows, columns)) / 4).astype(dtype)


def test_jacrev_fast_path_is_taken_and_equals_finite_differences(monkeypatch):
    calls = _count_full_calls(monkeypatch)
    jac = ad.jacrev(scaled_layer)
    x, A = _layer_inputs(7, 5)
    first = jac(x, A)
    assert calls == [2]
    for seed in (5, 6):  # other values, same kinds and shapes: the fast path, and new values
        x, A = _layer_inputs(7, 5, seed=seed)
        got = jac(x, A)
        np.testing.assert_allclose(got, _finite_jacobian(lambda v: scaled_layer(v, A), x), rtol=1e-7, atol=1e-9)
        assert got.shape == (7, 5) and got.dtype == np.float64 and got.flags.writeable
    assert calls == [2]
    assert not np.allclose(first, got)
    both = ad.jacrev(scaled_layer, (0, 1), return_value=True)
    both(x, A)
    (jx, jA), value = both(x, A)
    np.testing.assert_allclose(value, scaled_layer(x, A), rtol=1e-15)
    np.testing.assert_allclose(jA, _finite_jacobian(lambda B: scaled_layer(x, B), A), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(jx, ad.jacfwd(scaled_layer)(x, A), rtol=1e-12)
    assert calls == [2, 2]  # one full call for each transform


def test_jacrev_fast_path_is_left_when_kinds_shapes_or_outputs_change(monkeypatch):
    calls = _count_full_calls(monkeypatch)
    jac = ad.jacrev(scaled_layer)
    cases = [_layer_inputs(7, 5), _layer_inputs(7, 5, np.float32), _layer_inputs(7, 5),
             _layer_inputs(7, 3), _layer_inputs(4, 3), _layer_inputs(4, 3)]
    expected_full = [1, 2, 3, 4, 4, 5]  # the 5th: same input shape, another output shape (run from its forward)
    for (x, A), full in zip(cases, expected_full):
        got = jac(x, A)
        assert got.dtype == x.dtype and got.shape == A.shape
        x64, A64 = x.astype(np.float64), A.astype(np.float64)
        np.testing.assert_allclose(got, _finite_jacobian(lambda v: scaled_layer(v, A64), x64),
                                   **(_tolerance(x.dtype) if x.dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)))
        assert len(calls) == full
    x, A = _layer_inputs(7, 5)
    jac(x, A)
    with pytest.raises(ad.InputTypeError):  # an integer input is still refused, on the call after a fast one
        jac(np.arange(5), A)


def test_jacrev_fast_path_sees_a_rebound_global_and_clear_cache(monkeypatch):
    calls = _count_full_calls(monkeypatch)
    jac = ad.jacrev(scaled_layer)
    x, A = _layer_inputs(6, 4)
    jac(x, A)
    jac(x, A)
    assert len(calls) == 1
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "SCALE", 3.0)  # a value the generated code reads when it runs: still fast
    np.testing.assert_allclose(jac(x, A), _finite_jacobian(lambda v: scaled_layer(v, A), x), rtol=1e-7, atol=1e-9)
    assert len(calls) == 1
    monkeypatch.setattr(module, "ACTIVATION", np.sin)  # another function called: compiled again
    np.testing.assert_allclose(jac(x, A), _finite_jacobian(lambda v: scaled_layer(v, A), x), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(jac(x, A), 3.0 * np.cos(A @ x)[:, None] * A, rtol=1e-14)
    assert len(calls) == 2
    ad.clear_cache()
    np.testing.assert_allclose(jac(x, A), _finite_jacobian(lambda v: scaled_layer(v, A), x), rtol=1e-7, atol=1e-9)
    assert len(calls) == 3


def test_jacfwd_fast_path_is_taken_and_left(monkeypatch):
    calls = _count_full_calls(monkeypatch, JacFwd)
    jac = ad.jacfwd(scaled_layer, (0, 1), return_value=True)
    cases = [_layer_inputs(6, 4), _layer_inputs(6, 4, seed=7), _layer_inputs(6, 4, np.float32),
             _layer_inputs(6, 4, np.float32), _layer_inputs(6, 3), _layer_inputs(2, 3)]
    expected_full = [1, 1, 2, 2, 3, 4]
    for (x, A), full in zip(cases, expected_full):
        (jx, jA), value = jac(x, A)
        assert len(calls) == full
        x64, A64 = x.astype(np.float64), A.astype(np.float64)
        tolerance = _tolerance(x.dtype) if x.dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)
        assert jx.dtype == jA.dtype == value.dtype == x.dtype
        np.testing.assert_allclose(value, scaled_layer(x, A), rtol=1e-6)
        np.testing.assert_allclose(jx, _finite_jacobian(lambda v: scaled_layer(v, A64), x64), **tolerance)
        np.testing.assert_allclose(jA, _finite_jacobian(lambda B: scaled_layer(x64, B), A64), **tolerance)
        jr = ad.jacrev(scaled_layer, (0, 1))(x, A)
        np.testing.assert_allclose(jx, jr[0], **_tolerance(x.dtype))
        np.testing.assert_allclose(jA, jr[1], **_tolerance(x.dtype))
    monkeypatch.setattr(sys.modules[__name__], "ACTIVATION", np.sin)
    (jx, _), _ = jac(x, A)
    assert len(calls) == 5
    np.testing.assert_allclose(jx, 2.0 * np.cos(A @ x)[:, None] * A, rtol=1e-14)
    ad.clear_cache()
    jac(x, A)
    assert len(calls) == 6
    with pytest.raises(ad.InputTypeError):
        jac(np.arange(3), A)
    only_x = ad.jacfwd(scaled_layer)
    for rows, full in ((6, 8), (6, 8), (3, 9), (3, 9)):  # same x, another output shape: the full path
        x, A = _layer_inputs(rows, 4)
        np.testing.assert_allclose(only_x(x, A), _finite_jacobian(lambda v: scaled_layer(v, A), x), rtol=1e-7,
                                   atol=1e-9)
        assert len(calls) == full


def mixed(a, s, b):
    return np.sin(a) * s + np.array([b[0] * b[1], s ** 2, b[1]]) * a[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vmap_jacfwd_runs_one_pass_for_every_input_and_equals_the_loop(monkeypatch, dtype):
    rng = np.random.default_rng(8)
    A, S, B = (rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal(5).astype(dtype),
               rng.standard_normal((5, 2)).astype(dtype))
    passes = []
    original = jacobian_parts.slot_basis

    def counting(*args):
        passes.append(args)
        return original(*args)
    monkeypatch.setattr(vmap_jacobians, "slot_basis", counting)
    got = ad.vmap(ad.jacfwd(mixed, (0, 1, 2)))(A, S, B)
    assert [p[2:] for p in passes] == [(0, 6, 5), (3, 6, 5), (4, 6, 5)]  # (offset, rows per element, batch)
    for i in range(5):
        loop = ad.jacfwd(mixed, (0, 1, 2))(A[i], S[i], B[i])
        a, s, b = A[i].astype(np.float64), float(S[i]), B[i].astype(np.float64)
        finite = (_finite_jacobian(lambda v: mixed(v, s, b), a),
                  _finite_jacobian(lambda v: mixed(a, float(v), b), np.float64(s)),
                  _finite_jacobian(lambda v: mixed(a, s, v), b))
        for g, l, f in zip(got, loop, finite):
            assert g.dtype == dtype and g[i].shape == l.shape
            np.testing.assert_allclose(g[i], l, **_tolerance(dtype))
            np.testing.assert_allclose(g[i], f, rtol=1e-6 if dtype == np.float64 else 2e-3,
                                       atol=1e-8 if dtype == np.float64 else 1e-4)
