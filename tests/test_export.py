"""ad.export: the exported module, imported in a fresh process, returns what the transform returns."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autodiff_st as ad

MODULE = textwrap.dedent("""
    import numpy as np
    from numpy import tanh


    def helper(v):
        return np.sin(v) * 2.0


    def loss(x, w):
        y = tanh(x * w)
        total = 0.0
        for i in range(x.shape[0]):
            total = total + helper(y[i]) * x[i]
        return total
""")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "export_user_model.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import export_user_model  # noqa: PLC0415 (written by the fixture)

    yield export_user_model
    sys.modules.pop("export_user_model", None)


@pytest.mark.parametrize("make, positions", [(ad.grad, 0), (ad.grad, (0, 1)), (ad.value_and_grad, 0),
                                             (ad.value_and_grad, (0, 1))])
def test_the_exported_module_returns_what_the_transform_returns(user_module, tmp_path, make, positions):
    transform = make(user_module.loss, grad_position=positions)
    path = ad.export(transform, tmp_path / "exported_loss.py")
    text = path.read_text()
    assert f"Exported by autodiff_st {ad.__version__}" in text and "export_user_model.py:10" in text
    assert "from autodiff_st.runtime import" in text and "from numpy import tanh" in text
    x, w = np.array([0.3, -0.4, 0.8]), 0.7
    expected = transform(x, w)
    name = f"loss_{make.__name__}"
    script = (f"import sys, pickle, numpy as np; sys.path[:0] = [{str(tmp_path)!r}]; import exported_loss; "
              f"sys.stdout.buffer.write(pickle.dumps(exported_loss.{name}(np.array({x.tolist()}), {w})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    import pickle  # noqa: PLC0415

    got = pickle.loads(done.stdout)
    flat_expected = expected if isinstance(expected, tuple) else (expected,)
    flat_got = got if isinstance(got, tuple) else (got,)
    for a, b in zip(flat_expected, flat_got):
        if isinstance(a, tuple):
            for u, v in zip(a, b):
                np.testing.assert_allclose(u, v, rtol=1e-15)
                assert type(u) is type(v)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-15)
            assert type(a) is type(b)


def test_other_transforms_are_refused_with_advice(user_module, tmp_path):
    for transform in (ad.jacrev(user_module.loss), ad.grad(user_module.loss, has_aux=True)):
        with pytest.raises(ad.OptionValueError, match="ad.source"):
            ad.export(transform, tmp_path / "nope.py")
