"""Rule checks for reductions, products, linear algebra, shape, joining and selection (see rule_cases.py).

Cases are checked to order 2 unless marked; an order-1 case says why. The usual reason: the rule's
cotangent for a list argument (np.hstack([a, b]), np.einsum's operands, multi_dot, choose) comes from one
helper call returning a list, and the compiler does not yet differentiate a tuple-returning call whose
result is indexed rather than unpacked (as for np.concatenate in rule_cases.py).
"""

import numpy as np

from autodiff_st import runtime
from tests.rule_harness import AWAY0, FLOAT, GENERAL, NANS, POS, R, SPD, SPREAD, WELL, ZEROS, case

IDX = np.array([0, 2, 2, 1, 0])  # repeated indices: their gradients must add up

REDUCTIONS = [
    case(np.average, R(3, 4)), case(np.average, R(3, 4), 1, np.array([1.0, 2.0, 0.5, 3.0])),
    case(np.average, R(3, 4), 0, POS(3)), case(np.average, R(2, 3), None, POS(2, 3), keepdims=True),
    case(np.average, R(2, 3), POS(2, 3), path="np.average(a0, axis=(0, 1), weights=a1)"),
    case(np.nansum, NANS(3, 4)), case(np.nansum, NANS(3, 4), axis=1, keepdims=True),
    case(np.nanmean, NANS(3, 4), axis=0), case(np.nanmean, NANS(8)),
    case(np.nanmax, NANS(3, 4), axis=1), case(np.nanmin, NANS(3, 4), axis=0, keepdims=True),
    case(np.nanmax, NANS(6)),
    case(np.nanprod, NANS(3, 4), axis=1), case(np.nanprod, ZEROS(6)),
    case(np.nanprod, ZEROS(3, 4), axis=0, keepdims=True),
    # prod's rule (in reductions.py) to second order, now that runtime.prod_others has a rule
    case(np.prod, POS(3, 4), axis=1), case(np.prod, ZEROS(7)), case(np.prod, ZEROS(2, 3, 4), axis=(0, 2)),
    case(np.prod, ZEROS(4, 3), axis=1, keepdims=True), case(np.prod, ZEROS(10)),
    case(np.nanvar, NANS(3, 4), axis=1), case(np.nanvar, NANS(8), ddof=1),
    case(np.nanstd, NANS(3, 4), axis=0, keepdims=True), case(np.nanstd, NANS(8), ddof=1),
    case(np.ptp, SPREAD(3, 4), axis=1), case(np.ptp, SPREAD(6)),
    case(np.ptp, SPREAD(2, 3, 2), axis=(0, 2), keepdims=True),
    case(np.cumsum, R(3, 4), axis=1), case(np.cumsum, R(3, 4)), case(np.cumsum, R(2, 3, 2), axis=0),
    case(np.cumprod, AWAY0(3, 4), axis=1), case(np.cumprod, AWAY0(2, 3)), case(np.cumprod, AWAY0(6), axis=0),
    # order 1: exact at zeros for the first derivative only (see the rule)
    case(np.cumprod, ZEROS(4, 5), axis=1, order=1), case(np.cumprod, ZEROS(8), order=1),
    # order statistics: values at least 0.1 apart, so that finite differences do not reorder them
    case(np.median, SPREAD(3, 5), axis=1), case(np.median, SPREAD(4, 3), axis=0, keepdims=True),
    case(np.median, SPREAD(6)), case(np.median, SPREAD(2, 3, 4), axis=(0, 2)),
    case(np.quantile, SPREAD(3, 5), 0.3, axis=1), case(np.quantile, SPREAD(7), 0.8, method="lower"),
    case(np.percentile, SPREAD(3, 4), 25.0, axis=0), case(np.percentile, SPREAD(6), 50.0, method="midpoint"),
    case(np.trace, R(3, 3)), case(np.trace, R(3, 4), 1), case(np.trace, R(2, 3, 3), axis1=1, axis2=2),
    case(np.trace, R(3, 2, 4), -1, 2, 0),
    # methods
    case(np.cumsum, R(3, 4), path="a0.cumsum(axis=0)"), case(np.cumprod, AWAY0(5), path="a0.cumprod()"),
    case(np.trace, R(3, 3), path="a0.trace()"),
    case(np.linalg.trace, R(3, 3)), case(np.linalg.trace, R(2, 3, 4), offset=1),
]

