"""The examples run, and do what they say: examples/ode_fit.py fits an ODE's parameters through an RK4
solver (a short run here), with its gradient checked against finite differences."""

import importlib.util
import pathlib

import numpy as np

import autodiff_st as ad

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ode_fit_gradient_matches_finite_differences():
    ode_fit = _load("ode_fit")
    y0, observed = ode_fit.make_observations()
    ad.testing.check_grads(ode_fit.loss, (ode_fit.START_PARAMS.copy(), y0, observed, ode_fit.DT), order=1)
    g = ad.grad(ode_fit.loss)(ode_fit.START_PARAMS.copy(), y0, observed, ode_fit.DT)
    eps = 1e-6
    for i in range(2):
        e = np.zeros(2)
        e[i] = eps
        numeric = (ode_fit.loss(ode_fit.START_PARAMS + e, y0, observed, ode_fit.DT)
                   - ode_fit.loss(ode_fit.START_PARAMS - e, y0, observed, ode_fit.DT)) / (2 * eps)
        assert abs(g[i] - numeric) <= 1e-6 * max(1.0, abs(numeric))


def test_ode_fit_runs_and_recovers_the_parameters(capsys):
    ode_fit = _load("ode_fit")
    params, losses = ode_fit.main(["--steps", "40"])  # main asserts the fall of the loss and the parameters
    assert losses[-1] < losses[0] / 100
    assert np.allclose(params, ode_fit.TRUE_PARAMS, rtol=0.05, atol=0.02)
    assert "recovered k" in capsys.readouterr().out
