"""Rule checks for the numpy functions added in step 8 (see rule_cases.py): numerical routines
(rules/numpy_signal.py), the methods of ufuncs (rules/ufunc_methods.py), and the wider cases of dot,
inner, einsum and svd. Checked to order 2 unless marked; an order-1 case says why.
"""

import numpy as np

from autodiff_st import rules, runtime
from tests.rule_harness import AWAY0, POS, R, SPREAD, ZEROS, Domain, case

XP = np.array([0.0, 0.5, 1.2, 2.0, 3.0])  # the knots of np.interp: increasing, unevenly spaced
BINS = np.array([0, 2, 2, 1, 0, 4])  # bins with repeats and an empty bin (3)


def BETWEEN(*shape):
    """Points inside and outside [0, 3], away from the knots XP by at least 0.05 (np.interp's kinks)."""
    def make(rng, s):
        x = rng.uniform(-0.8, 3.8, s)
        near = np.min(np.abs(np.expand_dims(x, -1) - XP), axis=-1) < 0.05
        return np.where(near, x + 0.1, x)
    return Domain("BETWEEN", shape, make)


def registered(method):
    """The object a ufunc method's rule was registered with (np.add.reduce makes a new one each time)."""
    return rules.lookup(method).primitive


SIGNAL = [
    # np.interp in x (piecewise linear; points away from the knots) and in fp (linear); xp is a constant
    case(np.interp, BETWEEN(7), XP, R(5), float32=False),
    case(np.interp, BETWEEN(3, 2), XP, R(5), left=-1.0, right=2.0, float32=False),
    case(np.interp, BETWEEN(4), XP.tolist(), [1.0, 0.0, 2.0, -1.0, 0.5], float32=False),
    # np.polyval in the coefficients and in x, any x
    case(np.polyval, R(4), R(5)), case(np.polyval, R(3), R(2, 3)), case(np.polyval, R(1), R(3)),
    case(np.polyval, [1.0, -2.0, 0.5], R(4)),
    # np.convolve: every mode, both operands longer in turn
    case(np.convolve, R(5), R(3)), case(np.convolve, R(3), R(6)),
    case(np.convolve, R(5), R(3), mode="same"), case(np.convolve, R(4), R(7), mode="same"),
    case(np.convolve, R(6), R(3), "valid"), case(np.convolve, R(3), R(5), mode="valid"),
    # np.gradient: any f, constant spacings (uniform, per axis, coordinates), both edge orders
    case(np.gradient, R(6)), case(np.gradient, R(7), 0.5, edge_order=2),
    case(np.gradient, R(5), np.array([0.0, 0.3, 1.0, 1.1, 2.0])),
    case(np.gradient, R(5), np.array([0.0, 0.3, 1.0, 1.1, 2.0]), edge_order=2),
    case(np.gradient, R(4, 5), 0.5, axis=1), case(np.gradient, R(3, 4), 2.0, axis=0, edge_order=2),
    case(np.gradient, R(4, 3), 0.5, 2.0, unpack=2), case(np.gradient, R(2), path="np.gradient(a0)"),
    case(runtime.gradient_of, R(6), (0.5,)), case(runtime.gradient_of, R(3, 4), (1.0, 2.0), unpack=2),
    case(runtime.gradient_transpose, R(6), R(6), (0.5,), None, 2),
    case(runtime.gradient_transpose, R(3, 5), R(3, 5),
         path="runtime.gradient_transpose(a0, a1, (np.array([0.0, 0.3, 1.0, 1.1, 2.0]),), 1)"),
    # np.bincount is linear in its weights; the bins are constants
    case(np.bincount, BINS, R(6), float32=False), case(np.bincount, BINS, R(6), minlength=7, float32=False),
    case(np.rollaxis, R(2, 3, 4), 2), case(np.rollaxis, R(2, 3, 4), 0, 3), case(np.rollaxis, R(2, 3, 4), -1, 1),
    case(np.real_if_close, R(3, 2)),
]
if hasattr(np, "row_stack"):  # numpy's deprecated alias of vstack, removed in numpy 2.5
    SIGNAL.append(case(np.row_stack, R(3), R(2, 3), path="np.row_stack([a0, a1])", order=1))  # a list cotangent

UFUNC_METHODS = [
    case(registered(np.add.reduce), R(3, 4)), case(registered(np.add.reduce), R(3, 4), axis=1, keepdims=True),
    case(registered(np.add.reduce), R(2, 3, 4), axis=(0, 2)), case(registered(np.add.reduce), R(5), axis=None),
    case(registered(np.multiply.reduce), POS(3, 4), axis=1), case(registered(np.multiply.reduce), ZEROS(7)),
    case(registered(np.multiply.reduce), ZEROS(3, 4), axis=None),
    case(registered(np.maximum.reduce), AWAY0(3, 4), axis=1), case(registered(np.maximum.reduce), SPREAD(5)),
    case(registered(np.minimum.reduce), SPREAD(3, 4), keepdims=True),
    case(registered(np.logaddexp.reduce), R(3, 4), axis=1), case(registered(np.logaddexp.reduce), R(6)),
    case(registered(np.add.accumulate), R(3, 4)), case(registered(np.add.accumulate), R(3, 4), axis=1),
    case(registered(np.multiply.accumulate), AWAY0(3, 4), axis=1), case(registered(np.multiply.accumulate), AWAY0(5)),
    # order 1: exact at zeros for the first derivative only, as np.cumprod
    case(registered(np.multiply.accumulate), ZEROS(4, 5), axis=1, order=1),
    # the functional form of np.add.at: repeated indices add up, b broadcast
    case(runtime.add_at, R(5), np.array([0, 2, 2, 4]), R(4)), case(runtime.add_at, R(4, 3), np.array([1, 1]), R(3)),
    case(runtime.add_at, R(3, 4), R(3), path="runtime.add_at(a0, (np.array([0, 2, 0]), np.array([1, 1, 1])), a1)"),
]

PRODUCTS = [
    # np.dot and np.inner beyond two dimensions
    case(np.dot, R(2, 3, 4), R(4, 5)), case(np.dot, R(2, 3, 4), R(3, 4, 2)), case(np.dot, R(3, 4), R(2, 4, 5)),
    case(np.dot, R(2, 3, 4), R(4)), case(np.dot, R(4), R(2, 4, 3)),
    case(runtime.dot_grad_left, R(2, 3, 5), R(2, 3, 4), R(4, 5)),
    case(runtime.dot_grad_right, R(2, 3, 2, 5), R(2, 3, 4), R(2, 4, 5)),
    case(np.inner, R(2, 3, 4), R(5, 4)), case(np.inner, R(3, 4), R(2, 3, 4)), case(np.inner, R(4), R(2, 3, 4)),
    case(np.inner, R(2, 4), R(4)),
    # order 1: the cotangents of einsum's operands are one list (see rule_cases_arrays.py)
    case(np.einsum, R(3, 4), R(4, 2), path="np.einsum(a0, [0, 1], a1, [1, 2], [0, 2])", order=1),
    case(np.einsum, R(3, 4), R(4, 2), path="np.einsum(a0, [0, 1], a1, [1, 2])", order=1),
    case(np.einsum, R(2, 3, 3), path="np.einsum(a0, [Ellipsis, 0, 0], [Ellipsis, 0])", order=1),
    # singular values alone (distinct and nonzero for these random matrices)
    case(np.linalg.svd, R(4, 3), compute_uv=False), case(np.linalg.svd, R(2, 3, 3), compute_uv=False),
    case(np.linalg.svd, R(3, 5), False, False),
]

CASES = SIGNAL + UFUNC_METHODS + PRODUCTS
