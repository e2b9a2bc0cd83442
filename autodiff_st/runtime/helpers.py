"""Runtime helpers that generated adjoints call.

This module is all that generated code needs at run time besides numpy. Nothing here knows about
parsing or code generation. Every helper that can sit on a differentiated path has a derivative rule in
``rules/``, so generated code can itself be differentiated again.
"""

import operator

import numpy as np


class Shape(tuple):
    """What the backward pass keeps of a value it reads only for its shape: ``(shape, dtype, number)``.

    ``unbroadcast(v, x)``, ``expand_reduced(v, x)``, ``reduced_count(x)`` and ``zeros_like(x)`` accept
    it in place of ``x``, so the array itself can be freed as soon as the forward pass is done with it.
    (A tuple subclass: cheap to make, as it is made once per such value.)
    """

    __slots__ = ()
    shape = property(operator.itemgetter(0))
    dtype = property(operator.itemgetter(1))
    number = property(operator.itemgetter(2))

    @property
    def ndim(self):
        return len(self[0])

    @property
    def size(self):
        count = 1
        for n in self[0]:
            count *= n
        return count

    def __repr__(self):
        return f"Shape({self[0]}, {self[1]})"


def reversed_range(values):
    """The values of a ``range`` (the iterations a loop ran), last first: how a backward pass walks a loop.
    No derivative flows through it, also when generated code is differentiated again."""
    return reversed(values)


def shape_of(x):
    """The ``Shape`` of ``x``."""
    if type(x) is np.ndarray:
        return Shape((x.shape, x.dtype, False))
    if isinstance(x, (float, int)):
        return Shape(((), None, True))
    return Shape((np.shape(x), getattr(x, "dtype", None), False))


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


class Parts(tuple):
    """The cotangent of a tuple or list: one cotangent per element.

    ``+`` adds element by element, so generated code accumulates ``x_bar = x_bar + c`` the same way
    whether ``x`` holds an array, a number or a sequence. A plain 0 (the zero cotangent of a value
    that was unbound) adds as nothing.
    """

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        if len(other) != len(self):
            raise ValueError(f"cotangents of sequences of different lengths: {len(self)} and {len(other)}")
        return Parts(a + b for a, b in zip(self, other))

    def __radd__(self, other):
        return self.__add__(other)

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Parts(item) if isinstance(index, slice) else item

    def __repr__(self):
        return f"parts{tuple.__repr__(self)}"


class DictParts(dict):
    """The cotangent of a dict: one cotangent per key, added key by key."""

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        return DictParts({k: self[k] + other[k] for k in self})

    def __radd__(self, other):
        return self.__add__(other)


def parts(*cotangents):
    """The cotangent of a sequence, from its elements' cotangents: ``parts(a_bar, b_bar)``."""
    return Parts(cotangents)


def as_parts(cotangents):
    """A list of cotangents returned by a rule (as for np.concatenate's arrays), as ``Parts``."""
    return cotangents if isinstance(cotangents, Parts) else Parts(cotangents)


def zeros_like(x):
    """The zero gradient of ``x``: ``0.0`` for a Python number, an array of zeros otherwise, and the
    same structure of zeros for a tuple, list or dict."""
    if isinstance(x, (float, int)) or x is None:
        return 0.0
    if isinstance(x, Shape):
        return 0.0 if x.number else np.zeros(x.shape, dtype=x.dtype)
    if isinstance(x, complex):
        return 0j
    if isinstance(x, (tuple, list)):
        return Parts(zeros_like(e) for e in x)
    if isinstance(x, dict):
        return DictParts({k: zeros_like(v) for k, v in x.items()})
    return np.zeros_like(x)


def ones_like(x):
    """The seed of a backward pass: ``1.0`` for a Python number, an array of ones otherwise, and the
    same structure of ones for a tuple, list or dict."""
    if isinstance(x, (float, int)):
        return 1.0
    if isinstance(x, complex):
        return 1.0 + 0j
    if isinstance(x, (tuple, list)):
        return Parts(ones_like(e) for e in x)
    if isinstance(x, dict):
        return DictParts({k: ones_like(v) for k, v in x.items()})
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
        return x.size if isinstance(x, Shape) else np.size(x)
    x_shape = x.shape if isinstance(x, Shape) else np.shape(x)
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
        return v @ b.T  # the common cases, without the general path's bookkeeping
    if a_nd == 2 and b_nd == 1:
        return np.outer(v, b)
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


# -- helpers for the rules of reductions, products, linear algebra, shape and selection ----------------


def require(condition, message):
    """Raise NotImplementedError with ``message`` unless ``condition``: a rule's refusal of a case it
    does not differentiate (an unsupported mode), rather than a wrong derivative."""
    if not condition:
        raise NotImplementedError(f"autodiff_st: {message}")


def identity_like(x):
    """The identity matrix of size ``x.shape[-1]``, in the dtype of ``x``."""
    x = np.asarray(x)
    return np.eye(x.shape[-1], dtype=x.dtype if x.dtype.kind in "fc" else None)


