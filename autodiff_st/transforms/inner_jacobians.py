"""``jacrev``, ``jacfwd`` and ``hessian`` called inside a differentiated function.

When generated code calls a transform with an argument that carries a derivative, ``resolve_callee``
asks the transform (``called_inside``) for a plain Python function to differentiate in its place, and the
arguments bound in front of it. A plain ``grad`` gives its generated gradient function (grad.py). A
Jacobian transform gives a small generated function, made here, that computes the same Jacobian from the
inner function's generated code, with a loop over the basis:

- ``jacrev``: the generated forward pass runs once, then the generated backward pass once per row of the
  identity on the output (``jacrev_of_f``);
- ``jacfwd``: the generated tangent function once per column of the identity on each input
  (``jacfwd_of_f``);
- ``hessian``: the tangent function of the generated gradient function, once per column
  (``hessian_of_f``).

The outer transform differentiates that function like the user's code: through its loop and into the
inner generated functions, transforming generated code again. Each function is made for one structure
of the inner function's output (a tuple or not, how many outputs, how many auxiliary ones), learnt by
calling the inner function once per argument kinds; a check at the top of the function refuses a call
whose output has another structure. Options the route does not follow are refused with the user's line.

``value_and_grad``, ``grad_and_value`` and ``grad`` with has_aux or return_value called inside run the
generated gradient function (of the first output, with has_aux) beside the plain function, whose outputs
give the value and the auxiliary ones (``value_and_grad_of_f``).

The rows and columns are gathered in tuples (``rows = rows + (gradient,)``), not lists: a list appended
to in a loop of a function called from differentiated code loses its structure in forward mode over
reverse mode (the tangent of the backward pass's ``rows.copy()`` becomes an array), so a list would break
``hessian`` of the outer function.
"""

import functools
import sys

import numpy as np

from ..compiler.cache import adjoint_functions
from ..core import registry, trees
from ..core.errors import AutodiffError, UnsupportedCaseError
from ..core.names import identifier_for
from ..runtime.calls import argument_kinds, resolve_callee
from ..runtime.loader import origin_at, small_function
from .checks import as_tuple, check_input, check_positions, function_name
from .jacobian_parts import as_like, check_jacobian_inputs, jacobian_dtype, one_hot, zero_like_output


def _caller_origin():
    """The user's line behind the nearest generated line on the stack: the call of the transform."""
    frame = sys._getframe(1)
    while frame is not None:
        origin = origin_at(frame.f_code.co_filename, frame.f_lineno)
        if origin is not None:
            return origin
        frame = frame.f_back
    return None


def refuse(transform, what, hint):
    raise UnsupportedCaseError(
        f"autodiff_st cannot differentiate through a call of a {type(transform).__name__.lower()} of "
        f"{function_name(transform.fn)} made inside the differentiated function {what}.",
        origin=_caller_origin(), hint=hint)


# -- helpers the generated functions call: their results carry no derivative ------------------------------


def check_outputs(out, aux=None, leaves=None):
    """Refuse an output whose structure is not the one the generated function was made for: ``aux``
    auxiliary outputs after the first (None: no has_aux), and ``leaves`` outputs in a tuple (None: one)."""
    value = out
    if aux is not None:
        if not isinstance(out, tuple) or len(out) != aux + 1:
            raise AutodiffError("a Jacobian transform called inside a differentiated function returned another "
                                "number of auxiliary outputs than on an earlier call with arguments of these kinds.")
        value = out[0]
    parts = value if leaves is not None else (value,)
    if (leaves is not None and (not isinstance(value, tuple) or len(value) != leaves)) or \
            (leaves is None and isinstance(value, tuple)):
        raise AutodiffError("a Jacobian transform called inside a differentiated function returned another "
                            "structure of outputs than on an earlier call with arguments of these kinds.")
    for leaf in parts:
        if np.size(leaf) == 0:
            raise AutodiffError("a Jacobian transform called inside a differentiated function returned an empty "
                                "array: its Jacobian has no rows to differentiate through.")


