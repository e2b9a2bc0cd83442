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


def numeric_weight_grads(fn, args, weights, eps=1e-6):
    """Central finite differences of the sum of ``fn(*args)`` with respect to every element of every
    Parameter in ``weights``. Each element is changed in place and put back, as an optimizer would."""
    import numpy as np

    def total():
        return float(np.sum(fn(*args)))

    grads = []
    for w in weights:
        g = np.zeros(w.shape)
        for i in np.ndindex(w.shape):
            old = w[i].copy()
            w[i] = old + eps
            plus = total()
            w[i] = old - eps
            minus = total()
            w[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def check_weight_grads(fn, args, weights, grad_position=None, rtol=1e-6, atol=1e-8):
    """ad.grad of ``fn`` with ``weights`` against central finite differences, in float64: every weight's
    gradient, and the inputs' gradients when ``grad_position`` is given. Returns the weight gradients."""
    import numpy as np

    import autodiff_st as ad

    got = ad.grad(fn, grad_position=grad_position, weights=weights)(*args)
    weight_grads = got if grad_position is None else got[1]
    assert isinstance(weight_grads, tuple) and len(weight_grads) == len(weights)
    for g, w, expected in zip(weight_grads, weights, numeric_weight_grads(fn, args, weights)):
        assert type(g) is np.ndarray and g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol)
    if grad_position is not None:
        positions = (grad_position,) if isinstance(grad_position, int) else grad_position
        input_grads = (got[0],) if isinstance(grad_position, int) else got[0]
        for p, g in zip(positions, input_grads):
            x = args[p]
            expected = np.zeros(np.shape(x))
            for i in np.ndindex(np.shape(x)):
                plus, minus = list(args), list(args)
                plus[p], minus[p] = np.array(x, dtype=float), np.array(x, dtype=float)
                plus[p][i] += 1e-6
                minus[p][i] -= 1e-6
                expected[i] = (np.sum(fn(*plus)) - np.sum(fn(*minus))) / 2e-6
            np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol)
    return weight_grads
