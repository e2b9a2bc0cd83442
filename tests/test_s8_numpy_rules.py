"""The numpy functions added in step 8, used inside small user functions: each is checked against finite
differences to second order (check_grads, which also checks every transform's value against the plain
function's), and jacrev against jacfwd. The refusals are typed and quote the user's line."""

import warnings

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

XP = np.array([0.0, 0.5, 1.2, 2.0, 3.0])
IDX = np.array([0, 2, 2, 1, 0])
WEIGHTS = np.arange(24.0).reshape(4, 2, 3)


def interp_in_x_and_fp(x, fp):
    return np.sum(np.interp(x, XP, fp) ** 2)


def interp_with_ends(x, fp):
    return np.sum(np.sin(np.interp(x, XP, fp, left=-1.0, right=0.5)))


def polyval_both(p, x):
    return np.sum(np.sin(np.polyval(p, x)))


def convolve_modes(a, v):
    full = np.convolve(a, v)
    same = np.convolve(a, v, mode="same")
    valid = np.convolve(v, a, "valid")
    return np.sum(full ** 2) + np.sum(same * np.cos(same)) + np.sum(valid ** 3)


def bincount_weights(w):
    return np.sum(np.bincount(IDX, weights=w * w, minlength=4) ** 2)


def ufunc_reductions(x):
    return (np.sum(np.add.reduce(x ** 2, axis=1)) + np.sum(np.multiply.reduce(x)) + np.maximum.reduce(x * x, axis=None)
            + np.sum(np.minimum.reduce(np.sin(x), axis=1)) + np.sum(np.logaddexp.reduce(x, axis=1)))


def ufunc_accumulations(x):
    return np.sum(np.add.accumulate(x ** 2, axis=1) * np.multiply.accumulate(x))


def add_at_into_own_array(x, v):
    a = np.zeros(4)
    a = a + x
    np.add.at(a, IDX[:3], v * v)
    return np.sum(a ** 2)


def add_at_in_a_loop(v):
    a = np.zeros(3)
    for k in range(2):
        np.add.at(a, IDX[k:k + 3] % 3, v * (k + 1.0))
    return np.sum(np.sin(a))


def gradient_one_axis(f):
    return np.sum(np.gradient(f ** 2, 0.5) * np.gradient(f, np.array([0.0, 0.2, 0.5, 1.0, 1.1, 2.0]), edge_order=2))


def gradient_two_axes(f):
    gx, gy = np.gradient(f * f, 0.5, 2.0)
    return np.sum(gx * gy)


def rolled(x):
    return np.sum(np.rollaxis(x, 2, 0) ** 2 * WEIGHTS)


ROW_STACK = getattr(np, "row_stack", np.vstack)  # numpy's alias of vstack, removed in numpy 2.5


def row_stacked(x, y):
    with_rows = ROW_STACK([x, y])
    return np.sum(np.sin(with_rows))


def einsum_sublists(a, b):
    return np.sum(np.sin(np.einsum(a, [0, 1], b, [1, 2], [0, 2])))


def dot_and_inner_3d(a, b):
    return np.sum(np.sin(np.dot(a, b))) + np.sum(np.inner(a, a) ** 2)


def singular_values(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) ** 2 * np.array([1.0, 2.0, 3.0]))


def real_if_close_of(x):
    return np.sum(np.real_if_close(x) ** 2)


RNG = np.random.default_rng(0)
CASES = [
    (interp_in_x_and_fp, (np.array([-0.4, 0.2, 0.9, 1.5, 2.6, 3.4]), RNG.standard_normal(5))),
    (interp_with_ends, (np.array([-0.4, 0.2, 0.9, 1.5, 2.6, 3.4]), RNG.standard_normal(5))),
    (polyval_both, (RNG.standard_normal(4), RNG.standard_normal(5))),
    (convolve_modes, (RNG.standard_normal(5), RNG.standard_normal(3))),
    (bincount_weights, (RNG.standard_normal(5),)),
    (ufunc_reductions, (RNG.standard_normal((3, 4)),)),
    (ufunc_accumulations, (RNG.standard_normal((3, 4)),)),
    (add_at_into_own_array, (RNG.standard_normal(4), RNG.standard_normal(3))),
    (add_at_in_a_loop, (RNG.standard_normal(3),)),
    (gradient_one_axis, (RNG.standard_normal(6),)),
    (gradient_two_axes, (RNG.standard_normal((4, 5)),)),
    (rolled, (RNG.standard_normal((2, 3, 4)),)),
    (dot_and_inner_3d, (RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 3)))),
    (singular_values, (RNG.standard_normal((4, 3)),)),
    (real_if_close_of, (RNG.standard_normal(3),)),
]
FIRST_ORDER = [  # their rules' cotangents are lists, which the compiler does not yet differentiate again
    (einsum_sublists, (RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)))),
    (row_stacked, (RNG.standard_normal(3), RNG.standard_normal((2, 3)))),
]
ALL = CASES + FIRST_ORDER


