"""examples/dask_logistic_regression.py runs at a small size on its local cluster: the loss falls, and with
the subsample the whole data set, the dask fit equals the numpy fit to rounding."""

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "dask_logistic_regression.py"


def test_dask_logistic_regression_example(capsys):
    spec = importlib.util.spec_from_file_location("example_dask_logistic_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--rows", "3000", "--cols", "5", "--chunk-rows", "1000", "--steps", "3",
                          "--subsample", "3000"])
    losses = result["losses"]
    assert len(losses) == 3 and losses[2] < losses[1] < losses[0]
    assert result["gradient_difference"] < 1e-12
    np.testing.assert_allclose(result["w"], result["numpy_w"], rtol=1e-10, atol=1e-12)
    out = capsys.readouterr().out
    assert "step   2  loss" in out and "dask against numpy" in out
