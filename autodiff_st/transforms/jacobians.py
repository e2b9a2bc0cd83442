"""The Jacobian transforms: ``jvp``, ``jacrev``, ``jacfwd`` and ``hessian``, built on generated code.

``jvp`` runs the generated tangent function (forward mode). ``jacrev`` runs the generated forward pass
once and then the generated backward pass on the rows of the identity: all rows in one *batched* backward
pass by default (the cotangent carries a leading batch axis through the generated code), ``chunk_size``
rows at a time, or one row at a time with ``chunk_size=1``. ``jacfwd`` pushes the columns of the identity
through the tangent function. ``hessian`` is forward mode over the generated gradient function.

Conventions (docs/api.md): the Jacobian of output ``o`` with respect to input ``i`` has shape
``o.shape + i.shape``; for tuple outputs and tuple positions the result nests outputs outside and inputs
inside, ``jac[out_index][in_index]``; an int position drops the input level and a single output drops
the output level.

``jacrev(..., weights=)`` adds the Jacobians with respect to Parameters, as ``grad`` adds their
gradients: ``weight_jacs`` alone for ``grad_position=None``, ``(input_jacs, weight_jacs)`` otherwise, each
part nested per output like the plain result. The forward pass is compiled for weights
(``api.forward_with_weights``) and the backward pass runs inside a ``weights.WeightGradients``
collector, batched like the plain one: the collector then totals one cotangent per row.
"""

import keyword
import logging

import numpy as np

from ..compiler.batching import batched_backward, call_batched_any, materialize
from ..compiler.cache import adjoint_functions, compiled_adjoint
from ..core import registry as rules
from ..core.errors import AutodiffError, AuxError, InputTypeError
from ..core.transform import Transform
from ..runtime.batched import Batched
from ..runtime.calls import argument_kinds, call_forward, call_jvp
from ..runtime.loader import small_function
from ..runtime.weights import WeightGradients
from .grad import (FIRST, Grad, WeightsGrad, _as_tuple, _check_input, _check_positions, _decorator, _name,
                   _resolve_positions, _resolve_weights, _target, forward_with_weights, gradient_function)

log = logging.getLogger("autodiff_st")


def _split_aux(out, has_aux, fn):
    if not has_aux:
        return out, None
    if not isinstance(out, tuple) or len(out) < 2:
        raise AuxError(f"has_aux=True needs {_name(fn)} to return at least two outputs.")
    return out[0], (out[1] if len(out) == 2 else tuple(out[1:]))


def _is_int(x):
    return isinstance(x, bool) or isinstance(x, (int, np.integer)) or (
        isinstance(x, np.ndarray) and x.dtype.kind in "iub")


def _is_complex(x):
    return isinstance(x, (complex, np.complexfloating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "c")


def _check_jacobian_inputs(fn, args, positions, allow_int, holomorphic):
    """The positions that carry a derivative (ints are dropped with allow_int=True)."""
    active = []
    for p in positions:
        x = args[p]
        if _is_int(x):
            if not allow_int:
                raise InputTypeError(
                    f"argument {p} of {_name(fn)} is an integer, and integers have no derivative.",
                    hint="Pass a float instead (2.0, or x.astype(np.float64)), or pass allow_int=True "
                         "for a zero Jacobian with respect to it.")
            continue
        if isinstance(x, (tuple, list, dict)):
            raise InputTypeError(
                f"argument {p} of {_name(fn)} is a {type(x).__name__}: Jacobians are taken with respect "
                "to arrays and floats.", hint="Pass the arrays as separate arguments.")
        if _is_complex(x) and not holomorphic:
            raise InputTypeError(f"argument {p} of {_name(fn)} is complex.",
                                 hint="Pass holomorphic=True for the complex Jacobian of a holomorphic function.")
        _check_input(x, p, fn, allow_complex=holomorphic)
        active.append(p)
    return active


def _output_leaves(y, fn, holomorphic):
    leaves = list(y) if isinstance(y, tuple) else [y]
    for leaf in leaves:
        if _is_complex(leaf) and not holomorphic:
            raise InputTypeError(f"{_name(fn)} returns a complex value; pass holomorphic=True to take its "
                                 "Jacobian.")
        if not isinstance(leaf, (float, int, np.ndarray, np.generic)):
            raise InputTypeError(f"{_name(fn)} returns a {type(leaf).__name__}: Jacobians are taken of arrays "
                                 "and floats, or tuples of them.")
    return leaves, isinstance(y, tuple)


def _jacobian_dtype(out_leaf, x):
    return np.result_type(np.asarray(out_leaf).dtype, np.asarray(x).dtype, np.float32)


def _nest(blocks, tuple_out, int_position):
    """blocks[k][i]: the Jacobian of output k with respect to input i; drop the levels the caller asked to."""
    rows = [b[0] if int_position else tuple(b) for b in blocks]
    return tuple(rows) if tuple_out else rows[0]


def _basis(shape, dtype, start, stop):
    """Rows ``start`` to ``stop`` of the identity on arrays of ``shape``, with a leading batch axis."""
    size = int(np.prod(shape, dtype=np.int64))
    rows = np.zeros((stop - start, size), dtype=dtype)
    rows[np.arange(stop - start), np.arange(start, stop)] = 1
    return rows.reshape((stop - start,) + tuple(shape))


def _one_hot(shape, dtype, index):
    e = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=dtype)
    e[index] = 1
    e = e.reshape(shape)
    return e