def _quiet():
    warnings.filterwarnings("ignore", message=".*row_stack.*", category=DeprecationWarning)


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_second_order_matches_finite_differences(fn, args):
    check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, args", FIRST_ORDER, ids=[fn.__name__ for fn, _ in FIRST_ORDER])
def test_first_order_matches_finite_differences(fn, args):
    with warnings.catch_warnings():
        _quiet()
        check_grads(fn, args, order=1)


@pytest.mark.parametrize("fn, args", ALL, ids=[fn.__name__ for fn, _ in ALL])
def test_jacrev_equals_jacfwd(fn, args):
    positions = tuple(range(len(args)))
    with warnings.catch_warnings():
        _quiet()
        reverse = ad.jacrev(fn, grad_position=positions)(*args)
        forward = ad.jacfwd(fn, grad_position=positions)(*args)
    for r, f in zip(reverse, forward):
        np.testing.assert_allclose(r, f, rtol=1e-10, atol=1e-12)


def test_jacobians_of_vector_results():
    def signals(x, p):
        return np.concatenate([np.interp(x, XP, np.sin(XP)), np.polyval(p, x), np.convolve(x, p, "same"),
                               np.add.accumulate(x * x), np.gradient(x * p[0], 0.3)])

    x, p = np.array([-0.2, 0.4, 1.0, 2.4]), np.array([0.5, -1.0, 2.0])
    for position in (0, 1):
        np.testing.assert_allclose(ad.jacrev(signals, grad_position=position)(x, p),
                                   ad.jacfwd(signals, grad_position=position)(x, p), rtol=1e-10, atol=1e-12)
    check_grads(signals, (x, p), order=2)


def test_dot_beyond_two_dimensions_matches_tensordot():
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 4, 5))
    grad_a = ad.grad(lambda a: np.sum(np.sin(np.dot(a, b))))(a)
    expected = ad.grad(lambda a: np.sum(np.sin(np.tensordot(a, b, axes=([2], [1])))))(a)
    np.testing.assert_allclose(grad_a, expected, rtol=1e-12)


# -- refusals ---------------------------------------------------------------------------------------------

def interp_in_xp(xp):
    return np.sum(np.interp(np.array([0.3, 1.4]), xp, np.array([0.0, 1.0, 4.0])))


def add_at_into_argument(a, v):
    np.add.at(a, IDX[:2], v)
    return np.sum(a)


def add_at_into_shared(x, v):
    a = np.zeros(4)
    b = a
    np.add.at(a, IDX[:2], v)
    return np.sum(b * x)


def gradient_in_spacing(f, h):
    return np.sum(np.gradient(f, h))


def sum_with_where(x):
    return np.sum(x, where=x > 0)


def test_interp_refuses_a_differentiated_xp():
    with pytest.raises(ad.AutodiffError, match="xp") as info:
        ad.grad(interp_in_xp)(np.array([0.0, 1.0, 2.0]))
    assert "np.interp(np.array([0.3, 1.4]), xp" in str(info.value)


def test_add_at_refuses_an_array_it_does_not_own():
    with pytest.raises(ad.AutodiffError) as info:
        ad.grad(add_at_into_shared, grad_position=1)(np.zeros(4), np.array([1.0, 2.0]))
    assert "np.add.at(a, IDX[:2], v)" in str(info.value)


def test_add_at_into_an_argument_changes_the_callers_array_as_python_does():
    expected_array = np.zeros(4)
    expected = add_at_into_argument(expected_array, np.array([1.0, 2.0]))
    given = np.zeros(4)
    value, grad = ad.value_and_grad(add_at_into_argument, grad_position=1)(given, np.array([1.0, 2.0]))
    np.testing.assert_allclose(value, expected)
    np.testing.assert_allclose(given, expected_array)
    # (order 1: at order 2 the generated code reads a part of `a` before the write, and the run-time check
    # refuses that write: a refusal, not a wrong value)
    check_grads(add_at_into_argument, (np.zeros(4), np.array([1.0, 2.0])), order=1)


def test_add_at_keeps_numpys_semantics_for_integer_arrays():
    def counted(x):
        counts = np.zeros(3, dtype=int)
        np.add.at(counts, IDX[:4] % 3, 1)
        return np.sum(counts * x)

    x = np.array([0.5, 1.5, -2.0])
    np.testing.assert_array_equal(ad.grad(counted)(x), [1.0, 1.0, 2.0])
    assert ad.value_and_grad(counted)(x)[0] == counted(x)


def test_gradient_refuses_a_differentiated_spacing():
    with pytest.raises(ad.AutodiffError, match="varargs"):
        ad.grad(gradient_in_spacing, grad_position=(0, 1))(np.arange(4.0) ** 2, 0.5)


def test_reductions_take_where():
    # where= is differentiated now (tests/test_s8_rest.py); a mask computed from x carries no derivative
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(ad.grad(sum_with_where)(x), [1.0, 0.0, 1.0])
    check_grads(sum_with_where, (x,))
