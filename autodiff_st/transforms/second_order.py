"""Second derivatives: ``hessian``, and the Jacobian of an inner ``grad``, ``jacrev`` or ``jacfwd``.

Each differentiates generated code again. ``hessian`` is forward mode over the generated gradient
function. For ``jacrev(grad(f))``, ``jacfwd(jacrev(f))`` and the other compositions, a small generated
function makes one piece of the inner transform explicit (the gradient, one row or one column of the
inner Jacobian) by calling the inner generated functions, and the outer transform differentiates it like
any user function. ``jacobians.nested_jacobian`` chooses the route; the outer transform's ``plain_for``
builds the outer Jacobian of that small function.
"""

from typing import Optional

import numpy as np

from ..compiler.cache import adjoint_functions, compiled_adjoint
from ..core.errors import AutodiffError, BackendError
from ..core.transform import Transform
from ..runtime.namespaces import backend_name, is_foreign
from ..runtime.calls import argument_kinds
from ..core.names import identifier_for
from ..runtime.loader import small_function
from .checks import (FIRST, Function, Positions, as_tuple, check_positions, decorator, function_name, resolve_positions, split_aux,
                     target_of)
from .grad import Grad, gradient_function
from .inner_jacobians import hessian_inside
from .jacobian_parts import (as_like, check_jacobian_inputs, jacobian_dtype, one_hot, output_leaves, where_defined,
                             zero_like_output)
from .progress import check_progress, track, with_progress
from .pytrees import has_containers, pytree_jacobian


def jacobian_of_gradient(outer, args):
    """``jacrev(grad(f))`` and ``jacfwd(grad(f))``: the outer Jacobian of a small generated function that
    returns the gradients the inner ``grad`` computes, from its generated gradient function. The result
    nests as the gradients do: ``jac[gradient_index][outer_index]`` for a tuple of gradients."""
    inner = outer.fn
    function, prefix = gradient_function(inner, tuple(args))
    outer_positions = as_tuple(outer.positions)
    shifted = tuple(p + len(prefix) for p in outer_positions)
    positions = shifted[0] if isinstance(outer.positions, int) else shifted
    return outer.plain_for(function, positions, outer.return_value)(*prefix, *args)


def source_of_nested(outer, mode):
    """``ad.source`` of ``jacrev(grad(f))`` or ``jacfwd(grad(f))`` (``mode`` "vjp" or "jvp"): the generated
    code of the outer transform over the inner generated gradient function, compiled for general
    arguments. Its comments quote the user's lines of ``f``. Other nested transforms differentiate
    small generated functions built at call time, so they are refused."""
    inner = outer.fn
    if not (type(inner) is Grad and inner.mode == "grad_only" and not isinstance(inner.fn, Transform)):
        raise AutodiffError(
            f"ad.source of a {type(outer).__name__.lower()} of a {type(inner).__name__.lower()} is not available: "
            "its generated code is built for each call.",
            hint="Read ad.source of the inner transform; ad.source(jacrev(grad(f))), "
                 "ad.source(jacfwd(grad(f))) and ad.source(hessian(f)) show second-order code.")
    target, prefix = target_of(inner.fn)
    inner_positions = tuple(p + len(prefix) for p in as_tuple(inner.positions))
    (gradient_fn,) = adjoint_functions(target, inner_positions, "grad_only")
    outer_positions = tuple(p + len(prefix) for p in as_tuple(outer.positions))
    return compiled_adjoint(gradient_fn, outer_positions, mode).source


def jacobian_of_jacrev(outer, args, active):
    """The Jacobian of an inner ``jacrev``, by differentiating generated code again.

    Row ``r`` of the inner Jacobian is the generated backward pass applied to the generated forward
    pass's residuals and the cotangent ``e_r``. A small generated function, ``jacobian_row``, makes
    that composition explicit; the outer transform differentiates it like any user function, through
    its calls into the inner generated functions. The result nests as JAX's does: the inner Jacobian's
    structure outside, the outer positions inside."""
    inner = outer.fn
    inner_positions = check_positions(as_tuple(inner.positions), args, inner.fn)
    inner_active = check_jacobian_inputs(inner.fn, args, inner_positions, inner.allow_int, inner.holomorphic)
    outer_positions = check_positions(as_tuple(outer.positions), args, inner.fn)
    target, prefix = target_of(inner.fn)
    shifted = tuple(p + len(prefix) for p in inner_active)
    forward, backward = adjoint_functions(target, shifted, "vjp", argument_kinds(prefix + tuple(args)))
    y, _ = forward(*prefix, *args)
    y_leaves, tuple_y = output_leaves(y, inner.fn, inner.holomorphic)
    row = _row_function(forward, backward, len(prefix) + len(args), identifier_for(getattr(target, "__name__", "f")))
    row_positions = tuple(p + len(prefix) for p in active)
    row_jacobian = outer.plain_for(row, row_positions)
    rows_of = []  # rows_of[k][r][i][j]: d (inner gradient i of row r of output k) / d (outer input j)
    for k, leaf in enumerate(y_leaves):
        shape = np.shape(leaf)
        size = int(np.prod(shape, dtype=np.int64))
        dtype = np.asarray(leaf).dtype if np.asarray(leaf).dtype.kind == "f" else np.float64
        rows = []
        for r in track(range(size)):
            e = as_like(one_hot(shape, dtype, r), leaf)
            v = tuple(e if j == k else zero_like_output(other) for j, other in enumerate(y_leaves)) if tuple_y else e
            rows.append(row_jacobian(*prefix, *args, v))
        rows_of.append(rows)

    def block(k, p, q):
        rows = rows_of[k]
        if p not in inner_active or q not in active or not rows:
            return None
        i, j = inner_active.index(p), active.index(q)
        return np.stack([np.asarray(row[i][j]) for row in rows])

    return _second_jacobian(outer, args, y_leaves, tuple_y, inner_positions, outer_positions, block)