def _as_like(t, x):
    """A tangent or cotangent shaped for ``x``: a Python float for a float."""
    if isinstance(x, float):
        return float(t)
    return t


def _batched_backward(backward):
    """The batched form of a generated backward function, or None where batching is not available."""
    try:
        return batched_backward(backward)
    except Exception as error:  # noqa: BLE001 - the loop below is always correct
        log.debug("jacrev runs a loop of backward passes: %s", error)
        return None


# -- jvp -----------------------------------------------------------------------------------------------

def _tangent_function(fn, positions, args):
    """``run(tangents, *args) -> (out, out_tangent)`` for ``fn`` and the argument positions."""
    if rules.lookup(fn) is not None:
        return lambda tangents, *a, **k: call_jvp(fn, positions, tangents, *a, **k)
    target, prefix = _target(fn)
    shifted = tuple(p + len(prefix) for p in positions)
    (jvp_fn,) = adjoint_functions(target, shifted, "jvp", argument_kinds(prefix + tuple(args)))
    return lambda tangents, *a, **k: jvp_fn(tangents, *prefix, *a, **k)


def _tangent_batch(fn, active, args, zero_tangents, slot, has_aux):
    """The output tangents along every basis vector of input ``active[slot]``, each output leaf with a
    leading axis over the basis: the generated tangent function run once, batched (see batching.py);
    None where the function has a rule instead of generated code, or batching is not available."""
    x = args[active[slot]]
    size = int(np.size(x))
    if rules.lookup(fn) is not None or size == 0:
        return None
    target, prefix = _target(fn)
    shifted = tuple(p + len(prefix) for p in active)
    (jvp_fn,) = adjoint_functions(target, shifted, "jvp", argument_kinds(prefix + tuple(args)))
    tangents = list(zero_tangents)
    tangents[slot] = Batched(_basis(np.shape(x), np.asarray(x).dtype, 0, size))
    _, out_dot = call_batched_any(jvp_fn, (tuple(tangents), *prefix, *args), {})
    if has_aux:
        out_dot = out_dot[0]
    return materialize(out_dot, size)


def _check_tangent(t, x, position):
    if np.shape(t) != np.shape(x):
        raise ValueError(f"the tangent of argument {position} has shape {np.shape(t)}, but the argument has shape "
                         f"{np.shape(x)}; a tangent has its primal's shape.")


def jvp(fn, inputs, tangents, has_aux=False):
    """Push ``tangents`` through ``fn`` at ``inputs``: returns ``(outputs, tangent_outputs)``, or
    ``(outputs, tangent_outputs, aux)`` with has_aux. ``inputs`` and ``tangents`` are tuples (a single
    array is taken as a 1-tuple)."""
    if not isinstance(inputs, (tuple, list)):
        inputs, tangents = (inputs,), (tangents,)
    inputs, tangents = tuple(inputs), tuple(tangents)
    if len(inputs) != len(tangents):
        raise ValueError(f"jvp got {len(inputs)} inputs and {len(tangents)} tangents; give one tangent per input.")
    for i, (x, t) in enumerate(zip(inputs, tangents)):
        _check_input(x, i, fn)
        _check_tangent(t, x, i)
    positions = tuple(range(len(inputs)))
    run = _tangent_function(fn, positions, inputs)
    out, out_dot = run(tangents, *inputs)
    if has_aux:
        if not isinstance(out, tuple) or len(out) < 2:
            raise AuxError(f"has_aux=True needs {_name(fn)} to return at least two outputs.")
        y, aux = _split_aux(out, True, fn)
        return y, _match_output(out_dot[0], y), aux
    return out, _match_output(out_dot, out)