def output_basis(out, k=None, aux=False):
    """The cotangents of ``out`` that pick each element of its differentiated output in turn (of output
    ``k`` of a tuple); with ``aux``, ``out`` is ``(value, *aux)`` and the auxiliary outputs get zeros."""
    value = out[0] if aux else out
    leaf = value if k is None else value[k]
    dtype = np.asarray(leaf).dtype
    dtype = dtype if dtype.kind == "f" else np.float64
    rows = []
    for r in range(int(np.size(leaf))):
        e = as_like(one_hot(np.shape(leaf), dtype, r), leaf)
        row = e if k is None else tuple(e if j == k else zero_like_output(o) for j, o in enumerate(value))
        rows.append((row,) + tuple(zero_like_output(a) for a in out[1:]) if aux else row)
    return rows


def input_basis(x):
    """The tangents of ``x`` that move each of its elements in turn."""
    dtype = np.asarray(x).dtype
    return [as_like(one_hot(np.shape(x), dtype, j), x) for j in range(int(np.size(x)))]


def jacobian_type(leaf, x):
    return jacobian_dtype(leaf, x)


registry.nondifferentiable(check_outputs, output_basis, input_basis, jacobian_type)

_NAMESPACE = {"np": np, "check_outputs": check_outputs, "output_basis": output_basis, "input_basis": input_basis,
              "jacobian_type": jacobian_type}


# -- what a call inside is differentiated as -----------------------------------------------------------------


def _inner(transform, args, kwargs, allow_int=False, holomorphic=False):
    """The checks every Jacobian transform called inside shares: the Python function to differentiate
    for its function (a user function, a primitive's generated caller, or an inner transform's own
    function called inside), the arguments bound in front, and the positions, shifted past them."""
    if kwargs:
        refuse(transform, "with keyword arguments", "Pass the arguments positionally.")
    if holomorphic:
        refuse(transform, "with holomorphic=True", "Differentiate the real and imaginary parts separately.")
    if getattr(transform, "weights", None) is not None:
        refuse(transform, "with weights=", "Pass the Parameters as arguments and use grad_position.")
    if transform.positions is None:
        refuse(transform, "without grad_position", "Name the arguments with grad_position or argnums.")
    positions = check_positions(as_tuple(transform.positions), args, transform.fn)
    for p in positions:
        if isinstance(args[p], (tuple, list, dict)) or trees.is_tree(args[p]):
            refuse(transform, f"with respect to a {type(args[p]).__name__} (argument {p})",
                   "Pass each array as an argument of its own.")
    active = check_jacobian_inputs(transform.fn, args, positions, allow_int, False)
    if len(active) != len(positions):
        refuse(transform, "with allow_int=True and an integer argument", "Pass floats for the arguments it names.")
    for p in positions:
        if np.size(args[p]) == 0:
            refuse(transform, f"with respect to an empty array (argument {p})", "Pass arrays with elements.")
    target, prefix = _callee(transform.fn, args)
    shifted = tuple(p + len(prefix) for p in positions)
    return target, prefix, shifted


def _callee(fn, args):
    """The Python function to differentiate for ``fn(*args)`` and the arguments bound in front. A partial
    with positional arguments only (what a lambda of the differentiated function becomes) is its function,
    with those arguments in front: the same function on every call, so that what is made here is reused."""
    if type(fn) is functools.partial and not fn.keywords:
        target, _, prefix = resolve_callee(fn.func, tuple(fn.args) + tuple(args), {})
        return target, prefix + tuple(fn.args)
    target, _, prefix = resolve_callee(fn, args, {})
    return target, prefix


_STRUCTURES = {}  # (function, argument kinds, has_aux) -> (auxiliary outputs or None, tuple outputs or None)


def _structure(transform, target, full_args, kinds, has_aux):
    """The structure of the output, learnt by calling ``target`` once for these argument kinds."""
    key = (target, kinds, has_aux)
    found = _STRUCTURES.get(key)
    if found is None:
        out = target(*full_args)
        aux = None
        if has_aux:
            if not isinstance(out, tuple) or len(out) < 2:
                refuse(transform, "with has_aux=True", "has_aux=True needs the function to return at least two "
                       "outputs: the one to differentiate first.")
            aux, out = len(out) - 1, out[0]
        if trees.is_tree(out) or isinstance(out, (list, dict)):
            refuse(transform, f"whose function returns a {type(out).__name__}", "Return an array, or a tuple of "
                   "arrays, and build the container outside.")
        parts = out if isinstance(out, tuple) else (out,)
        for leaf in parts:
            kind = np.asarray(leaf).dtype.kind if isinstance(leaf, (float, int, np.ndarray, np.generic)) else None
            if kind != "f":
                refuse(transform, f"whose function returns a {type(leaf).__name__} "
                       f"{'of dtype ' + str(np.asarray(leaf).dtype) if kind else ''}".rstrip(),
                       "Jacobians inside are taken of float arrays and floats.")
        found = _kept(_STRUCTURES, key, (aux, len(out) if isinstance(out, tuple) else None))
    return found


