"""The Jacobian transforms of first order: ``jvp``, ``jacrev`` and ``jacfwd``, built on generated code.

``jvp`` runs the generated tangent function (forward mode). ``jacrev`` runs the generated forward pass
once and then the generated backward pass on the rows of the identity: all rows in one *batched* backward
pass by default (the cotangent carries a leading batch axis through the generated code), ``chunk_size``
rows at a time, or one row at a time with ``chunk_size=1``. ``jacfwd`` pushes the columns of the identity
through the tangent function. Their conventions are in jacobian_parts.py and docs/api.md; inputs that are
tuples, lists or dicts go through pytrees.py, and an inner transform through second_order.py.

``jacrev(..., weights=)`` adds the Jacobians with respect to Parameters, as ``grad`` adds their
gradients: ``weight_jacs`` alone for ``grad_position=None``, ``(input_jacs, weight_jacs)`` otherwise, each
part nested per output like the plain result. The forward pass is compiled for weights
(``vjp.forward_with_weights``) and the backward pass runs inside a ``runtime.weights.WeightGradients``
collector, batched like the plain one: the collector then totals one cotangent per row.
"""

import logging
from typing import Any, Optional, Tuple

import numpy as np

from ..compiler.batching import batched_backward, call_batched_any, compiled_batched, materialize
from ..compiler.cache import adjoint_functions, compiled_adjoint
from ..core import registry as rules
from ..core import trees
from ..core.errors import AutodiffError
from ..core.tracebacks import user_facing
from ..core.transform import Transform
from ..runtime.batched import Batched
from ..runtime.calls import argument_kinds, call_forward, call_jvp
from ..runtime.trees import parts_of
from ..runtime.weights import WeightGradients
from ..core.names import identifier_for
from ..runtime.loader import small_function
from .backend_jacobians import foreign_jacfwd, foreign_jacrev, foreign_position
from .checks import (FIRST, Function, Positions, as_tuple, check_input, check_positions, decorator, function_name, resolve_positions,
                     resolve_weights, split_aux, target_of)
from .grad import Grad, WeightsGrad, gradient_function
from .inner_jacobians import jacfwd_inside, jacrev_inside
from .jacobian_parts import (as_like, basis, check_jacobian_inputs, is_int, jacobian_dtype, nest, one_hot,
                             output_leaves, where_defined, zero_like_output)
from .progress import check_progress, track, with_progress
from .pytrees import (container_output_jacobian, has_containers, is_container_output, is_tree_output, pytree_jacobian,
                      retyped_jacobian, tree_output_jacobian)
from .second_order import jacobian_of_gradient, jacobian_of_jacfwd, jacobian_of_jacrev, source_of_nested
from .vjp import forward_with_weights

log = logging.getLogger("autodiff_st")


def _batched_backward(backward):
    """The batched form of a generated backward function, or None where batching is not available."""
    try:
        return batched_backward(backward)
    except Exception as error:  # noqa: BLE001 - the loop below is always correct
        log.debug("jacrev runs a loop of backward passes: %s", error)
        return None


