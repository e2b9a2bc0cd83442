"""Checks of the elementwise rules that the rule table cannot make: complex inputs, runtime.polygamma's
accuracy, and that scipy stays optional.

grad and vjp take real inputs for now, so complex inputs are checked on the rule functions themselves,
at order 1. The convention is JAX's (see rules/elementwise.py): the cotangent ``ct = rule(g, ans, z)``
of the input satisfies Re(sum(ct * u)) = Re(sum(g * J u)) for every complex direction ``u``, where
``J u`` is the derivative of the function at ``z`` in the direction ``u``.
"""

import subprocess
import sys

import numpy as np
import pytest

from autodiff_st import rules, runtime
from tests.rule_harness import rule_jvp

HOLOMORPHIC = [np.exp, np.expm1, np.exp2, np.log, np.log1p, np.log2, np.log10, np.sin, np.cos, np.tan,
               np.sinh, np.cosh, np.tanh, np.arcsin, np.arccos, np.arctan, np.arcsinh, np.arccosh,
               np.arctanh, np.sqrt, np.square, np.reciprocal, np.sinc]
NOT_HOLOMORPHIC = [np.abs, np.real, np.imag, np.conjugate, np.angle]


def _complex(rng, shape):
    # In the first quadrant, inside the unit circle: away from every branch cut of the functions above.
    return rng.uniform(0.3, 0.8, shape) + 1j * rng.uniform(0.2, 0.8, shape)


def _check_complex_rule(fn, z, eps=1e-6, **kwargs):
    rng = np.random.default_rng(0)
    ans = fn(z, **kwargs)
    g = _complex(rng, np.shape(ans)) if np.iscomplexobj(ans) else rng.standard_normal(np.shape(ans))
    u = _complex(rng, np.shape(z))
    ct = rules.lookup(fn).vjp(g, ans, z, **kwargs)
    directional = (fn(z + eps * u, **kwargs) - fn(z - eps * u, **kwargs)) / (2 * eps)
    analytic = np.real(np.sum(ct * u))
    numeric = np.real(np.sum(g * directional))
    assert abs(analytic - numeric) <= 1e-6 * max(1.0, abs(numeric)), (fn, analytic, numeric)


@pytest.mark.parametrize("fn", HOLOMORPHIC + NOT_HOLOMORPHIC, ids=lambda f: f.__name__)
def test_complex_input(fn):
    _check_complex_rule(fn, _complex(np.random.default_rng(1), (3, 2)))


@pytest.mark.parametrize("fn", HOLOMORPHIC + NOT_HOLOMORPHIC, ids=lambda f: f.__name__)
def test_complex_input_forward(fn):
    # The forward rule gives the directional derivative itself, J u, for a complex direction u: the
    # reverse rule's conjugations (abs, angle, conj, imag) must not carry over.
    rng = np.random.default_rng(3)
    z, u, eps = _complex(rng, (3, 2)), _complex(rng, (3, 2)), 1e-6
    for kwargs in ([{}, {"deg": True}] if fn is np.angle else [{}]):
        ans, tangent = rule_jvp(fn, [z], kwargs, {rules.lookup(fn).diff[0]: u})
        directional = (fn(z + eps * u, **kwargs) - fn(z - eps * u, **kwargs)) / (2 * eps)
        np.testing.assert_allclose(tangent, directional, rtol=1e-6, atol=1e-8)


def test_complex_angle_in_degrees():
    _check_complex_rule(np.angle, _complex(np.random.default_rng(2), (4,)), deg=True)


def test_complex_rules_match_jax_convention():
    # Values from jax.vjp at z = 0.7 - 1.3j with cotangent 0.4 + 0.9j (its real part for real outputs).
    z, g = np.array([0.7 - 1.3j]), np.array([0.4 + 0.9j])
    expected = {np.abs: 0.18963992921400696 + 0.35218843996887017j,
                np.angle: 0.23853211009174313 - 0.12844036697247704j,
                np.real: 0.4, np.imag: -0.4j, np.conjugate: 0.4 - 0.9j}
    for fn, value in expected.items():
        ans = fn(z)
        cotangent = g if np.iscomplexobj(ans) else g.real
        np.testing.assert_allclose(rules.lookup(fn).vjp(cotangent, ans, z), [value], rtol=1e-12)


def test_polygamma_matches_scipy():
    special = pytest.importorskip("scipy.special")
    x = np.array([1e-3, 0.3, 1.0, 1.4616321449683622, 2.5, 7.7, 15.0, 100.0, -0.5, -2.3, -30.7])
    for n in range(5):
        np.testing.assert_allclose(runtime.polygamma(n, x), special.polygamma(n, x), rtol=1e-12, atol=1e-14)
    assert isinstance(runtime.polygamma(0, 2.5), float)
    assert runtime.polygamma(1, x.astype(np.float32)).dtype == np.float32


def test_imports_without_scipy():
    code = ("import sys; sys.modules['scipy'] = None\n"
            "import autodiff_st\n"
            "from autodiff_st import rules\n"
            "assert not any(r.vjp.__module__.endswith('scipy_special') for r in rules.all_rules())\n"
            "import numpy as np; assert rules.lookup(np.logaddexp) is not None\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_grad_through_rules_that_build_lists():
    import math

    import autodiff_st as ad

    def f(x, y):
        return sum([x, y, 2.0]) * math.hypot(x, y)

    gx, gy = ad.grad(f, (0, 1))(3.0, 4.0)
    assert (gx, gy) == pytest.approx((5.0 + 9.0 * 3.0 / 5.0, 5.0 + 9.0 * 4.0 / 5.0))
