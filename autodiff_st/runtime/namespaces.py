"""The array library of the values a helper is given: numpy on the fast path, any other through array-api-compat.

Generated code and the runtime helpers create arrays (zeros for an accumulation, ones for a seed, a sum that
undoes broadcasting) with the library of the arrays they were given, so an adjoint of a function called on
dask or CuPy arrays returns arrays of that library. ``namespace_of(x)`` answers which library: numpy for a
numpy array, a numpy scalar or a Python number (a cheap type check, so the numpy path pays nothing), and
otherwise the namespace array-api-compat gives (``array_api_compat.array_namespace``), which wraps dask,
CuPy, array-api-strict and the other libraries of the array API standard. The project writes no dispatch
layer of its own.

``is_foreign(x)`` says whether ``x`` is an array of another library; ``is_lazy(x)`` whether its values are
known only when computed (dask), so a helper that must read a value (a Python ``float`` of it, a branch
on it) refuses with ``BackendError`` naming the backend and the construct (``refuse_lazy``).
"""

import array_api_compat
import numpy as np

from ..core.errors import BackendError

__all__ = ["namespace_of", "as_array", "is_foreign", "is_lazy", "backend_name", "refuse_lazy", "refuse_backend",
           "foreign_index_grad"]

_NUMPY_TYPES = (np.ndarray, np.generic, float, int, bool, complex)


def _is_library_array(x):
    """Whether ``x`` is an array of an array library: its class has ``__array_namespace__`` (an instance that
    only forwards attributes, as vmap's ``Batched`` does, is not one), or array-api-compat knows its type."""
    return (hasattr(type(x), "__array_namespace__") or array_api_compat.is_dask_array(x)
            or array_api_compat.is_cupy_array(x) or array_api_compat.is_torch_array(x)
            or array_api_compat.is_jax_array(x))


def namespace_of(*xs):
    """The array namespace of ``xs``: ``numpy`` when every one is a numpy array, a numpy scalar, a Python
    number or None; otherwise the array-api-compat namespace of the arrays among them (dask, CuPy,
    array-api-strict, ...)."""
    foreign = [x for x in xs if x is not None and not isinstance(x, _NUMPY_TYPES)]
    if not foreign:
        return np
    arrays = [x for x in foreign if _is_library_array(x)]
    if not arrays:
        return np
    return array_api_compat.array_namespace(*arrays)


def is_foreign(x):
    """Whether ``x`` is an array of a library other than numpy (dask, CuPy, array-api-strict, ...)."""
    if isinstance(x, _NUMPY_TYPES) or x is None:
        return False
    return _is_library_array(x) and not array_api_compat.is_numpy_array(x)


def as_array(x):
    """``x`` as an array: an array of another library as it is (so a dask array stays lazy and is not
    computed on the driver), anything else through ``np.asarray``."""
    return x if is_foreign(x) else np.asarray(x)


def is_lazy(x):
    """Whether ``x`` is an array whose values are known only once computed (a dask array)."""
    if isinstance(x, _NUMPY_TYPES) or x is None:
        return False
    return array_api_compat.is_lazy_array(x) if _is_library_array(x) else False


def backend_name(x):
    """The name of the library of ``x``, as a user would write it: ``dask.array``, ``cupy``, ..."""
    if array_api_compat.is_dask_array(x):
        return "dask.array"
    if array_api_compat.is_cupy_array(x):
        return "cupy"
    module = type(x).__module__.split(".")[0]
    return module


def refuse_lazy(x, construct, hint=None):
    """Raise ``BackendError`` when ``x`` is lazy: ``construct`` needs its values on the driver."""
    if is_lazy(x):
        raise BackendError(
            f"autodiff_st: {construct} needs the values of a {backend_name(x)} array on the driver, which a "
            f"lazy {backend_name(x)} array does not have until it is computed.",
            hint=hint or "Call .compute() on the value first, or keep this part of the function in numpy.")


def refuse_backend(x, rule, missing):
    """Raise ``BackendError``: the rule ``rule`` needs ``missing``, which the library of ``x`` lacks."""
    raise BackendError(
        f"autodiff_st: the derivative rule of {rule} needs {missing}, which {backend_name(x)} arrays do not "
        f"provide.", hint="Convert the value to numpy for this call (np.asarray) or use another formula.")


def foreign_index_grad(v, x, index):
    """The gradient of ``x[index]`` for an array ``x`` of another library: ``v`` written into zeros like
    ``x`` in its namespace. A basic index (ints, slices, ``None``, ``...``) is a write, which dask, CuPy and
    the array API all have; an integer-array or boolean index would need a scatter-add (``np.add.at``),
    which is refused with ``BackendError`` naming the backend."""
    index = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, (int, slice, type(None), type(Ellipsis), np.integer)) for i in index):
        refuse_backend(x, "x[index] with an integer-array or boolean index", "a scatter-add (np.add.at)")
    xp = namespace_of(x, v)
    out = xp.zeros_like(x)
    if any(i is None for i in index):  # a new axis has length 1 in v: write v without it
        index = tuple(i for i in index if i is not None)
        v = xp.reshape(v, tuple(out[index].shape))
    out[index] = v
    return out