PRODUCTS = [
    case(np.vdot, R(3, 4), R(12)), case(np.vdot, R(5), R(5)),
    case(np.tensordot, R(3, 4, 5), R(4, 5, 2)), case(np.tensordot, R(3, 4), R(4, 2), 1),
    case(np.tensordot, R(3, 4, 5), R(5, 2, 3), axes=([0, 2], [2, 0])),
    case(np.tensordot, R(3, 4), R(2, 3), axes=(0, 1)),
    case(np.tensordot, R(3), R(2), 0),
    case(np.kron, R(2, 3), R(3, 2)), case(np.kron, R(3), R(2)), case(np.kron, R(2, 2), R(3)),
    case(np.kron, R(2, 1, 2), R(2, 3)),
    case(np.cross, R(3), R(3)), case(np.cross, R(4, 3), R(3)), case(np.cross, R(3, 4), R(4, 3), axisa=0, axisc=0),
    case(np.vecdot, R(3, 4), R(4)), case(np.vecdot, R(4, 3), R(4, 1), axis=0),
    case(np.linalg.vecdot, R(2, 3), R(2, 3)), case(np.linalg.vecdot, R(3, 2), R(2, 3, 2), axis=-2),
    case(np.linalg.matmul, R(2, 3, 4), R(4, 2)), case(np.linalg.matmul, R(4), R(4, 2)),
    case(np.linalg.outer, R(3), R(4)),
    case(np.linalg.tensordot, R(3, 4, 5), R(4, 5, 2)), case(np.linalg.tensordot, R(3, 4), R(2, 3), axes=(0, 1)),
    case(np.linalg.cross, R(3), R(2, 3)), case(np.linalg.cross, R(3, 4), R(3, 1), axis=0),
    # order 1: their cotangents are lists (see the module docstring)
    case(np.einsum, R(3, 4), R(4, 2), path="np.einsum('ij,jk->ik', a0, a1)", order=1),
    case(np.einsum, R(3, 4), R(4, 2), path="np.einsum('ij,jk', a0, a1)", order=1),
    case(np.einsum, R(3, 3), path="np.einsum('ii', a0)", order=1),
    case(np.einsum, R(3, 3), path="np.einsum('ii->i', a0)", order=1),
    case(np.einsum, R(3, 4), path="np.einsum('ij->', a0)", order=1),
    case(np.einsum, R(3, 4), R(3), path="np.einsum('ij,i->ji', a0, a1)", order=1),
    case(np.einsum, R(2, 3, 4), R(2, 4, 5), path="np.einsum('...ij,...jk->...ik', a0, a1)", order=1),
    case(np.einsum, R(1, 3, 4), R(2, 4, 5), path="np.einsum('...ij,...jk', a0, a1)", order=1),
    case(np.einsum, R(4), R(3, 4), path="np.einsum('j,...j->...', a0, a1)", order=1),
    case(np.einsum, R(3, 3, 2), R(2), R(3), path="np.einsum('iij,j,k->ik', a0, a1, a2)", order=1),
    case(np.einsum, R(3), path="np.einsum('i,i', a0, a0)", order=1),
    case(np.einsum, R(1, 4), R(3, 4), path="np.einsum('ij,ij->ij', a0, a1)", order=1),
    case(np.linalg.multi_dot, R(3, 4), R(4, 2), R(2, 5), path="np.linalg.multi_dot([a0, a1, a2])", order=1),
    case(np.linalg.multi_dot, R(4), R(4, 2), R(2), path="np.linalg.multi_dot([a0, a1, a2])", order=1),
]