def _moved_lanes(x, axis):
    """``x`` with the axes ``axis`` moved last and merged into one; and a function undoing that."""
    x = np.asarray(x)
    axes = normalize_axis(axis, x.ndim)
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    lanes = moved.reshape(moved.shape[:len(kept)] + (-1,))

    def back(y):
        return np.transpose(np.reshape(y, moved.shape), np.argsort(kept + list(axes)))

    return lanes, back


def nan_count(a, axis=None):
    """How many non-NaN elements each reduction over ``axis`` combines (keepdims), in ``a``'s dtype."""
    present = np.logical_not(np.isnan(a))
    dtype = a.dtype if getattr(a, "dtype", np.dtype(float)).kind == "f" else None
    return np.sum(present, axis=axis, keepdims=True, dtype=dtype)


def _weights_shape(w, a, axis):
    """The shape that ``np.average``'s weights take to broadcast against ``a``."""
    a_nd, w_shape = np.ndim(a), np.shape(w)
    if len(w_shape) == a_nd or len(w_shape) == 0:
        return w_shape
    # 1-D weights along the one axis averaged over
    shape = [1] * a_nd
    shape[normalize_axis(axis, a_nd)[0]] = w_shape[0]
    return tuple(shape)


def weights_like(w, a, axis=None):
    """``np.average``'s weights ``w`` broadcast to the shape of ``a``; ones when ``w`` is None."""
    if w is None:
        return np.ones(np.shape(a), dtype=getattr(a, "dtype", None))
    return np.broadcast_to(np.reshape(w, _weights_shape(w, a, axis)), np.shape(a))


def sum_to_weights(v, w, axis=None):
    """Sum ``v`` (shaped like the averaged array) down to the shape of the weights ``w``: the transpose
    of ``weights_like``."""
    return np.reshape(unbroadcast_to_shape(v, _weights_shape(w, v, axis)), np.shape(w))


def reverse_cumsum(v, axis=None):
    """Sums from each position to the end along ``axis`` (``v`` is 1-D when ``axis`` is None)."""
    return np.flip(np.cumsum(np.flip(v, axis), axis=axis), axis)


def cumulative_axis(axis):
    """The axis a cumulative sum or product runs along once ``axis=None`` has flattened its input."""
    return 0 if axis is None else axis


def _first_zero(x, axis):
    x = np.asarray(x)
    zero = x == 0
    n = x.shape[axis]
    first = np.where(np.any(zero, axis=axis, keepdims=True), np.argmax(zero, axis=axis, keepdims=True), n)
    shape = [1] * x.ndim
    shape[axis] = n
    return np.reshape(np.arange(n), shape), first


def before_first_zero(x, axis):
    """Where an element of ``x`` comes before the first zero of its lane along ``axis``."""
    position, first = _first_zero(x, axis)
    return position < first


def at_first_zero(x, axis):
    """Where an element of ``x`` is the first zero of its lane along ``axis``."""
    position, first = _first_zero(x, axis)
    return position == first


def quantile_weights(a, q, axis=None, method="linear"):
    """How much each element of ``a`` contributes to its quantile ``q`` along ``axis``.

    The quantile interpolates between two order statistics; ties among equal values are broken by a
    stable sort, which gives one valid subgradient.
    """
    lanes, back = _moved_lanes(a, axis)
    n = lanes.shape[-1]
    position = float(q) * (n - 1)
    low = int(np.floor(position))
    high = min(low + 1, n - 1)
    frac = position - low
    if method == "linear":
        pairs = [(low, 1 - frac), (high, frac)]
    elif method == "lower":
        pairs = [(low, 1.0)]
    elif method == "higher":
        pairs = [(int(np.ceil(position)), 1.0)]
    elif method == "midpoint":
        pairs = [(low, 0.5), (high, 0.5)] if frac > 0 else [(low, 1.0)]
    elif method == "nearest":
        pairs = [(int(np.around(position)), 1.0)]
    else:
        require(False, f"the derivative of np.quantile with method={method!r} is not implemented; "
                       "use 'linear', 'lower', 'higher', 'midpoint' or 'nearest'.")
    order = np.argsort(lanes, axis=-1, kind="stable")
    weights = np.zeros(lanes.shape, dtype=lanes.dtype if lanes.dtype.kind == "f" else float)
    for index, weight in pairs:
        if weight:
            chosen = order[..., index:index + 1]
            np.put_along_axis(weights, chosen, np.take_along_axis(weights, chosen, axis=-1) + weight, axis=-1)
    return back(weights)


def diagonal_mask(a, offset=0, axis1=0, axis2=1):
    """Ones on the ``offset`` diagonal of the ``axis1``, ``axis2`` planes of ``a``, zeros elsewhere, in a
    shape that broadcasts against ``a``."""
    shape = np.shape(a)
    nd = len(shape)
    axis1, axis2 = axis1 % nd, axis2 % nd
    mask = np.eye(shape[axis1], shape[axis2], k=offset, dtype=getattr(a, "dtype", float))
    if axis1 > axis2:
        mask = mask.T
    out_shape = [1] * nd
    out_shape[axis1], out_shape[axis2] = shape[axis1], shape[axis2]
    return np.reshape(mask, out_shape)


