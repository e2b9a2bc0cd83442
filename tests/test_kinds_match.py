"""The fast path's kind check (transforms/kinds_match.py) answers exactly ``argument_kinds(args) == kinds``."""

import itertools

import numpy as np

import autodiff_st as ad
from autodiff_st.runtime.calls import argument_kinds
from autodiff_st.transforms.kinds_match import kinds_matcher

SAMPLES = [
    3.0, 2, True, np.float64(1.5), np.float32(1.5), np.array(2.0), np.array(2.0, dtype=np.float32),
    np.ones(3), np.ones((2, 3)), np.ones(3, dtype=np.float32), np.ones(3, dtype=np.int64),
    np.ma.masked_array(np.ones(3)), [1.0, 2.0], (1.0,), None, "text", 1 + 2j,
    np.ones(3).astype(">f8"),
]


def test_matcher_equals_comparing_argument_kinds():
    for pair in itertools.product(SAMPLES, repeat=2):
        kinds = argument_kinds(pair)
        matches = kinds_matcher(kinds)
        assert matches is not None
        for other in itertools.product(SAMPLES, repeat=2):
            assert matches(*other) == (argument_kinds(other) == kinds), (pair, other)


def test_no_arguments_and_unknown_forms():
    assert kinds_matcher(())() is True
    assert kinds_matcher(("something else",)) is None
    assert kinds_matcher(([1],)) is None  # unhashable


def test_an_array_whose_shape_is_assigned_runs_the_code_of_its_new_rank():
    def f(x):
        return np.sum(np.sin(x) * x)

    g = ad.grad(f)
    x = np.linspace(0.1, 1.0, 6)
    np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x))
    x.shape = (2, 3)  # the same object, now of rank 2: the kinds differ, so the fast path is not taken
    got = g(x)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, np.sin(x) + x * np.cos(x))
    y = np.linspace(0.1, 1.0, 6).astype(np.float32)
    assert g(y).dtype == np.float32
