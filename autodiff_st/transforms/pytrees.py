"""Jacobians with respect to tuples, lists, dicts, dataclasses, NamedTuples and registered classes of
arrays (JAX's pytrees).

The transform differentiates a small generated function that takes the containers' leaves one by one
and rebuilds the containers for the user's function (a pytree object through ``tree_from_children``,
whose rules send each child's derivative to its leaf); the leaves' Jacobians are then put back in the
inputs' structure. A child of a pytree object that holds no float is passed as it is, not differentiated.
"""

from ..core import trees
from ..core.errors import InputTypeError
from ..core.names import identifier_for
from ..core.transform import Transform
from ..runtime.loader import small_function
from ..runtime.trees import tree_children, tree_from_children
from .checks import target_of


def is_container(x):
    return isinstance(x, (tuple, list, dict)) or trees.is_tree(x)


def has_containers(args, positions):
    return any(is_container(args[p]) for p in positions)


def _leaves(tree, path=()):
    """``(path, leaf)`` for each array or number in a tuple, list or dict, in order (dict keys sorted as
    given). The children of a pytree object that hold no float are not leaves."""
    if trees.is_tree(tree):
        return [item for i, t in enumerate(trees.children(tree)) if trees.holds_floats(t)
                for item in _leaves(t, path + (i,))]
    if isinstance(tree, (tuple, list)):
        return [item for i, t in enumerate(tree) for item in _leaves(t, path + (i,))]
    if isinstance(tree, dict):
        return [item for k, t in tree.items() for item in _leaves(t, path + (k,))]
    return [(path, tree)]


def _display(tree, names, constants):
    """Source text that rebuilds ``tree`` from the names of its leaves (an iterator, in ``_leaves`` order).

    A dict's keys must be written as constants (the compiler differentiates dict displays with constant
    keys only), so they are exact ``str`` or ``int`` values, written by the builtin ``repr``: a subclass's
    ``__repr__`` is user code, and its ``__eq__``/``__hash__`` could make a plain copy a different key."""
    if trees.is_tree(tree):  # rebuilt like the argument; children without floats are constants
        parts = [_display(t, names, constants) if trees.holds_floats(t) else _constant(t, constants)
                 for t in trees.children(tree)]
        return f"tree_from_children({', '.join([_constant(tree, constants)] + parts)})"
    if isinstance(tree, (tuple, list)):
        items = ", ".join(_display(t, names, constants) for t in tree)
        if isinstance(tree, list):
            return f"[{items}]"
        return f"({items},)" if len(tree) == 1 else f"({items})"
    if isinstance(tree, dict):
        for key in tree:
            _check_key(key, "input", "pass")
        return "{" + ", ".join(f"{type(key).__repr__(key)}: {_display(t, names, constants)}"
                               for key, t in tree.items()) + "}"
    return next(names)


def _check_key(key, side, verb):
    """Refuse a dict key the generated function could not write as a constant (see ``_display``)."""
    if type(key) not in (str, int):
        raise InputTypeError(
            f"a dict {side} has a key of type {type(key).__module__}.{type(key).__qualname__}: Jacobians of dict "
            f"{side}s take keys that are exactly str or int.",
            hint=f"Use plain str or int keys, or {verb} the arrays as a tuple.")


def _constant(value, constants):
    """The name under which the generated function reads ``value``, a value passed as it is."""
    name = f"constant{len(constants)}"
    constants[name] = value
    return name


def _rebuild(tree, values):
    """``tree``'s structure with its leaves replaced by ``values`` (an iterator, in ``_leaves`` order)."""
    if trees.is_tree(tree):
        return trees.rebuild(tree, [_rebuild(t, values) if trees.holds_floats(t) else t
                                    for t in trees.children(tree)])
    if isinstance(tree, (tuple, list)):
        return type(tree)(_rebuild(t, values) for t in tree)
    if isinstance(tree, dict):
        return {k: _rebuild(t, values) for k, t in tree.items()}
    return next(values)