def undiagonal(v, a, offset=0, axis1=0, axis2=1):
    """Zeros shaped like ``a`` with ``v`` on the diagonal ``np.diagonal(a, offset, axis1, axis2)`` reads:
    the transpose of ``np.diagonal``."""
    shape = np.shape(a)
    out = np.zeros(shape, dtype=np.result_type(v))
    planes = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writing it writes out
    k = np.shape(v)[-1]
    rows = np.arange(k) + max(-offset, 0)
    cols = np.arange(k) + max(offset, 0)
    planes[..., rows, cols] = v
    return out


def diag_grad(v, x, k=0):
    """The transpose of ``np.diag(x, k)``: the diagonal of ``v`` when ``x`` is 1-D, else ``v`` placed on
    the diagonal of zeros shaped like ``x``."""
    if np.ndim(x) == 1:
        return np.diag(v, k)
    return undiagonal(v, x, k, 0, 1)


def _joined_shape(shape, promote):
    if promote == "atleast_1d":
        return shape if len(shape) >= 1 else (1,)
    if promote == "atleast_2d":
        return {0: (1, 1), 1: (1,) + shape}.get(len(shape), shape)
    if promote == "atleast_3d":
        return {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}.get(len(shape), shape)
    if promote == "column":
        return {0: (1, 1), 1: shape + (1,)}.get(len(shape), shape)
    if promote == "ravel":
        return (int(np.prod(shape)),)
    return shape


def hstack_axis(arrays):
    """np.hstack joins 1-D arrays along axis 0, others along axis 1."""
    return 0 if np.ndim(arrays[0]) <= 1 else 1


def hsplit_axis(ary):
    return 0 if np.ndim(ary) <= 1 else 1


def unjoin(v, arrays, axis=0, promote="none"):
    """Cut ``v``, the cotangent of joining ``arrays`` along ``axis`` after promoting each (``"atleast_2d"``
    for np.vstack, ``"column"`` for np.column_stack, ...), into cotangents shaped like the arrays."""
    shapes = [np.shape(a) for a in arrays]
    joined = [_joined_shape(s, promote) for s in shapes]
    sizes = [s[axis] for s in joined]
    pieces = np.split(v, np.cumsum(sizes[:-1]), axis=axis)
    return [np.reshape(p, s) for p, s in zip(pieces, shapes)]


def join_like(parts, arrays, axis=0, promote="none"):
    """The transpose of ``unjoin``: promote each part as its array was and join them along ``axis``."""
    return np.concatenate([np.reshape(p, _joined_shape(np.shape(a), promote)) for p, a in zip(parts, arrays)],
                          axis=axis)


def untile(v, A, reps):
    """Sum the copies ``np.tile(A, reps)`` made: the transpose of ``np.tile``."""
    reps = tuple(reps) if np.ndim(reps) else (int(reps),)
    shape = np.shape(A)
    d = max(len(reps), len(shape))
    shape_d = (1,) * (d - len(shape)) + shape
    reps_d = (1,) * (d - len(reps)) + reps
    interleaved = tuple(x for pair in zip(reps_d, shape_d) for x in pair)
    return np.reshape(np.sum(np.reshape(v, interleaved), axis=tuple(range(0, 2 * d, 2))), shape)


def _take_positions(indices, n, mode):
    indices = np.asarray(indices)
    if mode == "wrap":
        return indices % n
    if mode == "clip":
        return np.clip(indices, 0, n - 1)
    return indices


def untake(v, a, indices, axis=None, mode="raise"):
    """Add each element of ``v`` into the place of ``a`` that ``np.take(a, indices, axis, mode=mode)`` read
    it from: the transpose of ``np.take``. Repeated indices add up."""
    shape = np.shape(a)
    flat = (int(np.prod(shape)),) if axis is None else shape
    ax = 0 if axis is None else axis % len(shape)
    idx = _take_positions(indices, flat[ax], mode)
    out = np.zeros(flat, dtype=np.result_type(v))
    v = np.asarray(v)
    v = np.moveaxis(v, tuple(range(ax, ax + idx.ndim)), tuple(range(idx.ndim)))
    np.add.at(np.moveaxis(out, ax, 0), idx, v)
    return np.reshape(out, shape)


def repeat_indices(a, repeats, axis=None):
    """The indices that np.take reads to compute ``np.repeat(a, repeats, axis)``."""
    n = np.size(a) if axis is None else np.shape(a)[axis]
    return np.repeat(np.arange(n), repeats)


def untake_along_axis(v, arr, indices, axis=-1):
    """Add each element of ``v`` into the place of ``arr`` that ``np.take_along_axis`` read it from: the
    transpose of ``np.take_along_axis``. Repeated indices add up."""
    shape = np.shape(arr)
    flat = (int(np.prod(shape)),) if axis is None else shape
    ax = 0 if axis is None else axis % len(flat)
    v = np.asarray(v)
    out = np.zeros(flat, dtype=np.result_type(v))
    index = []
    for d, n in enumerate(flat):
        if d == ax:
            index.append(np.broadcast_to(indices, v.shape))
        else:
            positions = np.arange(v.shape[d]) if n == v.shape[d] else np.zeros(v.shape[d], dtype=int)
            index.append(np.reshape(positions, [-1 if e == d else 1 for e in range(len(flat))]))
    np.add.at(out, tuple(index), v)
    return np.reshape(out, shape)


