"""Calls whose callee or arguments are put together at run time: ``f(*xs, **d)``, ``functools.partial``
objects, and the closures the normal form makes of nested functions and lambdas.

Each is turned into a small generated function with plain Python source, which the compiler then
differentiates like any function of the user's (and again, for higher derivatives):

- ``call_unpacked(f, layout, *pieces, **keywords)`` is the normal form of a call with ``*`` or ``**``
  arguments. ``layout`` says what each piece is: ``p`` a plain positional argument, ``s`` a sequence
  unpacked with ``*``, ``d`` a mapping unpacked with ``**``. Differentiated, it is ``spreader``'s
  function for the lengths and keys the pieces have in this call: ``function(piece0, piece1[0],
  piece1[1], k=piece2["k"])``, so the derivatives of the elements go back into the sequences and
  mappings they came from.
- A ``functools.partial`` of a function is ``partial_caller``'s function, which calls the partial's
  function with the bound arguments, read as constants, and takes the rest through ``*args`` and
  ``**kwargs`` (which the compiler specializes on each call's arguments).
- ``make_closure(lifted, *captured)`` is the value of a nested function or lambda used other than by
  calling it: a partial of its lifted form (the nested function with the values it reads from the
  enclosing function as leading parameters). The compiler refuses one whose captured values carry a
  derivative, so the bound values are constants, as a partial's are.
- ``sorted_order(items, reverse, key, *captured)`` is the permutation ``sorted`` applies; the normal form of
  ``sorted(items, key=...)`` is ``[items[i] for i in sorted_order(...)]``, whose derivative follows
  each element to its place. The order itself carries no derivative.
"""

import functools
import keyword
import weakref

import numpy as np

from ..core.errors import AutodiffError
from ..core.names import identifier_for
from .loader import small_function


def call_unpacked(function, layout, *pieces, **keywords):
    """``function(*args, **kwargs)`` assembled as ``layout`` says (see the module's docstring)."""
    args, kwargs = [], {}
    for kind, piece in zip(layout, pieces):
        if kind == "p":
            args.append(piece)
        elif kind == "s":
            args.extend(piece)
        else:
            for key in piece:
                if key in kwargs or key in keywords:
                    raise TypeError(f"{getattr(function, '__qualname__', function)}() got multiple values for "
                                    f"keyword argument '{key}'")
                kwargs[key] = piece[key]
    for key, value in keywords.items():
        kwargs[key] = value
    return function(*args, **kwargs)


_SPREADERS = {}


def _clear_of(name, taken):
    while name in taken:
        name += "_"
    return name


def _check_keyword(key, what):
    if not (isinstance(key, str) and str.isidentifier(key) and not keyword.iskeyword(key)):
        raise AutodiffError(f"autodiff_st cannot differentiate {what} with the keyword {key!r}: "
                            "keyword names must be identifiers.")
    return str.__str__(key)


def spreader(pieces, layout, keywords):
    """The generated function a differentiated ``call_unpacked(function, layout, *pieces, **keywords)``
    runs: every element of an unpacked sequence or mapping passed on its own."""
    shape = []
    for kind, piece in zip(layout, pieces):
        if kind == "p":
            shape.append(None)
        elif kind == "s":
            if not isinstance(piece, (tuple, list, np.ndarray)):
                raise AutodiffError(
                    f"autodiff_st cannot differentiate a call that unpacks a {type(piece).__name__} with `*`: "
                    "only a tuple, list or array has elements it can follow.",
                    hint="Make it a tuple first: `f(*tuple(items))`.")
            shape.append(len(piece))
        else:
            if not isinstance(piece, dict):
                raise AutodiffError(
                    f"autodiff_st cannot differentiate a call that unpacks a {type(piece).__name__} with `**`.",
                    hint="Unpack a dict: `f(**dict(mapping))`.")
            shape.append(tuple(_check_keyword(k, "a call with `**`") for k in piece))
    keywords = tuple(_check_keyword(k, "a call") for k in keywords)
    key = (layout, tuple(shape), keywords)
    found = _SPREADERS.get(key)
    if found is None:
        taken = set(keywords)
        function = _clear_of("function", taken)
        layout_name = _clear_of("layout", taken)
        names = [_clear_of(f"piece{i}", taken) for i in range(len(shape))]
        passed, seen = [], set(keywords)
        for name, kind, size in zip(names, layout, shape):
            if kind == "p":
                passed.append(name)
            elif kind == "s":
                passed += [f"{name}[{i}]" for i in range(size)]
            else:
                for k in size:
                    if k in seen:
                        raise TypeError(f"got multiple values for keyword argument '{k}'")
                    seen.add(k)
                    passed.append(f"{k}={name}[{k!r}]")
        passed += [f"{k}={k}" for k in keywords]
        params = [function, layout_name] + names + (["*"] + list(keywords) if keywords else [])
        source = (f"def call_unpacked({', '.join(params)}):\n"
                  f"    return {function}({', '.join(passed)})\n")
        found = _SPREADERS[key] = small_function(source, "call with unpacked arguments", {})
    return found


_PARTIAL_CALLERS = weakref.WeakKeyDictionary()


def partial_caller(partial):
    """A generated function with the partial's behaviour: ``def partial_of_f(*args, k=<bound>, **kwargs):
    return function(<bound args>, *args, k=k, **kwargs)``. A keyword given at the call replaces the
    bound one, as it does for the partial."""
    found = _PARTIAL_CALLERS.get(partial)
    if found is None:
        bound_keywords = tuple(_check_keyword(k, "a functools.partial") for k in partial.keywords)
        taken = set(bound_keywords)
        star, star_star = _clear_of("args", taken), _clear_of("kwargs", taken)
        taken |= {star, star_star}
        function = _clear_of("function", taken)
        taken.add(function)
        bound_names = [_clear_of(f"bound{i}", taken) for i in range(len(partial.args))]
        namespace = {function: partial.func, **dict(zip(bound_names, partial.args))}
        name = identifier_for(getattr(partial.func, "__name__", "function"), "function")
        defaults = {k: _clear_of(f"{k}_default", taken | set(namespace)) for k in bound_keywords}
        keyword_params = "".join(f", {k}={defaults[k]}" for k in bound_keywords)
        for k in bound_keywords:
            namespace[defaults[k]] = partial.keywords[k]
        passed = ", ".join(bound_names + [f"*{star}"] + [f"{k}={k}" for k in bound_keywords] + [f"**{star_star}"])
        source = (f"def partial_of_{name}(*{star}{keyword_params}, **{star_star}):\n"
                  f"    return {function}({passed})\n")
        found = small_function(source, f"functools.partial of {name}", namespace)
        try:
            _PARTIAL_CALLERS[partial] = found
        except TypeError:  # a partial subclass without weak references: build it again next time
            pass
    return found


def make_closure(lifted, *captured):
    """The value of a nested function or lambda: its lifted form with the values it reads from the
    enclosing function bound in front."""
    return functools.partial(lifted, *captured)


def sorted_order(items, reverse=False, key=None, *captured):
    """The positions of ``items`` in the order ``sorted(items, key=key, reverse=reverse)`` puts them: the
    same stable sort, on the same keys. ``captured`` are bound in front of the key's arguments (a lifted
    nested function or lambda)."""
    if captured:
        key = functools.partial(key, *captured)
    if key is None:
        return sorted(range(len(items)), key=items.__getitem__, reverse=reverse)
    keys = [key(item) for item in items]
    return sorted(range(len(items)), key=keys.__getitem__, reverse=reverse)
