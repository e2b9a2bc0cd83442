"""The command line, ``python -m autodiff_st``, run in a fresh process as a user runs it."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

MODULE = textwrap.dedent("""
    import numpy as np


    def loss(x, w):
        return np.sum(np.tanh(x * w))


    def wrong(x):
        return np.sum(x ** 2)


    def refused(x):
        return np.sum([(y := v * 2.0) * y for v in x])
""")


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "demo_model.py"
    path.write_text(MODULE)
    return path


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "autodiff_st", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("transform, expected", [
    ("grad", "def loss_grad(x, w):"), ("value_and_grad", "def loss_value_and_grad(x, w):"),
    ("vjp", "def loss_backward("), ("jvp", "def loss_jvp("), ("jacrev", "def loss_backward("),
    ("jacfwd", "def loss_jvp("), ("hessian", "loss"),
])
def test_show_prints_the_generated_source(module, transform, expected):
    done = run("show", f"{module}:loss", "--transform", transform)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
    assert "demo_model.py:5" in done.stdout  # each block is headed by the user's line
    assert "\x1b[" not in done.stdout  # no colours when the output is not a terminal


def test_show_by_module_name_and_wrt(module):
    done = run("show", "demo_model:loss", "--wrt", "0,1", cwd=module.parent)
    assert done.returncode == 0, done.stderr
    assert "with respect to x, w" in done.stdout or "x_bar, w_bar" in done.stdout


def test_check_passes_at_a_json_point(module):
    done = run("check", f"{module}:loss", "--point", "[[0.1, 0.2, -0.3], 0.5]")
    assert done.returncode == 0, done.stderr
    assert "agree with finite differences" in done.stdout


def test_check_reads_npy_files(module, tmp_path):
    np.save(tmp_path / "x.npy", np.array([0.1, -0.2]))
    np.save(tmp_path / "w.npy", np.array(0.7))
    done = run("check", f"{module}:loss", "--npy", tmp_path / "x.npy", tmp_path / "w.npy", "--order", "1")
    assert done.returncode == 0, done.stderr


def test_a_refusal_exits_3_with_the_users_line(module):
    done = run("show", f"{module}:refused")
    assert done.returncode == 3
    assert "demo_model.py" in done.stderr and "AutodiffError" not in done.stdout


def test_a_missing_function_exits_4(module):
    assert run("show", f"{module}:nothere").returncode == 4
    assert run("show", "no_such_module_anywhere:f").returncode == 4


def test_usage_errors_exit_2(module):
    assert run("show").returncode == 2
    assert run("show", f"{module}:loss", "--transform", "nope").returncode == 2
    assert run("check", f"{module}:loss", "--point", "{not json").returncode == 2
    help_text = run("--help")
    assert help_text.returncode == 0 and "show" in help_text.stdout and "check" in help_text.stdout


def test_export_writes_a_module_that_matches_the_transform(module, tmp_path):
    out = tmp_path / "exported" / "loss_grads.py"
    out.parent.mkdir()
    done = run("export", f"{module}:loss", str(out), "--transform", "value_and_grad", "--wrt", "0,1")
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    # Import the written module in a fresh process, next to the user's module it imports from, and compare
    # with finite differences of the user's function.
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.path[:0] = [{str(out.parent)!r}, {str(module.parent)!r}]
        from loss_grads import loss_value_and_grad
        from demo_model import loss
        x, w = np.array([0.1, 0.2, -0.3]), 0.5
        value, (x_bar, w_bar) = loss_value_and_grad(x, w)
        assert value == loss(x, w)
        eps = 1e-6
        fd_x = [(loss(x + eps * e, w) - loss(x - eps * e, w)) / (2 * eps) for e in np.eye(3)]
        fd_w = (loss(x, w + eps) - loss(x, w - eps)) / (2 * eps)
        assert np.allclose(x_bar, fd_x, atol=1e-8) and abs(w_bar - fd_w) < 1e-8, (x_bar, fd_x, w_bar, fd_w)
        print("ok")
    """)
    checked = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "ok" in checked.stdout, checked.stderr


def test_export_of_a_transform_it_cannot_write_exits_2_or_3(module, tmp_path):
    done = run("export", f"{module}:loss", str(tmp_path / "x.py"), "--transform", "hessian")
    assert done.returncode == 2  # argparse: export writes grad and value_and_grad only
    assert not (tmp_path / "x.py").exists()
