"""Every derivative rule, with the input domain it is checked on. One line per check.

test_rules.py fails if a registered rule has no line here, so no rule goes unchecked.
"""

import math
import operator

import numpy as np

from autodiff_st import runtime
from tests import (rule_cases_arrays, rule_cases_containers, rule_cases_elementwise, rule_cases_gaps,
                   rule_cases_numpy_more, rule_cases_scipy, rule_cases_trees)
from tests.rule_harness import AWAY0, FLOAT, POS, R, UNIT, WELL, case

CORE_CASES = [
    # operators and their ufunc twins, with broadcasting
    case(operator.add, R(3, 4), R(4)), case(np.add, R(3, 1), R(1, 4)),
    case(operator.sub, R(3, 4), R(3, 1)), case(np.subtract, R(4), R(3, 4)),
    case(operator.mul, R(3, 4), R(4)), case(np.multiply, FLOAT(R()), R(3)),
    case(operator.truediv, R(3, 4), POS(4)), case(np.divide, R(3), POS(3)), case(np.true_divide, R(2, 3), POS(1, 3)),
    case(operator.pow, POS(3, 4), R(4)), case(np.power, POS(3), 3.0),
    case(operator.matmul, R(3, 4), R(4, 2)), case(operator.matmul, R(4), R(4, 2)), case(operator.matmul, R(3, 4), R(4)),
    case(operator.matmul, R(4), R(4)), case(np.matmul, R(2, 3, 4), R(4, 5)), case(np.matmul, R(3, 4), R(2, 4, 5)),
    case(operator.neg, R(3)), case(np.negative, R(2, 2)), case(operator.pos, R(3)), case(np.positive, R(3)),
    case(operator.mod, POS(3), 0.7, order=1), case(np.mod, POS(4), 0.3, order=1), case(np.remainder, POS(3), 0.45, order=1),
    # indexing: basic, repeated integer arrays (which must add up), masks, several axes
    case(operator.getitem, R(5), path="a0[1:4]"), case(operator.getitem, R(5), path="a0[[0, 0, 3]]"),
    case(operator.getitem, R(3, 4), path="a0[1, ::2]"), case(operator.getitem, R(3, 4), path="a0[None, ..., 1]"),
    case(operator.getitem, R(6), path="a0[a0 > 0]", float32=False),
    case(runtime.index_grad, R(2), R(5), path="runtime.index_grad(a0, a1, np.index_exp[1:3])"),
    case(runtime.index_grad, R(3), R(5), path="runtime.index_grad(a0, a1, np.index_exp[[0, 0, 4]])"),
    case(runtime.at_index, R(4, 2), path="runtime.at_index(a0, np.index_exp[1:3])"),
    case(runtime.accumulate_index, R(5), R(2), R(5), path="runtime.accumulate_index(a0, a1, a2, np.index_exp[1:3])"),
    case(runtime.accumulate_index, R(5), R(3), R(5), path="runtime.accumulate_index(a0, a1, a2, np.index_exp[[0, 0, 4]])"),
    case(runtime.accumulate_index, R(3, 4), R(4), R(3, 4), path="runtime.accumulate_index(a0, a1, a2, np.index_exp[1])"),
    case(runtime.parts, R(3), R(2), path="runtime.parts(a0, a1)", order=1),  # indexes a list cotangent
    case(runtime.as_parts, R(3), R(2), path="runtime.as_parts([a0, a1])", order=1),
    # the cotangent of a value unpacked into names: the rows of an array (each shaped as its row), or the
    # elements of a tuple; any real numbers
    case(runtime.unpacked_cotangent, R(3), R(3), path="runtime.unpacked_cotangent(np.zeros((2, 3)), a0, a1)"),
    case(runtime.unpacked_cotangent, FLOAT(R()), FLOAT(R()), path="runtime.unpacked_cotangent(np.zeros(2), a0, a1)"),
    case(runtime.unpacked_cotangent, R(3), R(2), path="runtime.unpacked_cotangent((0.0, 0.0), a0, a1)", order=1),
    case(runtime.push_part, R(3), R(2), path="runtime.push_part([a0], a1)", unpack=2, order=1),
    # the helpers of a write's gradient (y[i] = v), checked on basic and repeated integer indices
    case(runtime.stored_grad, R(5), R(2), path="runtime.stored_grad(a0, np.index_exp[1:3], a1)"),
    case(runtime.stored_grad, R(5), R(3), path="runtime.stored_grad(a0, np.index_exp[[0, 2, 0]], a1)"),
    case(runtime.stored_grad, R(3, 4), R(4), path="runtime.stored_grad(a0, np.index_exp[1], a1)"),
    case(runtime.stored_grad, R(3, 4), FLOAT(R()), path="runtime.stored_grad(a0, np.index_exp[1], a1)"),
    case(runtime.stored_grad_transpose, R(3), R(5), path="runtime.stored_grad_transpose(a0, a1, np.index_exp[[0, 2, 0]])"),
    case(runtime.stored_grad_transpose, R(4), R(3, 4), path="runtime.stored_grad_transpose(a0, a1, np.index_exp[1])"),
    case(runtime.zero_at, R(5), path="runtime.zero_at(a0, np.index_exp[1:3])"),
    case(runtime.zero_at, R(3, 4), path="runtime.zero_at(a0, np.index_exp[[0, 2, 0]])"),
    # the helpers of generated tangent code
    case(runtime.broadcast_like, R(4), np.zeros((3, 4))), case(runtime.broadcast_like, R(3, 4), np.zeros((3, 4))),
    case(runtime.owned, R(3, 2)),
    # elementwise
    case(np.exp, R(3, 4)), case(np.expm1, R(3)), case(np.exp2, R(3)),
    case(np.log, POS(3, 4)), case(np.log1p, POS(3)), case(np.log2, POS(3)), case(np.log10, POS(3)),
    case(np.sin, R(3, 4)), case(np.cos, R(3)), case(np.tan, UNIT(3)),
    case(np.sinh, R(3)), case(np.cosh, R(3)), case(np.tanh, R(3, 4)),
    case(np.arctan, R(3)), case(np.arcsin, UNIT(3)), case(np.arccos, UNIT(3)),
    case(np.sqrt, POS(3, 4)), case(np.cbrt, POS(3)), case(np.square, R(3)), case(np.reciprocal, POS(3)),
    case(np.abs, AWAY0(3, 4)), case(np.absolute, AWAY0(3)), case(np.fabs, AWAY0(3)),
    case(np.maximum, AWAY0(3, 4), AWAY0(4)), case(np.fmax, R(3), R(3)),
    case(np.minimum, AWAY0(3), AWAY0(3, 1)), case(np.fmin, R(3), R(3)),
    case(np.where, np.array([True, False, True]), R(3), R(3)),
    case(np.clip, R(5), -0.5, 0.5),
    # reductions
    case(np.sum, R(3, 4)), case(np.sum, R(3, 4), axis=1, keepdims=True), case(np.sum, R(2, 3, 4), axis=(0, 2)),
    case(np.mean, R(3, 4), axis=0), case(np.mean, R(3, 4), axis=-1, keepdims=True),
    case(np.max, AWAY0(3, 4), axis=1), case(np.amax, AWAY0(3, 4)),
    case(np.min, AWAY0(3, 4), axis=0, keepdims=True), case(np.amin, AWAY0(5)),
    case(np.var, R(3, 4), axis=1), case(np.var, R(6), ddof=1),
    case(np.std, R(3, 4), axis=0), case(np.std, R(6), ddof=1),
    # order 1: the second derivative of prod needs a rule for runtime.prod_others
    case(np.prod, POS(3, 4), axis=1, order=1), case(np.prod, POS(4), order=1), case(np.prod, R(5), order=1),
    # shape
    case(np.reshape, R(3, 4), (2, 6)), case(np.ravel, R(3, 4)), case(np.transpose, R(2, 3, 4), (2, 0, 1)),
    case(np.transpose, R(3, 4)), case(np.swapaxes, R(2, 3, 4), 0, 2), case(np.squeeze, R(3, 1, 4)),
    case(np.expand_dims, R(3, 4), 1), case(np.broadcast_to, R(1, 4), (3, 4)),
    case(np.copy, R(3)), case(np.array, R(3)), case(np.asarray, R(3)), case(np.ascontiguousarray, R(3)),
    case(runtime.astype, R(3), "float64"),
    # order 1: their adjoints index a list of cotangents, and indexing arrives with step 2
    case(np.concatenate, R(2), R(3), path="np.concatenate([a0, a1, a0], axis=0)", order=1),
    case(np.stack, R(3), R(3), path="np.stack((a0, a1), axis=1)", order=1),
    # products
    case(np.dot, R(3, 4), R(4, 2)), case(np.dot, R(4), R(4)), case(np.dot, R(3, 4), R(4)), case(np.dot, FLOAT(R()), R(3)),
    case(np.outer, R(3), R(4)), case(np.inner, R(4), R(4)), case(np.inner, R(3, 4), R(2, 4)),
    case(np.linalg.slogdet, WELL(3), unpack=2, order=1),
    # math and builtins on floats
    case(math.sin, FLOAT(R())), case(math.cos, FLOAT(R())), case(math.tan, FLOAT(UNIT())),
    case(math.exp, FLOAT(R())), case(math.log, FLOAT(POS())), case(math.sqrt, FLOAT(POS())),
    case(math.tanh, FLOAT(R())), case(abs, FLOAT(AWAY0())), case(float, FLOAT(R())),
    # the runtime helpers that generated adjoints call (second order goes through them)
    case(runtime.unbroadcast, R(3, 4), R(1, 4)), case(runtime.unbroadcast_to_shape, R(3, 4), (4,)),
    case(runtime.expand_reduced, R(3), R(3, 4), 1, False), case(runtime.expand_reduced, R(1, 4), R(3, 4), 0, True),
    # d nonzero (a divisor); d of x's shape takes the number path, d broadcasting up or down the filled one
    case(runtime.fill_divide, FLOAT(R()), R(3, 4), AWAY0(3, 4)), case(runtime.fill_divide, R(), R(3, 4), AWAY0(4)),
    case(runtime.fill_divide, FLOAT(R()), R(4), AWAY0(3, 4)),
    case(runtime.fill_multiply, FLOAT(R()), R(3, 4), R(3, 4)), case(runtime.fill_multiply, R(), R(4), R(2, 4)),
    case(runtime.fill_multiply, FLOAT(R()), R(3, 4), R(3, 4), 3), case(runtime.fill_multiply, FLOAT(R()), R(3, 4), R(4), 0.5),
    case(runtime.matmul_grad_left, R(3, 2), R(3, 4), R(4, 2)), case(runtime.matmul_grad_right, R(3, 2), R(3, 4), R(4, 2)),
    case(runtime.dot_grad_left, R(3, 2), R(3, 4), R(4, 2)), case(runtime.dot_grad_right, R(3, 2), R(3, 4), R(4, 2)),
    case(runtime.cast_like, R(3), R(3)),
    case(runtime.restored_copy, R(3)),
    case(runtime.split_like, R(5), R(2), R(3), path="runtime.split_like(a0, [a1, a2])", unpack=2, order=1),
    case(runtime.unstack, R(3, 2), path="runtime.unstack(a0, 2, axis=1)", unpack=2, order=1),
]

CASES = (CORE_CASES + rule_cases_elementwise.CASES + rule_cases_arrays.CASES + rule_cases_numpy_more.CASES
         + rule_cases_scipy.CASES + rule_cases_trees.CASES + rule_cases_gaps.CASES + rule_cases_containers.CASES
         # added last, so that the cases before keep their positions (and the inputs drawn for them)
         + [case(runtime.copy_of, R(3)), case(runtime.copy_of, R(2, 3))])