def jacobian_of_jacfwd(outer, args, active):
    """``jacrev(jacfwd(f))`` and ``jacfwd(jacfwd(f))``: column ``j`` of the inner Jacobian (with respect
    to input ``p``) is the generated tangent function pushed along basis vector ``j``; the outer
    transform differentiates a small generated function, ``jacobian_column``, that makes that call."""
    inner = outer.fn
    inner_positions = check_positions(as_tuple(inner.positions), args, inner.fn)
    inner_active = check_jacobian_inputs(inner.fn, args, inner_positions, False, inner.holomorphic)
    outer_positions = check_positions(as_tuple(outer.positions), args, inner.fn)
    target, prefix = target_of(inner.fn)
    kinds = argument_kinds(prefix + tuple(args))
    y = inner.fn(*args)
    y_leaves, tuple_y = output_leaves(y, inner.fn, inner.holomorphic)
    column_positions = tuple(q + len(prefix) for q in active)
    name = identifier_for(getattr(target, "__name__", "f"))
    columns = {}  # columns[p][j]: the outer Jacobian of column j of the inner Jacobian of input p
    for p in inner_active:
        (tangent_fn,) = adjoint_functions(target, (p + len(prefix),), "jvp", kinds)
        params = ", ".join(f"arg{i}" for i in range(len(prefix) + len(args)))
        source = (f"def jacobian_column_of_{name}({params}, tangent):\n"
                  f"    out, out_tangent = {name}_jvp((tangent,), {params})\n"
                  f"    return out_tangent\n")
        column = small_function(source, f"Jacobian column of {name}", {f"{name}_jvp": tangent_fn})
        column_jacobian = outer.plain_for(column, column_positions)
        x = args[p]
        dtype = np.asarray(x).dtype
        columns[p] = [column_jacobian(*prefix, *args, as_like(one_hot(np.shape(x), dtype, j), x))
                      for j in track(range(int(np.size(x))))]

    def block(k, p, q):
        if p not in inner_active or q not in active or not columns[p]:
            return None
        i = active.index(q)
        parts = [np.asarray(c[k][i] if tuple_y else c[i]) for c in columns[p]]
        return np.stack(parts, axis=np.ndim(y_leaves[k]))

    return _second_jacobian(outer, args, y_leaves, tuple_y, inner_positions, outer_positions, block)


def _second_jacobian(outer, args, y_leaves, tuple_y, inner_positions, outer_positions, block):
    """The Jacobian of the inner transform's Jacobian: ``jac[out][in][outer_in]`` with shape
    ``out.shape + in.shape + outer_in.shape``, without the levels that an int position or a single output
    drops. ``block(k, p, q)`` gives that array (in any shape with those elements in order) for output
    ``k``, inner input ``p`` and outer input ``q``, or None where it is zero."""
    inner = outer.fn
    per_output = []
    for k, leaf in enumerate(y_leaves):
        per_input = []
        for p in inner_positions:
            per_outer = []
            for q in outer_positions:
                full = np.shape(leaf) + np.shape(args[p]) + np.shape(args[q])
                stacked = block(k, p, q)
                per_outer.append(np.zeros(full) if stacked is None else stacked.reshape(full))
            per_input.append(per_outer[0] if isinstance(outer.positions, int) else tuple(per_outer))
        per_output.append(per_input[0] if isinstance(inner.positions, int) else tuple(per_input))
    jac = tuple(per_output) if tuple_y else per_output[0]
    return (jac, inner(*args)) if outer.return_value else jac