LINALG = [
    case(np.linalg.inv, WELL(3)), case(np.linalg.inv, WELL(3, batch=(2,))),
    case(np.linalg.solve, WELL(3), R(3)), case(np.linalg.solve, WELL(3), R(3, 2)),
    case(np.linalg.solve, WELL(3, batch=(2,)), R(2, 3, 4)), case(np.linalg.solve, WELL(3, batch=(2,)), R(3)),
    case(np.linalg.det, WELL(3)), case(np.linalg.det, WELL(2, batch=(3,))),
    case(np.linalg.cholesky, SPD(3)), case(np.linalg.cholesky, SPD(3, batch=(2,))),
    case(np.linalg.cholesky, SPD(3), upper=True),
    case(np.linalg.qr, R(4, 3), unpack=2), case(np.linalg.qr, R(3, 3), unpack=2),
    case(np.linalg.qr, R(2, 5, 3), unpack=2), case(np.linalg.qr, R(3, 5), unpack=2),
    case(np.linalg.qr, R(2, 2, 4), unpack=2),
    case(np.linalg.qr, R(3, 4), mode="complete", unpack=2),
    case(np.linalg.slogdet, WELL(3), unpack=2), case(np.linalg.slogdet, WELL(2, batch=(3,)), unpack=2),
    case(np.linalg.eigh, SPD(3), unpack=2), case(np.linalg.eigh, SPD(3, batch=(2,)), unpack=2),
    case(np.linalg.eigh, SPD(3), UPLO="U", unpack=2),
    case(np.linalg.eigvalsh, SPD(3)), case(np.linalg.eigvalsh, SPD(4, batch=(2,)), UPLO="U"),
    # eig: complex eigenpairs of a real matrix (the case takes abs, real and imag parts of the results),
    # and the real eigenpairs of a symmetric one
    case(np.linalg.eig, GENERAL(3), unpack=2), case(np.linalg.eig, GENERAL(4, batch=(2,)), unpack=2),
    case(np.linalg.eig, SPD(3), unpack=2),
    case(np.linalg.eigvals, GENERAL(3)), case(np.linalg.eigvals, GENERAL(4, batch=(2,))),
    case(np.linalg.svd, R(4, 3), full_matrices=False, unpack=3),
    case(np.linalg.svd, R(3, 5), full_matrices=False, unpack=3),
    case(np.linalg.svd, R(3, 3), unpack=3), case(np.linalg.svd, R(2, 4, 3), full_matrices=False, unpack=3),
    case(np.linalg.svdvals, R(4, 3)), case(np.linalg.svdvals, R(2, 3, 4)),
    case(np.linalg.norm, R(5)), case(np.linalg.norm, R(3, 4)), case(np.linalg.norm, R(3, 4), axis=1),
    case(np.linalg.norm, R(3, 4), axis=0, keepdims=True), case(np.linalg.norm, R(2, 3, 4), axis=(1, 2)),
    case(np.linalg.norm, AWAY0(5), 1), case(np.linalg.norm, SPREAD(5), path="np.linalg.norm(a0, np.inf)"),
    case(np.linalg.norm, SPREAD(5), path="np.linalg.norm(a0, -np.inf)"),
    case(np.linalg.norm, AWAY0(5), 3), case(np.linalg.norm, AWAY0(3, 4), 0.5, axis=1),
    case(np.linalg.norm, R(3, 4), "fro"), case(np.linalg.norm, SPREAD(3, 4), 1),
    case(np.linalg.norm, SPREAD(3, 4), -1),
    case(np.linalg.norm, SPREAD(3, 4), path="np.linalg.norm(a0, np.inf)"),
    case(np.linalg.norm, SPREAD(2, 3, 4), path="np.linalg.norm(a0, -np.inf, (2, 1))"),
    # order 1: second derivatives of the nuclear and spectral norms are refused
    case(np.linalg.norm, R(3, 4), "nuc", order=1), case(np.linalg.norm, R(4, 3), 2, order=1),
    case(np.linalg.norm, R(3, 3), -2, order=1), case(np.linalg.norm, R(2, 3, 4), "nuc", (1, 2), order=1),
    case(np.linalg.vector_norm, R(3, 4)), case(np.linalg.vector_norm, R(3, 4), axis=1, ord=1),
    case(np.linalg.vector_norm, AWAY0(3, 4), axis=0, keepdims=True, ord=3),
    case(np.linalg.matrix_norm, R(2, 3, 4)),
    case(np.linalg.matrix_norm, SPREAD(3, 4), path="np.linalg.matrix_norm(a0, ord=np.inf, keepdims=True)"),
    case(np.linalg.pinv, R(4, 3)), case(np.linalg.pinv, R(3, 5)), case(np.linalg.pinv, R(2, 4, 3)),
    case(np.linalg.lstsq, R(5, 3), R(5), unpack=4), case(np.linalg.lstsq, R(5, 3), R(5, 2), unpack=4),
    case(np.linalg.lstsq, R(3, 3), R(3), unpack=4), case(np.linalg.lstsq, R(3, 5), R(3), unpack=4),
    case(np.linalg.matrix_power, WELL(3), 3), case(np.linalg.matrix_power, WELL(3), 0),
    case(np.linalg.matrix_power, WELL(3), 1), case(np.linalg.matrix_power, WELL(3), -2),
    case(np.linalg.matrix_power, WELL(2, batch=(2,)), 2),
]

