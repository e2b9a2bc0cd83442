"""The public API's type hints: mypy checks a typed user program against them (and every module it
imports from the package), and refuses calls whose options have the wrong type. The program also runs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]

USER_PROGRAM = '''\
from typing import Any, Callable

import numpy as np

import autodiff_st as ad


def loss(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(np.tanh(x * w)))


g: Callable[..., Any] = ad.grad(loss, argnums=(0, 1))
vg = ad.value_and_grad(loss)
gv = ad.grad_and_value(loss, argnums=1)
jr = ad.jacrev(loss, chunk_size=4, progress=True)
jf = ad.jacfwd(loss, progress=False)
h = ad.hessian(loss, argnums=0)
v = ad.vmap(loss, in_axes=(0, None), chunk_size=2)
out, pullback = ad.vjp(loss, np.ones(3), np.ones(3))
y, y_dot = ad.jvp(loss, (np.ones(3), np.ones(3)), (np.ones(3), np.zeros(3)))
y2, f_jvp = ad.linearize(loss, np.ones(3), np.ones(3))
text: str = ad.source(g)
ad.clear_cache()
ad.testing.check_grads(loss, (np.ones(3), np.ones(3)), order=1, modes=("rev",))


@ad.jacrev(argnums=1)
def decorated(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.tanh(x * w)


@ad.custom_vjp
def clip(x: float) -> float:
    return x


clip.defvjp(lambda x: (x, None), lambda r, g: (g,))
kept: np.ndarray = ad.stop_gradient(np.ones(3))
'''

# Each line marked "# E:" must be reported by mypy, and no other line.
USER_ERRORS = '''\
import numpy as np

import autodiff_st as ad


def loss(x: np.ndarray) -> float:
    return float(np.sum(x))


ad.grad(loss, has_aux="yes")  # E: a flag is a bool
ad.jacrev(loss, chunk_size=2.5)  # E: chunk_size is an int
ad.vmap(loss, progress="on")  # E: progress is a bool
text: int = ad.source(loss)  # E: source is a str
ad.testing.check_grads(loss, (np.ones(3),), order="2")  # E: order is an int
'''


def test_py_typed_is_shipped():
    assert (ROOT / "autodiff_st" / "py.typed").is_file()


def test_mypy_accepts_a_typed_program_and_refuses_wrong_option_types(tmp_path):
    (tmp_path / "user_program.py").write_text(USER_PROGRAM)
    (tmp_path / "user_errors.py").write_text(USER_ERRORS)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
         "user_program.py", "user_errors.py"],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=600)
    reported = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert not [line for line in reported if not line.startswith("user_errors.py:")], done.stdout
    lines = {int(re.match(r"user_errors.py:(\d+):", line).group(1)) for line in reported}
    marked = {i for i, text in enumerate(USER_ERRORS.splitlines(), 1) if "# E:" in text}
    assert lines == marked, done.stdout


def test_the_typed_program_runs(tmp_path):
    path = tmp_path / "user_program.py"
    path.write_text(USER_PROGRAM)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr
