"""Helpers of elementwise derivatives: the dtype, and the real or complex kind, that a cotangent goes back
in; where np.clip passes its input through; and ``polygamma``, which the derivatives of lgamma and gamma
need and numpy lacks (scipy need not be installed).
"""

import numpy as np

from .namespaces import is_foreign, namespace_of

__all__ = ["astype", "cast_like", "real_like", "inside_bounds", "polygamma"]


def astype(x, dtype, **kwargs):
    """``x.astype(dtype)`` as a function, so that it can carry a derivative rule."""
    return x.astype(dtype, **kwargs)


def cast_like(v, x):
    """``v`` in the dtype of ``x``: the gradient of a cast goes back to the original dtype."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return v
    if is_foreign(v):  # dask, CuPy, ...: cast in its own namespace, lazily
        return v if v.dtype == dtype else namespace_of(v).astype(v, dtype)
    return np.asarray(v).astype(dtype, copy=False)


def real_like(v, x):
    """``v`` as the cotangent of ``x``: its real part when ``x`` is real.

    Complex rules follow JAX's convention (see ``rules/elementwise.py``); the cotangent of a real input
    is real, so a rule whose formula is complex keeps only the real part for a real input.
    """
    if np.iscomplexobj(x):
        return v
    return np.real(v) if np.iscomplexobj(v) else v


def inside_bounds(a, low, high):
    """Where ``low <= a <= high``, either bound possibly None: where np.clip passes its input through."""
    if is_foreign(a):  # dask, CuPy, ...: no in-place update of a numpy array by one of theirs
        inside = namespace_of(a).ones(tuple(a.shape), dtype=bool)
        inside = inside & (a >= low) if low is not None else inside
        return inside & (a <= high) if high is not None else inside
    inside = np.ones(np.shape(a), dtype=bool)
    if low is not None:
        inside &= a >= low
    if high is not None:
        inside &= a <= high
    return inside



# The Bernoulli numbers B_2, B_4, .. B_16, for the asymptotic series of the polygamma functions.
_BERNOULLI_2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def polygamma(n, x):
    """The ``n``-th derivative of the digamma function psi = (log gamma)' (``n = 0``: psi itself), for
    real ``x`` off the poles 0, -1, -2, ...; the rule of math.lgamma and math.gamma, without scipy.

    The recurrence psi_n(x) = psi_n(x + 1) - (-1)^n n! / x^(n+1) moves ``x`` above 12 + n, where the
    asymptotic series is accurate to double precision. Keeps the dtype of a float array.
    """
    n = int(n)
    scalar = not isinstance(x, np.ndarray)
    t = np.array(x, dtype=np.float64)
    total = np.zeros_like(t)
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)^(n+1)
    n_factorial = float(np.prod(np.arange(1, n + 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        low = t < 12 + n
        while np.any(low):
            total = total + np.where(low, sign * n_factorial / t ** (n + 1), 0)
            t = np.where(low, t + 1, t)
            low = t < 12 + n
        if n == 0:
            series = np.log(t) - 1 / (2 * t)
            for k, b in enumerate(_BERNOULLI_2K, start=1):
                series = series - b / (2 * k * t ** (2 * k))
        else:
            fact = [float(np.prod(np.arange(1, m + 1))) for m in range(n + 2 * len(_BERNOULLI_2K))]
            series = fact[n - 1] / t ** n + fact[n] / (2 * t ** (n + 1))
            for k, b in enumerate(_BERNOULLI_2K, start=1):
                series = series + b * fact[2 * k + n - 1] / (fact[2 * k] * t ** (2 * k + n))
            series = sign * series
    result = total + series
    if scalar:
        return float(result) if np.ndim(result) == 0 else result
    return result.astype(x.dtype) if x.dtype.kind == "f" else result
