"""Complex values inside a real function: the cotangent of a real value, np.linalg.eig, and forward rules
whose body returns early.

A real function of real inputs may compute with complex numbers on the way (eigenvalues of a general
matrix, ``1j * x``). The cotangent of a real intermediate may then carry an imaginary part that only the
final projection onto the real input removes; the rules of the functions with real results of complex
arguments (Re, Im, abs, angle) must read only its real part. Each case is checked against finite
differences of the plain function, at orders 1 and 2, in both modes.
"""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads


def real_of_rotated(x):
    y = np.real(x * (1 + 2j))  # y = x: its cotangent, from the complex product below, is complex
    return np.sum(np.real(1j * y * (3 + 1j)))


def imag_of_rotated(x):
    y = np.imag(x * (1 + 2j))
    return np.sum(np.real(1j * y * (3 + 1j)))


def abs_of_rotated(x):
    y = np.abs(x * (1 + 2j))
    return np.sum(np.real(1j * y * (3 + 1j)) + y ** 2)


def angle_of_shifted(x):
    y = np.angle(x + 0.5j)
    return np.sum(np.imag((2 - 1j) * y * x))


@pytest.mark.parametrize("fn, slope", [(real_of_rotated, -1.0), (imag_of_rotated, -2.0)])
def test_linear_cases_have_their_exact_slope(fn, slope):
    # y = x (or 2x) and Re(1j (3 + 1j) y) = -y: the gradient is -1 (or -2) everywhere, a value
    # derived on paper; the product with 1 + 2j must not leak into it.
    g = ad.grad(fn)(np.array([0.7, -0.2, 1.5]))
    np.testing.assert_allclose(g, np.full(3, slope), rtol=1e-12)
    assert ad.grad(fn)(0.7) == pytest.approx(slope, rel=1e-12)
    assert type(ad.grad(fn)(0.7)) is float


@pytest.mark.parametrize("fn", [real_of_rotated, imag_of_rotated, abs_of_rotated, angle_of_shifted])
def test_complex_intermediates_match_finite_differences(fn):
    x = np.array([0.7, -0.4, 1.3])
    check_grads(fn, (x,), order=2)
    check_grads(fn, (0.7,), order=2)


def eig_abs(a):
    w, v = np.linalg.eig(a)
    return np.sum(np.abs(w)) + np.sum(np.abs(v))


def eig_phase_dependent(a):
    # reads the real and imaginary parts of the eigenvectors: depends on numpy's phase convention
    w, v = np.linalg.eig(a)
    return np.sum(np.real(v) * np.arange(1.0, 5.0)[:, None]) + np.sum(np.imag(v) ** 2 * np.cos(w.real))


def eig_values_only(a):
    w, _ = np.linalg.eig(a)
    return np.sum(w.real ** 2 - w.imag ** 2)


def eigvals_cubed(a):
    return np.real(np.sum(np.linalg.eigvals(a) ** 3))


def _general(seed, n=4):
    """A real matrix with two complex pairs of eigenvalues, well separated."""
    rng = np.random.default_rng(seed)
    b = np.zeros((n, n))
    for k in range(0, n - 1, 2):
        b[k, k] = b[k + 1, k + 1] = 1.0 + k
        b[k, k + 1], b[k + 1, k] = 0.5 + k, -(0.5 + k)
    q = rng.standard_normal((n, n)) + 3 * np.eye(n)
    return q @ b @ np.linalg.inv(q)


@pytest.mark.parametrize("fn", [eig_abs, eig_phase_dependent, eig_values_only, eigvals_cubed])
@pytest.mark.parametrize("seed", [0, 1])
def test_eig_of_a_general_matrix(fn, seed):
    a = _general(seed)
    assert np.iscomplexobj(np.linalg.eigvals(a))  # the case is about complex eigenpairs
    check_grads(fn, (a,), order=2)
    jr = ad.jacrev(ad.grad(fn))(a)
    jf = ad.jacfwd(ad.grad(fn))(a)
    np.testing.assert_allclose(jr, jf, rtol=1e-7, atol=1e-9)


def test_eig_of_a_random_gaussian_matrix():
    # autograd's own test: an 8x8 standard normal matrix, abs of both results
    a = np.random.default_rng(3).standard_normal((8, 8))
    check_grads(_abs_both, (a,), order=1)


def _abs_both(a):
    w, v = np.linalg.eig(a)
    return np.sum(np.abs(w)) + np.sum(np.abs(v) * np.arange(8.0)[:, None])


def test_eig_with_real_eigenvalues_matches_eigh():
    # On a symmetric matrix eig returns real eigenpairs; functions of them that do not depend on the
    # order or sign of the eigenvectors must have eigh's gradient.
    rng = np.random.default_rng(5)
    m = rng.standard_normal((4, 4))
    a = m + m.T

    def by_eig(a):
        w, v = np.linalg.eig(a)
        return np.sum(w ** 3) + np.sum((v ** 2) @ np.arange(4.0) * w)

    def by_eigh(a):
        w, v = np.linalg.eigh(a)
        return np.sum(w ** 3) + np.sum((v ** 2) @ np.arange(4.0) * w)

    if np.iscomplexobj(np.linalg.eig(a)[0]):
        pytest.skip("this numpy returns the eigenpairs of a real matrix as complex arrays (numpy 2.5 and later)")
    g_eig = ad.grad(by_eig)(a)
    g_eigh = ad.grad(by_eigh)(a)
    # eigh reads one triangle of a; eig all of it: compare along symmetric directions
    np.testing.assert_allclose(g_eig + g_eig.T, np.tril(g_eigh) + np.tril(g_eigh).T, rtol=1e-8, atol=1e-10)
    check_grads(by_eig, (a,), order=2)


def test_a_forward_rule_that_returns_early():
    # A registered forward rule whose body returns from inside a branch: it is called, not inlined (an
    # inlined `return` would return from the generated function).
    def scaled_sin(x):
        return np.sin(x) * 2.0

    @ad.register_vjp(scaled_sin)
    def scaled_sin_vjp(g, ans, x):
        return g * 2.0 * np.cos(x)

    @ad.register_jvp(scaled_sin)
    def scaled_sin_jvp(t, ans, x):
        if np.ndim(x) == 0:
            return t * 2.0 * np.cos(x)
        return t * 2.0 * np.cos(x)

    def f(x):
        y = scaled_sin(x)
        return y * 3.0

    value, tangent = ad.jvp(f, (0.5,), (1.0,))
    assert value == pytest.approx(6 * np.sin(0.5), rel=1e-12)
    assert tangent == pytest.approx(6 * np.cos(0.5), rel=1e-12)
    check_grads(f, (np.array([0.5, -1.0]),), order=1)


def test_a_reverse_rule_that_returns_early():
    def cubed(x):
        return x ** 3

    @ad.register_vjp(cubed)
    def cubed_vjp(g, ans, x):
        if np.ndim(x) == 0:
            return g * 3.0 * x ** 2
        return g * 3.0 * x * x

    def f(x):
        return np.sum(cubed(x) * 2.0)

    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(ad.grad(f)(x), 6.0 * x ** 2, rtol=1e-12)
    assert ad.grad(f)(0.5) == pytest.approx(1.5, rel=1e-12)
    check_grads(f, (x,), order=2, modes=("rev",))
