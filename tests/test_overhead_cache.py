"""The fast path of a cached call, the template copier, and the on-disk cache of generated adjoints."""

import ast
import copy
import json
import os
import stat
import subprocess
import sys
import textwrap
import traceback

import gast
import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import disk_cache
from autodiff_st.compiler.templates import copy_tree, template_of
from autodiff_st.core import registry
from autodiff_st.core.errors import InputTypeError, StaleSourceError
from autodiff_st.testing import check_grads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

act = np.sin


def uses_global(x):
    return np.sum(act(x) * x)


def tanh_loss(x, w):
    return np.sum(np.tanh(x * w))


def fails_on_negative(x):
    if x < 0:
        raise ValueError("negative input")
    return np.sqrt(x)


# --- the fast path of a cached call -------------------------------------------------------------------

def test_fast_path_follows_changing_kinds():
    g = ad.grad(tanh_loss, (0, 1))
    for x, w in [(0.3, 1.5), (np.array([0.1, -0.4]), 1.5), (0.3, np.array(2.0)), (0.3, 1.5),
                 (np.array([0.1, -0.4], dtype=np.float32), np.float32(0.5)), (np.ones((2, 3)), np.ones(3))]:
        for _ in range(2):  # the second call takes the fast path
            gx, gw = g(x, w)
            assert type(gx) is type(x) and type(gw) is type(w)
            assert np.shape(gx) == np.shape(x) and np.shape(gw) == np.shape(w)
        if not isinstance(x, np.ndarray) or x.dtype == np.float64:
            check_grads(tanh_loss, (x, w), order=1)


def test_fast_path_value_and_grad_matches_the_function():
    vg = ad.value_and_grad(tanh_loss)
    for x in (0.7, 0.7, np.linspace(-1, 1, 4), np.linspace(-1, 1, 4)):
        value, gx = vg(x, 2.0)
        assert value == tanh_loss(x, 2.0)
        np.testing.assert_allclose(gx, 2.0 * (1 - np.tanh(2.0 * np.asarray(x)) ** 2))


def test_fast_path_still_refuses_integers_and_complex():
    g = ad.grad(tanh_loss)
    g(1.0, 2.0)
    g(1.0, 2.0)
    with pytest.raises(InputTypeError):
        g(1, 2.0)  # an int has the same kind as a float (a Python number) but no gradient
    g(np.ones(3), 2.0)
    with pytest.raises(InputTypeError):
        g(np.ones(3, dtype=np.int64), 2.0)
    with pytest.raises(InputTypeError):
        g(np.ones(3, dtype=complex), 2.0)


def test_fast_path_sees_a_rebound_global():
    global act
    g = ad.grad(uses_global)
    x = np.linspace(0.1, 0.9, 3)
    np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x))
    act = np.cos
    try:
        np.testing.assert_allclose(g(x), np.cos(x) - x * np.sin(x))
    finally:
        act = np.sin
    np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x))


def test_fast_path_after_clear_cache():
    g = ad.grad(tanh_loss)
    first = g(0.5, 3.0)
    ad.clear_cache()
    assert g(0.5, 3.0) == first


def test_fast_path_keeps_the_user_traceback():
    g = ad.grad(fails_on_negative)
    assert g(4.0) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="negative input") as info:
        g(-4.0)
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    assert 'raise ValueError("negative input")' in text
    assert "fails_on_negative" in text


def test_fast_path_with_containers_and_keywords():
    def loss(params, x, scale=1.0):
        return np.sum((params["w"] * x + params["b"]) ** 2) * scale

    g = ad.grad(loss)
    p = {"w": np.array([1.0, 2.0]), "b": 0.5}
    for scale in (1.0, 2.0, 2.0):
        grads = g(p, np.array([0.5, -1.0]), scale=scale)
        r = p["w"] * np.array([0.5, -1.0]) + 0.5
        np.testing.assert_allclose(grads["w"], 2 * r * np.array([0.5, -1.0]) * scale)
        assert type(grads["b"]) is float and grads["b"] == pytest.approx(2 * r.sum() * scale)


# --- the template copier ------------------------------------------------------------------------------

def test_copy_tree_equals_deepcopy():
    for rule in list(registry._RULES.values())[:60]:
        template = template_of(rule.vjp)
        if template is None:
            continue
        copied = copy_tree(template)
        assert ast.dump(gast.gast_to_ast(copied), include_attributes=True) == \
            ast.dump(gast.gast_to_ast(copy.deepcopy(template)), include_attributes=True)
        originals = {id(n) for n in gast.walk(template)}
        assert not any(id(n) in originals for n in gast.walk(copied))


# --- the disk cache -----------------------------------------------------------------------------------

SCRIPT = textwrap.dedent('''
    import logging, sys
    import numpy as np
    import autodiff_st as ad

    logging.basicConfig(level=logging.INFO, format="LOG %(message)s", stream=sys.stdout)

    def f(x, y):
        return np.sum(np.sin(x) * y + np.exp(-x * x))

    ad.enable_disk_cache()
    g = ad.grad(f, (0, 1))(np.linspace(0.0, 1.0, 5), 2.0)
    print("RESULT", repr(g[0].tolist()), repr(g[1]))
''')