def _match_output(t, y):
    """The tangent of ``y`` with ``y``'s type, shape and dtype."""
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


# -- jacrev --------------------------------------------------------------------------------------------

class JacRev(Transform):
    def __init__(self, fn, positions, has_aux, return_value, chunk_size, holomorphic, allow_int, weights=None):
        super().__init__(fn)
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                       or chunk_size <= 0):
            raise ValueError(f"chunk_size must be None or a positive int, not {chunk_size!r}.")
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
        self.last_source = None  # with weights: the generated module the last call ran
        if rules.lookup(fn) is None and not isinstance(fn, Transform):
            _target(fn)  # fail early on a function without source

    def rebind(self, fn):
        return JacRev(fn, self.positions, self.has_aux, self.return_value, self.chunk_size, self.holomorphic,
                      self.allow_int, self.weights)

    def pullback_parts(self, args, active):
        """(out, backward(v) -> grads, batched(V) -> grads or None) for the active positions."""
        fn = self.fn
        if rules.lookup(fn) is not None:
            out, pullback = call_forward(fn, tuple(active), *args)

            def backward(v):
                grads = pullback(v)
                return grads if len(active) > 1 else (grads,)
            return out, backward, None
        target, prefix = _target(fn)
        shifted = tuple(p + len(prefix) for p in active)
        mode = "vjp_aux" if self.has_aux else "vjp"
        forward, generated_backward = adjoint_functions(target, shifted, mode, argument_kinds(prefix + tuple(args)))
        out, residuals = forward(*prefix, *args)
        batched = _batched_backward(generated_backward) if self.chunk_size != 1 else None

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
        fn = self.fn
        positions = () if self.positions is None else _check_positions(_as_tuple(self.positions), args, fn)
        if _has_containers(args, positions):
            return _pytree_jacobian(self, args, positions)
        active = _check_jacobian_inputs(fn, args, positions, self.allow_int, self.holomorphic)
        if isinstance(fn, Transform):
            return _nested_jacobian(self, args, active)
        weights = () if self.weights is None else self.weights[0]
        if weights:
            out, backward, batched = self.weights_pullback_parts(args, active)
        elif active:
            out, backward, batched = self.pullback_parts(args, active)
        else:
            out, backward, batched = fn(*args), None, None
        y, aux = _split_aux(out, self.has_aux, fn)
        leaves, tuple_out = _output_leaves(y, fn, self.holomorphic)
        blocks = self._blocks(args, positions, active, weights, leaves, tuple_out, backward, batched)
        jac = _nest([b[:len(positions)] for b in blocks], tuple_out, isinstance(self.positions, int))
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
            dtype = np.result_type(np.asarray(leaf).dtype, np.float64 if not self.holomorphic else np.complex128) \
                if np.asarray(leaf).dtype.kind not in "fc" else np.asarray(leaf).dtype
            rows = [[] for _ in columns]
            if columns:
                step = size if self.chunk_size is None else self.chunk_size
                if batched is not None and self.chunk_size != 1:
                    for start in range(0, size, step):
                        stop = min(size, start + step)
                        cotangent = self._cotangent_batch(leaves, tuple_out, k, shape, dtype, start, stop)
                        grads = batched(cotangent)
                        for c, (x, g) in enumerate(zip(columns, grads)):
                            rows[c].append(np.reshape(g, (stop - start,) + np.shape(x)))
                else:
                    for index in range(size):
                        e = _one_hot(shape, dtype, index)
                        v = self._cotangent_single(leaves, tuple_out, k, e, leaf)
                        grads = backward(v)
                        for c, (x, g) in enumerate(zip(columns, grads)):
                            rows[c].append(np.reshape(g, (1,) + np.shape(x)))
            block = []
            for p in positions:
                x = args[p]
                jdtype = _jacobian_dtype(leaf, x) if not _is_int(x) else np.float64
                if p in active:
                    block.append(_stack_rows(rows[active.index(p)], shape, x, jdtype))
                else:
                    block.append(np.zeros(shape + np.shape(x), dtype=jdtype))
            for j, w in enumerate(weights):
                block.append(_stack_rows(rows[len(active) + j], shape, w, _jacobian_dtype(leaf, w)))
            blocks.append(block)
        return blocks

    @staticmethod
    def _cotangent_single(leaves, tuple_out, k, e, leaf):
        e = _as_like(e, leaf)
        if not tuple_out:
            return e
        return tuple(e if j == k else _zero_like_output(other) for j, other in enumerate(leaves))

    @staticmethod
    def _cotangent_batch(leaves, tuple_out, k, shape, dtype, start, stop):
        basis = _basis(shape, dtype, start, stop)
        if not tuple_out:
            return basis
        return tuple(basis if j == k else np.zeros((stop - start,) + np.shape(other), dtype=np.asarray(other).dtype)
                     for j, other in enumerate(leaves))

    def generated_source(self):
        mode = "vjp_aux" if self.has_aux else "vjp"
        if self.weights is not None:
            # the module the last call ran (compiled for its argument kinds and roots), or the general one
            if self.last_source is not None:
                return self.last_source
            target, prefix = _target(self.fn)
            positions = tuple(p + len(prefix) for p in _as_tuple(self.positions or ()))
            return compiled_adjoint(target, positions, mode, None, ()).source
        target, prefix = _target(self.fn)
        positions = tuple(p + len(prefix) for p in _as_tuple(self.positions))
        return compiled_adjoint(target, positions, mode).source


