"""``jacrev`` and ``jacfwd`` of a function called on arrays of another library (dask, CuPy, array-api-strict).

The numpy path pushes all basis vectors through one *batched* pass, a numpy-only construct. On another
library the Jacobian is built from one backward pass per output element (jacrev) or one tangent pass per
input element (jacfwd), each basis vector made in the arrays' own namespace, and the rows or columns
stacked there: on dask nothing is computed, the result is one lazy array. What this path does not cover
(weights, an inner transform, tuples or dicts of inputs) is refused with ``BackendError`` naming the backend.
"""

from ..compiler.cache import adjoint_functions
from ..core import registry as rules
from ..core.errors import BackendError, InputTypeError
from ..core.transform import Transform
from ..runtime.calls import argument_kinds, call_forward, call_jvp
from ..runtime.namespaces import backend_name, is_foreign, namespace_of
from .checks import check_input, function_name, split_aux, target_of


def foreign_position(args, positions):
    """The first differentiated argument that is an array of another library, or None."""
    for p in positions:
        if is_foreign(args[p]):
            return args[p]
    return None


def _refuse(x, construct):
    raise BackendError(f"autodiff_st: {construct} is not available on {backend_name(x)} arrays.",
                       hint="Pass numpy arrays for this transform, or use grad/vjp/jvp on the "
                            f"{backend_name(x)} arrays.")


def _basis_vector(xp, like, j):
    """The ``j``-th vector of the identity, with the shape and dtype of ``like``, in namespace ``xp``."""
    size = 1
    for n in like.shape:
        size *= n
    flat = xp.astype(xp.arange(size) == j, like.dtype)
    return xp.reshape(flat, like.shape)


def _leaves(y, fn):
    leaves = list(y) if isinstance(y, tuple) else [y]
    for leaf in leaves:
        if not hasattr(leaf, "shape") and not isinstance(leaf, float):
            raise InputTypeError(f"{function_name(fn)} returns a {type(leaf).__name__}: Jacobians are taken of "
                                 "arrays and floats, or tuples of them.")
    return leaves, isinstance(y, tuple)


def _check(transform, args, positions, x):
    if isinstance(transform.fn, Transform):
        _refuse(x, "a Jacobian of an inner transform")
    if getattr(transform, "weights", None) is not None:
        _refuse(x, "jacrev with weights=")
    if getattr(transform, "holomorphic", False):
        _refuse(x, "a holomorphic Jacobian")
    for p in positions:
        if isinstance(args[p], (tuple, list, dict)):
            _refuse(x, "a Jacobian with respect to a tuple, list or dict")
        check_input(args[p], p, transform.fn)


def _nest(blocks, tuple_out, int_position):
    rows = [b[0] if int_position else tuple(b) for b in blocks]
    return tuple(rows) if tuple_out else rows[0]


def _finish(transform, blocks, tuple_out, y, aux):
    jac = _nest(blocks, tuple_out, isinstance(transform.positions, int))
    if transform.return_value:
        return (jac, y, aux) if transform.has_aux else (jac, y)
    return (jac, aux) if transform.has_aux else jac


def foreign_jacrev(transform, args, positions, x):
    """jacrev on another library's arrays: one backward pass per output element."""
    _check(transform, args, positions, x)
    fn = transform.fn
    if rules.lookup(fn) is not None:
        out, pullback = call_forward(fn, tuple(positions), *args)

        def backward(v):
            grads = pullback(v)
            return grads if len(positions) > 1 else (grads,)
    else:
        target, prefix = target_of(fn)
        shifted = tuple(p + len(prefix) for p in positions)
        mode = "vjp_aux" if transform.has_aux else "vjp"
        forward, generated = adjoint_functions(target, shifted, mode, argument_kinds(prefix + tuple(args)))
        out, residuals = forward(*prefix, *args)

        def backward(v):
            return generated(residuals, v)
    y, aux = split_aux(out, transform.has_aux, fn)
    leaves, tuple_out = _leaves(y, fn)
    blocks = []
    for k, leaf in enumerate(leaves):
        xp = namespace_of(leaf, x)
        leaf = xp.asarray(leaf) if isinstance(leaf, float) else leaf
        zeros = [xp.zeros_like(xp.asarray(other)) for other in leaves]
        rows = [[] for _ in positions]
        size = 1
        for n in leaf.shape:
            size *= n
        for j in range(size):
            seed = _basis_vector(xp, leaf, j)
            v = tuple(seed if i == k else zeros[i] for i in range(len(leaves))) if tuple_out else seed
            for i, g in enumerate(backward(v)):
                rows[i].append(xp.asarray(g))
        block = []
        for i, p in enumerate(positions):
            shape = tuple(leaf.shape) + tuple(args[p].shape)
            block.append(xp.reshape(xp.stack(rows[i], axis=0), shape))
        blocks.append(block)
    return _finish(transform, blocks, tuple_out, y, aux)


def foreign_jacfwd(transform, args, positions, x):
    """jacfwd on another library's arrays: one tangent pass per input element."""
    _check(transform, args, positions, x)
    fn = transform.fn
    if rules.lookup(fn) is not None:
        def run(tangents, *a):
            return call_jvp(fn, tuple(positions), tangents, *a)
    else:
        target, prefix = target_of(fn)
        shifted = tuple(p + len(prefix) for p in positions)
        (jvp_fn,) = adjoint_functions(target, shifted, "jvp", argument_kinds(prefix + tuple(args)))

        def run(tangents, *a):
            return jvp_fn(tangents, *prefix, *a)
    zeros = [namespace_of(args[p]).zeros_like(args[p]) for p in positions]
    out, _ = run(tuple(zeros), *args)
    y, aux = split_aux(out, transform.has_aux, fn)
    leaves, tuple_out = _leaves(y, fn)
    columns = []
    for slot, p in enumerate(positions):
        xp = namespace_of(args[p])
        size = 1
        for n in args[p].shape:
            size *= n
        per_leaf = [[] for _ in leaves]
        for j in range(size):
            tangents = list(zeros)
            tangents[slot] = _basis_vector(xp, args[p], j)
            _, out_dot = run(tuple(tangents), *args)
            if transform.has_aux:
                out_dot = out_dot[0]
            for k, t in enumerate(out_dot if tuple_out else (out_dot,)):
                per_leaf[k].append(xp.asarray(t))
        columns.append(per_leaf)
    blocks = []
    for k, leaf in enumerate(leaves):
        block = []
        for slot, p in enumerate(positions):
            xp = namespace_of(args[p])
            leaf_shape = tuple(getattr(leaf, "shape", ()))
            cols = [xp.broadcast_to(c, leaf_shape) for c in columns[slot][k]]
            block.append(xp.reshape(xp.stack(cols, axis=-1), leaf_shape + tuple(args[p].shape)))
        blocks.append(block)
    return _finish(transform, blocks, tuple_out, y, aux)