def _row_function(forward, backward, count, name):
    """A generated function ``(*args, cotangent) -> gradients``: one row of a reverse-mode Jacobian."""
    params = ", ".join(f"arg{i}" for i in range(count))
    source = (f"def jacobian_row_of_{name}({params}, cotangent):\n"
              f"    out, residuals = {name}_forward({params})\n"
              f"    return {name}_backward(residuals, cotangent)\n")
    return small_function(source, f"Jacobian row of {name}",
                               {f"{name}_forward": forward, f"{name}_backward": backward})


@with_progress
class Hessian(Transform):
    """Forward mode over the generated gradient function: ``jacfwd(grad(f))``, by transforming the
    generated code of the gradient again."""

    def __init__(self, fn, positions, has_aux, progress=False):
        super().__init__(fn)
        if positions is None:
            raise ValueError("hessian needs grad_position (or argnums).")
        self.positions = positions
        self.has_aux = has_aux
        self.progress = progress  # progress.py: count the passes of each call
        target_of(fn)

    def rebind(self, fn):
        return Hessian(fn, self.positions, self.has_aux, self.progress)

    def called_inside(self, args, kwargs):
        """Called inside a differentiated function: a generated function over the columns (inner_jacobians.py)."""
        return hessian_inside(self, args, kwargs)

    def __call__(self, *args):
        fn = self.fn
        positions = check_positions(as_tuple(self.positions), args, fn)
        for p in positions:
            if is_foreign(args[p]):  # its loop of numpy basis vectors would compute a lazy array
                raise BackendError(
                    f"autodiff_st: hessian of a function called on {backend_name(args[p])} arrays is not supported.",
                    hint="Pass numpy arrays: a Hessian has one row per input element, so it is small where hessian is "
                         "the right tool.")
        if has_containers(args, positions):
            return pytree_jacobian(self, args, positions, hessian=True)
        active = check_jacobian_inputs(fn, args, positions, False, False)
        target, prefix = target_of(fn)
        shifted = tuple(p + len(prefix) for p in active)
        kinds = argument_kinds(prefix + tuple(args))
        mode = "grad_aux" if self.has_aux else "grad"
        (gradient_fn,) = adjoint_functions(target, shifted, mode, kinds)
        (tangent_fn,) = adjoint_functions(gradient_fn, shifted, "jvp", kinds)
        zero_tangents = [zero_like_output(args[p]) for p in active]
        value = None
        columns = {p: [] for p in active}  # columns[q][j]: the gradients' tangents along basis vector j of q
        for slot, q in enumerate(active):
            x = args[q]
            for j in track(range(int(np.size(x)))):
                tangents = list(zero_tangents)
                tangents[slot] = as_like(one_hot(np.shape(x), np.asarray(x).dtype, j), x)
                (value, *_), (_, *grad_dots) = tangent_fn(tuple(tangents), *prefix, *args)
                columns[q].append(grad_dots)
        if value is None:
            value = fn(*args)
        y, aux = split_aux(value, self.has_aux, fn)
        if np.size(y) != 1:
            raise ValueError(f"hessian needs {function_name(fn)} to return a scalar; it returned shape "
                             f"{np.shape(y)}. Use jacfwd(jacrev(f)) for the second derivatives of each output.")
        rows = []
        for i, p in enumerate(positions):
            row = []
            for q in positions:
                shape = np.shape(args[p]) + np.shape(args[q])
                if p in columns and q in columns and columns[q]:
                    slot = active.index(p)
                    stacked = np.stack([np.broadcast_to(c[slot], np.shape(args[p])) for c in columns[q]], axis=-1)
                    row.append(np.asarray(stacked.reshape(shape), dtype=jacobian_dtype(args[p], args[q])))
                else:
                    row.append(np.zeros(shape))
            rows.append(row[0] if isinstance(self.positions, int) else tuple(row))
        hess = rows[0] if isinstance(self.positions, int) else tuple(rows)
        return (hess, aux) if self.has_aux else hess

    def generated_source(self):
        target, prefix = target_of(self.fn)
        positions = tuple(p + len(prefix) for p in as_tuple(self.positions))
        (gradient_fn,) = adjoint_functions(target, positions, "grad")
        return (f"# hessian of {where_defined(target)}: the tangent function of its gradient, below, runs once per\n"
                "# column of the Hessian (unbatched), pushing that column of the identity through.\n"
                + compiled_adjoint(gradient_fn, positions, "jvp").source)


@decorator
def hessian(fn: Optional[Function] = None, grad_position: Positions = FIRST, has_aux: bool = False, *,
            argnums: Positions = None, progress: bool = False) -> Function:
    """The Hessian of a scalar ``fn``: forward mode over its generated gradient, one pass per column
    (``progress=True`` shows a bar over them, progress.py)."""
    return Hessian(fn, resolve_positions(grad_position, argnums), has_aux, check_progress("hessian", progress))