def _stack_rows(rows, shape, x, dtype):
    """The Jacobian of an output of ``shape`` with respect to ``x``, from its rows (arrays with the rows
    on axis 0, in order)."""
    stacked = np.concatenate(rows, axis=0) if rows else np.zeros((0,) + np.shape(x))
    return np.asarray(stacked.reshape(shape + np.shape(x)), dtype=dtype)


def _weight_form(jacobians, form):
    """The Jacobians of one output with respect to the weights, shaped as ``weights=`` was: one array
    for one Parameter, a tuple for a list or tuple, a dict for a dict."""
    if form == "one":
        return jacobians[0]
    if form == "sequence":
        return tuple(jacobians)
    return dict(zip(form, jacobians))


def _zero_like_output(y):
    if isinstance(y, float):
        return 0.0
    return np.zeros(np.shape(y), dtype=np.asarray(y).dtype)


# -- jacfwd --------------------------------------------------------------------------------------------

class JacFwd(Transform):
    def __init__(self, fn, positions, has_aux, return_value, holomorphic):
        super().__init__(fn)
        if positions is None:
            raise ValueError("jacfwd needs grad_position (or argnums): which inputs to differentiate.")
        self.positions = positions
        self.has_aux = has_aux
        self.return_value = return_value
        self.holomorphic = holomorphic
        if rules.lookup(fn) is None and not isinstance(fn, Transform):
            _target(fn)

    def rebind(self, fn):
        return JacFwd(fn, self.positions, self.has_aux, self.return_value, self.holomorphic)

    def __call__(self, *args):
        fn = self.fn
        positions = _check_positions(_as_tuple(self.positions), args, fn)
        if _has_containers(args, positions):
            return _pytree_jacobian(self, args, positions)
        active = _check_jacobian_inputs(fn, args, positions, False, self.holomorphic)
        if isinstance(fn, Transform):
            return _nested_jacobian(self, args, active)
        run = _tangent_function(fn, tuple(active), args)
        zero_tangents = [_zero_like_output(args[p]) if not isinstance(args[p], float) else 0.0 for p in active]
        out, _ = run(tuple(zero_tangents), *args)
        y, aux = _split_aux(out, self.has_aux, fn)
        leaves, tuple_out = _output_leaves(y, fn, self.holomorphic)
        columns = {p: [] for p in active}  # columns[p][j]: the output tangents for basis vector j of input p
        batches = {}  # or batches[p][k]: output k's tangents for every basis vector of input p, batch first
        for slot, p in enumerate(active):
            x = args[p]
            dtype = np.asarray(x).dtype
            batch = _tangent_batch(fn, tuple(active), args, zero_tangents, slot, self.has_aux)
            if batch is not None:  # one batched pass: the tangents carry a leading batch axis
                batches[p] = list(batch) if tuple_out else [batch]
                continue
            for j in range(int(np.size(x))):
                tangents = list(zero_tangents)
                tangents[slot] = _as_like(_one_hot(np.shape(x), dtype, j), x)
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
                    block.append(np.asarray(stacked.reshape(shape), dtype=_jacobian_dtype(leaf, x)))
                elif p in columns and columns[p]:
                    stacked = np.stack([np.broadcast_to(c[k], np.shape(leaf)) for c in columns[p]], axis=-1)
                    block.append(np.asarray(stacked.reshape(shape), dtype=_jacobian_dtype(leaf, x)))
                else:
                    block.append(np.zeros(shape, dtype=_jacobian_dtype(leaf, x)))
            blocks.append(block)
        jac = _nest(blocks, tuple_out, isinstance(self.positions, int))
        if self.return_value:
            return (jac, y, aux) if self.has_aux else (jac, y)
        return (jac, aux) if self.has_aux else jac

    def generated_source(self):
        target, prefix = _target(self.fn)
        positions = tuple(p + len(prefix) for p in _as_tuple(self.positions))
        return compiled_adjoint(target, positions, "jvp").source