def arrangement(a, ans, axis=-1):
    """For a result ``ans`` holding the elements of ``a`` rearranged along ``axis`` (np.partition), the
    index into ``a`` of each element of ``ans``, for np.take_along_axis. Equal elements are matched in
    order."""
    if axis is None:
        a, axis = np.ravel(a), 0
    from_a = np.argsort(a, axis=axis, kind="stable")
    from_ans = np.argsort(ans, axis=axis, kind="stable")
    out = np.empty_like(from_a)
    np.put_along_axis(out, from_ans, from_a, axis=axis)
    return out


def extent(x, axis=None):
    """How many entries ``x`` has along ``axis``; its size when ``axis`` is None (flattened)."""
    return np.size(x) if axis is None else np.shape(x)[axis]


def _pad_sources(shape, pad_width, mode, reflect_type):
    require(mode in ("constant", "empty", "edge", "reflect", "symmetric", "wrap"),
            f"the derivative of np.pad is implemented for the modes constant, edge, reflect, symmetric "
            f"and wrap, not {mode!r}.")
    require(reflect_type == "even", "the derivative of np.pad with reflect_type='odd' is not implemented.")
    positions = np.reshape(np.arange(int(np.prod(shape))), shape)
    if mode in ("constant", "empty"):
        return np.pad(positions, pad_width, mode="constant", constant_values=-1)
    return np.pad(positions, pad_width, mode=mode)


def unpad(v, array, pad_width, mode="constant", reflect_type="even"):
    """Add each element of ``v`` into the element of ``array`` that ``np.pad`` copied it from; padding
    with constants contributes nothing. The transpose of ``np.pad`` as a function of ``array``."""
    shape = np.shape(array)
    sources = np.ravel(_pad_sources(shape, pad_width, mode, reflect_type))
    v = np.ravel(v)
    copied = sources >= 0
    out = np.zeros(int(np.prod(shape)), dtype=np.result_type(v))
    np.add.at(out, sources[copied], v[copied])
    return np.reshape(out, shape)


def pad_like(v, pad_width, mode="constant", reflect_type="even"):
    """``np.pad(v, pad_width, mode)`` with constant padding by zeros: the transpose of ``unpad``."""
    _pad_sources(np.shape(v), pad_width, mode, reflect_type)  # the same refusals as unpad
    if mode in ("constant", "empty"):
        return np.pad(v, pad_width, mode="constant")
    return np.pad(v, pad_width, mode=mode)


def unchoose(v, a, choices, mode="raise"):
    """The cotangent of each of ``choices`` in ``np.choose(a, choices)``: ``v`` where it was chosen."""
    n = len(choices)
    picked = _take_positions(a, n, mode)
    return [unbroadcast(np.where(picked == i, v, 0), c) for i, c in enumerate(choices)]


def unselect(v, condlist, choicelist):
    """The cotangent of each of ``choicelist`` in ``np.select``: ``v`` where its condition is the first
    that holds."""
    taken = np.zeros(np.shape(v), dtype=bool)
    out = []
    for cond, choice in zip(condlist, choicelist):
        here = np.logical_and(cond, np.logical_not(taken))
        out.append(unbroadcast(np.where(here, v, 0), choice))
        taken = np.logical_or(taken, cond)
    return out


def select_default_mask(condlist):
    """Where none of the conditions of ``np.select`` holds, so the default is taken."""
    return np.logical_not(np.any(np.array(np.broadcast_arrays(*condlist)), axis=0))


def _tensordot_axes(a, b, axes):
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        n = int(axes)
        ca, cb = list(range(na - n, na)), list(range(n))
    else:
        ca, cb = axes
        ca = [ca] if np.ndim(ca) == 0 else list(ca)
        cb = [cb] if np.ndim(cb) == 0 else list(cb)
        ca, cb = [i % na for i in ca], [j % nb for j in cb]
    fa = [i for i in range(na) if i not in ca]
    fb = [j for j in range(nb) if j not in cb]
    return ca, cb, fa, fb


def tensordot_left_axes(a, b, axes):
    """The axes that contract the cotangent of ``np.tensordot(a, b, axes)`` with ``b``."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    return list(range(len(fa), len(fa) + len(fb))), fb


def tensordot_left_order(a, b, axes):
    """The permutation that puts ``np.tensordot(g, b, tensordot_left_axes(...))`` in ``a``'s axis order."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    current = fa + [ca[cb.index(j)] for j in sorted(cb)]
    return tuple(int(i) for i in np.argsort(current))


def tensordot_right_axes(a, b, axes):
    """The axes that contract ``a`` with the cotangent of ``np.tensordot(a, b, axes)``."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    return fa, list(range(len(fa)))


def tensordot_right_order(a, b, axes):
    """The permutation that puts ``np.tensordot(a, g, tensordot_right_axes(...))`` in ``b``'s axis order."""
    ca, cb, fa, fb = _tensordot_axes(a, b, axes)
    current = [cb[ca.index(i)] for i in sorted(ca)] + fb
    return tuple(int(i) for i in np.argsort(current))