_KEPT = 512  # entries of each cache here; the oldest goes first (a new function per call would fill them)


def _kept(cache, key, value):
    if len(cache) >= _KEPT:
        cache.pop(next(iter(cache)), None)
    cache[key] = value
    return value


_FUNCTIONS = {}


def _made(key, source, description, namespace):
    function = _FUNCTIONS.get(key)
    if function is None:
        function = _kept(_FUNCTIONS, key, small_function(source, description, dict(_NAMESPACE, **namespace)))
    return function


def _params(count):
    return ", ".join(f"arg{i}" for i in range(count))


def _split(aux, leaves):
    """Lines that name the differentiated output ``value``, ``aux`` and the leaves ``leaf0, ...`` of ``out``."""
    lines = [f"    check_outputs(out, aux={aux}, leaves={leaves})\n"]
    if aux is None:
        lines.append("    value = out\n")
    else:
        lines.append("    value = out[0]\n")
        lines.append("    aux = out[1]\n" if aux == 1 else
                     f"    aux = ({', '.join(f'out[{i}]' for i in range(1, aux + 1))},)\n")
    if leaves is None:
        lines.append("    leaf0 = value\n")
    else:
        lines += [f"    leaf{k} = value[{k}]\n" for k in range(leaves)]
    return lines


def _result(transform, positions, leaves, aux):
    """Lines that assemble ``jacobian{k}_{i}`` into the transform's result."""
    per_output = []
    for k in range(leaves or 1):
        names = [f"jacobian{k}_{i}" for i in range(len(positions))]
        per_output.append(names[0] if isinstance(transform.positions, int) else f"({', '.join(names)},)")
    jac = per_output[0] if leaves is None else f"({', '.join(per_output)},)"
    parts = [jac]
    if getattr(transform, "return_value", False):
        parts.append("value")
    if aux is not None:
        parts.append("aux")
    return f"    return {parts[0] if len(parts) == 1 else '(' + ', '.join(parts) + ')'}\n"


def _assembled(k, i, p, stacked, dtype_of):
    return (f"    jacobian{k}_{i} = np.reshape({stacked}, np.shape(leaf{k}) + np.shape(arg{p}))"
            f".astype(jacobian_type({dtype_of}, arg{p}))\n")


def jacrev_inside(transform, args, kwargs):
    """``jacrev(f)(*args)`` as ``jacrev_of_f``: the generated backward pass on each row of the identity."""
    target, prefix, positions = _inner(transform, args, kwargs, transform.allow_int, transform.holomorphic)
    full = prefix + tuple(args)
    kinds = argument_kinds(full)
    forward, backward = adjoint_functions(target, positions, "vjp", kinds)
    aux, leaves = _structure(transform, target, full, kinds, transform.has_aux)
    name = identifier_for(getattr(target, "__name__", "f"))
    key = ("jacrev", forward, backward, len(full), positions, isinstance(transform.positions, int), aux, leaves,
           transform.return_value)
    lines = [f"def jacrev_of_{name}({_params(len(full))}):\n",
             f"    out, residuals = {name}_forward({_params(len(full))})\n"] + _split(aux, leaves)
    for k in range(leaves or 1):
        lines += [f"    rows{k}_{i} = ()\n" for i in range(len(positions))]
        picked = "" if leaves is None else f", {k}"
        lines.append(f"    for cotangent in output_basis(out{picked}{', aux=True' if aux is not None else ''}):\n")
        lines.append(f"        gradients = {name}_backward(residuals, cotangent)\n")
        lines += [f"        rows{k}_{i} = rows{k}_{i} + (gradients[{i}],)\n" for i in range(len(positions))]
        lines += [_assembled(k, i, p, f"np.stack(rows{k}_{i})", f"leaf{k}") for i, p in enumerate(positions)]
    lines.append(_result(transform, positions, leaves, aux))
    return _made(key, "".join(lines), f"jacrev of {name} called inside",
                 {f"{name}_forward": forward, f"{name}_backward": backward}), prefix