SHAPE = [
    case(np.moveaxis, R(2, 3, 4), 0, -1), case(np.moveaxis, R(2, 3, 4), (0, 1), (2, 0)),
    case(np.matrix_transpose, R(2, 3, 4)), case(np.matrix_transpose, R(2, 3), path="a0.mT"),
    case(np.flip, R(3, 4)), case(np.flip, R(3, 4), 1), case(np.flip, R(2, 3, 4), (0, 2)),
    case(np.fliplr, R(3, 4)), case(np.flipud, R(3, 4)),
    case(np.roll, R(5), 2), case(np.roll, R(3, 4), -1, axis=1), case(np.roll, R(3, 4), (1, 2), axis=(0, 1)),
    case(np.roll, R(3, 4), 5),
    case(np.rot90, R(3, 4)), case(np.rot90, R(3, 4), 3), case(np.rot90, R(2, 3, 4), 2, (1, 2)),
    case(np.atleast_1d, R()), case(np.atleast_1d, R(3)), case(np.atleast_2d, R(3)), case(np.atleast_2d, R(2, 3)),
    case(np.atleast_3d, R(3)), case(np.atleast_3d, R(2, 3)),
    case(np.tile, R(3), 2), case(np.tile, R(2, 3), (2, 1)), case(np.tile, R(3), (2, 2)), case(np.tile, R(2, 3), 2),
    case(np.repeat, R(3), 2), case(np.repeat, R(2, 3), 2), case(np.repeat, R(2, 3), np.array([1, 0, 3]), axis=1),
    case(np.repeat, R(2, 3), 3, axis=0), case(np.repeat, R(3), path="a0.repeat(2)"),
    case(np.pad, R(3), 2), case(np.pad, R(3, 4), ((1, 0), (2, 1))), case(np.pad, R(3, 4), 1, constant_values=5.0),
    case(np.pad, R(3, 4), 2, mode="edge"), case(np.pad, R(3, 4), ((1, 2), (2, 1)), mode="reflect"),
    case(np.pad, R(4), 5, mode="symmetric"), case(np.pad, R(3, 4), 3, mode="wrap"),
    case(np.diagonal, R(3, 3)), case(np.diagonal, R(3, 4), 1), case(np.diagonal, R(4, 3), -1),
    case(np.diagonal, R(2, 3, 4), 0, 1, 2), case(np.diagonal, R(3, 2, 4), 1, 2, 0),
    case(np.diagonal, R(3, 4), path="a0.diagonal(1)"),
    case(np.diag, R(3)), case(np.diag, R(3), 1), case(np.diag, R(3, 3)), case(np.diag, R(3, 4), -1),
    case(np.diagflat, R(2, 2)), case(np.diagflat, R(3), -1),
    case(np.linalg.diagonal, R(3, 4)), case(np.linalg.diagonal, R(2, 3, 3), offset=-1),
    case(np.diff, R(5)), case(np.diff, R(3, 5), 2), case(np.diff, R(4, 3), 3, axis=0),
    case(np.triu, R(3, 4)), case(np.triu, R(2, 3, 3), 1), case(np.tril, R(4, 3)), case(np.tril, R(3, 3), -1),
    case(np.append, R(3), R(2)), case(np.append, R(2, 3), R(2, 2)), case(np.append, R(2, 3), R(1, 3), axis=0),
    case(np.append, R(2, 3), R(2, 2), axis=1),
    # order 1: their cotangents are lists (see the module docstring)
    case(np.hstack, R(3), R(2), path="np.hstack([a0, a1])", order=1),
    case(np.hstack, R(2, 3), R(2, 1), path="np.hstack((a0, a1, a0))", order=1),
    case(np.vstack, R(3), R(2, 3), path="np.vstack([a0, a1])", order=1),
    case(np.dstack, R(3), R(3), path="np.dstack([a0, a1])", order=1),
    case(np.dstack, R(2, 3), R(2, 3, 2), path="np.dstack([a0, a1])", order=1),
    case(np.column_stack, R(3), R(3, 2), path="np.column_stack([a0, a1])", order=1),
    case(np.split, R(6), 3, unpack=3), case(np.split, R(4, 6), [1, 4], axis=1, unpack=3),
    case(np.array_split, R(7), 3, unpack=3), case(np.array_split, R(5, 2), 2, unpack=2),
    case(np.hsplit, R(4, 6), 2, unpack=2), case(np.hsplit, R(6), 3, unpack=3),
    case(np.vsplit, R(4, 3), [1], unpack=2), case(np.dsplit, R(2, 2, 4), 2, unpack=2),
    case(np.unstack, R(3, 2), unpack=3), case(np.unstack, R(3, 2), axis=1, unpack=2),
    # squeeze variants (the rule is in shape.py)
    case(np.squeeze, R(3, 1, 1), axis=1), case(np.squeeze, R(1, 3, 1), axis=(0, 2)),
    case(np.squeeze, R(1, 3, 1), path="a0.squeeze(0)"),
]

