"""Rules for numpy's numerical routines: np.interp, np.polyval, np.convolve, np.gradient and np.bincount's
weights, and a few functions of shape and dtype (np.rollaxis, np.row_stack, np.real_if_close).

The bodies are ordinary numpy code of differentiable functions and of helpers with rules of their own,
so the generated code that inlines them can be differentiated again.
"""

import numpy as np

import autodiff_st.runtime as runtime
from ..runtime import (convolve_padding, gradient_of, gradient_transpose, inside_bounds, interp_kept, interp_segment,
                       normalize_axis, poly_exponents, real_like, require, rollaxis_order, untake)
from ..core.registry import vjp_rule, jvp_rule, linear, multilinear, nondifferentiable
from .shape import vstack


# -- np.interp: piecewise linear in x, linear in fp ---------------------------------------------------------
# On the segment [xp[i], xp[i + 1]] holding x: ans = fp[i] + w (fp[i + 1] - fp[i]), w = (x - xp[i]) / width,
# with w pinned to 0 or 1 outside the knots (numpy's default ends fp[0] and fp[-1]), and ans a constant
# where the call gives left= or right=. At a knot the slope of the segment to its right is taken (the
# last knot takes its left segment). No derivative in xp: it is refused where a differentiated value
# is passed there, since the result moves with the knots in a way these rules do not follow.

@vjp_rule(np.interp, diff=("x", "fp"))
def interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    require(period is None, "the derivative of np.interp is implemented for period=None.")
    i = interp_segment(x, xp)
    width = np.take(xp, i + 1) - np.take(xp, i)
    raw = (x - np.take(xp, i)) / width
    w = np.clip(raw, 0, 1)
    kept = g * interp_kept(x, xp, left, right)
    return (kept * inside_bounds(raw, 0, 1) * (np.take(fp, i + 1) - np.take(fp, i)) / width,
            untake(kept * (1 - w), fp, i) + untake(kept * w, fp, i + 1))


@jvp_rule(np.interp, wrt="x")
def interp_jvp_x(t, ans, x, xp, fp, left=None, right=None, period=None):
    require(period is None, "the derivative of np.interp is implemented for period=None.")
    i = interp_segment(x, xp)
    width = np.take(xp, i + 1) - np.take(xp, i)
    raw = (x - np.take(xp, i)) / width
    return t * interp_kept(x, xp, left, right) * inside_bounds(raw, 0, 1) * (np.take(fp, i + 1) - np.take(fp, i)) / width


@jvp_rule(np.interp, wrt="fp")
def interp_jvp_fp(t, ans, x, xp, fp, left=None, right=None, period=None):
    require(period is None, "the derivative of np.interp is implemented for period=None.")
    i = interp_segment(x, xp)
    w = np.clip((x - np.take(xp, i)) / (np.take(xp, i + 1) - np.take(xp, i)), 0, 1)
    return interp_kept(x, xp, left, right) * ((1 - w) * np.take(t, i) + w * np.take(t, i + 1))


# -- np.polyval: sum_k p[k] x ** (n - 1 - k) ----------------------------------------------------------------
# The power 0 is written as a 1 rather than x ** 0, so that the derivative of the powers is exact at
# x = 0 as well; d/dx is the derivative polynomial, evaluated by np.polyval itself.

@vjp_rule(np.polyval)
def polyval(g, ans, p, x):
    e = poly_exponents(p, x)
    powers = np.where(e > 0, np.expand_dims(x, -1) ** np.maximum(e, 1), 1)
    return (np.sum(np.expand_dims(g, -1) * powers, axis=normalize_axis(None, np.ndim(x))),
            g * np.polyval(p[:-1] * e[:-1], x))


@jvp_rule(np.polyval, wrt="p")
def polyval_jvp_p(t, ans, p, x):
    return np.polyval(t, x)


@jvp_rule(np.polyval, wrt="x")
def polyval_jvp_x(t, ans, p, x):
    e = poly_exponents(p, x)
    return t * np.polyval(p[:-1] * e[:-1], x)


# -- np.convolve: bilinear; "same" and "valid" keep a window of the full convolution --------------------------

@vjp_rule(np.convolve)
def convolve(g, ans, a, v, mode="full"):
    # full[n] = sum_k a[k] v[n - k]: a's cotangent correlates the full cotangent with v, and v's with a.
    g_full = np.pad(g, convolve_padding(a, v, mode))
    return (np.reshape(np.convolve(g_full, np.flip(np.ravel(v)), mode="valid"), np.shape(a)),
            np.reshape(np.convolve(g_full, np.flip(np.ravel(a)), mode="valid"), np.shape(v)))


# -- np.gradient: linear in f, for constant spacings ------------------------------------------------------
# Its cotangent is the transpose of the finite-difference map (runtime.gradient_transpose); the two maps
# are each other's rules. A differentiated spacing is refused (it is not a differentiated parameter).
# np.gradient returns one array for one axis and a tuple of arrays for several (returns_tuple lets
# `gx, gy = np.gradient(f)` unpack it); its cotangent is then a tuple too.

@vjp_rule(np.gradient, diff=("f",), returns_tuple=True)
def gradient(g, ans, f, *varargs, axis=None, edge_order=1):
    parts = g  # one name for the tuple of cotangents (a tuple display when the result is unpacked)
    return gradient_transpose(parts, f, varargs, axis, edge_order)


@vjp_rule(runtime.gradient_of, diff=("v",), returns_tuple=True)
def gradient_of_rule(g, ans, v, spacing=(), axis=None, edge_order=1):
    parts = g
    return gradient_transpose(parts, v, spacing, axis, edge_order)


@vjp_rule(runtime.gradient_transpose, diff=("v",), nograd=("f",))
def gradient_transpose_rule(g, ans, v, f, spacing=(), axis=None, edge_order=1):
    return gradient_of(g, spacing, axis, edge_order)


# -- np.bincount(x, weights=w): linear in the weights ----------------------------------------------------

@vjp_rule(np.bincount, diff=("weights",), nograd=("x",))
def bincount(g, ans, x, weights=None, minlength=0):
    # ans[j] sums the weights of the positions where x == j: each weight reads the bin it falls in.
    return np.take(g, x)


# -- shape and dtype ---------------------------------------------------------------------------------------

@vjp_rule(np.rollaxis, diff=("a",))
def rollaxis(g, ans, a, axis, start=0):
    return np.transpose(g, np.argsort(rollaxis_order(a, axis, start)))


# numpy's deprecated alias of np.vstack, removed in numpy 2.5
_ROW_STACK = getattr(np, "row_stack", None)
if _ROW_STACK is not None:
    vjp_rule(_ROW_STACK, sequences=("tup",))(vstack)


@vjp_rule(np.real_if_close)
def real_if_close(g, ans, a, tol=100):
    # The identity, or the real part where numpy drops an imaginary part close to 0: its transpose
    # embeds g as a complex number with imaginary part 0, which is g itself.
    return g


@jvp_rule(np.real_if_close)
def real_if_close_jvp(t, ans, a, tol=100):
    return real_like(t, ans)


linear(np.gradient, runtime.gradient_of, runtime.gradient_transpose, np.bincount, np.rollaxis,
       *([_ROW_STACK] if _ROW_STACK is not None else []))
multilinear(np.convolve)
nondifferentiable(runtime.interp_segment, runtime.interp_kept, runtime.poly_exponents, runtime.convolve_padding,
                  runtime.rollaxis_order, runtime.last_axes_swapped)
