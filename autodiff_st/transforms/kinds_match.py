"""Whether a call's arguments have given kinds, as generated tests: ``kind_test`` writes the test of one
argument, which the fast caller of a cached ``grad`` (transforms/fast_call.py) inlines, and
``kinds_matcher`` joins them into a function (tests/test_kinds_match.py checks it against
``argument_kinds`` on every pair of sample arguments).

``kinds_matcher(kinds)(*args)`` is ``argument_kinds(args) == kinds`` (runtime/calls.py), without building
the tuple of kinds: for kinds ``(True, (1, float64))`` it is the function

    def matches(a0, a1):
        return type(a0) in numbers and type(a1) is ndarray and a1.ndim == 1 and ((t1 := a1.dtype) is d1 or t1 == d1)

(``numbers`` the set of types ``argument_kinds`` calls numbers). The array's ``ndim`` and ``dtype`` are
read again on each call: an array's ``shape`` and ``dtype`` can be assigned, so the same array object
may have another kind than on the last call. Kinds of a form this does not know give None, and the
caller compares ``argument_kinds``.
"""

import numpy as np

from ..runtime.calls import NUMBER_TYPES

_MATCHERS = {}  # kinds -> matcher


def kinds_matcher(kinds):
    """A function of as many arguments as ``kinds`` returning ``argument_kinds(args) == kinds``; None for
    kinds of a form it does not know."""
    try:
        return _MATCHERS[kinds]
    except KeyError:
        pass
    except TypeError:
        return None  # unhashable kinds
    namespace = {"ndarray": np.ndarray, "numbers": NUMBER_TYPES}
    tests = [kind_test(f"a{i}", i, kind, namespace) for i, kind in enumerate(kinds)]
    if None in tests:
        return None
    params = ", ".join(f"a{i}" for i in range(len(kinds)))
    source = f"def matches({params}):\n    return {' and '.join(tests) or 'True'}\n"
    exec(compile(source, "<kinds_matcher>", "exec"), namespace)  # noqa: S102 (text built above from kinds alone)
    matcher = _MATCHERS[kinds] = namespace["matches"]
    return matcher


def kind_test(name, i, kind, namespace):
    """The expression testing that argument ``name`` (the ``i``-th) has ``kind``, or None for a kind of
    unknown form. It binds ``t{i}`` to an array's dtype, and puts ``d{i}`` (the kind's dtype) into
    ``namespace``, which must also hold ``ndarray`` and ``numbers``."""
    if kind is True:
        return f"type({name}) in numbers"
    if kind is False:
        return f"type({name}) is not ndarray and type({name}) not in numbers"
    if type(kind) is tuple and len(kind) == 2 and type(kind[0]) is int and isinstance(kind[1], np.dtype):
        namespace[f"d{i}"] = kind[1]
        return (f"type({name}) is ndarray and {name}.ndim == {kind[0]} and "
                f"((t{i} := {name}.dtype) is d{i} or t{i} == d{i})")
    return None
