"""Helpers shared by the test modules."""

import inspect


def line_of(fn, needle):
    """(line number, stripped text) of the first line of ``fn``'s source that contains ``needle``."""
    lines, first = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if needle in line:
            return first + i, line.strip()
    raise AssertionError(f"{needle!r} not in the source of {fn.__name__}")


def assert_gradient_like(g, expected, x):
    """``g`` equals ``expected`` and has the type, shape and dtype of the input ``x``."""
    import numpy as np
    import pytest

    if isinstance(x, float):
        assert type(g) is float
        assert g == pytest.approx(float(expected), rel=1e-10, abs=1e-12)
    else:
        assert isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12)


def check_against_hand(fn, make_args, positions, hand):
    """ad.grad of ``fn`` against ``hand``, a gradient derived by hand from the math."""
    import autodiff_st as ad

    args = make_args()
    got = ad.grad(fn, grad_position=positions)(*args)
    expected = hand(*args)
    if isinstance(positions, int):
        assert_gradient_like(got, expected, args[positions])
        return
    assert isinstance(got, tuple) and len(got) == len(positions)
    for g, e, p in zip(got, expected, positions):
        assert_gradient_like(g, e, args[p])
