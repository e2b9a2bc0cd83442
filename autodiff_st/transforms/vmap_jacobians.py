"""``vmap`` of a ``jacrev``, ``jacfwd`` or ``grad``: one batched pass of the generated code for the whole batch.

Without this module, vmap would meet the transform as an opaque callable and run it once per batch
element, each run going through the batching dispatch for every small operation. Here the transform's
own generated functions run batched instead (``batching.py`` rewrites them once):

- ``vmap(grad(f))``: the generated gradient function, on the batched arguments, once;
- ``vmap(jacrev(f))``: the generated forward pass on the batch of ``B`` elements, once; then the
  generated backward pass once on a batch of ``B * m`` rows (``m`` the output size): the residuals of
  element ``b`` repeated ``m`` times, the cotangents the ``m`` rows of the identity for each element;
- ``vmap(jacfwd(f))``: the generated tangent function once, on a batch of ``B * n`` rows (``n`` the
  sizes of the differentiated inputs added): the arguments of element ``b`` repeated ``n`` times, the
  tangents of each input the columns of its identity in its own rows and zero in the others.

So the number of run-time batching calls does not grow with the batch. Peak memory grows with
``B * m`` (or ``B * n``) times the residuals; ``vmap(..., chunk_size=k)`` bounds it by running ``k``
elements at a time. Where these conditions do not hold (``has_aux``, ``weights=``, a nested transform,
a function with a rule, a tuple output, container arguments), ``vmap_transform`` returns None and vmap
runs the transform once per batch element, and says so in ``ad.source`` (see docs/vmap.md).
"""

import numpy as np

from ..compiler.batching import call_batched_any, compiled_batched, materialize
from ..compiler.cache import adjoint_functions
from ..core import registry as rules
from ..core.transform import Transform
from ..runtime.batched import Batched, batch_size, rebuilt, slice_of
from ..runtime.calls import argument_kinds
from .checks import as_tuple, check_positions, target_of
from .grad import Grad, gradient_function
from .jacobian_parts import check_jacobian_inputs, jacobian_dtype, output_leaves, repeated_basis, slot_basis
from .jacobians import JacFwd, JacRev


def why_not_batched(transform, args=None):
    """Why ``vmap(transform)`` cannot run the transform's generated code batched, or None where it can."""
    if type(transform) not in (JacRev, JacFwd, Grad):
        return f"vmap batches jacrev, jacfwd and grad, not {type(transform).__name__.lower()}"
    if isinstance(transform.fn, Transform):
        return "the transform differentiates another transform"
    if rules.lookup(transform.fn) is not None:
        return "the function is differentiated by its registered rule"
    if type(transform) is Grad and transform.mode != "grad_only":
        return "grad with has_aux, return_value or value_and_grad"
    if type(transform) is not Grad and transform.has_aux:
        return "has_aux"
    if type(transform) is JacRev and (transform.weights is not None or transform.chunk_size == 1):
        return "weights= or chunk_size=1"
    if transform.positions is None:
        return "no grad_position"
    if args is not None:
        if any(isinstance(a, (tuple, list, dict)) for a in args):
            return "an argument is a tuple, list or dict"
        if not batch_size(args):
            return "an empty batch"
    return None


def vmap_transform(transform, args, kwargs, plans):
    """``transform`` run on the (moved, Batched) ``args`` by its generated code, batched; None where that
    is not available (the caller then runs it once per element). ``plans`` (a dict the caller keeps)
    holds what one call learns about the next ones with the same argument kinds: the checked positions
    and the generated functions."""
    if kwargs:
        return None
    code = getattr(transform.fn, "__code__", None)  # a function whose code was replaced plans again
    key = (len(args), argument_kinds(args), tuple(type(a) is Batched for a in args), code)
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = _plan(transform, args)
    if plan is None:
        return None
    return plan(args)


def _plan(transform, args):
    """``run(args)`` for arguments of these kinds, or None where vmap runs the transform per element."""
    if why_not_batched(transform, args) is not None:
        return None
    target, prefix = target_of(transform.fn)
    if type(transform) is Grad:
        function, prefix = gradient_function(transform, args)
        return lambda args: call_batched_any(function, (*prefix, *args), {})
    example = slice_of(args, 0)
    positions = check_positions(as_tuple(transform.positions), example, transform.fn)
    allow_int = getattr(transform, "allow_int", False)
    active = check_jacobian_inputs(transform.fn, example, positions, allow_int, transform.holomorphic)
    if not active:
        return None
    shifted = tuple(p + len(prefix) for p in active)
    kinds = argument_kinds(prefix + tuple(args))
    if type(transform) is JacRev:
        forward, backward = adjoint_functions(target, shifted, "vjp", kinds)
        return lambda args: _jacrev(transform, prefix, args, positions, active, forward, backward)
    (tangent_fn,) = adjoint_functions(target, shifted, "jvp", kinds)
    return lambda args: _jacfwd(transform, prefix, args, positions, active, tangent_fn)


def _logical_shape(x):
    return x.shape if type(x) is Batched else np.shape(x)