_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_explicit(subscripts, shapes):
    """The input terms and the output term of an einsum, with ellipses spelled out in letters and the
    implicit output made explicit. Also the letters left unused."""
    require(isinstance(subscripts, str), "np.einsum is differentiated with a subscripts string.")
    s = subscripts.replace(" ", "")
    inputs, arrow, output = s.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} terms in {subscripts!r} for {len(shapes)} operands")
    free = [c for c in _EINSUM_LETTERS if c not in s]
    widths = [len(shape) - (len(t) - 3) if "..." in t else 0 for t, shape in zip(terms, shapes)]
    width = max(widths, default=0)
    ellipsis, free = "".join(free[:width]), free[width:]
    explicit = [t.replace("...", ellipsis[width - w:] if w else "") for t, w in zip(terms, widths)]
    if arrow:
        out = output.replace("...", ellipsis)
    else:
        letters = [c for t in terms for c in t if c.isalpha()]
        out = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return explicit, out, free


def einsum_grads(v, subscripts, operands):
    """The cotangent of each operand of ``np.einsum(subscripts, *operands)`` for the result's cotangent
    ``v``: each is itself an einsum of ``v`` with the other operands.

    An index that appears only in the operand is broadcast with a vector of ones; an index repeated in
    the operand (a diagonal) takes an identity matrix; a length-1 axis that numpy broadcast is summed.
    """
    shapes = [np.shape(x) for x in operands]
    terms, out, free = _einsum_explicit(subscripts, shapes)
    sizes = {}
    for t, shape in zip(terms, shapes):
        for c, n in zip(t, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    dtype = np.result_type(v)
    grads = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        spare = list(free)
        others = [j for j in range(len(operands)) if j != k]
        in_terms = [out] + [terms[j] for j in others]
        arrays = [v] + [operands[j] for j in others]
        present = set("".join(in_terms))
        target, seen = [], set()
        for c, n in zip(term, shape):
            if n == 1 and sizes[c] != 1:  # broadcast by numpy: the cotangent sums over it
                letter = spare.pop()
                in_terms.append(letter)
                arrays.append(np.ones(1, dtype=dtype))
            elif c in seen:  # a repeated index: the operand's diagonal
                letter = spare.pop()
                in_terms.append(c + letter)
                arrays.append(np.eye(n, dtype=dtype))
                present.add(c)
            else:
                letter = c
                seen.add(c)
            target.append(letter)
        for c in seen - present:  # summed within the operand alone: broadcast back
            in_terms.append(c)
            arrays.append(np.ones(sizes[c], dtype=dtype))
        grads.append(np.einsum(",".join(in_terms) + "->" + "".join(target), *arrays, optimize=len(arrays) > 2))
    return grads


def kron_shape(a, b):
    """The shape (a0, b0, a1, b1, ...) in which ``np.kron(a, b)``'s blocks separate."""
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + np.shape(a)
    sb = (1,) * (n - np.ndim(b)) + np.shape(b)
    return tuple(x for pair in zip(sa, sb) for x in pair)


def kron_slot_shape(a, b, slot):
    """The shape of ``a`` (slot 0) or ``b`` (slot 1) spread over the axes of ``kron_shape(a, b)``."""
    shape = kron_shape(a, b)
    return tuple(n if i % 2 == slot else 1 for i, n in enumerate(shape))


def kron_slot_axes(a, b, slot):
    """The axes of ``kron_shape(a, b)`` that belong to ``a`` (slot 0) or ``b`` (slot 1)."""
    return tuple(range(slot, len(kron_shape(a, b)), 2))


def swap_if(x, flag):
    """``x`` with its last two axes swapped when ``flag``, else ``x``."""
    return np.swapaxes(x, -1, -2) if flag else x


def from_triangle(s, triangle="L"):
    """The gradient with respect to a matrix of which only the lower ("L") or upper ("U", or True)
    triangle is read, given the symmetric gradient ``s`` with respect to the symmetric matrix that
    triangle stands for."""
    if triangle is True or triangle == "U":
        return np.triu(s) + np.triu(s, 1)
    return np.tril(s) + np.tril(s, -1)


def upper_block(a, e):
    """The block matrix [[a, e], [0, a]] (stacked over leading axes)."""
    a, e = np.broadcast_arrays(a, e)
    zero = np.zeros_like(a)
    return np.concatenate([np.concatenate([a, e], axis=-1), np.concatenate([zero, a], axis=-1)], axis=-2)


def upper_right(m):
    """The upper-right block of a block matrix of 2 x 2 equal blocks."""
    n = np.shape(m)[-1] // 2
    return m[..., :n, n:]


def diagonal_blocks_sum(m):
    """The sum of the two diagonal blocks of a block matrix of 2 x 2 equal blocks."""
    n = np.shape(m)[-1] // 2
    return m[..., :n, :n] + m[..., n:, n:]


def multi_dot_grads(v, arrays):
    """The cotangent of each of ``arrays`` in ``np.linalg.multi_dot(arrays)``: the product of the
    others' transposes around ``v``."""
    shapes = [np.shape(x) for x in arrays]
    mats = [np.asarray(x) for x in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    v = np.reshape(v, (mats[0].shape[0], mats[-1].shape[1]))
    left = [None] * len(mats)
    acc = None
    for i, m in enumerate(mats):
        left[i] = acc
        acc = m if acc is None else acc @ m
    grads, acc = [None] * len(mats), None
    for i in range(len(mats) - 1, -1, -1):
        g = v if acc is None else v @ acc.T
        if left[i] is not None:
            g = left[i].T @ g
        grads[i] = np.reshape(g, shapes[i])
        acc = mats[i] if acc is None else mats[i] @ acc
    return grads


def lstsq_residual_weights(v, b):
    """The cotangent of np.linalg.lstsq's residuals, one per column of ``b``, shaped to multiply the
    residual vectors; zero when numpy returns no residuals."""
    v = np.asarray(v)
    if v.size == 0:
        return np.zeros((), dtype=v.dtype)
    return np.reshape(v, ()) if np.ndim(b) == 1 else np.reshape(v, (1, -1))


def lstsq_residual_weights_transpose(v, w, b):
    """The transpose of ``lstsq_residual_weights(w, b)``: ``v`` put back in the shape of ``w``."""
    w_shape = np.shape(w)
    if int(np.prod(w_shape)) == 0:
        return np.zeros(w_shape, dtype=np.result_type(v))
    return np.reshape(v, w_shape)


def _norm_layout(x, ord, axis, kind):
    """("vector", axes) or ("matrix", (row, col)) for a norm call."""
    nd = np.ndim(x)
    if kind == "matrix":
        return "matrix", tuple(a % nd for a in axis)
    if axis is None:
        if kind == "vector" or ord is None or nd == 1:
            return "vector", tuple(range(nd))
        return "matrix", (0, 1)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    if kind == "vector" or len(axes) == 1:
        return "vector", tuple(a % nd for a in axes)
    return "matrix", tuple(a % nd for a in axes)


def _norm_p(layout, ord):
    """The p of a smooth p-norm (the Frobenius norm is a 2-norm), or None for the other norms."""
    kind, _ = layout
    if kind == "vector":
        if ord is None:
            return 2.0
        if ord in (np.inf, -np.inf, 0, 1) or isinstance(ord, str):
            return None
        return float(ord)
    return 2.0 if ord in (None, "fro", "f") else None


def _expand_norm(value, x, axes, keepdims):
    return np.broadcast_to(value if keepdims else np.expand_dims(value, axes), np.shape(x))


def _split_ties(hit, axes):
    hit = hit.astype(float)
    return hit / np.sum(hit, axis=axes, keepdims=True)


def norm_direction(x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The derivative of ``norm = np.linalg.norm(x, ord, axis, keepdims)`` by each element of ``x``.

    ``kind`` is "vector" for np.linalg.vector_norm and "matrix" for np.linalg.matrix_norm. Where the
    norm has a kink (1 and inf norms, the largest singular value), ties share the derivative equally,
    or one of them takes it; at x = 0 the derivative is taken as 0.
    """
    x = np.asarray(x)
    layout = _norm_layout(x, ord, axis, kind)
    kind_, axes = layout
    dtype = x.dtype if x.dtype.kind == "f" else float
    n = _expand_norm(np.asarray(norm), x, axes, keepdims)
    p = _norm_p(layout, ord)
    ax = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p is not None:
            d = np.sign(x) * ax ** (p - 1) / n ** (p - 1) if p != 2 else x / n
            return np.where(n == 0, 0, d).astype(dtype)
        if kind_ == "vector":
            if ord == 1:
                return np.sign(x).astype(dtype)
            if ord == 0:
                return np.zeros_like(x, dtype=dtype)
            if ord in (np.inf, -np.inf):
                return (np.sign(x) * _split_ties(ax == n, axes)).astype(dtype)
        row, col = axes
        if ord in (1, -1, np.inf, -np.inf):
            # the largest (smallest) absolute column sum for 1 (-1), row sum for inf (-inf)
            summed = row if ord in (1, -1) else col
            sums = np.sum(ax, axis=summed, keepdims=True)
            pick = np.max(sums, axis=axes, keepdims=True) if ord in (1, np.inf) else \
                np.min(sums, axis=axes, keepdims=True)
            return (np.sign(x) * _split_ties(sums == pick, axes)).astype(dtype)
        if ord in ("nuc", 2, -2):
            moved = np.moveaxis(x, (row, col), (-2, -1))
            u, s, vh = np.linalg.svd(moved, full_matrices=False)
            if ord == "nuc":
                d = u @ vh
            else:
                i = 0 if ord == 2 else s.shape[-1] - 1
                d = u[..., :, i:i + 1] @ vh[..., i:i + 1, :]
            return np.moveaxis(d, (-2, -1), (row, col)).astype(dtype)
    raise ValueError(f"np.linalg.norm: unknown ord {ord!r}")


def _norm_curvature_parts(x, norm, ord, axis, keepdims, kind):
    x = np.asarray(x)
    layout = _norm_layout(x, ord, axis, kind)
    p = _norm_p(layout, ord)
    if p is None and layout[0] == "matrix" and ord in ("nuc", 2, -2):
        require(False, "second derivatives of the nuclear and spectral norms are not implemented.")
    return x, layout, p


def norm_direction_vjp_x(v, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The transpose of the derivative of ``norm_direction`` by ``x``, applied to ``v``: for a p-norm,
    v (p - 1) |x|^(p-2) / norm^(p-1); zero for the piecewise linear norms."""
    x, (kind_, axes), p = _norm_curvature_parts(x, norm, ord, axis, keepdims, kind)
    if p is None:
        return np.zeros_like(v)
    n = _expand_norm(np.asarray(norm), x, axes, keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = v / n if p == 2 else v * (p - 1) * np.abs(x) ** (p - 2) / n ** (p - 1)
        return np.where(n == 0, 0, d).astype(np.result_type(v))


def norm_direction_vjp_norm(v, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The transpose of the derivative of ``norm_direction`` by ``norm``, applied to ``v``: for a p-norm,
    (1 - p) sum(v sign(x) |x|^(p-1)) / norm^p; zero for the piecewise linear norms."""
    x, (kind_, axes), p = _norm_curvature_parts(x, norm, ord, axis, keepdims, kind)
    norm = np.asarray(norm)
    if p is None:
        return np.zeros_like(norm, dtype=np.result_type(v))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sum(v * np.sign(x) * np.abs(x) ** (p - 1), axis=axes, keepdims=keepdims)
        d = (1 - p) * s / norm ** p
        return np.reshape(np.where(norm == 0, 0, d), np.shape(norm)).astype(np.result_type(v))


def _basic_index(index):
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) or (isinstance(i, np.integer))
               for i in index)


def index_grad(v, x, index):
    """The gradient of ``x[index]``: ``v`` placed into zeros shaped like ``x``.

    Repeated positions in an integer-array index add up, as each one read the same element. For a
    tuple, list or dict ``x``, the cotangent is the same structure with ``v`` at ``index``.
    """
    if isinstance(x, (tuple, list, dict)):
        return _container_index_grad(v, x, index)
    out = np.zeros(np.shape(x), dtype=np.result_type(v, x) if np.iscomplexobj(v) else getattr(x, "dtype", float))
    if _basic_index(index):
        out[index] = v
    else:
        np.add.at(out, index, v)
    return out


def as_columns(v, b):
    """``v`` with a trailing axis of length 1 when ``b`` is a vector: np.linalg.solve's right-hand side
    ``b`` is a vector only when it is 1-D, and a stack of matrices otherwise."""
    return np.expand_dims(v, -1) if np.ndim(b) == 1 else v


def from_columns(v, b):
    """The inverse of ``as_columns``: drop the trailing axis added when ``b`` is a vector."""
    return np.squeeze(v, -1) if np.ndim(b) == 1 else v


def _written_last(shape, index):
    """For ``y[index] = value``: True where an element of ``value`` is the last write of its position.

    An integer-array index may name one position several times; numpy keeps the last write.
    """
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    flat = np.ravel(positions)
    _, last_from_end = np.unique(flat[::-1], return_index=True)
    keep = np.zeros(flat.size, dtype=bool)
    keep[flat.size - 1 - last_from_end] = True
    return keep.reshape(np.shape(positions))


def stored_grad(v, index, value):
    """The gradient of ``value`` in ``y[index] = value``, from ``v``, the gradient of ``y`` after the write."""
    part = v[index]
    if not _basic_index(index):
        part = np.where(_written_last(np.shape(v), index), part, 0)
    return unbroadcast(part, value)


def stored_grad_transpose(u, v, index):
    """The transpose of ``stored_grad(v, index, value)`` in ``v``: ``u`` (shaped like ``value``)
    broadcast to ``v[index]`` and placed into zeros shaped like ``v``, at the positions written last."""
    part = np.broadcast_to(u, np.shape(np.asarray(v)[index]))
    if not _basic_index(index):
        part = np.where(_written_last(np.shape(v), index), part, 0)
    return index_grad(part, v, index)


def zero_at(v, index):
    """``v`` with the written positions set to zero: the values a write replaced reach nothing after it."""
    out = np.array(v, copy=True)
    out[index] = 0
    return out


def prod_others_vjp(v, a, axis=None):
    """The transpose of the derivative of ``prod_others(a, axis)``, applied to ``v``: for each element
    j, the sum over the others i of v_i times the product of the elements other than i and j.

    Exact at zeros: a lane with one zero, at m, reads only v_m (and, at m, the others' terms); a lane
    with two zeros connects only those two; a lane with three or more gives zero.
    """
    lanes, back = _moved_lanes(a, axis)
    v_lanes, _ = _moved_lanes(np.broadcast_to(v, np.shape(a)), axis)
    zero = lanes == 0
    safe = np.where(zero, 1, lanes)
    nonzero_product = np.prod(safe, axis=-1, keepdims=True)
    zeros = np.sum(zero, axis=-1, keepdims=True)
    over = np.sum(v_lanes / safe, axis=-1, keepdims=True)  # sum of v_i / a_i over the nonzero a_i (and v_m)
    at_zeros = np.sum(np.where(zero, v_lanes, 0), axis=-1, keepdims=True)
    no_zero = nonzero_product / safe * (over - v_lanes / safe)
    one_zero = np.where(zero, nonzero_product * (over - at_zeros), at_zeros * nonzero_product / safe)
    two_zeros = np.where(zero, (at_zeros - v_lanes) * nonzero_product, 0)
    out = np.select([zeros == 0, zeros == 1, zeros == 2], [no_zero, one_zero, two_zeros], 0)
    return back(out.astype(np.result_type(v, a), copy=False))


def undiff(v, a, n=1, axis=-1):
    """The transpose of ``np.diff(a, n, axis)`` applied to ``v``: n times, minus the difference of ``v``
    padded with a zero at each end along ``axis``."""
    pad = [(0, 0)] * np.ndim(v)
    pad[axis] = (1, 1)
    for _ in range(n):
        v = -np.diff(np.pad(v, pad), axis=axis)
    return v


def _container_index_grad(v, x, index):
    (key,) = index  # np.index_exp wraps the index in a tuple
    out = zeros_like(x)
    if isinstance(x, dict):
        return DictParts({**out, key: out[key] + v})
    items = list(out)
    if isinstance(key, slice):
        for position, part in zip(range(len(x))[key], v):
            items[position] = items[position] + part
    else:
        items[key] = items[key] + v
    return Parts(items)


def at_index(v, index):
    """``v[index]`` for an index written as ``np.index_exp[...]``, also when ``v`` is a tuple, list or dict."""
    if isinstance(v, (tuple, list, dict)):
        (key,) = index
        return v[key]
    return v[index]


def push_part(v, x_bar):
    """The cotangent of a list before ``x = items.pop()``: the cotangent after it, and ``x_bar`` last."""
    return Parts(tuple(v) + (x_bar,))


# -- forward mode ------------------------------------------------------------------------------------

def tangent_zeros(x):
    """The zero tangent of ``x``, with ``x``'s structure: 0.0 for a number, zeros for an array, and a
    tuple, list or dict of zero tangents for a container."""
    if isinstance(x, tuple):
        return tuple(tangent_zeros(e) for e in x)
    if isinstance(x, list):
        return [tangent_zeros(e) for e in x]
    if isinstance(x, dict):
        return {k: tangent_zeros(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=x.dtype if x.dtype.kind in "fc" else float)
    if isinstance(x, complex):
        return 0j
    if isinstance(x, np.generic):
        return np.zeros((), dtype=x.dtype if x.dtype.kind in "fc" else float)[()]
    if x is None or isinstance(x, (int, float, bool, str)):
        return 0.0
    return 0.0


def broadcast_like(t, result):
    """``t`` broadcast to the shape of ``result``: a tangent term of an elementwise operation whose
    differentiated operand was broadcast against a larger one."""
    result_shape = np.shape(result)
    if np.shape(t) == result_shape:
        return t
    return np.broadcast_to(t, result_shape)


def owned(t):
    """A tangent the generated code may write elements into: a copy of an array, anything else as is."""
    if isinstance(t, np.ndarray):
        return t.copy()
    return np.array(t, dtype=float)


def add_tangents(*terms):
    """The sum of tangent terms of a primitive that returns a tuple: element by element."""
    return tuple(sum(parts[1:], parts[0]) for parts in zip(*terms))

# -- forward rule helpers -------------------------------------------------------------------------------

def symmetric_from_triangle(t, triangle="L"):
    """The symmetric matrix that the lower ("L") or upper ("U", or True) triangle of ``t`` stands for:
    the tangent of the matrix that np.linalg.cholesky and eigh read, of which they see one triangle."""
    if triangle is True or triangle == "U":
        return np.triu(t) + np.swapaxes(np.triu(t, 1), -1, -2)
    return np.tril(t) + np.swapaxes(np.tril(t, -1), -1, -2)


def norm_direction_jvp_norm(t, x, norm, ord=None, axis=None, keepdims=False, kind="norm"):
    """The derivative of ``norm_direction(x, norm, ...)`` by ``norm`` in the direction ``t``: for a
    p-norm, (1 - p) norm_direction t / norm; zero for the piecewise linear norms."""
    x, (kind_, axes), p = _norm_curvature_parts(x, norm, ord, axis, keepdims, kind)
    dtype = np.result_type(t, x)
    if p is None:
        return np.zeros(np.shape(x), dtype=dtype)
    n = _expand_norm(np.asarray(norm), x, axes, keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (1 - p) * norm_direction(x, norm, ord, axis, keepdims, kind) * _expand_norm(np.asarray(t), x, axes,
                                                                                            keepdims) / n
        return np.where(n == 0, 0, d).astype(dtype)


def symmetric_from_triangle_transpose(s, triangle="L"):
    """The transpose of ``symmetric_from_triangle``: ``s``'s triangle plus the other triangle of ``s``
    mirrored onto it."""
    if triangle is True or triangle == "U":
        return np.triu(s) + np.triu(np.swapaxes(s, -1, -2), 1)
    return np.tril(s) + np.tril(np.swapaxes(s, -1, -2), -1)


def norm_axes(x, ord=None, axis=None, kind="norm"):
    """The axes that ``np.linalg.norm(x, ord, axis)`` reduces (``kind`` "vector" or "matrix" for
    np.linalg.vector_norm and matrix_norm)."""
    return _norm_layout(x, ord, axis, kind)[1]
