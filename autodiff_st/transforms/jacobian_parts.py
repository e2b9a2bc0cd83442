"""What the Jacobian transforms share: checks of their inputs and outputs, the basis vectors they push
through generated code, and the nesting of their results.

Conventions (docs/api.md): the Jacobian of output ``o`` with respect to input ``i`` has shape
``o.shape + i.shape``; for tuple outputs and tuple positions the result nests outputs outside and inputs
inside, ``jac[out_index][in_index]``; an int position drops the input level and a single output drops
the output level.
"""

import os

import numpy as np

from ..core.errors import InputTypeError
from .checks import check_input, function_name


def is_int(x):
    return isinstance(x, bool) or isinstance(x, (int, np.integer)) or (
        isinstance(x, np.ndarray) and x.dtype.kind in "iub")


def _is_complex(x):
    return isinstance(x, (complex, np.complexfloating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "c")


def check_jacobian_inputs(fn, args, positions, allow_int, holomorphic):
    """The positions that carry a derivative (ints are dropped with allow_int=True)."""
    active = []
    for p in positions:
        x = args[p]
        if is_int(x):
            if not allow_int:
                raise InputTypeError(
                    f"argument {p} of {function_name(fn)} is an integer, and integers have no derivative.",
                    hint="Pass a float instead (2.0, or x.astype(np.float64)), or pass allow_int=True "
                         "for a zero Jacobian with respect to it.")
            continue
        if isinstance(x, (tuple, list, dict)):
            raise InputTypeError(
                f"argument {p} of {function_name(fn)} is a {type(x).__name__}: Jacobians are taken with respect "
                "to arrays and floats.", hint="Pass the arrays as separate arguments.")
        if _is_complex(x) and not holomorphic:
            raise InputTypeError(f"argument {p} of {function_name(fn)} is complex.",
                                 hint="Pass holomorphic=True for the complex Jacobian of a holomorphic function.")
        check_input(x, p, fn, allow_complex=holomorphic)
        active.append(p)
    return active


def output_leaves(y, fn, holomorphic):
    """The outputs of ``fn`` as a list, and whether it returned a tuple of them."""
    leaves = list(y) if isinstance(y, tuple) else [y]
    for leaf in leaves:
        if _is_complex(leaf) and not holomorphic:
            raise InputTypeError(f"{function_name(fn)} returns a complex value; pass holomorphic=True to take its "
                                 "Jacobian.")
        if not isinstance(leaf, (float, int, np.ndarray, np.generic)):
            raise InputTypeError(f"{function_name(fn)} returns a {type(leaf).__name__}: Jacobians are taken of "
                                 "arrays and floats, or tuples of them.")
    return leaves, isinstance(y, tuple)


def jacobian_dtype(out_leaf, x):
    return np.result_type(np.asarray(out_leaf).dtype, np.asarray(x).dtype, np.float32)


def nest(blocks, tuple_out, int_position):
    """blocks[k][i]: the Jacobian of output k with respect to input i; drop the levels the caller asked to."""
    rows = [b[0] if int_position else tuple(b) for b in blocks]
    return tuple(rows) if tuple_out else rows[0]


_BASES = {}  # (shape, dtype, start, stop) -> read-only rows of the identity, reused across calls
_BASES_KEPT = 16  # at most this many ...
_BASIS_BYTES_KEPT = 8 * 2 ** 20  # ... of at most this size each; a larger basis is made for each call


def basis(shape, dtype, start, stop):
    """Rows ``start`` to ``stop`` of the identity on arrays of ``shape``, with a leading batch axis: a
    read-only array, made once per (shape, dtype, rows) and reused by later calls."""
    dtype = np.dtype(dtype)
    key = (tuple(shape), dtype, start, stop)
    rows = _BASES.get(key)
    if rows is None:
        size = int(np.prod(shape, dtype=np.int64))
        rows = np.zeros((stop - start, size), dtype=dtype)
        rows[np.arange(stop - start), np.arange(start, stop)] = 1
        rows = rows.reshape((stop - start,) + tuple(shape))
        _keep(key, rows)
    return rows


def _keep(key, rows):
    """Make ``rows`` read-only and keep it for the next call, within the cache's bounds."""
    rows.flags.writeable = False
    if rows.nbytes <= _BASIS_BYTES_KEPT:
        if len(_BASES) >= _BASES_KEPT:
            _BASES.pop(next(iter(_BASES)), None)
        _BASES[key] = rows


def repeated_basis(shape, dtype, times):
    """Every row of the identity on arrays of ``shape``, the whole block repeated ``times`` times:
    ``(times * size,) + shape``, read-only, cached like ``basis``."""
    dtype = np.dtype(dtype)
    key = (tuple(shape), dtype, "repeated", times)
    rows = _BASES.get(key)
    if rows is None:
        eye = basis(shape, dtype, 0, int(np.prod(shape, dtype=np.int64)))
        rows = np.broadcast_to(eye, (times,) + eye.shape).reshape((-1,) + tuple(shape))
        _keep(key, rows)
    return rows


def slot_basis(shape, dtype, offset, total, times):
    """The tangents of one input when the columns of several inputs go through one pass: per element,
    ``total`` rows, of which rows ``offset`` to ``offset + size`` are the identity on arrays of ``shape``
    and the others zero; the block repeated ``times`` times: ``(times * total,) + shape``, read-only,
    cached like ``basis``."""
    dtype = np.dtype(dtype)
    key = (tuple(shape), dtype, "slot", offset, total, times)
    rows = _BASES.get(key)
    if rows is None:
        size = int(np.prod(shape, dtype=np.int64))
        block = np.zeros((total, size), dtype=dtype)
        block[np.arange(offset, offset + size), np.arange(size)] = 1
        rows = np.broadcast_to(block, (times,) + block.shape).reshape((times * total,) + tuple(shape))
        _keep(key, rows)
    return rows


def one_hot(shape, dtype, index):
    e = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=dtype)
    e[index] = 1
    e = e.reshape(shape)
    return e


def as_like(t, x):
    """A tangent or cotangent shaped for ``x``: a Python float for a float."""
    if isinstance(x, float):
        return float(t)
    return t


def zero_like_output(y):
    if isinstance(y, float):
        return 0.0
    return np.zeros(np.shape(y), dtype=np.asarray(y).dtype)


def where_defined(target):
    """``name (file.py:line)`` of a Python function, for the first line of a Jacobian's source."""
    code = getattr(target, "__code__", None)
    name = getattr(target, "__name__", "the function")
    if code is None:
        return name
    return f"{name} ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"
