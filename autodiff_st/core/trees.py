"""Pytrees: objects whose values are differentiated through their parts (JAX's word).

Tuples, lists and dicts are handled by the compiler itself. This module knows the other kinds of
node: a dataclass instance (its parts are the values of its ``init`` fields, in field order), a
NamedTuple (its elements), and an instance of a class registered with ``register_pytree(cls,
flatten, unflatten)``, where ``flatten(obj)`` returns ``(children, aux_data)`` and
``unflatten(aux_data, children)`` makes an object again, as JAX's ``register_pytree_node``.

Inside generated code the cotangent of such an object is ``Parts``, one cotangent per child, and its
tangent a tuple with one tangent per child; the transforms give gradients back as instances of the
class (``rebuild``). A child that holds no floating-point number (an int, a string, None) is not
differentiated: a gradient keeps it as it is.
"""

import dataclasses

import numpy as np

from .errors import NonDifferentiableError, OptionTypeError

_REGISTERED = {}  # class -> (flatten, unflatten)


def register_pytree(cls, flatten, unflatten):
    """Register ``cls`` as a pytree node: ``flatten(obj) -> (children, aux_data)`` and
    ``unflatten(aux_data, children) -> obj``. Its instances can then be differentiated arguments,
    outputs and auxiliary outputs of every transform; ``children`` are differentiated, ``aux_data`` is
    not. Returns ``cls``."""
    if not isinstance(cls, type):
        raise OptionTypeError(f"register_pytree takes a class, not a {type(cls).__name__}.")
    if not callable(flatten) or not callable(unflatten):
        raise OptionTypeError("register_pytree takes a class, then its flatten and unflatten functions.")
    if issubclass(cls, (tuple, list, dict, np.ndarray)) and not _is_namedtuple_class(cls):
        raise OptionTypeError(f"{cls.__qualname__} is a tuple, list, dict or array already; it cannot be "
                              "registered as a pytree node.")
    _REGISTERED[cls] = (flatten, unflatten)
    return cls


def _is_namedtuple_class(cls):
    return issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)


def is_tree_class(cls):
    """Whether instances of ``cls`` are pytree nodes of this module (not a plain tuple, list or dict)."""
    if not isinstance(cls, type):
        return False
    return cls in _REGISTERED or _is_namedtuple_class(cls) or dataclasses.is_dataclass(cls)


def is_tree(x):
    """Whether ``x`` is a dataclass instance, a NamedTuple or an instance of a registered class."""
    return is_tree_class(type(x))


def _init_fields(cls):
    return [f.name for f in dataclasses.fields(cls) if f.init]


def field_names(x):
    """The names of ``x``'s children where they have names (dataclass and NamedTuple), else None."""
    cls = type(x)
    if cls in _REGISTERED:
        return None
    if _is_namedtuple_class(cls):
        return list(cls._fields)
    return _init_fields(cls)


def children(x):
    """The children of the pytree node ``x``, as a list."""
    cls = type(x)
    if cls in _REGISTERED:
        kids, _ = _REGISTERED[cls][0](x)
        return list(kids)
    if _is_namedtuple_class(cls):
        return list(x)
    return [getattr(x, name) for name in _init_fields(cls)]


def rebuild(x, new_children):
    """An object like the pytree node ``x`` holding ``new_children``: the registered ``unflatten`` with
    ``x``'s aux_data; for a NamedTuple or a dataclass, its constructor (a dataclass's fields with
    ``init=False`` are made again by its ``__post_init__``, as for any instance)."""
    cls = type(x)
    new_children = list(new_children)
    if cls in _REGISTERED:
        flatten, unflatten = _REGISTERED[cls]
        return unflatten(flatten(x)[1], new_children)
    if _is_namedtuple_class(cls):
        return cls(*new_children)
    return cls(**dict(zip(_init_fields(cls), new_children)))


