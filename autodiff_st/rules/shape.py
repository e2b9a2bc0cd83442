"""Rules for functions that move elements around without changing them: reshape, transpose, ..."""

import numpy as np

from ..runtime import (astype, cast_like, split_like, transpose_axes_inverse, unbroadcast_to_shape, unstack, unjoin,
                       hstack_axis, hsplit_axis, untile, untake, repeat_indices, unpad, undiagonal, diag_grad, extent, undiff,
                       pad_like)
from ..core.registry import vjp_rule, nondifferentiable, method, attribute, linear, jvp_rule


@vjp_rule(np.reshape)
def reshape(g, ans, a, shape=None, order="C", **kwargs):
    # order passed only when it is not the default: dask's reshape takes no order
    return np.reshape(g, np.shape(a)) if order == "C" else np.reshape(g, np.shape(a), order=order)


@vjp_rule(np.ravel)
def ravel(g, ans, a, order="C"):
    return np.reshape(g, np.shape(a)) if order == "C" else np.reshape(g, np.shape(a), order=order)


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
    np.shape, np.ndim, np.size, np.zeros_like, np.ones_like, np.empty_like,
    np.zeros, np.ones, np.empty, np.eye, np.identity,
)


@vjp_rule(np.concatenate, sequences=("arrays",))
def concatenate(g, ans, arrays, axis=0):
    return split_like(g, arrays, axis)


@vjp_rule(np.stack, sequences=("arrays",))
def stack(g, ans, arrays, axis=0):
    return unstack(g, len(arrays), axis)


# -- moving, flipping, tiling, padding, joining and splitting -------------------------------------------

@vjp_rule(np.moveaxis, diff=("a",))
def moveaxis(g, ans, a, source, destination):
    return np.moveaxis(g, destination, source)


@vjp_rule(np.matrix_transpose)
def matrix_transpose(g, ans, x):
    return np.matrix_transpose(g)


@vjp_rule(np.flip)
def flip(g, ans, m, axis=None):
    return np.flip(g, axis)


@vjp_rule(np.fliplr)
def fliplr(g, ans, m):
    return np.fliplr(g)


@vjp_rule(np.flipud)
def flipud(g, ans, m):
    return np.flipud(g)


@vjp_rule(np.roll, diff=("a",))
def roll(g, ans, a, shift, axis=None):
    return np.roll(g, np.negative(shift), axis=axis)


@vjp_rule(np.rot90)
def rot90(g, ans, m, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes)