SELECTION = [
    case(np.take, R(4), IDX), case(np.take, R(3, 4), IDX, axis=1),
    case(np.take, R(3, 4), np.array([[0, 5], [11, 5]])),
    case(np.take, R(3, 4), 2, axis=0), case(np.take, R(3), np.array([-1, 4, 5]), mode="wrap"),
    case(np.take, R(3), np.array([-1, 4, 1]), mode="clip"), case(np.take, R(3, 4), path="a0.take([1, 1, 3], axis=1)"),
    case(np.take_along_axis, R(3, 4), np.array([[0, 0], [3, 1], [2, 2]]), 1),
    case(np.take_along_axis, R(3, 4), np.array([[0, 2, 2, 1]]), 0),
    case(np.take_along_axis, R(1, 4), np.array([[0, 0], [3, 1], [2, 2]]), 1),
    case(np.take_along_axis, R(5), np.array([4, 4, 0]), None),
    case(np.sort, SPREAD(6)), case(np.sort, SPREAD(3, 4), axis=0), case(np.sort, SPREAD(3, 4), axis=None),
    case(np.partition, SPREAD(7), 3), case(np.partition, SPREAD(3, 5), 2, axis=1),
    case(np.partition, SPREAD(3, 4), 1, axis=None),
    case(np.extract, R(2, 2), path="np.extract(np.array([[True, False], [True, True]]), a0)"),
    case(np.compress, R(3, 4), path="np.compress(np.array([True, False, True]), a0, axis=0)"),
    case(np.compress, R(2, 3), path="np.compress(np.array([False, True, True, False, True]), a0)"),
    # order 1: their cotangents are lists
    case(np.choose, R(3), R(3), path="np.choose(np.array([0, 1, 0]), [a0, a1])", order=1),
    case(np.choose, R(2, 3), R(3), order=1,
         path="np.choose(np.array([[2, 1, 0], [0, 4, 1]]), [a0, a1, a0], mode='wrap')"),
    case(np.select, R(4), R(4), order=1,
         path="np.select([np.array([True, False, True, False]), np.array([True, True, False, False])], [a0, a1])"),
    case(np.select, R(4), R(4), R(), order=1,
         path="np.select([np.array([True, False, True, False])], [a0], default=a2)"),
]