def _tangent_function(fn, positions, args):
    """``run(tangents, *args) -> (out, out_tangent)`` for ``fn`` and the argument positions."""
    if rules.lookup(fn) is not None:
        return lambda tangents, *a, **k: call_jvp(fn, positions, tangents, *a, **k)
    target, prefix = target_of(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    (jvp_fn,) = adjoint_functions(target, shifted, "jvp", argument_kinds(prefix + tuple(args)))
    return lambda tangents, *a, **k: jvp_fn(tangents, *prefix, *a, **k)


def _tangent_batch(fn, active, args, zero_tangents, slot, has_aux, chunk_size=None, outputs=()):
    """The output tangents along every basis vector of input ``active[slot]``, each output leaf with a
    leading axis over the basis: the generated tangent function run batched (see batching.py), once, or
    once per ``chunk_size`` basis vectors; None where the function has a rule instead of generated code,
    or batching is not available."""
    x = args[active[slot]]
    size = int(np.size(x))
    if rules.lookup(fn) is not None or size == 0:
        return None
    target, prefix = target_of(fn)
    shifted = tuple(p + len(prefix) for p in active)
    (jvp_fn,) = adjoint_functions(target, shifted, "jvp", argument_kinds(prefix + tuple(args)))
    step = default_chunk_size(size, [x, *outputs]) if chunk_size is None else chunk_size
    chunks = []
    for start in track(range(0, size, step)):
        stop = min(size, start + step)
        tangents = list(zero_tangents)
        tangents[slot] = Batched(basis(np.shape(x), np.asarray(x).dtype, start, stop))
        _, out_dot = call_batched_any(jvp_fn, (tuple(tangents), *prefix, *args), {})
        if has_aux:
            out_dot = out_dot[0]
        chunks.append(materialize(out_dot, stop - start))
    if len(chunks) == 1:
        return chunks[0]
    if isinstance(chunks[0], tuple):  # a tuple output: each leaf's chunks joined along the basis axis
        return tuple(_joined([c[k] for c in chunks]) for k in range(len(chunks[0])))
    return _joined(chunks)


def _joined(chunks):
    return np.concatenate([np.asarray(c) for c in chunks], axis=0)


def check_tangent(t, x, position):
    if trees.is_tree(x):  # an object of x's class (or a tuple) with one tangent per child
        kids, parts = trees.children(x), parts_of(t, x)
        if len(parts) != len(kids):
            raise ValueError(f"the tangent of argument {position} has {len(parts)} parts, but the argument has "
                             f"{len(kids)} children; a tangent has its primal's structure.")
        for tk, xk in zip(parts, kids):
            if trees.holds_floats(xk):
                check_tangent(tk, xk, position)
        return
    if np.shape(t) != np.shape(x):
        raise ValueError(f"the tangent of argument {position} has shape {np.shape(t)}, but the argument has shape "
                         f"{np.shape(x)}; a tangent has its primal's shape.")


@user_facing
def jvp(fn: Function, inputs: Any, tangents: Any, has_aux: bool = False) -> Tuple[Any, ...]:
    """Push ``tangents`` through ``fn`` at ``inputs``: returns ``(outputs, tangent_outputs)``, or
    ``(outputs, tangent_outputs, aux)`` with has_aux. ``inputs`` and ``tangents`` are tuples (a single
    array is taken as a 1-tuple). ``fn`` may be a plain ``grad`` (Hessian-vector products) or ``jacrev``."""
    if not isinstance(inputs, (tuple, list)):
        inputs, tangents = (inputs,), (tangents,)
    inputs, tangents = tuple(inputs), tuple(tangents)
    if len(inputs) != len(tangents):
        raise ValueError(f"jvp got {len(inputs)} inputs and {len(tangents)} tangents; give one tangent per input.")
    for i, (x, t) in enumerate(zip(inputs, tangents)):
        check_input(x, i, fn)
        check_tangent(t, x, i)
    run = tangent_runner(fn, inputs, has_aux)
    y, y_dot, aux = run(tangents)
    return (y, y_dot, aux) if has_aux else (y, y_dot)


def tangent_runner(fn, inputs, has_aux=False):
    """``run(tangents) -> (output, output_tangent, aux)`` for ``fn`` at the (checked) ``inputs``: the
    generated tangent function resolved once, so that ``linearize`` reuses it for every tangent."""
    if isinstance(fn, Transform):
        if has_aux:
            raise AutodiffError(f"jvp of a {type(fn).__name__.lower()} with has_aux=True: the inner transform "
                                "returns no auxiliary outputs.", hint="Call jvp without has_aux.")
        nested = _nested_jvp(fn, inputs)

        def run_nested(tangents):
            out, out_dot = nested(tangents)
            return out, _match_output(out_dot, out), None
        return run_nested
    generated = _tangent_function(fn, tuple(range(len(inputs))), inputs)

    def run(tangents):
        out, out_dot = generated(tuple(tangents), *inputs)
        if has_aux:
            y, aux = split_aux(out, True, fn)
            return y, _match_output(out_dot[0], y), aux
        return out, _match_output(out_dot, out), None
    return run


def _nested_jvp(inner, inputs):
    """``jvp`` of a plain ``grad`` or ``jacrev``: forward mode over generated code again.

    For ``grad(f)`` (also ``grad(grad(f))``), the generated gradient function (``gradient_function``) is
    differentiated in forward mode: ``jvp(grad(f), (x,), (v,))`` is the Hessian-vector product. For
    ``jacrev(f)``, the tangent of ``J_p(x)`` along ``v`` is, by the symmetry of second derivatives, the
    Jacobian with respect to ``x_p`` of ``J(x) v``: a plain ``jacrev`` of a small generated function that
    calls ``f``'s generated tangent function."""
    if type(inner) is Grad and inner.mode == "grad_only" and rules.lookup(inner.fn) is None:
        function, prefix = gradient_function(inner, inputs)
        shifted = tuple(range(len(prefix), len(prefix) + len(inputs)))
        run = _tangent_function(function, shifted, prefix + inputs)
        return lambda tangents: run(tuple(tangents), *prefix, *inputs)
    if type(inner) is JacRev and not inner.has_aux and not inner.return_value and inner.weights is None \
            and not isinstance(inner.fn, Transform) and rules.lookup(inner.fn) is None \
            and inner.positions is not None and not has_containers(inputs, range(len(inputs))):
        positions = check_positions(as_tuple(inner.positions), inputs, inner.fn)
        check_jacobian_inputs(inner.fn, inputs, positions, False, False)
        target, prefix = target_of(inner.fn)
        every = tuple(range(len(prefix), len(prefix) + len(inputs)))
        (tangent_fn,) = adjoint_functions(target, every, "jvp", argument_kinds(prefix + inputs))
        count = len(prefix) + len(inputs)
        name = identifier_for(getattr(target, "__name__", "f"))
        params = ", ".join(f"arg{i}" for i in range(count))
        tangent_params = ", ".join(f"tangent{i}" for i in range(len(inputs)))
        source = (f"def jacobian_times_tangent_of_{name}({params}, {tangent_params}):\n"
                  f"    out, out_tangent = {name}_jvp(({tangent_params},), {params})\n"
                  f"    return out_tangent\n")
        product = small_function(source, f"Jacobian times tangent of {name}", {f"{name}_jvp": tangent_fn})
        shifted = tuple(p + len(prefix) for p in positions)
        wrt = shifted[0] if isinstance(inner.positions, int) else shifted
        jacobian_of_product = inner.plain_for(product, wrt)
        return lambda tangents: (inner(*inputs), jacobian_of_product(*prefix, *inputs, *tangents))
    raise AutodiffError(
        f"jvp differentiates a plain grad (grad(f), grad(grad(f))) or a plain jacrev of a Python function "
        f"again; this {describe_transform(inner)} is not supported.",
        hint="Remove has_aux, return_value, value_and_grad or weights= from the inner transform, or use "
             "jacfwd(grad(f)) / hessian(f).")


def describe_transform(transform):
    return f"{type(transform).__name__.lower()} of {function_name(transform.fn)}"


def _match_output(t, y):
    """The tangent of ``y`` with ``y``'s type, shape and dtype."""
    if trees.is_tree(y):  # an object of y's class holding the tangents; children without floats stay
        return trees.rebuild(y, [_match_output(ti, yi) if trees.holds_floats(yi) else yi
                                 for ti, yi in zip(parts_of(t, y), trees.children(y))])
    if isinstance(y, tuple):
        return tuple(_match_output(ti, yi) for ti, yi in zip(t, y))
    if isinstance(y, list):
        return [_match_output(ti, yi) for ti, yi in zip(t, y)]
    if isinstance(y, float):
        return float(np.real(t)) if not isinstance(t, complex) else t
    if isinstance(y, np.ndarray):
        t = np.asarray(t)
        if t.shape != y.shape:
            t = np.broadcast_to(t, y.shape).copy()
        if t.dtype != y.dtype and y.dtype.kind in "fc":
            t = t.astype(y.dtype)
        return t
    return t


@with_progress
class JacRev(Transform):
    def __init__(self, fn, positions, has_aux, return_value, chunk_size, holomorphic, allow_int, weights=None,
                 progress=False):
        super().__init__(fn)
        if positions is None and weights is None:
            raise ValueError("jacrev needs something to differentiate: grad_position (or argnums) and weights "
                             "are both None.")
        if weights is not None and isinstance(fn, Transform):
            raise AutodiffError("jacrev with weights= of another transform is not supported: differentiate a "
                                "plain function or Cell with weights=.")
        self.positions = positions
        self.has_aux = has_aux
        self.return_value = return_value
        self.chunk_size = chunk_size
        self.holomorphic = holomorphic
        self.allow_int = allow_int
        self.weights = weights  # None, or (the Parameters, the form of their Jacobians) from as_weight_tuple
        self.progress = progress  # progress.py: count the passes of each call
        self.last_source = None  # with weights: the generated module the last call ran
        self._last = None  # what the last plain call ran, for the fast path (see __call__)
        self._compiled = None  # what pullback_parts ran, for _remember
        if rules.lookup(fn) is None and not isinstance(fn, Transform):
            target_of(fn)  # fail early on a function without source

    def rebind(self, fn):
        return JacRev(fn, self.positions, self.has_aux, self.return_value, self.chunk_size, self.holomorphic,
                      self.allow_int, self.weights, self.progress)

    def plain_for(self, fn, positions, return_value=False):
        """A plain jacrev of ``fn`` with this one's chunk_size: how second_order.py differentiates the
        pieces of an inner transform."""
        return JacRev(fn, positions, False, return_value, self.chunk_size, False, False)

    def called_inside(self, args, kwargs):
        """Called inside a differentiated function: a generated function over the rows (inner_jacobians.py)."""
        return jacrev_inside(self, args, kwargs)

    def pullback_parts(self, args, active):
        """(out, backward(v) -> grads, batched(V) -> grads or None) for the active positions."""
        fn = self.fn
        if rules.lookup(fn) is not None:
            out, pullback = call_forward(fn, tuple(active), *args)

            def backward(v):
                grads = pullback(v)
                return grads if len(active) > 1 else (grads,)
            return out, backward, None
        target, prefix = target_of(fn)
        shifted = tuple(p + len(prefix) for p in active)
        mode = "vjp_aux" if self.has_aux else "vjp"
        kinds = argument_kinds(prefix + tuple(args))
        forward, generated_backward = adjoint_functions(target, shifted, mode, kinds)
        out, residuals = forward(*prefix, *args)
        batched = _batched_backward(generated_backward) if self.chunk_size != 1 else None
        # What the fast path of __call__ needs to run this again: checked there before it is reused.
        self._compiled = (prefix, kinds, compiled_adjoint(target, shifted, mode, kinds), target, forward, batched)

        def backward(v):
            return generated_backward(residuals, v)

        run_batched = None if batched is None else (lambda vs: batched(residuals, vs))
        return out, backward, run_batched

    def weights_pullback_parts(self, args, active):
        """``pullback_parts`` for weights=: the gradients of the active positions, then those of the
        weights, each totalled over every use of the Parameter. The forward pass runs once, compiled for
        weights; the backward pass runs inside a ``WeightGradients`` collector, batched (a Batched
        cotangent per row, each total with the rows on axis 0) or once per row."""
        weights = self.weights[0]
        mode = "vjp_aux" if self.has_aux else "vjp"
        out, residuals, run_backward, self.last_source = forward_with_weights(self.fn, tuple(active), args, mode)

        def backward(v):
            with WeightGradients(weights) as collector:
                grads = run_backward(residuals, v)
                for g, p in zip(grads, active):  # a differentiated argument may itself be one of the weights
                    collector.collect(args[p], g)
            return tuple(grads) + collector.results("sequence", cast=False)

        batched = None
        if rules.lookup(self.fn) is None and self.chunk_size != 1:
            batched = _batched_backward(run_backward)
        if batched is None:
            return out, backward, None

        def run_batched(vs):
            rows = len(vs[0] if isinstance(vs, tuple) else vs)
            with WeightGradients(weights, batch=rows) as collector:
                grads = batched(residuals, vs)
                for g, p in zip(grads, active):
                    collector.collect(args[p], Batched(g))
            return tuple(grads) + collector.results("sequence", cast=False)

        return out, backward, run_batched

    def __call__(self, *args):
        # The fast path: as many arguments, the same argument kinds and the same shapes of the
        # differentiated arguments as the last plain call (float arrays, one array output, one batched
        # pass), and the module that call ran still valid (no global it read rebound, no clear_cache
        # since). Every check of the full path holds for such a call; anything else takes the full path.
        last = self._last
        if last is not None and len(args) == last[0]:
            (_, positions, shapes, prefix, kinds, compiled, target, forward, batched,
             out_shape, out_dtype, cotangent, dtypes) = last
            if argument_kinds(prefix + args if prefix else args) == kinds and compiled.still_valid(target) \
                    and all([args[p].shape == shape for p, shape in zip(positions, shapes)]):
                out, residuals = forward(*prefix, *args) if prefix else forward(*args)
                if type(out) is np.ndarray and out.shape == out_shape and out.dtype == out_dtype:
                    grads = batched(residuals, cotangent)
                    jacs = [np.asarray(g.reshape(out_shape + shape), dtype=dtype)
                            for g, shape, dtype in zip(grads, shapes, dtypes)]
                    jac = jacs[0] if type(self.positions) is int else tuple(jacs)
                    return (jac, out) if self.return_value else jac
                self._last = None  # another output: the full path's handling, from this forward pass
                return self._finish(args, positions, list(positions), (), out,
                                    lambda v: batched.backward(residuals, v), lambda vs: batched(residuals, vs))
        return self._full_call(args)

    def _full_call(self, args):
        fn = self.fn
        self._last = None
        positions = () if self.positions is None else check_positions(as_tuple(self.positions), args, fn)
        foreign = foreign_position(args, positions)
        if foreign is not None:  # dask, CuPy, array-api-strict: backend_jacobians.py
            return foreign_jacrev(self, args, positions, foreign)
        if has_containers(args, positions):
            return pytree_jacobian(self, args, positions)
        active = check_jacobian_inputs(fn, args, positions, self.allow_int, self.holomorphic)
        if isinstance(fn, Transform):
            return nested_jacobian(self, args, active)
        weights = () if self.weights is None else self.weights[0]
        if weights:
            out, backward, batched = self.weights_pullback_parts(args, active)
        elif active:
            self._compiled = None
            out, backward, batched = self.pullback_parts(args, active)
        else:
            out, backward, batched = fn(*args), None, None
        if weights or not active:
            return self._finish(args, positions, active, weights, out, backward, batched)
        jac = self._finish(args, positions, active, weights, out, backward, batched)
        self._remember(args, positions, active, out)
        return jac

    def _remember(self, args, positions, active, out):
        """Keep what this plain call ran for the fast path of ``__call__``, where it qualifies: float array
        inputs at every position, no has_aux or weights, a generated function with a batched backward
        pass, one float array output of more than one element, and every row in one batched pass."""
        compiled = self._compiled
        if compiled is None or self.has_aux or self.weights is not None or self.chunk_size == 1 or self.progress \
                or len(active) != len(positions) or compiled[5] is None or type(out) is not np.ndarray \
                or out.dtype.kind != "f" or out.size < 2:
            return
        inputs = [args[p] for p in positions]
        if not all(type(x) is np.ndarray and x.dtype.kind == "f" for x in inputs):
            return
        size = out.size
        step = default_chunk_size(size, inputs) if self.chunk_size is None else self.chunk_size
        if step < size:
            return
        prefix, kinds, module, target, forward, batched = compiled
        if argument_kinds(prefix + tuple(args)) != kinds:  # another thread's call in between
            return
        self._last = (len(args), tuple(positions), tuple(x.shape for x in inputs), prefix, kinds, module, target,
                      forward, batched, out.shape, out.dtype, basis(out.shape, out.dtype, 0, size),
                      tuple(jacobian_dtype(out, x) for x in inputs))

    def _finish(self, args, positions, active, weights, out, backward, batched):
        """The transform's result from the forward pass's ``out`` and the pullbacks of the active
        positions (and weights)."""
        fn = self.fn
        y, aux = split_aux(out, self.has_aux, fn)
        if is_tree_output(y) and self.weights is None:
            return tree_output_jacobian(self, args, y)
        if is_container_output(y) and self.weights is None:
            return container_output_jacobian(self, args, y)
        leaves, tuple_out = output_leaves(y, fn, self.holomorphic)
        blocks = self._blocks(args, positions, active, weights, leaves, tuple_out, backward, batched)
        jac = nest([b[:len(positions)] for b in blocks], tuple_out, isinstance(self.positions, int))
        jac = retyped_jacobian(jac, y, tuple_out)
        if self.weights is not None:
            # Like grad: weight_jacs alone, or (input_jacs, weight_jacs); each nests outputs outside.
            form = self.weights[1]
            per_output = [_weight_form(b[len(positions):], form) for b in blocks]
            weight_jac = tuple(per_output) if tuple_out else per_output[0]
            jac = weight_jac if self.positions is None else (jac, weight_jac)
        if self.return_value:
            return (jac, y, aux) if self.has_aux else (jac, y)
        return (jac, aux) if self.has_aux else jac

    def _blocks(self, args, positions, active, weights, leaves, tuple_out, backward, batched):
        """blocks[k]: the Jacobians of output k with respect to each of ``positions``, then each of
        ``weights``. ``backward(v)`` (one cotangent) and ``batched(V)`` (rows on axis 0) return the
        gradients of the active positions, then those of the weights."""
        columns = [args[p] for p in active] + list(weights)  # what the backward pass gives gradients of
        blocks = []
        for k, leaf in enumerate(leaves):
            shape = np.shape(leaf)
            size = int(np.prod(shape, dtype=np.int64))
            dtype = np.asarray(leaf).dtype
            if dtype.kind not in "fc":
                dtype = np.result_type(dtype, np.float64 if not self.holomorphic else np.complex128)
            rows = [[] for _ in columns]
            if columns:
                step = default_chunk_size(size, columns) if self.chunk_size is None else self.chunk_size
                if batched is not None and self.chunk_size != 1 and size > 1:  # one row: the plain pass
                    for start in track(range(0, size, step)):
                        stop = min(size, start + step)
                        cotangent = self._cotangent_batch(leaves, tuple_out, k, shape, dtype, start, stop)
                        grads = batched(cotangent)
                        for c, (x, g) in enumerate(zip(columns, grads)):
                            rows[c].append(np.reshape(g, (stop - start,) + np.shape(x)))
                else:
                    for index in track(range(size)):
                        e = one_hot(shape, dtype, index)
                        v = self._cotangent_single(leaves, tuple_out, k, e, leaf)
                        grads = backward(v)
                        for c, (x, g) in enumerate(zip(columns, grads)):
                            rows[c].append(np.reshape(g, (1,) + np.shape(x)))
            block = []
            for p in positions:
                x = args[p]
                jdtype = jacobian_dtype(leaf, x) if not is_int(x) else np.float64
                if p in active:
                    block.append(_stack_rows(rows[active.index(p)], shape, x, jdtype))
                else:
                    block.append(np.zeros(shape + np.shape(x), dtype=jdtype))
            for j, w in enumerate(weights):
                block.append(_stack_rows(rows[len(active) + j], shape, w, jacobian_dtype(leaf, w)))
            blocks.append(block)
        return blocks

    @staticmethod
    def _cotangent_single(leaves, tuple_out, k, e, leaf):
        e = as_like(e, leaf)
        if not tuple_out:
            return e
        return tuple(e if j == k else zero_like_output(other) for j, other in enumerate(leaves))

    @staticmethod
    def _cotangent_batch(leaves, tuple_out, k, shape, dtype, start, stop):
        rows = basis(shape, dtype, start, stop)
        if not tuple_out:
            return rows
        return tuple(rows if j == k else np.zeros((stop - start,) + np.shape(other), dtype=np.asarray(other).dtype)
                     for j, other in enumerate(leaves))

    def generated_source(self):
        if isinstance(self.fn, Transform):
            return source_of_nested(self, "vjp")
        mode = "vjp_aux" if self.has_aux else "vjp"
        if self.weights is not None:
            # the module the last call ran (compiled for its argument kinds and roots), or the general one
            if self.last_source is not None:
                return self.last_source
            target, prefix = target_of(self.fn)
            positions = tuple(p + len(prefix) for p in as_tuple(self.positions or ()))
            return compiled_adjoint(target, positions, mode, None, ()).source
        target, prefix = target_of(self.fn)
        positions = tuple(p + len(prefix) for p in as_tuple(self.positions))
        text = compiled_adjoint(target, positions, mode).source
        if self.chunk_size == 1:
            return (f"# jacrev of {where_defined(target)} with chunk_size=1: the forward pass below runs once, "
                    "then the backward pass once per row of the Jacobian.\n" + text)
        _, backward = adjoint_functions(target, positions, mode)
        rows = "every row at once" if self.chunk_size is None else f"{self.chunk_size} rows at a time"
        return (f"# jacrev of {where_defined(target)}: the forward pass below runs once; the backward pass runs\n"
                f"# batched, as the second module shows, on the rows of the identity ({rows}; by default at\n"
                "# most jacobians.CHUNK_ELEMENTS elements per array); a scalar output runs the plain backward\n"
                "# pass once.\n"
                + text + "\n" + compiled_batched(backward).source)


def _stack_rows(rows, shape, x, dtype):
    """The Jacobian of an output of ``shape`` with respect to ``x``, from its rows (arrays with the rows
    on axis 0, in order): the batched pass's own array where one pass made every row (no copy)."""
    if len(rows) == 1:
        stacked = rows[0]
    else:
        stacked = np.concatenate(rows, axis=0) if rows else np.zeros((0,) + np.shape(x))
    return np.asarray(stacked.reshape(shape + np.shape(x)), dtype=dtype)


# How many elements one batched array of a Jacobian may hold by default: 2**20, 8 MiB in float64.
CHUNK_ELEMENTS = 2 ** 20


def default_chunk_size(rows, inputs):
    """The rows of a Jacobian that one batched pass computes when ``chunk_size`` is None: all of them,
    unless ``rows`` times the larger of the output size and the total input size passes
    ``CHUNK_ELEMENTS``. Each cotangent and gradient array of the batched backward pass holds rows times
    its own size, so this bounds them (and the peak memory, up to the intermediates larger than both the
    inputs and the output) by about 8 MiB each beyond the Jacobian itself. See docs/jacobians.md."""
    width = max(rows, sum(int(np.size(x)) for x in inputs), 1)
    return max(1, min(max(rows, 1), CHUNK_ELEMENTS // width))


def _weight_form(jacobians, form):
    """The Jacobians of one output with respect to the weights, shaped as ``weights=`` was: one array
    for one Parameter, a tuple for a list or tuple, a dict for a dict."""
    if form == "one":
        return jacobians[0]
    if form == "sequence":
        return tuple(jacobians)
    return dict(zip(form, jacobians))


@with_progress
class JacFwd(Transform):
    def __init__(self, fn, positions, has_aux, return_value, holomorphic, chunk_size=None, progress=False):
        super().__init__(fn)
        if positions is None:
            raise ValueError("jacfwd needs grad_position (or argnums): which inputs to differentiate.")
        self.positions = positions
        self.has_aux = has_aux
        self.return_value = return_value
        self.holomorphic = holomorphic
        self.chunk_size = chunk_size  # at most this many tangent columns pushed at once; None: all of an input
        self.progress = progress  # progress.py: count the passes of each call
        self._last = None  # what the last plain call ran, for the fast path (see __call__)
        if rules.lookup(fn) is None and not isinstance(fn, Transform):
            target_of(fn)

    def rebind(self, fn):
        return JacFwd(fn, self.positions, self.has_aux, self.return_value, self.holomorphic, self.chunk_size,
                      self.progress)

    def plain_for(self, fn, positions, return_value=False):
        """A plain jacfwd of ``fn`` with this one's chunk_size: how second_order.py differentiates the
        pieces of an inner transform."""
        return JacFwd(fn, positions, False, return_value, False, self.chunk_size)

    def called_inside(self, args, kwargs):
        """Called inside a differentiated function: a generated function over the columns (inner_jacobians.py)."""
        return jacfwd_inside(self, args, kwargs)

    def __call__(self, *args):
        # The fast path, as JacRev's: as many arguments, the same kinds and differentiated shapes as the
        # last plain call (float arrays of more than one element, one batched pass each, one float array
        # output), and its module still valid. The value comes from the first batched pass (its primal
        # arguments are not batched); where it is not the plain array of the last call, the plain pass
        # runs as on the full path.
        last = self._last
        if last is not None and len(args) == last[0]:
            _, positions, shapes, prefix, kinds, compiled, target, jvp_fn, out_shape, out_dtype, dtypes = last
            if argument_kinds(prefix + args if prefix else args) == kinds and compiled.still_valid(target) \
                    and all([args[p].shape == shape for p, shape in zip(positions, shapes)]):
                return self._fast_call(args, last)
        return self._full_call(args)

    def _fast_call(self, args, last):
        _, positions, shapes, prefix, kinds, compiled, target, jvp_fn, out_shape, out_dtype, dtypes = last
        zeros = [np.zeros(shape, dtype=args[p].dtype) for p, shape in zip(positions, shapes)]
        jacs, y = [], None
        for slot, (p, shape, dtype) in enumerate(zip(positions, shapes, dtypes)):
            size = args[p].size
            tangents = list(zeros)
            tangents[slot] = Batched(basis(shape, args[p].dtype, 0, size))
            out, out_dot = call_batched_any(jvp_fn, (tuple(tangents), *prefix, *args), {})
            if y is None:
                y = out
                if type(y) is not np.ndarray:  # not the plain value: the plain pass, as on the full path
                    y, _ = _tangent_function(self.fn, positions, args)(tuple(zeros), *args)
                if type(y) is not np.ndarray or y.shape != out_shape or y.dtype != out_dtype:
                    self._last = None
                    return self._full_call(args)  # another output than the last call's: the full path
            batch = materialize(out_dot, size)
            if np.shape(batch) != (size,) + out_shape:
                batch = np.broadcast_to(batch, (size,) + out_shape)
            jacs.append(np.asarray(np.moveaxis(batch, 0, -1).reshape(out_shape + shape), dtype=dtype))
        jac = jacs[0] if type(self.positions) is int else tuple(jacs)
        return (jac, y) if self.return_value else jac

    def _remember(self, args, positions, active, y):
        """Keep what this plain call ran for the fast path of ``__call__``, where it qualifies."""
        fn = self.fn
        if self.has_aux or self.chunk_size == 1 or self.progress or len(active) != len(positions) \
                or rules.lookup(fn) is not None \
                or type(y) is not np.ndarray or y.dtype.kind != "f":
            return
        inputs = [args[p] for p in positions]
        if not all(type(x) is np.ndarray and x.dtype.kind == "f" and x.size > 1 for x in inputs):
            return
        for x in inputs:
            step = default_chunk_size(x.size, [x, y]) if self.chunk_size is None else self.chunk_size
            if step < x.size:
                return
        target, prefix = target_of(fn)
        shifted = tuple(p + len(prefix) for p in positions)
        kinds = argument_kinds(prefix + tuple(args))
        (jvp_fn,) = adjoint_functions(target, shifted, "jvp", kinds)
        module = compiled_adjoint(target, shifted, "jvp", kinds)
        self._last = (len(args), tuple(positions), tuple(x.shape for x in inputs), prefix, kinds, module, target,
                      jvp_fn, y.shape, y.dtype, tuple(jacobian_dtype(y, x) for x in inputs))

    def _full_call(self, args):
        fn = self.fn
        self._last = None
        positions = check_positions(as_tuple(self.positions), args, fn)
        foreign = foreign_position(args, positions)
        if foreign is not None:  # dask, CuPy, array-api-strict: backend_jacobians.py
            return foreign_jacfwd(self, args, positions, foreign)
        if has_containers(args, positions):
            return pytree_jacobian(self, args, positions)
        active = check_jacobian_inputs(fn, args, positions, False, self.holomorphic)
        if isinstance(fn, Transform):
            return nested_jacobian(self, args, active)
        run = _tangent_function(fn, tuple(active), args)
        zero_tangents = [zero_like_output(args[p]) if not isinstance(args[p], float) else 0.0 for p in active]
        out, _ = run(tuple(zero_tangents), *args)
        y, aux = split_aux(out, self.has_aux, fn)
        if is_tree_output(y):
            return tree_output_jacobian(self, args, y)
        if is_container_output(y):
            return container_output_jacobian(self, args, y)
        leaves, tuple_out = output_leaves(y, fn, self.holomorphic)
        columns = {p: [] for p in active}  # columns[p][j]: the output tangents for basis vector j of input p
        batches = {}  # or batches[p][k]: output k's tangents for every basis vector of input p, batch first
        for slot, p in enumerate(active):
            x = args[p]
            dtype = np.asarray(x).dtype
            batch = None
            if self.chunk_size != 1 and np.size(x) > 1:  # chunk_size=1, or a scalar: plain tangent code
                batch = _tangent_batch(fn, tuple(active), args, zero_tangents, slot, self.has_aux, self.chunk_size,
                                       leaves)
            if batch is not None:  # one batched pass: the tangents carry a leading batch axis
                batches[p] = list(batch) if tuple_out else [batch]
                continue
            for j in track(range(int(np.size(x)))):
                tangents = list(zero_tangents)
                tangents[slot] = as_like(one_hot(np.shape(x), dtype, j), x)
                _, out_dot = run(tuple(tangents), *args)
                if self.has_aux:
                    out_dot = out_dot[0]
                columns[p].append(list(out_dot) if tuple_out else [out_dot])
        blocks = []
        for k, leaf in enumerate(leaves):
            block = []
            for p in positions:
                x = args[p]
                shape = np.shape(leaf) + np.shape(x)
                if p in batches:
                    leaf_batch = np.broadcast_to(batches[p][k], (np.size(x),) + np.shape(leaf))
                    stacked = np.moveaxis(leaf_batch, 0, -1)
                    block.append(np.asarray(stacked.reshape(shape), dtype=jacobian_dtype(leaf, x)))
                elif p in columns and columns[p]:
                    stacked = np.stack([np.broadcast_to(c[k], np.shape(leaf)) for c in columns[p]], axis=-1)
                    block.append(np.asarray(stacked.reshape(shape), dtype=jacobian_dtype(leaf, x)))
                else:
                    block.append(np.zeros(shape, dtype=jacobian_dtype(leaf, x)))
            blocks.append(block)
        jac = retyped_jacobian(nest(blocks, tuple_out, isinstance(self.positions, int)), y, tuple_out)
        if not tuple_out:
            self._remember(args, positions, active, y)
        if self.return_value:
            return (jac, y, aux) if self.has_aux else (jac, y)
        return (jac, aux) if self.has_aux else jac

    def generated_source(self):
        if isinstance(self.fn, Transform):
            return source_of_nested(self, "jvp")
        target, prefix = target_of(self.fn)
        positions = tuple(p + len(prefix) for p in as_tuple(self.positions))
        text = compiled_adjoint(target, positions, "jvp").source
        if self.chunk_size == 1:
            return (f"# jacfwd of {where_defined(target)} with chunk_size=1: the tangent function below runs once "
                    "per column of the Jacobian.\n" + text)
        (tangent_fn,) = adjoint_functions(target, positions, "jvp")
        columns = "every column at once" if self.chunk_size is None else f"{self.chunk_size} columns at a time"
        return (f"# jacfwd of {where_defined(target)}: the tangent function runs batched, as the second module\n"
                f"# shows, on the columns of the identity for each input ({columns}); for a scalar input the\n"
                "# plain tangent function below runs once.\n" + text + "\n" + compiled_batched(tangent_fn).source)


def nested_jacobian(outer, args, active):
    """The Jacobian of an inner transform (``jacrev(jacrev(f))``, ``jacfwd(grad(f))``, ...): the route of
    second_order.py that differentiates the inner transform's generated code again."""
    inner = outer.fn
    plain = not outer.has_aux and not isinstance(inner.fn, Transform) and rules.lookup(inner.fn) is None
    if plain and isinstance(inner, Grad) and not isinstance(inner, WeightsGrad) and inner.mode == "grad_only":
        return jacobian_of_gradient(outer, args)
    if plain and isinstance(inner, JacFwd) and not inner.has_aux and not inner.return_value:
        return jacobian_of_jacfwd(outer, args, active)
    if not isinstance(inner, JacRev) or inner.has_aux or inner.return_value or inner.weights is not None \
            or not plain:
        raise AutodiffError(
            "autodiff_st differentiates a grad, jacrev or jacfwd again (jacrev(jacrev(f)), jacfwd(jacrev(f)), "
            "jacrev(grad(f)), jacfwd(jacfwd(f)), ...) when neither transform has has_aux, the inner one has no "
            "return_value and no weights=, and f is a Python function; for a scalar f, hessian(f) also takes "
            "has_aux.")
    return jacobian_of_jacrev(outer, args, active)


@decorator
def jacrev(fn: Optional[Function] = None, grad_position: Positions = FIRST, has_aux: bool = False, *,
           argnums: Positions = None, weights: Any = None, grad_vars: Any = None, return_value: bool = False,
           chunk_size: Optional[int] = None, holomorphic: bool = False, allow_int: bool = False,
           progress: bool = False) -> Function:
    """The Jacobian of ``fn`` by reverse mode, with respect to the arguments at ``grad_position`` and the
    Parameters in ``weights`` (alias ``grad_vars``): ``(input_jacs, weight_jacs)`` when both are given.
    ``progress=True`` shows a bar over its passes (progress.py). See the module docstring and docs/api.md."""
    return JacRev(fn, resolve_positions(grad_position, argnums), has_aux, return_value, chunk_size, holomorphic,
                  allow_int, resolve_weights(weights, grad_vars), check_progress("jacrev", progress))


@decorator
def jacfwd(fn: Optional[Function] = None, grad_position: Positions = FIRST, has_aux: bool = False, *,
           argnums: Positions = None, return_value: bool = False, holomorphic: bool = False,
           chunk_size: Optional[int] = None, progress: bool = False) -> Function:
    """The Jacobian of ``fn`` by forward mode: the columns of the identity pushed through the generated
    tangent function, batched, at most ``chunk_size`` columns at a time (None: all columns of an input
    at once; 1: one unbatched pass per column). ``progress=True`` shows a bar over its passes (progress.py)."""
    return JacFwd(fn, resolve_positions(grad_position, argnums), has_aux, return_value, holomorphic, chunk_size,
                  check_progress("jacfwd", progress))
