"""Checks of the cotangents that a user's derivative rule returns, run by generated code.

A rule registered with ``ad.register_vjp``, or the backward function of an ``ad.custom_vjp``, returns one
cotangent per differentiable argument. A cotangent of another shape would otherwise be broadcast or summed
into place without a word, so generated code checks each against its argument: the same shape (the
logical shape for a batched value), and, for a real float argument, a real float dtype (an integer,
boolean or complex array is refused). Both checks return None and are not differentiated.
"""

import numpy as np

from ..core.errors import CotangentError

__all__ = ["check_rule_cotangent", "check_custom_cotangents"]


def _shape(v):
    shape = getattr(v, "shape", None)
    return tuple(shape) if shape is not None else np.shape(v)


def _is_checkable(x):
    return isinstance(x, (float, int, np.ndarray, np.generic)) or hasattr(x, "value") and hasattr(x, "shape")


def _problem(cotangent, operand):
    """Why ``cotangent`` cannot be the cotangent of ``operand``, or None."""
    if cotangent is None:
        return "None (return zeros for an argument with a zero cotangent)"
    if not _is_checkable(operand) or not _is_checkable(cotangent):
        return None  # a container or other pytree: its parts are checked where they are used
    if _shape(cotangent) != _shape(operand):
        return f"shape {_shape(cotangent)}, but the argument has shape {_shape(operand)}"
    dtype = getattr(cotangent, "dtype", None)
    operand_kind = np.asarray(operand).dtype.kind if not hasattr(operand, "value") else operand.dtype.kind
    if dtype is not None and operand_kind == "f" and np.dtype(dtype).kind != "f":
        return f"dtype {np.dtype(dtype)}, but the argument is a real float"
    return None


def check_rule_cotangent(cotangent, operand, rule, parameter):
    """Refuse a cotangent from the registered rule ``rule`` (its name) for ``parameter`` that does not
    match the argument ``operand``."""
    problem = _problem(cotangent, operand)
    if problem is not None:
        raise CotangentError(f"the derivative rule registered for {rule} returned a cotangent for `{parameter}` "
                             f"with {problem}.",
                             hint="A rule returns one cotangent per differentiable parameter, each with its "
                                  "argument's shape (sum over broadcast axes yourself).")


def check_custom_cotangents(cotangents, function, names, *operands):
    """Refuse what the backward function of the custom_vjp ``function`` (its name) returned unless it is a
    tuple with one cotangent per differentiable argument (``names``, a comma-separated string), each
    matching its argument."""
    names = names.split(",")
    if not isinstance(cotangents, (tuple, list)) or len(cotangents) != len(operands):
        got = (f"a {type(cotangents).__name__}" if not isinstance(cotangents, (tuple, list))
               else f"{len(cotangents)} cotangents")
        raise CotangentError(f"the backward function of the custom_vjp {function} returned {got}; it returns a "
                             f"tuple of {len(operands)} cotangent{'s' if len(operands) != 1 else ''}, one for "
                             f"each of ({', '.join(names)}).",
                             hint="Return a tuple even for one argument: return (g * ...,).")
    for cotangent, operand, name in zip(cotangents, operands, names):
        problem = _problem(cotangent, operand)
        if problem is not None:
            raise CotangentError(f"the backward function of the custom_vjp {function} returned a cotangent "
                                 f"for `{name}` with {problem}.",
                                 hint="Each cotangent has its argument's shape and a float dtype.")
