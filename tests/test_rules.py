"""One parametrized test over the whole rule table (see rule_cases.py)."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st import rules
from autodiff_st.compiler.cache import adjoint_functions
from tests.rule_cases import CASES
from tests.rule_harness import (rule_jvp, sample_args, build_module, primitive_call, differentiated_slots, slot_value, with_slots,
                                tangent_dict, random_like, leaves, inner, shifted)


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


# -- forward rules ---------------------------------------------------------------------------------------
#
# Every case is also a check of its primitive's forward rule, run by ``rule_jvp`` on the primitive call
# the case's wrapper makes: against central finite differences in float64, for a random tangent on each
# differentiated parameter (each array of a sequence parameter) separately and on all of them together;
# and against the reverse rule by the transpose identity <J t, g> = <t, J^T g>.


# rule_jvp evaluates a diagonal rule's whole reverse expression, so x ** y with x < 0 computes log(x) for
# y's term even when only x has a tangent (that term is then dropped).
_POW_OF_NEGATIVE = pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")


def _forward_setup(c):
    rng = np.random.default_rng(1000 + CASES.index(c))
    values = sample_args(c, rng)
    primitive, args, kwargs = primitive_call(c, values)
    rule = rules.lookup(primitive)
    assert rule is not None, f"{c.id}: the call {primitive} has no rule"
    slots = differentiated_slots(rule, args, kwargs, values)
    assert slots, f"{c.id}: no domain argument reaches a differentiated parameter"
    tangents = {s: random_like(slot_value(rule, args, kwargs, s), rng) for s in slots}
    return rng, primitive, rule, args, kwargs, tangents


def _step(rule, args, kwargs, tangents, size):
    changes = {s: shifted(slot_value(rule, args, kwargs, s), t, size) for s, t in tangents.items()}
    return with_slots(rule, args, kwargs, changes)


@_POW_OF_NEGATIVE
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_forward_rule_matches_finite_differences(c):
    rng, primitive, rule, args, kwargs, tangents = _forward_setup(c)
    checks = [{s: t} for s, t in tangents.items()] + ([tangents] if len(tangents) > 1 else [])
    eps = 1e-6
    for chosen in checks:
        ans, tangent = rule_jvp(primitive, args, kwargs, tangent_dict(rule, args, kwargs, chosen))
        plus = primitive(*_step(rule, args, kwargs, chosen, eps)[0], **_step(rule, args, kwargs, chosen, eps)[1])
        minus = primitive(*_step(rule, args, kwargs, chosen, -eps)[0], **_step(rule, args, kwargs, chosen, -eps)[1])
        out, p, m = leaves(tangent), leaves(plus), leaves(minus)
        assert len(out) == len(p), f"{c.id}: {len(out)} tangents for {len(p)} results"
        for k, (t, a, b, r) in enumerate(zip(out, p, m, leaves(ans))):
            numeric = (a - b) / (2 * eps)
            assert np.shape(t) == np.shape(r), f"{c.id}, result {k}: tangent shape {np.shape(t)}, result {np.shape(r)}"
            scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
            np.testing.assert_allclose(t, numeric, rtol=1e-5, atol=1e-6 * scale,
                                       err_msg=f"{c.id}: tangent by {sorted(chosen)}, result {k}")


@_POW_OF_NEGATIVE
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_forward_rule_is_the_transpose_of_the_reverse_rule(c):
    """<J t, g> = <t, J^T g>: the forward rule against the reverse rule, for random t and g."""
    rng, primitive, rule, args, kwargs, tangents = _forward_setup(c)
    ans, tangent = rule_jvp(primitive, args, kwargs, tangent_dict(rule, args, kwargs, tangents))
    g = random_like(ans, rng)
    cotangents = rule.vjp(g, ans, *args, **kwargs)
    if len(rule.diff) == 1:
        cotangents = (cotangents,)
    forward = inner(tangent, g)
    reverse = 0.0
    for (name, i), t in tangents.items():
        ct = cotangents[rule.diff.index(name)]
        reverse += inner(t, ct if i is None else ct[i])
    assert forward == pytest.approx(reverse, rel=1e-9, abs=1e-9), c.id


def test_every_rule_has_a_forward_rule():
    own = [r for r in rules.all_rules() if r.vjp.__module__.startswith("autodiff_st.")]
    missing = sorted(r.name for r in own if rules.lookup_forward(r.primitive) is None)
    assert not missing, f"rules without a forward rule (diagonal, linear, multilinear or @jvp_rule): {missing}"
    partial = sorted(f"{r.name} ({', '.join(sorted(set(r.diff) - set(rules.lookup_forward(r.primitive).custom)))})"
                     for r in own if rules.lookup_forward(r.primitive).kind == "custom"
                     and set(r.diff) - set(rules.lookup_forward(r.primitive).custom))
    assert not partial, f"custom forward rules missing a differentiated parameter: {partial}"


def test_forward_rule_of_a_sequence_passed_by_keyword():
    # rule_jvp once replaced the tangent only in the positional arguments, so a sequence passed by
    # keyword gave the result itself as its tangent.
    a, b, t = np.eye(2), np.arange(4.0).reshape(2, 2), np.ones((2, 2))
    for args, kwargs in [([[a, b]], {}), ([], {"arrays": [a, b]})]:
        ans, tangent = rule_jvp(np.linalg.multi_dot, args, kwargs, {"arrays": [t, None]})
        np.testing.assert_allclose(tangent, t @ b)


def test_custom_forward_rules_are_templates_with_the_reverse_rules_parameters():
    """Custom forward rules are inlined like reverse rules: readable source ending with a return, and the
    reverse rule's parameters, names and defaults, after (t, ans)."""
    import inspect

    from autodiff_st.compiler.templates import template_of

    def params(fn):
        return [(p.name, p.kind, p.default) for p in list(inspect.signature(fn).parameters.values())[2:]]

    bad = []
    for r in rules.all_rules():
        forward = rules.lookup_forward(r.primitive)
        if not r.vjp.__module__.startswith("autodiff_st.") or forward is None or forward.kind != "custom":
            continue
        for name, fn in forward.custom.items():
            if template_of(fn) is None or params(fn) != params(r.vjp):
                bad.append(f"{r.name} ({name}): {fn.__name__}")
    assert not bad, f"custom forward rules that cannot be inlined as templates: {bad}"


@pytest.mark.parametrize("c", [c for c in CASES if c.float32], ids=[c.id for c in CASES if c.float32])
def test_forward_rule_keeps_float32(c):
    """float32 inputs and tangents give float32 tangents wherever the result itself is float32."""
    rng = np.random.default_rng(0)
    values = sample_args(c, rng, dtype=np.float32)
    primitive, args, kwargs = primitive_call(c, values)
    rule = rules.lookup(primitive)
    tangents = {}
    for s in differentiated_slots(rule, args, kwargs, values):
        t = random_like(slot_value(rule, args, kwargs, s), rng)
        tangents[s] = t if isinstance(t, float) else t.astype(np.float32)
    ans, tangent = rule_jvp(primitive, args, kwargs, tangent_dict(rule, args, kwargs, tangents))
    for k, (r, t) in enumerate(zip(leaves(ans), leaves(tangent))):
        if r.dtype == np.float32:
            assert t.dtype == np.float32, f"result {k}: tangent dtype {t.dtype}"