def jacfwd_inside(transform, args, kwargs):
    """``jacfwd(f)(*args)`` as ``jacfwd_of_f``: the generated tangent function on each column."""
    target, prefix, positions = _inner(transform, args, kwargs, False, transform.holomorphic)
    full = prefix + tuple(args)
    kinds = argument_kinds(full)
    aux, leaves = _structure(transform, target, full, kinds, transform.has_aux)
    tangent_fns = [adjoint_functions(target, (p,), "jvp", kinds)[0] for p in positions]
    name = identifier_for(getattr(target, "__name__", "f"))
    key = ("jacfwd", target, tuple(tangent_fns), len(full), positions, isinstance(transform.positions, int), aux,
           leaves, transform.return_value)
    lines = [f"def jacfwd_of_{name}({_params(len(full))}):\n",
             f"    out = {name}_function({_params(len(full))})\n"] + _split(aux, leaves)
    for i, p in enumerate(positions):
        lines += [f"    columns{k}_{i} = ()\n" for k in range(leaves or 1)]
        lines.append(f"    for tangent in input_basis(arg{p}):\n")
        lines.append(f"        column = {name}_jvp{i}((tangent,), {_params(len(full))})[1]\n")
        if aux is not None:
            lines.append("        column = column[0]\n")
        for k in range(leaves or 1):
            picked = "column" if leaves is None else f"column[{k}]"
            lines.append(f"        columns{k}_{i} = columns{k}_{i} + (np.broadcast_to({picked}, np.shape(leaf{k})),)\n")
    for k in range(leaves or 1):
        lines += [_assembled(k, i, p, f"np.stack(columns{k}_{i}, axis=-1)", f"leaf{k}")
                  for i, p in enumerate(positions)]
    lines.append(_result(transform, positions, leaves, aux))
    namespace = {f"{name}_jvp{i}": fn for i, fn in enumerate(tangent_fns)}
    namespace[f"{name}_function"] = target
    return _made(key, "".join(lines), f"jacfwd of {name} called inside", namespace), prefix


def hessian_inside(transform, args, kwargs):
    """``hessian(f)(*args)`` as ``hessian_of_f``: the tangent function of the generated gradient function
    on each column of the identity, as ``Hessian`` runs it."""
    target, prefix, positions = _inner(transform, args, kwargs)
    full = prefix + tuple(args)
    kinds = argument_kinds(full)
    aux, leaves = _structure(transform, target, full, kinds, transform.has_aux)
    if leaves is not None:
        refuse(transform, "whose function returns a tuple", "hessian needs a scalar output.")
    differentiated = _first_output(target, len(full)) if transform.has_aux else target
    (gradient_fn,) = adjoint_functions(differentiated, positions, "grad", kinds)
    tangent_fns = [adjoint_functions(gradient_fn, (q,), "jvp", kinds)[0] for q in positions]
    name = identifier_for(getattr(target, "__name__", "f"))
    count = len(positions)
    key = ("hessian", gradient_fn, tuple(tangent_fns), len(full), positions, isinstance(transform.positions, int),
           aux)
    lines = [f"def hessian_of_{name}({_params(len(full))}):\n",
             f"    out = {name}_function({_params(len(full))})\n",
             f"    check_outputs(out, aux={aux}, leaves=None)\n",
             f"    value = out{'' if aux is None else '[0]'}\n",
             "    check_scalar(value)\n"]
    if aux is not None:
        lines.append("    aux = out[1]\n" if aux == 1 else
                     f"    aux = ({', '.join(f'out[{i}]' for i in range(1, aux + 1))},)\n")
    for j, q in enumerate(positions):
        lines += [f"    columns{i}_{j} = ()\n" for i in range(count)]
        lines.append(f"    for tangent in input_basis(arg{q}):\n")
        lines.append(f"        column = {name}_gradient_jvp{j}((tangent,), {_params(len(full))})[1]\n")
        lines += [f"        columns{i}_{j} = columns{i}_{j} + (np.broadcast_to(column[{i + 1}], np.shape(arg{p})),)\n"
                  for i, p in enumerate(positions)]
    for i, p in enumerate(positions):
        for j, q in enumerate(positions):
            lines.append(f"    hessian{i}_{j} = np.reshape(np.stack(columns{i}_{j}, axis=-1), "
                         f"np.shape(arg{p}) + np.shape(arg{q})).astype(jacobian_type(arg{p}, arg{q}))\n")
    rows = []
    for i in range(count):
        names = [f"hessian{i}_{j}" for j in range(count)]
        rows.append(names[0] if isinstance(transform.positions, int) else f"({', '.join(names)},)")
    hess = rows[0] if isinstance(transform.positions, int) else f"({', '.join(rows)},)"
    lines.append(f"    return {hess if aux is None else '(' + hess + ', aux)'}\n")
    namespace = {f"{name}_gradient_jvp{j}": fn for j, fn in enumerate(tangent_fns)}
    namespace[f"{name}_function"] = target
    namespace["check_scalar"] = check_scalar
    return _made(key, "".join(lines), f"hessian of {name} called inside", namespace), prefix


