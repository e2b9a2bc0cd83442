"""What HIPS/autograd's own tests found missing (rules/autograd_gaps.py), checked against finite differences
with check_grads: tuple() and list() of arrays and of factorizations' results, integer casts, np.inner of a
scalar, scipy.special.gammasgn."""

import numpy as np
import pytest

import autodiff_st as ad

A = np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 3.0]])


def rows_of(x):
    a, b, c = tuple(x * 2.0)
    return a * b + c


def listed(x):
    return np.sum(np.stack(list(x)) ** 2)


def eigh_pair(x):
    w, v = np.linalg.eigh(x)
    return tuple((w, np.abs(v)))


def svd_triple(x):
    u, s, v = np.linalg.svd(x, full_matrices=False)
    return tuple((np.abs(u), s, np.abs(v)))


def cast(x):
    return np.sum(x * np.int64(x[0] * 10.0)) + np.sum(x * np.bool_(x[1] > 0))


def scalar_inner(x):
    return np.inner(1.5, x)


@pytest.mark.parametrize("fn, x", [(rows_of, A), (listed, A), (eigh_pair, A), (svd_triple, A[:2]), (cast, A[0] + 0.013),
                                   (scalar_inner, A)])
def test_matches_finite_differences(fn, x):
    ad.testing.check_grads(fn, (x,))


def test_jacobians_of_tuple_of_rows_agree():
    jr, jf = ad.jacrev(rows_of)(A), ad.jacfwd(rows_of)(A)
    np.testing.assert_allclose(jr, jf, rtol=1e-12)


def test_gammasgn_is_piecewise_constant():
    special = pytest.importorskip("scipy.special")

    def gamma_sign(x):
        return special.gammasgn(x) * x ** 2

    assert ad.grad(gamma_sign)(-0.5) == pytest.approx(2 * -0.5 * -1.0)  # gammasgn(-0.5) = -1