@vjp_rule(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd(g, ans, ary):
    # One array at a time: with several, numpy returns a tuple.
    return np.reshape(g, np.shape(ary))


@vjp_rule(np.tile, diff=("A",))
def tile(g, ans, A, reps):
    # Each element of A appears once in every tile: its gradient sums them.
    return untile(g, A, reps)


@vjp_rule(np.repeat, diff=("a",))
def repeat(g, ans, a, repeats, axis=None):
    # np.repeat(a, r, axis) is np.take(a, repeat_indices(a, r, axis), axis): the copies add up.
    return untake(g, a, repeat_indices(a, repeats, axis), axis)


@vjp_rule(np.pad, diff=("array",))
def pad(g, ans, array, pad_width, mode="constant", stat_length=None, constant_values=0, end_values=0,
        reflect_type="even"):
    # Constant padding adds no dependence on array; edge, reflect, symmetric and wrap copy elements of
    # array, whose gradients add up. The statistic and ramp modes are refused.
    return unpad(g, array, pad_width, mode, reflect_type)


@vjp_rule(np.diagonal)
def diagonal(g, ans, a, offset=0, axis1=0, axis2=1):
    return undiagonal(g, a, offset, axis1, axis2)


@vjp_rule(np.diag)
def diag(g, ans, v, k=0):
    # np.diag builds a matrix from a vector and takes the diagonal of a matrix; each is the other's
    # transpose.
    return diag_grad(g, v, k)


@vjp_rule(np.diagflat)
def diagflat(g, ans, v, k=0):
    return np.reshape(np.diag(g, k), np.shape(v))


@vjp_rule(np.linalg.diagonal)
def linalg_diagonal(g, ans, x, offset=0):
    # The diagonals of the last two axes.
    return undiagonal(g, x, offset, -2, -1)


@vjp_rule(np.diff)
def diff(g, ans, a, n=1, axis=-1):
    # n-th differences along axis: the transpose of each difference is minus the difference of the
    # cotangent padded with a zero at both ends. (prepend= and append= are not handled.)
    return undiff(g, a, n, axis)


@vjp_rule(np.triu)
def triu(g, ans, m, k=0):
    return np.triu(g, k)


@vjp_rule(np.tril)
def tril(g, ans, m, k=0):
    return np.tril(g, k)


@vjp_rule(np.append, diff=("arr", "values"))
def append(g, ans, arr, values, axis=None):
    # The first entries along axis (all of them flattened, for axis=None) come from arr, the rest from values.
    n = extent(arr, axis)
    return (np.reshape(np.take(g, np.arange(n), axis=axis), np.shape(arr)),
            np.reshape(np.take(g, np.arange(n, extent(ans, axis)), axis=axis), np.shape(values)))


@vjp_rule(np.hstack, sequences=("tup",))
def hstack(g, ans, tup, dtype=None, casting="same_kind"):
    return unjoin(g, tup, hstack_axis(tup), "atleast_1d")


@vjp_rule(np.vstack, sequences=("tup",))
def vstack(g, ans, tup, dtype=None, casting="same_kind"):
    return unjoin(g, tup, 0, "atleast_2d")


@vjp_rule(np.dstack, sequences=("tup",))
def dstack(g, ans, tup):
    return unjoin(g, tup, 2, "atleast_3d")


@vjp_rule(np.column_stack, sequences=("tup",))
def column_stack(g, ans, tup):
    return unjoin(g, tup, 1, "column")


@vjp_rule(np.split, np.array_split, returns_tuple=True, diff=("ary",))
def split(g, ans, ary, indices_or_sections, axis=0):
    return np.concatenate(g, axis=axis)


@vjp_rule(np.hsplit, returns_tuple=True, diff=("ary",))
def hsplit(g, ans, ary, indices_or_sections):
    return np.concatenate(g, axis=hsplit_axis(ary))


@vjp_rule(np.vsplit, returns_tuple=True, diff=("ary",))
def vsplit(g, ans, ary, indices_or_sections):
    return np.concatenate(g, axis=0)


@vjp_rule(np.dsplit, returns_tuple=True, diff=("ary",))
def dsplit(g, ans, ary, indices_or_sections):
    return np.concatenate(g, axis=2)


@vjp_rule(np.unstack, returns_tuple=True)
def unstack_rule(g, ans, x, axis=0):
    return np.stack(g, axis=axis)


method("diagonal", np.diagonal)
method("repeat", np.repeat)
method("conj", np.conj)
method("conjugate", np.conjugate)
attribute("mT", np.matrix_transpose)


# -- forward rules ---------------------------------------------------------------------------------------
# Moving elements around is linear: the tangent moves the same way.

linear(np.reshape, np.ravel, np.transpose, np.swapaxes, np.squeeze, np.expand_dims, np.broadcast_to, np.copy,
       np.array, np.asarray, np.ascontiguousarray, astype, np.concatenate, np.stack, np.moveaxis,
       np.matrix_transpose, np.flip, np.fliplr, np.flipud, np.roll, np.rot90, np.atleast_1d, np.atleast_2d,
       np.atleast_3d, np.tile, np.repeat, np.diagonal, np.diag, np.diagflat, np.linalg.diagonal, np.diff, np.triu,
       np.tril, np.append, np.hstack, np.vstack, np.dstack, np.column_stack, np.split, np.array_split, np.hsplit,
       np.vsplit, np.dsplit, np.unstack)


@jvp_rule(np.pad)
def pad_jvp(t, ans, array, pad_width, mode="constant", stat_length=None, constant_values=0, end_values=0,
            reflect_type="even"):
    # The padding copies elements of array, or adds constants, whose tangent is 0.
    return pad_like(t, pad_width, mode, reflect_type)