def _first_output(target, count):
    """``target``'s first output, as a generated function: what hessian with has_aux differentiates."""
    name = identifier_for(getattr(target, "__name__", "f"))
    source = (f"def first_output_of_{name}({_params(count)}):\n"
              f"    out = {name}_function({_params(count)})\n"
              "    return out[0]\n")
    return _made(("first output", target, count), source, f"first output of {name}", {f"{name}_function": target})


def check_scalar(value):
    if np.size(value) != 1:
        raise ValueError(f"hessian needs its function to return a scalar; it returned shape {np.shape(value)}. "
                         "Use jacfwd(jacrev(f)) for the second derivatives of each output.")


registry.nondifferentiable(check_scalar)



def gradient_inside(transform, args, kwargs, grad_and_value=False):
    """``value_and_grad``, ``grad`` with has_aux or return_value, and ``grad_and_value`` (``grad_and_value``
    True) as ``value_and_grad_of_f``: the generated gradient function (of the first output, with has_aux),
    and the plain function for the value and the auxiliary outputs."""
    if kwargs:
        refuse(transform, "with keyword arguments", "Pass the arguments positionally.")
    if getattr(transform, "weights", None) is not None:
        refuse(transform, "with weights=", "Pass the Parameters as arguments and use grad_position.")
    positions = check_positions(as_tuple(transform.positions), args, transform.fn)
    for p in positions:
        check_input(args[p], p, transform.fn)
        if isinstance(args[p], (tuple, list, dict)) or trees.is_tree(args[p]):
            refuse(transform, f"with respect to a {type(args[p]).__name__} (argument {p})",
                   "Pass each array as an argument of its own.")
    target, prefix = _callee(transform.fn, args)
    full = prefix + tuple(args)
    shifted = tuple(p + len(prefix) for p in positions)
    kinds = argument_kinds(full)
    aux = None
    if transform.has_aux:
        aux, _ = _structure(transform, target, full, kinds, True)
    differentiated = _first_output(target, len(full)) if aux is not None else target
    (gradient_fn,) = adjoint_functions(differentiated, shifted, "grad", kinds)
    name = identifier_for(getattr(target, "__name__", "f"))
    grads = [f"gradient{i}" for i in range(len(shifted))]
    gradient = grads[0] if isinstance(transform.positions, int) else f"({', '.join(grads)},)"
    lines = [f"def value_and_grad_of_{name}({_params(len(full))}):\n"]
    if aux is None:
        lines += [f"    out, {', '.join(grads)} = {name}_gradient({_params(len(full))})\n", "    value = out\n"]
    else:
        lines += [f"    out = {name}_function({_params(len(full))})\n",
                  f"    check_outputs(out, aux={aux}, leaves=None)\n",
                  f"    first, {', '.join(grads)} = {name}_gradient({_params(len(full))})\n",
                  "    value = out[0]\n",
                  "    aux = out[1]\n" if aux == 1 else
                  f"    aux = ({', '.join(f'out[{i}]' for i in range(1, aux + 1))},)\n"]
    if grad_and_value:
        result = f"{gradient}, out" if aux is None else f"{gradient}, (value, aux)"
    elif transform.value_and_grad:
        result = f"out, {gradient}"
    elif transform.return_value:
        result = f"{gradient}, value" + (", aux" if aux is not None else "")
    else:
        result = f"{gradient}, aux"
    lines.append(f"    return ({result})\n")
    key = ("gradient", gradient_fn, target, len(full), shifted, isinstance(transform.positions, int), aux,
           grad_and_value, transform.value_and_grad, transform.return_value)
    return _made(key, "".join(lines), f"value and gradient of {name} called inside",
                 {f"{name}_gradient": gradient_fn, f"{name}_function": target}), prefix