METHODS = [
    case(np.ndarray.clip, R(5), path="a0.clip(-0.5, 0.5)"), case(np.ndarray.clip, R(5), path="a0.clip(min=-0.5)"),
    case(np.ndarray.clip, R(5), path="a0.clip(max=0.2)"),
    case(np.ndarray.compress, R(3, 4), path="a0.compress(np.array([True, False, True, True]), axis=1)"),
    case(np.ndarray.compress, R(2, 2), path="a0.compress([False, True, True])"),
    case(np.conj, R(3), path="a0.conj()"), case(np.conjugate, R(3), path="a0.conjugate()"),
]

HELPERS = [
    case(runtime.weights_like, POS(4), R(3, 4), 1), case(runtime.weights_like, POS(3, 4), R(3, 4)),
    case(runtime.sum_to_weights, R(3, 4), POS(4), 1), case(runtime.sum_to_weights, R(3, 4), POS(3, 4)),
    case(runtime.reverse_cumsum, R(3, 4), 1), case(runtime.reverse_cumsum, R(5)),
    case(runtime.undiagonal, R(3), R(3, 4), 1), case(runtime.undiagonal, R(2, 3), R(2, 3, 3), 0, 1, 2),
    case(runtime.diag_grad, R(3, 3), R(3)), case(runtime.diag_grad, R(2), R(3, 4), -1),
    case(runtime.undiff, R(4), R(5)), case(runtime.undiff, R(3, 2), R(3, 4), 2, 1),
    case(runtime.untile, R(2, 6), R(3), (2, 2)), case(runtime.untile, R(4, 3), R(2, 3), (2, 1)),
    case(runtime.untake, R(3, 5), R(3, 4), IDX, 1), case(runtime.untake, R(5), R(2, 2), IDX % 4),
    case(runtime.untake_along_axis, R(3, 2), R(3, 4), np.array([[0, 0], [3, 1], [2, 2]]), 1),
    case(runtime.unpad, R(5, 6), R(3, 4), 1), case(runtime.unpad, R(7), R(3), 2, "reflect"),
    case(runtime.pad_like, R(3, 4), 1), case(runtime.pad_like, R(3), 2, "wrap"),
    case(runtime.swap_if, R(2, 3), True), case(runtime.swap_if, R(2, 3), False),
    case(runtime.from_triangle, R(3, 3)), case(runtime.from_triangle, R(2, 3, 3), "U"),
    case(runtime.from_triangle, R(3, 3), True),
    case(runtime.as_columns, R(3), R(3)), case(runtime.as_columns, R(3, 2), R(3, 2)),
    case(runtime.from_columns, R(3, 1), R(3)), case(runtime.from_columns, R(3, 2), R(3, 2)),
    case(runtime.symmetric_from_triangle, R(3, 3)), case(runtime.symmetric_from_triangle, R(2, 3, 3), "U"),
    case(runtime.symmetric_from_triangle_transpose, R(3, 3)),
    case(runtime.symmetric_from_triangle_transpose, R(2, 3, 3), True),
    case(runtime.upper_block, R(2, 2), R(2, 2)), case(runtime.upper_right, R(4, 4)),
    case(runtime.diagonal_blocks_sum, R(2, 4, 4)),
    # order 1: the second derivative of prod_others (a third derivative of prod) has no rule
    case(runtime.prod_others, POS(3, 4), 1, order=1), case(runtime.prod_others, ZEROS(7), order=1),
    case(runtime.prod_others, ZEROS(3, 4), 1, order=1), case(runtime.prod_others, ZEROS(10), order=1),
    case(runtime.lstsq_residual_weights, R(2), R(5, 2)), case(runtime.lstsq_residual_weights, R(1), R(5)),
    case(runtime.lstsq_residual_weights_transpose, R(1, 2), R(2), R(5, 2)),
    # order 1: the second derivative of norm_direction (a third derivative of norm) has no rule
    case(runtime.norm_direction, R(3, 4), POS(3), None, 1, order=1),
    case(runtime.norm_direction, AWAY0(5), POS(), 3, order=1),
    case(runtime.unjoin, R(5), R(2), R(3), path="runtime.unjoin(a0, [a1, a2])", unpack=2),
    case(runtime.unjoin, R(2, 3), R(3), R(3), path="runtime.unjoin(a0, [a1, a2], 0, 'atleast_2d')", unpack=2),
    case(runtime.unchoose, R(3), path="runtime.unchoose(a0, np.array([0, 1, 0]), [np.zeros(3), np.zeros(3)])",
         unpack=2),
    case(runtime.unselect, R(3), path="runtime.unselect(a0, [np.array([True, False, True]), np.array([True, True, "
                                      "False])], [np.zeros(3), np.zeros(3)])", unpack=2),
    # order 1: its cotangent is a list (see the module docstring)
    case(runtime.join_like, R(2), R(3), path="runtime.join_like([a0, a1], [a0, a1])", order=1),
]

