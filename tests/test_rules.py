"""One parametrized test over the whole rule table (see rule_cases.py)."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st import rules
from autodiff_st.cache import adjoint_functions
from tests.rule_cases import CASES
from tests.rule_harness import sample_args, build_module


@pytest.fixture(scope="module")
def wrappers(tmp_path_factory):
    return build_module(CASES, tmp_path_factory.mktemp("rules"))


def _wrapper(wrappers, c):
    return getattr(wrappers, f"wrapper_{CASES.index(c)}")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rule_matches_finite_differences(c, wrappers):
    rng = np.random.default_rng(CASES.index(c))
    args = sample_args(c, rng)
    ad.testing.check_grads(_wrapper(wrappers, c), args, order=c.order, modes=("rev",))


@pytest.mark.parametrize("c", [c for c in CASES if c.float32], ids=[c.id for c in CASES if c.float32])
def test_rule_keeps_float32(c, wrappers):
    """float32 in, float32 out, checked on the generated backward pass itself: the API casts gradients to
    the input's dtype at the end, which would hide a rule that computes in float64."""
    rng = np.random.default_rng(0)
    args = sample_args(c, rng, dtype=np.float32)
    if not any(isinstance(a, np.ndarray) for a in args):
        pytest.skip("no array argument")
    fn = _wrapper(wrappers, c)
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, (np.ndarray, float)))
    forward, backward = adjoint_functions(fn, positions, "vjp")
    out, residuals = forward(*args)
    outputs = out if isinstance(out, tuple) else (out,)
    if any(np.asarray(o).dtype != np.float32 for o in outputs):
        pytest.skip("numpy itself promotes this call to float64 (a float64 constant or Python float is mixed in)")
    cotangent = tuple(np.ones_like(o) for o in out) if isinstance(out, tuple) else np.ones_like(out)
    for p, g in zip(positions, backward(residuals, cotangent)):
        if isinstance(args[p], np.ndarray):
            assert np.asarray(g).dtype == np.float32, f"argument {p}: gradient dtype {np.asarray(g).dtype}"
            assert np.shape(g) == args[p].shape


def test_every_rule_has_a_case():
    covered = {id(c.primitive) for c in CASES}
    own = [r for r in rules.all_rules() if r.vjp.__module__.startswith("autodiff_st.")]  # not users' rules
    missing = sorted(r.name for r in own if id(r.primitive) not in covered)
    assert not missing, f"rules without a checked case in tests/rule_cases.py: {missing}"