def pytree_jacobian(transform, args, positions, hessian=False):
    """A Jacobian with respect to tuples, lists or dicts of arrays: differentiate a generated function that
    takes their leaves one by one and rebuilds the containers for ``fn``; then put the leaves' Jacobians
    back in the input's structure (JAX's convention). With ``hessian``, both levels of the result are
    per position (``hess[p][q]``); otherwise the outer level is per output."""
    fn = transform.fn
    params, passed, flat_args, flat_positions, groups = [], [], [], [], {}
    constants = {"tree_from_children": tree_from_children}
    for i, a in enumerate(args):
        if i in positions and is_container(a):
            leaves = _leaves(a)
            names = [f"arg{i}_{k}" for k in range(len(leaves))]
            groups[i] = list(range(len(flat_args), len(flat_args) + len(names)))
            params += names
            passed.append(_display(a, iter(names), constants))
            flat_args += [leaf for _, leaf in leaves]
        else:
            if i in positions:
                groups[i] = [len(flat_args)]
            params.append(f"arg{i}")
            passed.append(f"arg{i}")
            flat_args.append(a)
    for i in positions:
        flat_positions += groups[i]
    name = identifier_for(getattr(target_of(fn)[0], "__name__", "f")) if not isinstance(fn, Transform) else "f"
    name = "f" if name.startswith(("arg", "key", "constant", "tree_from")) else name  # clear of the other names
    call = f"{name}({', '.join(passed)})"
    if transform.has_aux:  # the compiler sees the outputs as a tuple: unpack and return them
        out = fn(*args)
        count = len(out) if isinstance(out, tuple) else 1
        outs = ", ".join(f"out{k}" for k in range(count))
        body = f"    {outs}, = {call}\n    return ({outs},)\n"
    else:
        body = f"    return {call}\n"
    source = f"def {name}_of_leaves({', '.join(params)}):\n" + body
    flat_fn = small_function(source, f"{name} of the leaves of its containers", {name: fn, **constants})
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
            out.append(_rebuild(args[i], iter(picked)) if is_container(args[i]) else picked[0])
        return out[0] if isinstance(transform.positions, int) else tuple(out)

    if hessian:
        rows = [regroup(row) for row in jac]
        jac = regroup(rows)
    else:
        y = result[1] if transform.return_value else fn(*args)
        y = y[0] if transform.has_aux and not transform.return_value else y
        if is_tree_output(y):  # an object of y's class, each child's Jacobian per flat input
            jac = trees.rebuild(y, [regroup(j) if trees.holds_floats(kid) else kid
                                    for j, kid in zip(trees.children(jac), trees.children(y))])
        elif is_container_output(y):  # lists and dicts of Jacobians, in y's structure
            jac = _rebuild(y, iter([regroup(block) for block in _blocks_like(y, jac)]))
        elif isinstance(y, tuple):
            jac = retyped_jacobian(tuple(regroup(block) for block in jac), y, True)
        else:
            jac = regroup(jac)
    if weighted:
        jac = (jac, weight_jacs)
    return (jac,) + tuple(result[1:]) if wrapped else jac


def is_tree_output(y):
    """Whether ``y`` is an output that the Jacobians take apart by ``tree_output_jacobian``: a pytree
    object other than a NamedTuple (a tuple, whose Jacobian nests like a tuple's and is then retyped)."""
    return trees.is_tree(y) and not isinstance(y, tuple)