# -- pytree inputs -------------------------------------------------------------------------------------------

def _has_containers(args, positions):
    return any(isinstance(args[p], (tuple, list, dict)) for p in positions)


def _leaves(tree, path=()):
    """``(path, leaf)`` for each array or number in a tuple, list or dict, in order (dict keys sorted as
    given)."""
    if isinstance(tree, (tuple, list)):
        return [item for i, t in enumerate(tree) for item in _leaves(t, path + (i,))]
    if isinstance(tree, dict):
        return [item for k, t in tree.items() for item in _leaves(t, path + (k,))]
    return [(path, tree)]


def _display(tree, names):
    """Source text that rebuilds ``tree`` from the names of its leaves (an iterator, in ``_leaves`` order)."""
    if isinstance(tree, (tuple, list)):
        items = ", ".join(_display(t, names) for t in tree)
        if isinstance(tree, list):
            return f"[{items}]"
        return f"({items},)" if len(tree) == 1 else f"({items})"
    if isinstance(tree, dict):
        for key in tree:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise InputTypeError(f"a dict with the key {key!r}: Jacobians of dict inputs take str or int keys.")
        return "{" + ", ".join(f"{key!r}: {_display(t, names)}" for key, t in tree.items()) + "}"
    return next(names)


def _rebuild(tree, values):
    """``tree``'s structure with its leaves replaced by ``values`` (an iterator, in ``_leaves`` order)."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(_rebuild(t, values) for t in tree)
    if isinstance(tree, dict):
        return {k: _rebuild(t, values) for k, t in tree.items()}
    return next(values)


def _pytree_jacobian(transform, args, positions):
    """A Jacobian with respect to tuples, lists or dicts of arrays: differentiate a generated function that
    takes their leaves one by one and rebuilds the containers for ``fn``; then put the leaves' Jacobians
    back in the input's structure (JAX's convention)."""
    fn = transform.fn
    params, passed, flat_args, flat_positions, groups = [], [], [], [], {}
    for i, a in enumerate(args):
        if i in positions and isinstance(a, (tuple, list, dict)):
            leaves = _leaves(a)
            names = [f"arg{i}_{k}" for k in range(len(leaves))]
            groups[i] = list(range(len(flat_args), len(flat_args) + len(names)))
            params += names
            passed.append(_display(a, iter(names)))
            flat_args += [leaf for _, leaf in leaves]
        else:
            if i in positions:
                groups[i] = [len(flat_args)]
            params.append(f"arg{i}")
            passed.append(f"arg{i}")
            flat_args.append(a)
    for i in positions:
        flat_positions += groups[i]
    name = getattr(_target(fn)[0], "__name__", "f") if not isinstance(fn, Transform) else "f"
    name = name if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("arg") else "f"
    call = f"{name}({', '.join(passed)})"
    if transform.has_aux:  # the compiler sees the outputs as a tuple: unpack and return them
        out = fn(*args)
        count = len(out) if isinstance(out, tuple) else 1
        outs = ", ".join(f"out{k}" for k in range(count))
        body = f"    {outs}, = {call}\n    return ({outs},)\n"
    else:
        body = f"    return {call}\n"
    source = f"def {name}_of_leaves({', '.join(params)}):\n" + body
    flat_fn = small_function(source, f"{name} of the leaves of its containers", {name: fn})
    flat = transform.rebind(flat_fn)
    flat.positions = tuple(flat_positions)
    result = flat(*flat_args)
    wrapped = transform.has_aux or getattr(transform, "return_value", False)
    jac = result[0] if wrapped else result
    weighted = getattr(transform, "weights", None) is not None
    if weighted:  # jacrev(..., weights=): (input_jacs, weight_jacs), and only the inputs have containers
        jac, weight_jacs = jac

    def regroup(per_flat):
        """The per-position level: one entry per position of ``transform``, containers rebuilt."""
        out = []
        for i in positions:
            picked = [per_flat[flat_positions.index(k)] for k in groups[i]]
            out.append(_rebuild(args[i], iter(picked)) if isinstance(args[i], (tuple, list, dict)) else picked[0])
        return out[0] if isinstance(transform.positions, int) else tuple(out)

    if isinstance(transform, Hessian):
        rows = [regroup(row) for row in jac]
        jac = regroup(rows)
    else:
        y = result[1] if transform.return_value else fn(*args)
        y = y[0] if transform.has_aux and not transform.return_value else y
        jac = tuple(regroup(block) for block in jac) if isinstance(y, tuple) else regroup(jac)
    if weighted:
        jac = (jac, weight_jacs)
    return (jac,) + tuple(result[1:]) if wrapped else jac


# -- composition -----------------------------------------------------------------------------------------

def _nested_jacobian(outer, args, active):
    """The Jacobian of an inner ``jacrev``, by differentiating generated code again.

    Row ``r`` of the inner Jacobian is the generated backward pass applied to the generated forward
    pass's residuals and the cotangent ``e_r``. A small generated function, ``jacobian_row``, makes
    that composition explicit; the outer transform differentiates it like any user function, through
    its calls into the inner generated functions. The result nests as JAX's does: the inner Jacobian's
    structure outside, the outer positions inside."""
    inner = outer.fn
    plain = not outer.has_aux and not isinstance(inner.fn, Transform) and rules.lookup(inner.fn) is None
    if plain and isinstance(inner, Grad) and not isinstance(inner, WeightsGrad) and inner.mode == "grad_only":
        return _jacobian_of_gradient(outer, args)
    if plain and isinstance(inner, JacFwd) and not inner.has_aux and not inner.return_value:
        return _jacobian_of_jacfwd(outer, args, active)
    if not isinstance(inner, JacRev) or inner.has_aux or inner.return_value or inner.weights is not None \
            or not plain:
        raise AutodiffError(
            "autodiff_st differentiates a grad, jacrev or jacfwd again (jacrev(jacrev(f)), jacfwd(jacrev(f)), "
            "jacrev(grad(f)), jacfwd(jacfwd(f)), ...) when neither transform has has_aux, the inner one has no "
            "return_value and no weights=, and f is a Python function; for a scalar f, hessian(f) also takes "
            "has_aux.")
    inner_positions = _check_positions(_as_tuple(inner.positions), args, inner.fn)
    inner_active = _check_jacobian_inputs(inner.fn, args, inner_positions, inner.allow_int, inner.holomorphic)
    outer_positions = _check_positions(_as_tuple(outer.positions), args, inner.fn)
    target, prefix = _target(inner.fn)
    shifted = tuple(p + len(prefix) for p in inner_active)
    forward, backward = adjoint_functions(target, shifted, "vjp", argument_kinds(prefix + tuple(args)))
    y, _ = forward(*prefix, *args)
    y_leaves, tuple_y = _output_leaves(y, inner.fn, inner.holomorphic)
    row = _row_function(forward, backward, len(prefix) + len(args), getattr(target, "__name__", "f"))
    row_positions = tuple(p + len(prefix) for p in active)
    row_jacobian = _outer_like(outer, row, row_positions)
    rows_of = []  # rows_of[k][r][i][j]: d (inner gradient i of row r of output k) / d (outer input j)
    for k, leaf in enumerate(y_leaves):
        shape = np.shape(leaf)
        size = int(np.prod(shape, dtype=np.int64))
        dtype = np.asarray(leaf).dtype if np.asarray(leaf).dtype.kind == "f" else np.float64
        rows = []
        for r in range(size):
            e = _as_like(_one_hot(shape, dtype, r), leaf)
            v = tuple(e if j == k else _zero_like_output(other) for j, other in enumerate(y_leaves)) if tuple_y else e
            rows.append(row_jacobian(*prefix, *args, v))
        rows_of.append(rows)

    def block(k, p, q):
        rows = rows_of[k]
        if p not in inner_active or q not in active or not rows:
            return None
        i, j = inner_active.index(p), active.index(q)
        return np.stack([np.asarray(row[i][j]) for row in rows])

    return _second_jacobian(outer, args, y_leaves, tuple_y, inner_positions, outer_positions, block)


def _outer_like(outer, fn, positions, return_value=False):
    """A plain jacrev or jacfwd of ``fn``, as ``outer`` is (with its chunk_size)."""
    if isinstance(outer, JacRev):
        return JacRev(fn, positions, False, return_value, outer.chunk_size, False, False)
    return JacFwd(fn, positions, False, return_value, False)


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


def _jacobian_of_gradient(outer, args):
    """``jacrev(grad(f))`` and ``jacfwd(grad(f))``: the outer Jacobian of a small generated function that
    returns the gradients the inner ``grad`` computes, from its generated gradient function. The result
    nests as the gradients do: ``jac[gradient_index][outer_index]`` for a tuple of gradients."""
    inner = outer.fn
    function, prefix = gradient_function(inner, tuple(args))
    outer_positions = _as_tuple(outer.positions)
    shifted = tuple(p + len(prefix) for p in outer_positions)
    positions = shifted[0] if isinstance(outer.positions, int) else shifted
    return _outer_like(outer, function, positions, outer.return_value)(*prefix, *args)


def _jacobian_of_jacfwd(outer, args, active):
    """``jacrev(jacfwd(f))`` and ``jacfwd(jacfwd(f))``: column ``j`` of the inner Jacobian (with respect
    to input ``p``) is the generated tangent function pushed along basis vector ``j``; the outer
    transform differentiates a small generated function, ``jacobian_column``, that makes that call."""
    inner = outer.fn
    inner_positions = _check_positions(_as_tuple(inner.positions), args, inner.fn)
    inner_active = _check_jacobian_inputs(inner.fn, args, inner_positions, False, inner.holomorphic)
    outer_positions = _check_positions(_as_tuple(outer.positions), args, inner.fn)
    target, prefix = _target(inner.fn)
    kinds = argument_kinds(prefix + tuple(args))
    y = inner.fn(*args)
    y_leaves, tuple_y = _output_leaves(y, inner.fn, inner.holomorphic)
    column_positions = tuple(q + len(prefix) for q in active)
    name = getattr(target, "__name__", "f")
    columns = {}  # columns[p][j]: the outer Jacobian of column j of the inner Jacobian of input p
    for p in inner_active:
        (tangent_fn,) = adjoint_functions(target, (p + len(prefix),), "jvp", kinds)
        params = ", ".join(f"arg{i}" for i in range(len(prefix) + len(args)))
        source = (f"def jacobian_column_of_{name}({params}, tangent):\n"
                  f"    out, out_tangent = {name}_jvp((tangent,), {params})\n"
                  f"    return out_tangent\n")
        column = small_function(source, f"Jacobian column of {name}", {f"{name}_jvp": tangent_fn})
        column_jacobian = _outer_like(outer, column, column_positions)
        x = args[p]
        dtype = np.asarray(x).dtype
        columns[p] = [column_jacobian(*prefix, *args, _as_like(_one_hot(np.shape(x), dtype, j), x))
                      for j in range(int(np.size(x)))]
    def block(k, p, q):
        if p not in inner_active or q not in active or not columns[p]:
            return None
        i = active.index(q)
        parts = [np.asarray(c[k][i] if tuple_y else c[i]) for c in columns[p]]
        return np.stack(parts, axis=np.ndim(y_leaves[k]))

    return _second_jacobian(outer, args, y_leaves, tuple_y, inner_positions, outer_positions, block)


def _row_function(forward, backward, count, name):
    """A generated function ``(*args, cotangent) -> gradients``: one row of a reverse-mode Jacobian."""
    params = ", ".join(f"arg{i}" for i in range(count))
    source = (f"def jacobian_row_of_{name}({params}, cotangent):\n"
              f"    out, residuals = {name}_forward({params})\n"
              f"    return {name}_backward(residuals, cotangent)\n")
    return small_function(source, f"Jacobian row of {name}",
                               {f"{name}_forward": forward, f"{name}_backward": backward})


# -- hessian ---------------------------------------------------------------------------------------------

class Hessian(Transform):
    """Forward mode over the generated gradient function: ``jacfwd(grad(f))``, by transforming the
    generated code of the gradient again."""

    def __init__(self, fn, positions, has_aux):
        super().__init__(fn)
        if positions is None:
            raise ValueError("hessian needs grad_position (or argnums).")
        self.positions = positions
        self.has_aux = has_aux
        _target(fn)

    def rebind(self, fn):
        return Hessian(fn, self.positions, self.has_aux)

    def __call__(self, *args):
        fn = self.fn
        positions = _check_positions(_as_tuple(self.positions), args, fn)
        if _has_containers(args, positions):
            return _pytree_jacobian(self, args, positions)
        active = _check_jacobian_inputs(fn, args, positions, False, False)
        target, prefix = _target(fn)
        shifted = tuple(p + len(prefix) for p in active)
        kinds = argument_kinds(prefix + tuple(args))
        mode = "grad_aux" if self.has_aux else "grad"
        (gradient_fn,) = adjoint_functions(target, shifted, mode, kinds)
        (tangent_fn,) = adjoint_functions(gradient_fn, shifted, "jvp", kinds)
        zero_tangents = [_zero_like_output(args[p]) for p in active]
        value = None
        columns = {p: [] for p in active}  # columns[q][j]: the gradients' tangents along basis vector j of q
        for slot, q in enumerate(active):
            x = args[q]
            for j in range(int(np.size(x))):
                tangents = list(zero_tangents)
                tangents[slot] = _as_like(_one_hot(np.shape(x), np.asarray(x).dtype, j), x)
                (value, *_), (_, *grad_dots) = tangent_fn(tuple(tangents), *prefix, *args)
                columns[q].append(grad_dots)
        if value is None:
            value = fn(*args)
        y, aux = _split_aux(value, self.has_aux, fn)
        if np.size(y) != 1:
            raise ValueError(f"hessian needs {_name(fn)} to return a scalar; it returned shape {np.shape(y)}. "
                             "Use jacfwd(jacrev(f)) for the second derivatives of each output.")
        rows = []
        for i, p in enumerate(positions):
            row = []
            for q in positions:
                shape = np.shape(args[p]) + np.shape(args[q])
                if p in columns and q in columns and columns[q]:
                    slot = active.index(p)
                    stacked = np.stack([np.broadcast_to(c[slot], np.shape(args[p])) for c in columns[q]], axis=-1)
                    row.append(np.asarray(stacked.reshape(shape), dtype=_jacobian_dtype(args[p], args[q])))
                else:
                    row.append(np.zeros(shape))
            rows.append(row[0] if isinstance(self.positions, int) else tuple(row))
        hess = rows[0] if isinstance(self.positions, int) else tuple(rows)
        return (hess, aux) if self.has_aux else hess

    def generated_source(self):
        target, prefix = _target(self.fn)
        positions = tuple(p + len(prefix) for p in _as_tuple(self.positions))
        (gradient_fn,) = adjoint_functions(target, positions, "grad")
        return compiled_adjoint(gradient_fn, positions, "jvp").source


# -- the public functions --------------------------------------------------------------------------------

@_decorator
def jacrev(fn, grad_position=FIRST, has_aux=False, *, argnums=None, weights=None, grad_vars=None,
           return_value=False, chunk_size=None, holomorphic=False, allow_int=False):
    """The Jacobian of ``fn`` by reverse mode, with respect to the arguments at ``grad_position`` and the
    Parameters in ``weights`` (alias ``grad_vars``): ``(input_jacs, weight_jacs)`` when both are given.
    See the module docstring and docs/api.md."""
    return JacRev(fn, _resolve_positions(grad_position, argnums), has_aux, return_value, chunk_size, holomorphic,
                  allow_int, _resolve_weights(weights, grad_vars))


@_decorator
def jacfwd(fn, grad_position=FIRST, has_aux=False, *, argnums=None, return_value=False, holomorphic=False):
    """The Jacobian of ``fn`` by forward mode: one tangent pass per input element."""
    return JacFwd(fn, _resolve_positions(grad_position, argnums), has_aux, return_value, holomorphic)


@_decorator
def hessian(fn, grad_position=FIRST, has_aux=False, *, argnums=None):
    """The Hessian of a scalar ``fn``: forward mode over its generated gradient."""
    return Hessian(fn, _resolve_positions(grad_position, argnums), has_aux)