def _repeat(tree, times):
    """``tree`` with every Batched leaf's rows each repeated ``times`` times (row ``b`` becomes rows
    ``b * times`` to ``b * times + times - 1``)."""
    kind = type(tree)
    if kind is Batched:
        return Batched(np.repeat(tree.value, times, axis=0))
    if kind is tuple or kind is list:
        return kind(_repeat(t, times) for t in tree)
    if isinstance(tree, (tuple, list)):  # a namedtuple, the Residuals of a call
        return rebuilt(tree, [_repeat(t, times) for t in tree])
    if kind is dict:
        return {k: _repeat(v, times) for k, v in tree.items()}
    # anything else (a number, an array, a Shape record) was made unbatched: every batched value that
    # generated code makes is a Batched, and containers of them are looked into above
    return tree


def _jacrev(transform, prefix, args, positions, active, forward, backward):
    out, residuals = call_batched_any(forward, (*prefix, *args), {})
    size = batch_size(args)
    if type(out) is not Batched and not isinstance(out, (np.ndarray, np.generic, float, int, complex)):
        return None  # a tuple or another structure: per element
    y = slice_of(out, 0)
    output_leaves(y, transform.fn, transform.holomorphic)
    y_shape = _logical_shape(out)
    m = int(np.prod(y_shape, dtype=np.int64))
    dtype = np.asarray(y).dtype if np.asarray(y).dtype.kind in "fc" else np.float64
    repeated = _repeat(residuals, m) if m != 1 else residuals
    cotangent = Batched(repeated_basis(y_shape, dtype, size))
    grads = call_batched_any(backward, (repeated, cotangent), {})
    parts = []
    for p in positions:
        x_shape = _logical_shape(args[p])
        jdtype = jacobian_dtype(y, slice_of(args[p], 0)) if p in active else np.float64
        full = (size,) + tuple(y_shape) + tuple(x_shape)
        if p in active:
            g = materialize(grads[active.index(p)], size * m)
            parts.append(Batched(np.asarray(g.reshape(full), dtype=jdtype)))
        else:
            parts.append(Batched(np.zeros(full, dtype=jdtype)))
    jac = parts[0] if isinstance(transform.positions, int) else tuple(parts)
    return (jac, out) if transform.return_value else jac


def _jacfwd(transform, prefix, args, positions, active, tangent_fn):
    """One batched pass of the tangent function for every differentiated input: per element, ``N`` rows
    (the sizes of the active inputs added), the columns of the identity of each input in its own rows
    and zero tangents for it in the others."""
    fn = transform.fn
    size = batch_size(args)
    shapes = [tuple(_logical_shape(args[p])) for p in active]
    counts = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    total = sum(counts)
    if total == 0:
        return None
    offsets = np.cumsum([0] + counts[:-1]).tolist()
    tangents = tuple(Batched(slot_basis(shape, np.asarray(slice_of(args[p], 0)).dtype, offset, total, size))
                     for p, shape, offset in zip(active, shapes, offsets))
    repeated = _repeat(tuple(args), total) if total != 1 else tuple(args)
    y, y_dot = call_batched_any(tangent_fn, (tangents, *prefix, *repeated), {})
    out = Batched(y.value[::total]) if type(y) is Batched else y  # the value, once per element
    example = slice_of(y, 0)
    leaves, tuple_out = output_leaves(example, fn, transform.holomorphic)
    if tuple_out:
        return None
    y_shape = tuple(np.shape(example))
    columns = materialize(y_dot, size * total).reshape((size, total) + y_shape)
    parts = {}
    for p, shape, count, offset in zip(active, shapes, counts, offsets):
        block = np.moveaxis(columns[:, offset:offset + count], 1, -1).reshape((size,) + y_shape + shape)
        parts[p] = Batched(np.asarray(block, dtype=jacobian_dtype(example, slice_of(args[p], 0))))
    result = [parts[p] if p in parts else Batched(np.zeros((size,) + y_shape + tuple(_logical_shape(args[p]))))
              for p in positions]
    jac = result[0] if isinstance(transform.positions, int) else tuple(result)
    return (jac, out) if transform.return_value else jac


def batched_sources(transform):
    """The generated batched functions ``vmap(transform)`` runs, for ``ad.source``: a list of
    (title, source)."""
    target, prefix = target_of(transform.fn)
    shifted = tuple(p + len(prefix) for p in as_tuple(transform.positions))
    if type(transform) is Grad:
        (generated,) = adjoint_functions(target, shifted, "grad_only")
        return [("the gradient function", compiled_batched(generated).source)]
    if type(transform) is JacRev:
        forward, backward = adjoint_functions(target, shifted, "vjp")
        return [("the forward pass, on the batch", compiled_batched(forward).source),
                ("the backward pass, on the batch times the output size", compiled_batched(backward).source)]
    (tangent_fn,) = adjoint_functions(target, shifted, "jvp")
    return [("the tangent function, on the batch times the input size", compiled_batched(tangent_fn).source)]
