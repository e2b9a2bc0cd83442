"""The last step-8 constructs: where= and initial= in reductions, np.vectorize and np.apply_along_axis of
the user's functions, variadic lambdas given to a transform or a helper, x ** 0 at 0, solve_banded and
multivariate_normal.entropy in use; and the refusals that remain (np.frompyfunc, vectorize options, a
differentiated initial=). Each construct is checked by tests/s8_checks.check_construct: values against
the plain function, both modes against finite differences at orders 1 and 2, jacrev against jacfwd."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core.errors import AutodiffError, NonDifferentiableError, UnsupportedSyntaxError
from tests.s8_checks import assert_refused, check_construct

X = np.array([[0.7, -1.3, 0.4, 1.1], [-0.2, 0.9, -0.8, 0.35], [1.4, -0.6, 0.15, -1.05]])
MASK = np.array([[True, False, True, True]])

# -- where= and initial= in reductions ---------------------------------------------------------------------


def sum_where(x):
    return np.sum(np.sin(x) * x, axis=1, where=MASK)


def sum_initial(x):
    return np.sum(x ** 2, initial=2.5) * np.sum(x, axis=0, initial=-1.0)


def mean_where(x):
    return np.mean(np.exp(x), axis=1, where=MASK) ** 2


def max_initial_where(x):
    # each row's selected maximum is above -5; the min of row 1 is below 0.2, the others' too
    return np.max(x * 2, axis=1, initial=-5.0, where=MASK) ** 2 + np.min(x, axis=1, initial=0.2)


def prod_where_initial(x):
    return np.prod(x + 2.0, axis=1, initial=0.5, where=MASK)


def method_sum_where(x):
    return (x ** 3).sum(axis=0, where=MASK)


@pytest.mark.parametrize("fn", [sum_where, sum_initial, mean_where, max_initial_where, prod_where_initial,
                                method_sum_where])
def test_reduction_where_initial(fn):
    check_construct(fn, (X,))


def test_max_initial_above_every_element_has_zero_gradient():
    def f(x):
        return np.max(x, initial=10.0)
    assert f(X) == 10.0
    np.testing.assert_array_equal(ad.grad(f)(X), np.zeros_like(X))  # the constant 10 is the max
    check_construct(lambda x: np.max(x, axis=1, initial=1.0), (X,))


def test_initial_generated_code_keeps_numpy_call():
    def f(x):
        return np.sum(x, initial=3.0)
    assert "initial=3.0" in ad.source(ad.grad(f))
    value, tangent = ad.jvp(f, (X,), (np.ones_like(X),))
    assert value == f(X) and tangent == X.size  # the tangent has no initial offset


def differentiated_initial(x, c):
    return np.sum(x, initial=c)


def test_differentiated_initial_is_refused():
    assert_refused(lambda f: ad.grad(f, argnums=1), differentiated_initial, (X, 2.0), "initial=c",
                   error=NonDifferentiableError)


# -- np.vectorize and np.apply_along_axis of user functions -----------------------------------------------

def piecewise(t):
    if t > 0:
        return t * t
    return np.sin(t)


@np.vectorize
def scaled(t, s):
    return t * s ** 2


def lane_stats(r):
    return np.array([np.sum(r ** 2), np.max(r)])


def vectorize_inline(x):
    return np.sum(np.vectorize(piecewise)(x) ** 2)


def vectorize_decorated(x):
    return scaled(x, np.array([1.5, 2.0, 0.7, -1.0])) * x


def vectorize_lambda(x):
    return np.vectorize(lambda t: np.exp(-t * t))(x)


def vectorize_closure(x):
    w = 3.0

    def inner(t):
        return w * np.tanh(t)
    return np.sum(np.vectorize(inner)(x) * x)


def vectorize_three(x):
    return np.sum(np.vectorize(lambda a, b, c: a * b + c)(x, x[0], 2.0))


def along_rows(x):
    return np.sum(np.apply_along_axis(lane_stats, 1, x) ** 2)


def along_columns(x):
    return np.apply_along_axis(lambda r: r * np.sum(r), 0, x)


def along_last(x):
    return np.sum(np.sin(np.apply_along_axis(np.sum, -1, x)))


@pytest.mark.parametrize("fn", [vectorize_inline, vectorize_decorated, vectorize_lambda, vectorize_closure,
                                vectorize_three, along_rows, along_columns, along_last])
def test_vectorize_and_apply_along_axis(fn):
    check_construct(fn, (X,))


def test_vectorize_result_matches_numpy_shape():
    y = np.vectorize(piecewise)(X)
    out, _ = ad.value_and_grad(lambda x: np.sum(np.vectorize(piecewise)(x)))(X)
    assert out == np.sum(y)
    assert np.apply_along_axis(lane_stats, 1, X).shape == (3, 2)


def frompyfunc_call(x):
    return np.sum(np.frompyfunc(piecewise, 1, 1)(x))


def vectorize_options(x):
    return np.sum(np.vectorize(piecewise, otypes=[float])(x))


def vectorize_captures_differentiated(x):
    def inner(t):
        return x[0, 0] * t
    return np.sum(np.vectorize(inner)(x))


def test_vectorize_refusals():
    assert_refused(ad.grad, frompyfunc_call, (X,), "np.frompyfunc", error=UnsupportedSyntaxError)
    assert_refused(ad.grad, vectorize_options, (X,), "otypes", error=UnsupportedSyntaxError)
    with pytest.raises(AutodiffError, match="reads a differentiated value"):
        ad.grad(vectorize_captures_differentiated)(X)


# -- a lambda with *args, x ** 0 at 0, solve_banded, mvn entropy ---------------------------------------------

def symmetrizing(fun):
    def check(*args):
        def symmetrize(a):
            lower = np.tril(a)
            return (lower + np.swapaxes(lower, -1, -2)) / 2.0
        new_fun = lambda *args: fun(symmetrize(args[0]), *args[1:])  # noqa: E731
        return new_fun
    return check


def test_variadic_lambda_is_specialized():
    spd = X[:, :3].T @ X[:, :3] + 3 * np.eye(3)
    f = symmetrizing(lambda a: np.linalg.cholesky(a))(spd)
    check_construct(f, (spd,))


def test_power_zero_exponent_at_zero():
    def f(x):
        return np.power(x, 0.0)
    assert ad.grad(f)(0.0) == 0.0
    assert ad.grad(ad.grad(f))(0.0) == 0.0
    check_construct(lambda x, y: x ** y, (1.7, 0.0))  # exact away from x == 0, in x and in y


def test_solve_banded_in_use():
    from scipy import linalg
    ab = np.array([[0.0, 0.3, -0.2, 0.1], [3.0, 2.5, 3.2, 2.8], [0.4, -0.1, 0.2, 0.0]])

    def f(ab, b):
        return np.sum(np.sin(linalg.solve_banded((1, 1), ab, b)))
    check_construct(f, (ab, X[0]))
    check_construct(lambda b, ab: f(ab, b), (X[0], ab))


def test_mvn_entropy_in_use():
    from scipy import stats
    cov = X.T @ X + np.eye(4)

    def f(cov, mean):
        return stats.multivariate_normal.entropy(mean, (cov + cov.T) / 2)
    check_construct(f, (cov, X[0]))
    np.testing.assert_array_equal(ad.grad(f, argnums=1)(cov, X[0]), np.zeros(4))


# -- constructs refused before, differentiated now ---------------------------------------------------------

def local_class(x):
    class Affine:
        def __call__(self, v):
            return 2.0 * v
    return np.sum(Affine()(x) ** 2)


def test_a_class_defined_inside_is_differentiated():  # refused before; tests/test_local_classes.py
    np.testing.assert_allclose(ad.grad(local_class)(X), 8.0 * X)


def nested_element_write(x):
    rows = [[x[0, 0], x[0, 1]], [x[1, 0], 0.0]]
    rows[0][1] = x[0, 0] * x[1, 0]
    return rows[0][0] + rows[0][1] * rows[1][0]


def nonlocal_assignment(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v
    add(np.sum(x ** 2))
    return total


@pytest.mark.parametrize("fn", [nested_element_write, nonlocal_assignment])
def test_nested_element_write_and_nonlocal_are_differentiated(fn):
    check_construct(fn, (X,))


def vectorize_int_first(x):
    return np.sum(np.vectorize(lambda t: 1 if t > 0 else t * 2.5)(x))


def test_vectorize_whose_first_result_is_an_int_is_refused():
    # numpy makes an int array from an int first result (truncating the rest): no derivative to follow
    from autodiff_st.core.errors import UnsupportedCaseError
    with pytest.raises(UnsupportedCaseError, match="first element"):
        ad.grad(vectorize_int_first)(X)


# -- numpy functions the step asked for that already had rules -------------------------------------------------

def real_if_close(x):
    return np.real_if_close(x ** 2) * x


def rollaxis(x):
    return np.rollaxis(np.stack([x, x ** 2]), 2, 0) * 1.5


def row_stack(x):
    with np.errstate(all="ignore"):
        stack = getattr(np, "row_stack", np.vstack)  # removed from newer numpy; vstack is the same
        return stack([x[0], x[1] ** 2])


@pytest.mark.parametrize("fn", [real_if_close, rollaxis, row_stack])
def test_numpy_shape_functions(fn):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        check_construct(fn, (X,))


# -- a return inside a with block (was a silently wrong None value and zero gradient) -------------------------

def return_in_with(x):
    with np.errstate(all="ignore"):
        return np.sum(np.sin(x) * x)


def return_in_nested_with(x):
    with np.errstate(all="ignore"):
        with np.errstate(divide="ignore"):
            y = x * 2
            return np.sum(np.log(y ** 2))


def return_in_with_in_loop(x):
    for i in range(3):
        with np.errstate(all="ignore"):
            if np.sum(x) > i:
                return np.sum(np.sin(x) * (i + 1))
    return np.sum(x)


def tuple_return_in_with(x):
    with np.errstate(all="ignore"):
        return np.sum(x ** 2), x[0]


@pytest.mark.parametrize("fn", [return_in_with, return_in_nested_with, return_in_with_in_loop])
def test_return_inside_with(fn):
    check_construct(fn, (X,))
    check_construct(fn, (-X,))


def test_tuple_return_inside_with():
    (value, aux), g = ad.value_and_grad(tuple_return_in_with, has_aux=True)(X)
    assert value == np.sum(X ** 2)
    np.testing.assert_array_equal(aux, X[0])
    np.testing.assert_allclose(g, 2 * X)
