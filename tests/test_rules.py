"""One parametrized test over the whole rule table (see rule_cases.py)."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st import rules
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
    rng = np.random.default_rng(0)
    args = sample_args(c, rng, dtype=np.float32)
    if not any(isinstance(a, np.ndarray) for a in args):
        pytest.skip("no array argument")
    out, vjp_fn = ad.vjp(_wrapper(wrappers, c), *args)
    cotangent = tuple(np.ones_like(o) for o in out) if isinstance(out, tuple) else np.ones_like(out)
    for a, g in zip(args, vjp_fn(cotangent)):
        if isinstance(a, np.ndarray):
            assert g.dtype == np.float32 and g.shape == a.shape


def test_every_rule_has_a_case():
    covered = {id(c.primitive) for c in CASES}
    own = [r for r in rules.all_rules() if r.vjp.__module__.startswith("autodiff_st.")]  # not users' rules
    missing = sorted(r.name for r in own if id(r.primitive) not in covered)
    assert not missing, f"rules without a checked case in tests/rule_cases.py: {missing}"
