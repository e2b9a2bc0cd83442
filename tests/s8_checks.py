"""The checks every step-8 construct passes: values and derivatives against finite differences at orders 1
and 2 in both modes (check_grads), jacrev against jacfwd, and the second derivative (hessian, or
jacfwd(jacrev) for an output that is not a scalar) against finite differences of the first."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import AutodiffError
from tests.support import line_of


def numeric_jacobian(f, x, eps=1e-6):
    """Central differences of ``f`` (any output shape) with respect to the array or float ``x``."""
    x = np.asarray(x, dtype=np.float64)
    scalar = x.ndim == 0
    out = np.asarray(f(float(x) if scalar else x), dtype=np.float64)
    jac = np.zeros(out.shape + x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        plus = np.asarray(f(float(x + step) if scalar else x + step), dtype=np.float64)
        minus = np.asarray(f(float(x - step) if scalar else x - step), dtype=np.float64)
        jac[(...,) + i] = (plus - minus) / (2 * eps)
    return jac


def check_construct(fn, args, order=2):
    """Every check, with respect to the first argument (check_grads also takes the other float ones)."""
    ad.testing.check_grads(fn, args, order=order)
    x, rest = args[0], args[1:]
    jac_rev = ad.jacrev(fn)(*args)
    jac_fwd = ad.jacfwd(fn)(*args)
    np.testing.assert_allclose(jac_rev, jac_fwd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jac_rev, numeric_jacobian(lambda v: fn(v, *rest), x), rtol=1e-5, atol=1e-7)
    if order < 2:
        return
    if np.ndim(fn(*args)) == 0:
        second = ad.hessian(fn)(*args)
        first = ad.grad(fn)
    else:
        second = ad.jacfwd(ad.jacrev(fn))(*args)
        first = ad.jacrev(fn)
    expected = numeric_jacobian(lambda v: first(v, *rest), x)
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-6)


def assert_refused(transform, fn, args, needle, error=AutodiffError):
    """``transform(fn)(*args)`` raises a typed error quoting the line of ``fn`` that holds ``needle``."""
    with pytest.raises(error) as info:
        transform(fn)(*args)
    lineno, text = line_of(fn, needle)
    message = str(info.value)
    assert f"line {lineno}" in message and text in message, message
    return info.value
