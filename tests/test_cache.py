"""Stages 8 and 9, load and cache: each adjoint is built once, rebuilt when its function changes, and its
generated source is registered with linecache so tracebacks show it."""

import collections
import linecache
import sys
import traceback

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import cache


@pytest.fixture
def builds(monkeypatch):
    """Count the runs of the whole pipeline, by (function name, positions, mode)."""
    counts = collections.Counter()
    real_build = cache.build

    def counting_build(fn, positions, mode, kinds=None):
        counts[(fn.__name__, positions, mode)] += 1
        return real_build(fn, positions, mode, kinds)

    monkeypatch.setattr(cache, "build", counting_build)
    return counts


# Each function here is used by one test only, so no other test has already built its adjoint.

def cached_once(x):
    return np.sin(x) * x


def cached_per_mode(x, y):
    return x * y + np.cos(x)


def cached_inner(z, scale=2.0):  # a default: compiled on its own, not inlined into its caller
    return np.tanh(z) * scale


def cached_outer(x):
    return cached_inner(x * 3.0) + x


ACT = np.tanh


def cached_calls_global(x):
    return ACT(x) * 2.0


def divides_by_a_string(x):
    y = x * 2.0
    return y / "not a number"


def test_grad_twice_does_not_transform_twice(builds):
    df = ad.grad(cached_once)
    first = df(0.5)
    second = df(0.5)
    third = ad.grad(cached_once)(0.5)  # a new transform object: same cache entry
    expected = np.cos(0.5) * 0.5 + np.sin(0.5)
    assert first == second == third == pytest.approx(expected)
    assert builds == {("cached_once", (0,), "grad_only"): 1}


def test_cache_is_per_positions_and_mode(builds):
    ad.grad(cached_per_mode)(1.0, 2.0)
    ad.grad(cached_per_mode, 1)(1.0, 2.0)
    ad.grad(cached_per_mode, (0, 1))(1.0, 2.0)
    ad.value_and_grad(cached_per_mode)(1.0, 2.0)  # also returns the value: its own mode
    ad.grad(cached_per_mode, -2)(1.0, 2.0)  # position -2 is position 0
    for _ in range(3):
        _, vjp_fn = ad.vjp(cached_per_mode, 1.0, 2.0)
        assert vjp_fn(1.0) == pytest.approx((2.0 - np.sin(1.0), 1.0))
    assert builds == {
        ("cached_per_mode", (0,), "grad_only"): 1,
        ("cached_per_mode", (1,), "grad_only"): 1,
        ("cached_per_mode", (0, 1), "grad_only"): 1,
        ("cached_per_mode", (0,), "grad"): 1,
        ("cached_per_mode", (0, 1), "vjp"): 1,
    }


def test_callee_adjoints_are_cached_too(builds):
    df = ad.grad(cached_outer)
    # tanh(3x) * 2 + x: 6 (1 - tanh(3x)^2) + 1
    for _ in range(3):
        assert df(0.2) == pytest.approx(6.0 * (1.0 - np.tanh(0.6) ** 2) + 1.0)
    assert builds[("cached_outer", (0,), "grad_only")] == 1
    assert sum(n for (name, _, _), n in builds.items() if name == "cached_inner") == 1


def test_closures_of_one_code_share_the_build_and_keep_their_own_cells(builds):
    def make(w):
        def scaled(x):
            return np.sum(w * x * x)
        return scaled

    x = np.array([1.0, 2.0])
    a, b = make(np.array([1.0, 10.0])), make(np.array([-3.0, 0.5]))
    np.testing.assert_allclose(ad.grad(a)(x), 2 * np.array([1.0, 10.0]) * x)
    np.testing.assert_allclose(ad.grad(b)(x), 2 * np.array([-3.0, 0.5]) * x)
    assert builds == {("scaled", (0,), "grad_only"): 1}


def test_rebinding_a_called_global_rebuilds(builds, monkeypatch):
    df = ad.grad(cached_calls_global)
    assert df(0.5) == pytest.approx(2.0 * (1.0 - np.tanh(0.5) ** 2))
    assert df(0.5) == pytest.approx(2.0 * (1.0 - np.tanh(0.5) ** 2))
    assert builds[("cached_calls_global", (0,), "grad_only")] == 1
    monkeypatch.setattr(sys.modules[__name__], "ACT", np.sin)
    assert df(0.5) == pytest.approx(2.0 * np.cos(0.5))
    assert df(0.5) == pytest.approx(2.0 * np.cos(0.5))
    assert builds[("cached_calls_global", (0,), "grad_only")] == 2


def _exec_file(path, text):
    path.write_text(text)
    namespace = {"np": np}
    exec(compile(text, str(path), "exec"), namespace)
    return namespace["f"]


def test_redefined_function_gets_a_new_adjoint(tmp_path, builds):
    path = tmp_path / "notebook_cell.py"
    old = _exec_file(path, "def f(x):\n    return x * x * x\n")
    assert ad.grad(old)(2.0) == pytest.approx(12.0)
    assert ad.grad(old)(2.0) == pytest.approx(12.0)
    new = _exec_file(path, "def f(x):\n    return np.exp(x) * 5.0\n")  # the cell run again, edited
    grad_new = ad.grad(new)
    assert grad_new(2.0) == pytest.approx(5.0 * np.exp(2.0))
    assert "exp" in ad.source(grad_new)  # the source of the adjoint that ran
    assert builds[("f", (0,), "grad_only")] == 2


def test_generated_source_is_registered_with_linecache():
    compiled = cache.compiled_adjoint(cached_once, (0,), "vjp")
    assert compiled.filename in linecache.cache
    assert "".join(linecache.getlines(compiled.filename)) == compiled.source
    assert compiled.source == ad.source(cached_once)
    linecache.checkcache()  # a generated file has no disk copy: it must survive a cache check
    assert "".join(linecache.getlines(compiled.filename)) == compiled.source


def test_traceback_through_generated_code_shows_the_generated_line():
    with pytest.raises(TypeError) as info:
        ad.grad(divides_by_a_string)(1.5)
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    generated_frames = [f for f in traceback.extract_tb(info.tb) if f.filename.startswith("<autodiff_st")]
    assert generated_frames, text
    frame = generated_frames[-1]
    assert frame.line, "the generated line is shown"
    assert "'not a number'" in frame.line and "/" in frame.line
    assert frame.line in text
    assert frame.line == linecache.getline(frame.filename, frame.lineno).strip()
    assert frame.line in ad.source(ad.grad(divides_by_a_string))


def test_traceback_through_a_vjp_backward_pass():
    _, vjp_fn = ad.vjp(cached_inner, np.ones(3))
    with pytest.raises(TypeError) as info:
        vjp_fn(np.array(["a", "b", "c"], dtype=object))  # the right shape, so the backward pass runs
    frames = [f for f in traceback.extract_tb(info.tb) if f.filename.startswith("<autodiff_st")]
    assert frames
    assert all(f.line and f.line == linecache.getline(f.filename, f.lineno).strip() for f in frames)
    assert frames[-1].line in ad.source(cached_inner)
