"""docs/cookbook.md, "Stepping through an adjoint in pdb": the instructions work as written. pdb runs in a
fresh process with its commands on stdin, as a user typing them, and stops in the generated adjoint,
where the listing shows the user's own lines (the line map's comments) above the generated ones.
(The cookbook's second way, a breakpoint set with the pdb.Pdb API, is a docs block that
tests/test_docs_blocks.py runs.)"""

import subprocess
import sys
from pathlib import Path

import numpy as np

import autodiff_st as ad

ROOT = Path(__file__).resolve().parents[1]

MODEL = '''\
import numpy as np


def predict(w, x):
    z = x @ w
    breakpoint()
    return np.sum(np.tanh(z))


def broken(w, x):
    z = x @ w
    return np.sum(np.tanh(z) * x)  # (2,) times (2, 3): fails when it runs
'''

POST_MORTEM = '''\
import pdb
import sys

import numpy as np

import autodiff_st as ad
import model

try:
    ad.grad(model.broken)(np.ones(3), np.ones((2, 3)))
except ValueError:
    pdb.post_mortem(sys.exc_info()[2])
'''


def _run(tmp_path, args, commands):
    (tmp_path / "model.py").write_text(MODEL)
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}", "PATH": "/usr/bin:/bin", "PYTHONBREAKPOINT": "pdb.set_trace"}
    done = subprocess.run([sys.executable, *args], input=commands, capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_breakpoint_in_the_function_stops_in_the_adjoint(tmp_path):
    """Way 1: breakpoint() in the user's function; the cookbook's transcript, then `l` and two steps."""
    # Python 3.13's breakpoint() stops on its own line, earlier ones on the line after it: one step more.
    on_its_line = sys.version_info >= (3, 13)
    out = _run(tmp_path, ["-c", "import numpy as np, autodiff_st as ad, model; "
                                "print(ad.grad(model.predict)(np.ones(3), np.ones((2, 3))))"],
               "p z\nl\n" + "n\n" * (3 if on_its_line else 2) + "c\n")
    stop = "-> breakpoint()" if on_its_line else "(14)predict_grad()\n-> tanh_z = np.tanh(z)"
    assert "> <autodiff_st grad_only of predict #1>" in out and stop in out, out
    assert "(Pdb) array([3., 3.])" in out  # `p z`: the forward value at the stop
    # `l`: the user's lines, by file and line, above the generated code that runs them
    assert "# model.py:5  z = x @ w" in out and "# model.py:7  return np.sum(np.tanh(z))" in out
    assert "-> out_bar = 1.0" in out  # `n` goes on into the backward pass
    expected = ad.grad(lambda w, x: np.sum(np.tanh(x @ w)))(np.ones(3), np.ones((2, 3)))
    assert np.array2string(expected) in out  # `c`: the gradient, as without pdb


def test_post_mortem_opens_at_the_generated_line_and_moves_up_to_the_users(tmp_path):
    """Way 3: pdb.post_mortem after an exception raised in generated code; `u` reaches the user's line."""
    (tmp_path / "pm.py").write_text(POST_MORTEM)
    out = _run(tmp_path, ["pm.py"], "l\nu\nq\n")
    assert "> <autodiff_st grad_only of broken #1>" in out and "-> tanh_z_times_x = tanh_z * x" in out, out
    assert "# model.py:12  return np.sum(np.tanh(z) * x)" in out  # `l` in the adjoint shows the user's line
    assert f"> {tmp_path / 'model.py'}(12)broken()" in out  # `u`: the user's file and line
