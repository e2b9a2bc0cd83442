"""docs/notebook.md: functions defined in notebook cells are differentiated, and examples/notebook.ipynb
runs and shows each transform with its generated source.

IPython (and so Jupyter) runs a cell statement by statement, each compiled on its own; on Python 3.11 a
function compiled that way can differ in its bytecode from the same text compiled as a whole file, and
the check that a function's source is current refused it with a StaleSourceError. The first test runs a
cell the way IPython does, without IPython; the others use IPython and nbconvert where installed."""

import ast
import linecache
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

ROOT = Path(__file__).resolve().parents[1]

CELL = """\
import numpy as np


def loss(w, x):
    z = x @ w
    return np.sum(np.tanh(z) ** 2)


w, x = np.array([0.5, -1.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
"""


def test_a_function_from_a_cell_run_statement_by_statement():
    filename = "<cell run statement by statement>"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(True), filename)
    namespace = {"__name__": "__main__"}
    try:
        for node in ast.parse(CELL).body:  # as IPython's run_ast_nodes does
            exec(compile(ast.Module(body=[node], type_ignores=[]), filename, "exec"), namespace)
        loss, w, x = namespace["loss"], namespace["w"], namespace["x"]
        gradient = ad.grad(loss)(w, x)
        check_grads(loss, (w, x), order=2)
        expected = x.T @ (2 * np.tanh(x @ w) / np.cosh(x @ w) ** 2)
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)
        assert f"# {filename}:5  z = x @ w" in ad.source(ad.grad(loss))
    finally:
        linecache.cache.pop(filename, None)


def test_an_edited_cell_is_still_refused():
    """The statement-by-statement fallback does not hide a stale source: the text now in the cache
    differs from the code that runs."""
    filename = "<cell edited after it ran>"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(True), filename)
    namespace = {}
    try:
        for node in ast.parse(CELL).body:
            exec(compile(ast.Module(body=[node], type_ignores=[]), filename, "exec"), namespace)
        edited = CELL.replace("** 2", "** 3")
        linecache.cache[filename] = (len(edited), None, edited.splitlines(True), filename)
        with pytest.raises(ad.StaleSourceError):
            ad.grad(namespace["loss"])(namespace["w"], namespace["x"])
    finally:
        linecache.cache.pop(filename, None)


def test_ipython_runs_a_cell_and_shows_the_transform():
    pytest.importorskip("IPython")
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        f"result = shell.run_cell({CELL + 'import autodiff_st as ad; dloss = ad.grad(loss); dloss(w, x)'!r})\n"
        "assert result.success, result.error_in_exec\n"
        "html = shell.user_ns['dloss']._repr_html_()\n"
        "assert 'autodiff_st Grad of loss' in html and 'loss_grad' in html and 'z_bar' in html\n"
        "print(result.result.tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")})
    assert done.returncode == 0, done.stdout + done.stderr
    w, x = np.array([0.5, -1.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = x.T @ (2 * np.tanh(x @ w) / np.cosh(x @ w) ** 2)
    np.testing.assert_allclose(eval(done.stdout.strip().splitlines()[-1]), expected, rtol=1e-12)


def test_the_example_notebook_runs_under_nbconvert(tmp_path):
    pytest.importorskip("nbconvert")
    pytest.importorskip("ipykernel")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
                           str(ROOT / "examples" / "notebook.ipynb"), "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "notebook.html").read_text()
    assert "autodiff_st Grad of loss (positions=0, has_aux=False, return_value=False)" in page
    assert "loss_grad" in page and "loss_backward" in page and "Error" not in page.split("<body")[1]