def tree_output_jacobian(transform, args, y):
    """The Jacobian of a function whose output ``y`` (the first output, with has_aux) is a pytree object:
    differentiate a generated function that returns the output's children as a tuple, then put the
    children's Jacobians back into an object of ``y``'s class. Children that hold no floats stay as
    they are."""
    fn = transform.fn
    name = identifier_for(getattr(target_of(fn)[0], "__name__", "f"))
    name = "f" if name.startswith(("arg", "out", "tree_children")) else name
    params = ", ".join(f"arg{i}" for i in range(len(args)))
    call = f"{name}({params})"
    if transform.has_aux:
        out = fn(*args)
        outs = ", ".join(f"out{k}" for k in range(len(out)))
        rest = "".join(f", out{k}" for k in range(1, len(out)))
        body = f"    {outs}, = {call}\n    return (tree_children(out0){rest})\n"
    else:
        body = f"    return tree_children({call})\n"
    source = f"def {name}_children({params}):\n" + body
    flat_fn = small_function(source, f"{name} with its output taken apart",
                             {name: fn, "tree_children": tree_children})
    kids = trees.children(y)
    return _rebuilt_result(transform, transform.rebind(flat_fn)(*args), y, lambda jac: trees.rebuild(
        y, [j if trees.holds_floats(kid) else kid for j, kid in zip(jac, kids)]))


def _rebuilt_result(transform, result, y, rebuild):
    """What ``transform`` returns, from the result of the transform of the generated function that took
    ``y`` apart: its Jacobian rebuilt in ``y``'s structure, then the value (``y`` itself) and aux."""
    wrapped = transform.has_aux or transform.return_value
    jac = rebuild(result[0] if wrapped else result)
    if not wrapped:
        return jac
    rest = list(result[1:])
    if transform.return_value:
        rest[0] = y
    return (jac, *rest)


def retyped_jacobian(jac, y, tuple_out):
    """The Jacobian of a NamedTuple output as that NamedTuple (its elements' Jacobians)."""
    if tuple_out and trees.is_tree(y):
        return type(y)(*jac)
    return jac


def is_container_output(y):
    """Whether ``y`` is an output that holds lists or dicts (a list, a dict, or a tuple with one inside), and
    no pytree object: ``container_output_jacobian`` takes it apart, as JAX takes a pytree output apart."""
    def containers(node):
        if trees.is_tree(node):
            return None
        if isinstance(node, (list, dict)):
            inner = [containers(t) for t in (node.values() if isinstance(node, dict) else node)]
            return None if None in inner else True
        if isinstance(node, tuple):
            inner = [containers(t) for t in node]
            return None if None in inner else any(inner)
        return False

    return isinstance(y, (tuple, list, dict)) and bool(containers(y))


def _blocks_like(y, jac):
    """The Jacobian blocks of ``jac``, which has the structure of the output ``y``, in ``_leaves`` order."""
    if isinstance(y, (tuple, list)):
        return [block for t, j in zip(y, jac) for block in _blocks_like(t, j)]
    if isinstance(y, dict):
        return [block for k, t in y.items() for block in _blocks_like(t, jac[k])]
    return [jac]


def _path_text(path):
    for key in path:  # a dict's keys, and list and tuple positions (exact ints)
        _check_key(key, "output", "return")
    return "".join(f"[{type(key).__repr__(key)}]" for key in path)


def container_output_jacobian(transform, args, y):
    """The Jacobian of a function whose output ``y`` (the first output, with has_aux) holds lists or dicts:
    differentiate a generated function that returns the output's leaves as a tuple, then put the leaves'
    Jacobians back in ``y``'s structure: a list output gives a list of Jacobians, a dict a dict."""
    fn = transform.fn
    name = identifier_for(getattr(target_of(fn)[0], "__name__", "f"))
    name = "f" if name.startswith(("arg", "out")) else name
    params = ", ".join(f"arg{i}" for i in range(len(args)))
    picks = "".join(f"out0{_path_text(path)}, " for path, _ in _leaves(y))
    if transform.has_aux:
        count = len(fn(*args))
        outs = ", ".join(f"out{k}" for k in range(count))
        rest = "".join(f", out{k}" for k in range(1, count))
        body = f"    {outs}, = {name}({params})\n    return (({picks}){rest})\n"
    else:
        body = f"    out0 = {name}({params})\n    return ({picks})\n"
    flat_fn = small_function(f"def {name}_leaves({params}):\n" + body, f"{name} with its output taken apart",
                             {name: fn})
    return _rebuilt_result(transform, transform.rebind(flat_fn)(*args), y, lambda jac: _rebuild(y, iter(jac)))
