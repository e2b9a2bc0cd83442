"""Classes defined inside the differentiated function (and inside a helper it calls): lowered to nested
functions and dicts (compiler/local_classes.py). Each construct is checked by check_construct
(tests/s8_checks.py: check_grads at orders 1 and 2 in both modes, jacrev against jacfwd and finite
differences, the second derivative against finite differences of the first), by the value oracle (every
transform's value equals what Python computes running the function as written), and by vmap where the
function maps over a batch. What is refused is a typed AutodiffError quoting the user's line."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import UnsupportedSyntaxError
from tests import local_class_functions as m
from tests.s8_checks import assert_refused, check_construct

W = np.array([0.7, 1.1, -0.4])
X = np.array([0.3, -0.5, 0.8])

DIFFERENTIATED = [m.closure_layer, m.local_dataclass, m.rollout_of, m.with_property, m.holds_an_array,
                  m.inherits_a_module_class, m.inherits_a_local_class, m.class_in_a_loop,
                  m.calls_a_helper_with_a_class, m.state_between_calls, m.frozen_dataclass,
                  m.made_inside_expressions]


@pytest.mark.parametrize("fn", DIFFERENTIATED, ids=lambda f: f.__name__)
def test_differentiated_at_orders_one_and_two(fn):
    check_construct(fn, (W, X))
    check_construct(lambda x, w: fn(w, x), (X, W))  # with respect to the other argument too


@pytest.mark.parametrize("fn", DIFFERENTIATED, ids=lambda f: f.__name__)
def test_every_transform_computes_the_value_python_does(fn):
    expected = fn(W, X)  # the class statement run by Python itself
    value, _ = ad.value_and_grad(fn, argnums=(0, 1))(W, X)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    primal, tangent = ad.jvp(fn, (W, X), (np.ones(3), np.zeros(3)))
    np.testing.assert_allclose(primal, expected, rtol=1e-12)
    np.testing.assert_allclose(ad.jacfwd(fn)(W, X), ad.jacrev(fn)(W, X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tangent, np.sum(ad.grad(fn)(W, X)), rtol=1e-10)


@pytest.mark.parametrize("fn", DIFFERENTIATED, ids=lambda f: f.__name__)
def test_vmap_of_the_function_and_of_its_gradient(fn):
    batch = np.stack([W, 0.5 * W, -W])
    np.testing.assert_allclose(ad.vmap(fn, in_axes=(0, None))(batch, X), [fn(w, X) for w in batch], rtol=1e-12)
    # (the index gradient of a dict holding batched values once made its zeros from a batched value with
    # np.zeros_like, an object array: the dtype is checked too)
    got = ad.vmap(ad.grad(fn), in_axes=(0, None))(batch, X)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.stack([ad.grad(fn)(w, X) for w in batch]), rtol=1e-10)


def test_the_closure_reads_the_functions_variable():
    # d/dw sum(tanh(2 w x)^2) = 4 x tanh(2 w x) (1 - tanh(2 w x)^2), written out by hand
    t = np.tanh(2.0 * W * X)
    np.testing.assert_allclose(ad.grad(m.closure_layer)(W, X), 4.0 * X * t * (1.0 - t ** 2), rtol=1e-12)


def test_state_changed_by_a_method_is_seen_by_later_reads():
    # acc.add(x) then acc.add(x ** 2): total = s1 + s2 with s1 = sum(x w), s2 = sum(x^2 w); value s1 * total
    s1, s2 = np.sum(X * W), np.sum(X ** 2 * W)
    np.testing.assert_allclose(m.state_between_calls(W, X), s1 * (s1 + s2))
    np.testing.assert_allclose(ad.grad(m.state_between_calls)(W, X), X * (s1 + s2) + s1 * (X + X ** 2),
                               rtol=1e-12)


def test_each_run_of_the_function_runs_the_class_statement_again():
    first = ad.grad(m.closure_layer)(W, X)
    second = ad.grad(m.closure_layer)(2.0 * W, X)  # the same compiled code, new closure values
    t = np.tanh(4.0 * W * X)
    np.testing.assert_allclose(second, 4.0 * X * t * (1.0 - t ** 2), rtol=1e-12)
    assert not np.allclose(first, second)


def test_the_lowered_code_quotes_the_users_lines():
    text = ad.source(ad.grad(m.closure_layer))
    assert "layer = Layer(2.0)" in text and "Layer_init" in text


@pytest.mark.parametrize("fn, needle", [
    (m.with_a_metaclass, "class Odd(metaclass=Meta):"),
    (m.class_level_state, "Counter.calls = Counter.calls + 1.0"),
    (m.class_level_list, "seen = []"),
    (m.instance_escapes, "return helper_reads_box(b, x)"),
    (m.instance_aliased, "c = b"),
    (m.recursive_method, "def depth(self, v, n):"),
    (m.mutating_call_in_an_expression, "return np.sum(a.add(w) * x)"),
    (m.writes_a_frozen_dataclass, "self.a = self.a + v"),
    (m.made_under_a_condition, "return np.sum(Scale()(x) if np.sum(x) > 0 else x)"),
    (m.with_setattr, "def __setattr__(self, name, value):"),
    (m.with_new, "def __new__(cls, a):"),
    (m.with_slots, "__slots__ = (\"a\",)"),
    (m.with_a_setattr_base, "class Child(SetattrBase):"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
@pytest.mark.parametrize("transform", [ad.grad, ad.jacfwd, ad.hessian], ids=["grad", "jacfwd", "hessian"])
def test_refused_with_the_line(fn, needle, transform):
    assert_refused(transform, fn, (W, X), needle, UnsupportedSyntaxError)


def test_the_refused_functions_run_in_python():
    # the refusals are about what the compiler can follow, not errors of the programs
    for fn in (m.with_a_metaclass, m.class_level_state, m.class_level_list, m.instance_escapes,
               m.instance_aliased, m.recursive_method, m.mutating_call_in_an_expression, m.made_under_a_condition,
               m.with_setattr, m.with_new, m.with_slots, m.with_a_setattr_base):
        assert np.isfinite(fn(W, X))


def test_special_methods_that_only_show_an_instance_are_allowed():
    check_construct(m.with_repr, (W, X))
