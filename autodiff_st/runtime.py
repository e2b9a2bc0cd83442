"""Runtime helpers that generated adjoints call.

This module is all that generated code needs at run time besides numpy. Nothing here knows about
parsing or code generation. Every helper that can sit on a differentiated path has a derivative rule in
``rules/``, so generated code can itself be differentiated again.
"""

import numpy as np


def shape_of(x):
    return getattr(x, "shape", ())


def unbroadcast(v, x):
    """Sum ``v`` down to the shape of ``x``, undoing numpy broadcasting."""
    x_shape = getattr(x, "shape", ())
    if getattr(v, "shape", ()) == x_shape:
        return v
    return unbroadcast_to_shape(v, x_shape)


def unbroadcast_to_shape(v, x_shape):
    v_shape = np.shape(v)
    if v_shape == x_shape:
        return v
    lead = len(v_shape) - len(x_shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(x_shape) if n == 1 and v_shape[lead + i] != 1
    )
    return np.reshape(np.sum(v, axis=axes, keepdims=True), x_shape) if axes else np.reshape(v, x_shape)


def zeros_like(x):
    """The zero gradient of ``x``: ``0.0`` for a Python number, an array of zeros otherwise."""
    if isinstance(x, (float, int)):
        return 0.0
    if isinstance(x, complex):
        return 0j
    return np.zeros_like(x)


def ones_like(x):
    """The seed of a backward pass: ``1.0`` for a Python number, an array of ones otherwise."""
    if isinstance(x, (float, int)):
        return 1.0
    if isinstance(x, complex):
        return 1.0 + 0j
    return np.ones_like(x)


def normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def expand_reduced(v, x, axis=None, keepdims=False):
    """Broadcast the cotangent ``v`` of a reduction ``reduce(x, axis, keepdims)`` back to ``x``'s shape."""
    x_shape = getattr(x, "shape", None)
    if x_shape is None:
        x_shape = np.shape(x)
    if axis is None:
        # A full reduction: v holds one number. A filled array is faster than a broadcast view here.
        return np.full(x_shape, v, dtype=getattr(v, "dtype", None) or getattr(x, "dtype", None))
    if not keepdims and x_shape:
        reduced = normalize_axis(axis, len(x_shape))
        v = np.reshape(v, tuple(1 if i in reduced else n for i, n in enumerate(x_shape)))
    return np.broadcast_to(v, x_shape)


def reduced_count(x, axis=None):
    """How many elements a reduction over ``axis`` combines into each result."""
    if axis is None:
        return np.size(x)
    x_shape = np.shape(x)
    count = 1
    for i in normalize_axis(axis, len(x_shape)):
        count *= x_shape[i]
    return count


def extremum_mask(x, ans, axis=None, keepdims=False):
    """Where ``x`` attains the max (or min) ``ans``, divided by the number of ties.

    Ties share the gradient equally, as in JAX and autograd.
    """
    x = np.asarray(x)
    hit = (x == expand_reduced(ans, x, axis, keepdims)).astype(x.dtype)
    return hit / np.sum(hit, axis=axis, keepdims=True)


def matmul_grad_left(v, a, b):
    """The gradient of ``a @ b`` with respect to ``a``, for cotangent ``v``."""
    a_nd, b_nd = getattr(a, "ndim", None), getattr(b, "ndim", None)
    if a_nd == 2 and b_nd == 2:
        return v @ b.T  # the common case, without the general path's bookkeeping
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if b_nd == 1:
        if a_nd == 1:
            return v * b
        return unbroadcast(np.expand_dims(v, -1) * b, a)
    if a_nd == 1:
        return unbroadcast(np.matmul(np.expand_dims(v, -2), np.swapaxes(b, -1, -2))[..., 0, :], a)
    return unbroadcast(np.matmul(v, np.swapaxes(b, -1, -2)), a)


def matmul_grad_right(v, a, b):
    """The gradient of ``a @ b`` with respect to ``b``, for cotangent ``v``."""
    a_nd, b_nd = getattr(a, "ndim", None), getattr(b, "ndim", None)
    if a_nd == 2 and b_nd in (1, 2):
        return a.T @ v
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 1:
        if b_nd == 1:
            return v * a
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(v, -2), b)
    if b_nd == 1:
        return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), np.expand_dims(v, -1))[..., 0], b)
    return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), v), b)


def check_dot_operands(a, b):
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise NotImplementedError(
            "autodiff_st differentiates np.dot for operands of at most two dimensions; "
            "use np.matmul or np.tensordot for stacks of matrices."
        )


def dot_grad_left(v, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(v * b, a)
    check_dot_operands(a, b)
    return matmul_grad_left(v, a, b)


def dot_grad_right(v, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(v * a, b)
    check_dot_operands(a, b)
    return matmul_grad_right(v, a, b)


def transpose_axes_inverse(axes, ndim):
    if axes is None:
        return None
    return tuple(np.argsort([a % ndim for a in axes]))


def pack_axes(first, rest):
    """``x.transpose(1, 0)`` and ``x.transpose((1, 0))`` mean the same; so do the reshape forms."""
    if not rest:
        return first
    return (first,) + tuple(rest)


def astype(x, dtype, **kwargs):
    """``x.astype(dtype)`` as a function, so that it can carry a derivative rule."""
    return x.astype(dtype, **kwargs)


def cast_like(v, x):
    """``v`` in the dtype of ``x``: the gradient of a cast goes back to the original dtype."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return v
    return np.asarray(v).astype(dtype, copy=False)


def split_like(v, arrays, axis=0):
    """Split ``v`` along ``axis`` into pieces shaped like ``arrays``: the gradient of concatenate."""
    sizes = [np.shape(a)[axis] for a in arrays]
    return np.split(v, np.cumsum(sizes[:-1]), axis=axis)


def unstack(v, count, axis=0):
    """The ``count`` slices of ``v`` along ``axis``: the gradient of stack."""
    return [np.take(v, i, axis=axis) for i in range(count)]


def inside_bounds(a, low, high):
    """Where ``low <= a <= high``, either bound possibly None: where np.clip passes its input through."""
    inside = np.ones(np.shape(a), dtype=bool)
    if low is not None:
        inside &= a >= low
    if high is not None:
        inside &= a <= high
    return inside


def prod_others(a, axis=None):
    """For each element of ``a``, the product of the other elements of its reduction over ``axis``.

    Uses products to the left and to the right rather than ``prod / a``, so zeros are exact.
    """
    a = np.asarray(a)
    axes = normalize_axis(axis, a.ndim)
    kept = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, kept + list(axes))
    flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.transpose(others, np.argsort(kept + list(axes)))


def real_like(v, x):
    """``v`` as the cotangent of ``x``: its real part when ``x`` is real.

    Complex rules follow JAX's convention (see ``rules/elementwise.py``); the cotangent of a real input
    is real, so a rule whose formula is complex keeps only the real part for a real input.
    """
    if np.iscomplexobj(x):
        return v
    return np.real(v) if np.iscomplexobj(v) else v


def one_if_none(b):
    """``b``, or 1 when it is None: the weights of a sum whose weights are optional."""
    return 1 if b is None else b


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
