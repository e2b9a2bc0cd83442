"""Whether a call's arguments have given kinds, as one generated comparison. The fast caller of a cached
``grad`` (transforms/fast_call.py) writes the same tests inline; this stand-alone form is kept for
callers that need only the test (and tests/test_kinds_match.py checks the tests against ``argument_kinds``).

``kinds_matcher(kinds)(*args)`` is ``argument_kinds(args) == kinds`` (runtime/calls.py), without building
the tuple of kinds: for kinds ``(True, (1, float64))`` it is the function

    def matches(a0, a1):
        return type(a0) in numbers and type(a1) is ndarray and a1.ndim == 1 and (a1.dtype is d1 or a1.dtype == d1)

(``numbers`` the set of types ``argument_kinds`` calls numbers). The array's ``ndim`` and ``dtype`` are
read again on each call: an array's ``shape`` and ``dtype`` can be assigned, so the same array object
may have another kind than on the last call. Kinds of a form this does not know give None, and the
caller compares ``argument_kinds``.
"""

import numpy as np

from ..runtime.calls import _NUMBER_TYPES

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
    tests = []
    namespace = {"ndarray": np.ndarray, "numbers": _NUMBER_TYPES}
    for i, kind in enumerate(kinds):
        a = f"a{i}"
        if kind is True:
            tests.append(f"type({a}) in numbers")
        elif kind is False:
            tests.append(f"type({a}) is not ndarray and type({a}) not in numbers")
        elif type(kind) is tuple and len(kind) == 2 and type(kind[0]) is int and isinstance(kind[1], np.dtype):
            namespace[f"d{i}"] = kind[1]
            tests.append(f"type({a}) is ndarray and {a}.ndim == {kind[0]} and ({a}.dtype is d{i} or {a}.dtype == d{i})")
        else:
            return None
    params = ", ".join(f"a{i}" for i in range(len(kinds)))
    source = f"def matches({params}):\n    return {' and '.join(tests) or 'True'}\n"
    exec(compile(source, "<kinds_matcher>", "exec"), namespace)  # noqa: S102 (text built above from kinds alone)
    matcher = _MATCHERS[kinds] = namespace["matches"]
    return matcher