# Arrays made from numbers: linear (or, for geomspace and logspace, smooth) in the endpoints, the fill
# value, arange's start and step; the counts and shapes are constants. float32=False: the fractions and
# positions the rules use are float64, as in numpy's own computation of these arrays.
F64 = dict(float32=False)
CREATION = [
    case(np.linspace, FLOAT(R()), FLOAT(R()), 5, **F64),
    case(np.linspace, R(3), R(2, 1), 4, endpoint=False, axis=1, **F64),
    case(np.linspace, R(3), 2.0, 1, **F64), case(np.linspace, FLOAT(R()), R(2), 3, axis=-1, **F64),
    case(np.geomspace, FLOAT(POS()), FLOAT(POS()), 5, **F64),
    case(np.geomspace, POS(3), POS(2, 1), 4, axis=1, **F64),
    case(np.logspace, FLOAT(R()), FLOAT(R()), 5, **F64), case(np.logspace, R(3), R(3), 4, base=2.0, axis=1, **F64),
    # order 1: the gradient of logspace's base comes from a helper without a rule of its own
    case(np.logspace, FLOAT(R()), FLOAT(R()), 4, False, FLOAT(POS()), order=1, **F64),
    case(np.logspace, R(3), R(3), 4, True, POS(3), axis=1, order=1, **F64),
    case(np.full, (3, 4), FLOAT(R()), **F64), case(np.full, (3, 4), R(4), **F64),
    case(np.full_like, np.zeros((2, 3)), FLOAT(R()), **F64),
    case(np.arange, FLOAT(R()), 5.0, FLOAT(POS()), **F64), case(np.arange, FLOAT(R()), 3.0, **F64),
    case(np.arange, 0.5, 3.0, FLOAT(POS()), **F64),
    case(runtime.fill_grad, R(3, 4), np.zeros((3, 4)), R(4), **F64),
    case(runtime.fill_tangent, R(4), np.zeros((3, 4)), **F64),
    case(runtime.arange_start_grad, R(5), np.zeros(5), 3.0, **F64),
    case(runtime.arange_start_tangent, FLOAT(R()), np.zeros(4), 2.0, **F64),
    case(runtime.as_list, R(3, 2), path="a0.tolist()", order=1),
    # order 1: their cotangents are lists, as for np.concatenate
    case(runtime.r_join, R(3), R(2), path="np.r_.__getitem__((a0, a1, a0))", order=1),
    case(runtime.r_join, R(3), path="np.r_.__getitem__((a0, 2.0, slice(1, 4)))", order=1),
    case(runtime.r_join, R(2, 3), R(1, 3), path="np.r_.__getitem__((a0, a1))", order=1),
    case(runtime.c_join, R(3), R(3, 2), path="np.c_.__getitem__((a0, a1, slice(0, 3)))", order=1),
]

CASES = REDUCTIONS + PRODUCTS + LINALG + SHAPE + SELECTION + METHODS + HELPERS + CREATION