def _run(tmp_path, env_extra=None):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=ROOT)
    env.pop(disk_cache.ENVIRONMENT_VARIABLE, None)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, str(tmp_path / "script.py")], env=env, capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    return result[0], out.stdout


@pytest.fixture
def script(tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    return tmp_path


def _entries(tmp_path):
    directory = tmp_path / "cache" / "autodiff_st"
    return directory, sorted(p for p in directory.iterdir() if p.suffix == ".json")


def test_second_process_loads_from_disk(script):
    first, log1 = _run(script)
    second, log2 = _run(script)
    assert "loaded from disk cache" not in log1
    assert "loaded from disk cache" in log2
    assert first == second
    directory, entries = _entries(script)
    assert len(entries) == 1
    if hasattr(os, "getuid"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600


def test_environment_variable_turns_it_on(script):
    (script / "script.py").write_text(SCRIPT.replace("ad.enable_disk_cache()", ""))
    _run(script, {disk_cache.ENVIRONMENT_VARIABLE: "1"})
    _, log = _run(script, {disk_cache.ENVIRONMENT_VARIABLE: "1"})
    assert "loaded from disk cache" in log
    _, log = _run(script)  # without it, the cache is off
    assert "loaded from disk cache" not in log


@pytest.mark.parametrize("damage", ["source", "digest", "truncate", "key"])
def test_damaged_entry_is_rebuilt_not_trusted(script, damage):
    expected, _ = _run(script)
    _, (entry,) = _entries(script)
    data = json.loads(entry.read_text())
    if damage == "source":  # a changed gradient, with the old digest: must be refused
        data["payload"]["source"] = data["payload"]["source"].replace("y_bar", "y_bar * 2.0")
    elif damage == "digest":
        data["digest"] = "0" * 64
    elif damage == "key":  # a consistent entry under the wrong name
        data["key"] = "1" * 64
        data["digest"] = disk_cache._digest(data["payload"])
    entry.write_text(json.dumps(data)[:100] if damage == "truncate" else json.dumps(data))
    result, log = _run(script)
    assert result == expected
    assert "loaded from disk cache" not in log and "ignored a disk cache entry" in log
    again, log = _run(script)  # the rebuilt entry replaced the damaged one
    assert again == expected and "loaded from disk cache" in log


def test_stale_guard_is_rebuilt(script):
    _run(script)
    # The same file text would give the same key: change what np means without changing the key, by
    # pointing the entry's guard at another module.
    _, (entry,) = _entries(script)
    data = json.loads(entry.read_text())
    data["payload"]["guards"] = [[name, ["math", ""] if ref else ref, kind] for name, ref, kind in
                                 data["payload"]["guards"]]
    data["digest"] = disk_cache._digest(data["payload"])
    entry.write_text(json.dumps(data))
    _, log = _run(script)
    assert "loaded from disk cache" not in log


def test_refuses_shared_directories(tmp_path):
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    try:
        with pytest.raises(PermissionError):
            ad.enable_disk_cache(str(shared))
        link = tmp_path / "link"
        private = tmp_path / "private"
        private.mkdir(mode=0o700)
        link.symlink_to(private)
        with pytest.raises(PermissionError):
            ad.enable_disk_cache(str(link))
        created = ad.enable_disk_cache(str(tmp_path / "new" / "cache"))
        assert stat.S_IMODE(os.stat(created).st_mode) == 0o700
    finally:
        ad.disable_disk_cache()


def _exec_file(path, text):
    path.write_text(text)
    namespace = {"np": np}
    exec(compile(text, str(path), "exec"), namespace)
    return namespace["f"]


def test_redefined_function_in_the_same_file_is_not_confused(tmp_path):
    """A file rewritten in one process: the older function must not load the newer one's entry."""
    ad.enable_disk_cache(str(tmp_path / "cache"))
    try:
        path = tmp_path / "cell.py"
        first = _exec_file(path, "def f(x):\n    return x * x\n")
        assert ad.grad(first)(3.0) == pytest.approx(6.0)
        second = _exec_file(path, "def f(x):\n    return np.sin(x) * x * x\n")
        assert ad.grad(second)(3.0) == pytest.approx(np.cos(3.0) * 9.0 + np.sin(3.0) * 6.0)
        ad.clear_cache()  # only the disk cache is left
        assert ad.grad(second)(3.0) == pytest.approx(np.cos(3.0) * 9.0 + np.sin(3.0) * 6.0)
        # The older function's code no longer matches its file: its key differs from the newer one's, so it
        # is compiled again, and refused as stale, never given the newer function's adjoint.
        with pytest.raises(StaleSourceError):
            ad.grad(first)(3.0)
    finally:
        ad.disable_disk_cache()