def holds_floats(x):
    """Whether ``x`` holds a floating-point or complex number anywhere: whether it can be differentiated."""
    if isinstance(x, bool):
        return False
    if isinstance(x, (float, complex, np.floating, np.complexfloating)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fcO"
    if isinstance(x, (tuple, list)):
        return any(holds_floats(e) for e in x)
    if isinstance(x, dict):
        return any(holds_floats(e) for e in x.values())
    if is_tree(x):
        return any(holds_floats(e) for e in children(x))
    if is_library_array(x):  # an array of dask, CuPy, array-api-strict, ...: by its dtype's name
        return str(x.dtype).rsplit(".", 1)[-1].startswith(("float", "complex"))
    return False


_LIBRARY_MODULES = ("dask.", "cupy.", "torch", "jax")


def is_library_array(x):
    """Whether ``x`` is an array of an array library other than numpy (dask, CuPy, array-api-strict, ...),
    told by its class alone (runtime/namespaces.py asks array-api-compat where it matters)."""
    kind = type(x)
    return hasattr(x, "dtype") and (hasattr(kind, "__array_namespace__")
                                    or kind.__module__.startswith(_LIBRARY_MODULES))


def _type_name(x):
    return type(x).__qualname__


def child_index(x, name, origin=None):
    """Which child of the pytree node ``x`` the attribute ``x.<name>`` reads, or None for an attribute
    that holds no floating-point number (it is not differentiated). Refuses an attribute with floats
    that is not a child (a property, a field with ``init=False``, aux_data): its derivative is not known."""
    names = field_names(x)
    if names is not None and name in names:
        index = names.index(name)
        return index if holds_floats(children(x)[index]) else None
    if not is_tree(x):
        raise NonDifferentiableError(
            f"autodiff_st has no derivative for the attribute `.{name}` of a differentiated "
            f"{_type_name(x)}.", origin=origin,
            hint="Differentiated objects are arrays, numbers, tuples, lists, dicts, dataclasses, NamedTuples "
                 "and classes registered with ad.register_pytree; use the numpy function instead of the "
                 "attribute, or register the class.")
    value = getattr(x, name)
    found = [] if names is not None else [i for i, c in enumerate(children(x)) if c is value]
    if len(found) == 1:
        return found[0]
    if not found and not holds_floats(value):
        return None
    why = ("is the same object as several of its children" if found else
           "is not one of its children (a property, a field with init=False, or aux_data)")
    raise NonDifferentiableError(
        f"autodiff_st cannot differentiate the attribute `.{name}` of a differentiated {_type_name(x)}: it "
        f"{why}, so how it depends on the differentiated parts is not known.", origin=origin,
        hint="Read the children themselves (the dataclass fields with init=True, or what the registered "
             "flatten returns), and compute the rest from them in the differentiated function.")


def constructor_sources(obj, cls, keywords, values, origin=None):
    """For ``obj = cls(*positional, **keywords)`` made from ``values`` (the positional values, then those of
    ``keywords``): for each child of ``obj``, the index of the value it is, or None for a child that is
    no value (a default, a constant the constructor made). Refuses what would hide a derivative: a
    child with floats that the constructor computed (it is none of the values), and a value with floats
    that no child keeps."""
    kids = children(obj)
    names = field_names(obj)
    count = len(values) - len(keywords)
    sources = [None] * len(kids)
    if names is not None:
        # By name: the parameters of a dataclass's or NamedTuple's constructor are its fields.
        positional = {}
        params = names if _is_namedtuple_class(cls) else _init_fields(cls)
        for j in range(count):
            if j < len(params):
                positional[params[j]] = j
        by_name = dict(positional)
        by_name.update({k: count + i for i, k in enumerate(keywords)})
        for i, field in enumerate(names):
            j = by_name.get(field)
            if j is not None and kids[i] is values[j]:
                sources[i] = j
    else:
        for i, kid in enumerate(kids):
            found = [j for j, v in enumerate(values) if v is kid]
            if len(found) > 1 and holds_floats(kid):
                raise NonDifferentiableError(
                    f"autodiff_st cannot tell which argument of {cls.__qualname__}(...) its child {i} comes "
                    "from: several arguments are the same object.", origin=origin,
                    hint="Pass distinct arrays (a copy, for example).")
            sources[i] = found[0] if found else None
    for i, kid in enumerate(kids):
        if sources[i] is None and holds_floats(kid) and not _is_default(cls, names, i, kid):
            raise NonDifferentiableError(
                f"autodiff_st cannot differentiate this construction of {cls.__qualname__}: its child "
                f"{names[i] if names else i} holds floats that its constructor computed, not one of the "
                "arguments as it was given.", origin=origin,
                hint="Compute the value before the call and pass it, or differentiate a plain function of "
                     "the arguments.")
    kept = set(s for s in sources if s is not None)
    for j, v in enumerate(values):
        if j not in kept and holds_floats(v):
            what = keywords[j - count] if j >= count else f"argument {j}"
            raise NonDifferentiableError(
                f"autodiff_st cannot differentiate this construction of {cls.__qualname__}: {what} holds "
                "floats, and no child of the object keeps it as it was given.", origin=origin,
                hint="Store the value in a field with init=True (for a registered class, among the "
                     "children that flatten returns).")
    return sources


def _is_default(cls, names, i, kid):
    """Whether child ``i`` of a dataclass made by ``cls`` is its field's default, unchanged."""
    if names is None or _is_namedtuple_class(cls):
        defaults = getattr(cls, "_field_defaults", {}) if names is not None else {}
        return names is not None and names[i] in defaults and defaults[names[i]] is kid
    if hasattr(cls, "__post_init__"):
        return False  # it may have computed the field from the others
    field = {f.name: f for f in dataclasses.fields(cls)}[names[i]]
    if field.default is kid:
        return True
    # The constructor dataclasses wrote (its source is not a file) takes a missing field from its
    # default_factory: a constant.
    generated = getattr(getattr(cls.__init__, "__code__", None), "co_filename", "").startswith("<")
    return generated and field.default_factory is not dataclasses.MISSING
