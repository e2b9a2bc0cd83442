"""Rules for functions that move elements around without changing them: reshape, transpose, ..."""

import numpy as np

from ..runtime import astype, cast_like, split_like, transpose_axes_inverse, unbroadcast_to_shape, unstack
from . import vjp_rule, nondifferentiable, method, attribute


@vjp_rule(np.reshape)
def reshape(g, ans, a, shape=None, order="C", **kwargs):
    return np.reshape(g, np.shape(a), order=order)


@vjp_rule(np.ravel)
def ravel(g, ans, a, order="C"):
    return np.reshape(g, np.shape(a), order=order)


@vjp_rule(np.transpose)
def transpose(g, ans, a, axes=None):
    return np.transpose(g, transpose_axes_inverse(axes, np.ndim(a)))


@vjp_rule(np.swapaxes, diff=("a",))
def swapaxes(g, ans, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


@vjp_rule(np.squeeze)
def squeeze(g, ans, a, axis=None):
    return np.reshape(g, np.shape(a))


@vjp_rule(np.expand_dims, diff=("a",))
def expand_dims(g, ans, a, axis):
    return np.reshape(g, np.shape(a))


@vjp_rule(np.broadcast_to, diff=("array",))
def broadcast_to(g, ans, array, shape):
    return unbroadcast_to_shape(g, np.shape(array))


@vjp_rule(np.copy, np.array, np.asarray, np.ascontiguousarray)
def copy(g, ans, a, **kwargs):
    return g


@vjp_rule(astype, diff=("x",))
def astype_rule(g, ans, x, dtype, **kwargs):
    return cast_like(g, x)


method("reshape", np.reshape, kind="pack")
method("transpose", np.transpose, kind="pack")
method("ravel", np.ravel)
method("flatten", np.ravel)
method("squeeze", np.squeeze)
method("swapaxes", np.swapaxes)
method("copy", np.copy)
attribute("T", np.transpose)

nondifferentiable(
    np.shape, np.ndim, np.size, np.zeros_like, np.ones_like, np.empty_like, np.full_like,
    np.zeros, np.ones, np.empty, np.full, np.eye, np.identity, np.arange, np.linspace,
)


@vjp_rule(np.concatenate, sequences=("arrays",))
def concatenate(g, ans, arrays, axis=0):
    return split_like(g, arrays, axis)


@vjp_rule(np.stack, sequences=("arrays",))
def stack(g, ans, arrays, axis=0):
    return unstack(g, len(arrays), axis)
