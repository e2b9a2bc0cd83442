"""``progress=True`` on jacrev, jacfwd, hessian and vmap (transforms/progress.py): a tqdm bar over the
passes through generated code once a call has run ``DELAY_SECONDS``; without tqdm, a warning once and
INFO records on the "autodiff_st" logger. The results never change."""

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads
from autodiff_st.transforms import progress

ROOT = Path(__file__).resolve().parents[1]


def f(x):
    return np.tanh(x) * np.sum(x ** 2)


def scalar(x):
    return np.sum(np.sin(x) * x ** 2)


X = np.linspace(0.1, 0.9, 5)


def _finite_difference_jacobian(fn, x, eps=1e-6):
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = eps
        columns.append((fn(x + e) - fn(x - e)) / (2 * eps))
    return np.stack(columns, axis=-1)


CASES = [  # (name, transform, expected passes)
    ("jacrev batched in chunks of 2", lambda: ad.jacrev(f, chunk_size=2, progress=True), 3),
    ("jacrev one row at a time", lambda: ad.jacrev(f, chunk_size=1, progress=True), 5),
    ("jacfwd batched in chunks of 2", lambda: ad.jacfwd(f, chunk_size=2, progress=True), 3),
    ("jacfwd one column at a time", lambda: ad.jacfwd(f, chunk_size=1, progress=True), 5),
]


@pytest.fixture
def immediate(monkeypatch):
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)


@pytest.mark.skipif(progress.tqdm is None, reason="tqdm is not installed")
@pytest.mark.parametrize("name, make, passes", CASES, ids=[c[0] for c in CASES])
def test_a_tqdm_bar_counts_the_passes_and_the_jacobian_is_unchanged(name, make, passes, immediate, capsys):
    jac = make()(X)
    bar = capsys.readouterr().err
    assert f"{passes}/{passes}" in bar and "pass" in bar, bar
    assert "of f" in bar
    np.testing.assert_allclose(jac, _finite_difference_jacobian(f, X), rtol=1e-6, atol=1e-8)


@pytest.mark.skipif(progress.tqdm is None, reason="tqdm is not installed")
def test_hessian_and_vmap_bars(immediate, capsys):
    hess = ad.hessian(scalar, progress=True)(X)
    assert "hessian of scalar" in capsys.readouterr().err
    np.testing.assert_allclose(hess, _finite_difference_jacobian(ad.grad(scalar), X), rtol=1e-6, atol=1e-7)
    check_grads(scalar, (X,), order=2)
    batch = np.linspace(0.0, 1.0, 12).reshape(4, 3)
    mapped = ad.vmap(f, chunk_size=1, progress=True)(batch)
    assert "4/4" in capsys.readouterr().err
    np.testing.assert_allclose(mapped, np.stack([f(row) for row in batch]))


@pytest.mark.skipif(progress.tqdm is None, reason="tqdm is not installed")
def test_a_nested_transform_reports_once(immediate, capsys):
    """jacrev(jacrev(f), progress=True): the outer transform's rows are counted; the inner pieces it runs
    (progress=False) count nothing and open no bar of their own."""
    second = ad.jacrev(ad.jacrev(f), progress=True)(X)
    err = capsys.readouterr().err
    assert err.count("jacrev of") >= 1 and "5/5" in err, err
    np.testing.assert_allclose(second, ad.jacfwd(ad.jacfwd(f))(X), rtol=1e-8, atol=1e-10)


@pytest.mark.skipif(progress.tqdm is None, reason="tqdm is not installed")
def test_a_quick_call_shows_nothing(capsys):
    """Below the threshold (2 s by default) no bar is printed."""
    assert progress.DELAY_SECONDS == 2.0
    ad.jacrev(f, chunk_size=1, progress=True)(X)
    assert capsys.readouterr().err == ""


def test_no_progress_without_the_keyword(immediate, capsys):
    ad.jacrev(f, chunk_size=1)(X)
    assert capsys.readouterr().err == ""


def test_without_tqdm_a_warning_once_then_log_records(immediate, monkeypatch, caplog, capsys):
    monkeypatch.setattr(progress, "tqdm", None)
    monkeypatch.setattr(progress, "_warned", [])
    with caplog.at_level(logging.INFO, logger="autodiff_st"):
        first = ad.jacrev(f, chunk_size=1, progress=True)(X)
        ad.jacfwd(f, chunk_size=1, progress=True)(X)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "tqdm" in r.getMessage()]
    assert len(warnings) == 1
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "passes" in r.getMessage()]
    assert any(m.startswith("jacrev of f: 5/5 passes") for m in infos), infos
    assert any(m.startswith("jacfwd of f: 5/5 passes") for m in infos), infos
    np.testing.assert_allclose(first, _finite_difference_jacobian(f, X), rtol=1e-6, atol=1e-8)


def test_the_package_imports_without_tqdm():
    code = ("import sys; sys.modules['tqdm'] = None\n"
            "import numpy as np, autodiff_st as ad\n"
            "from autodiff_st.transforms import progress\n"
            "assert progress.tqdm is None\n"
            "print(ad.jacfwd(np.sin, progress=True)(np.zeros(2)).tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[1.0, 0.0], [0.0, 1.0]]"


@pytest.mark.parametrize("make", [ad.jacrev, ad.jacfwd, ad.hessian, ad.vmap])
def test_progress_must_be_a_bool(make):
    with pytest.raises(ad.OptionTypeError, match="progress=True or False"):
        make(scalar, progress="yes")


def test_progress_survives_decorating_a_method(immediate, capsys):
    class Model:
        def __init__(self):
            self.scale = 2.0

        @ad.jacfwd(chunk_size=1, progress=True)
        def apply(self, x):
            return self.scale * np.tanh(x)

    jac = Model().apply(X)
    if progress.tqdm is not None:
        assert "5/5" in capsys.readouterr().err
    np.testing.assert_allclose(jac, np.diag(2.0 / np.cosh(X) ** 2), rtol=1e-10)


def test_the_repr_shows_progress_when_it_is_on():
    def f(x):
        return np.tanh(x)

    assert "progress=True" in repr(ad.jacrev(f, progress=True))
    assert "progress=" not in repr(ad.jacrev(f))
