"""The run-time sharing check (runtime/sharing.py): writes the analysis cannot prove safe are checked when
they run, differentiated where no other name shares the array, and refused with an AliasingError quoting
the line where one does. Writes into arguments stay refused."""

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.testing import check_grads

X = np.array([0.3, -0.2, 0.5])


def diag_then_write(q):
    Q = np.diag(np.exp(q))  # a new array for a vector (a view for a matrix)
    Q[1, 0] = q[0] * q[1]
    return np.sum(Q @ q)


def floats_copied_by_tuple_assignment(x):
    om, a1 = x[0] * 1.0, x[1] * 2.0
    k1t, k1o = om, a1  # Python floats: nothing is shared
    om += k1o * 0.5
    return om * k1t + a1


def eye_then_write(x):
    A = np.eye(3) * 1.0
    B = np.tril(A)
    B[2, 0] = np.sin(x[0])
    return np.sum(B @ x)


def view_then_augmented(x):
    m = np.stack([np.ones(3), x * 0.5])
    row = m[1]
    row += x[2]
    return np.sum(m)


def diag_of_matrix_then_write(x):
    A = np.outer(x, x)
    d = np.diagonal(A)
    d = np.diag(A)
    d[0] = 5.0
    return np.sum(A)


def write_into_argument(x):
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x * x)


def write_into_first_argument(x, y):
    x[0] = y[1] * 2.0
    return np.sum(x * y)


def dict_call(a, b):
    d = dict(scale=a, shift=b)
    return np.sum(d["scale"] * d["shift"])


@pytest.mark.parametrize("fn", [diag_then_write, floats_copied_by_tuple_assignment, eye_then_write])
def test_a_write_that_shares_nothing_when_it_runs_is_differentiated(fn):
    check_grads(fn, (X.copy(),), order=2)
    np.testing.assert_allclose(ad.jacrev(fn)(X.copy()), ad.jacfwd(fn)(X.copy()), rtol=1e-12)


@pytest.mark.parametrize("fn, line", [(view_then_augmented, "row += x[2]"), (diag_of_matrix_then_write, "d[0] = 5.0")])
def test_a_write_that_shares_memory_when_it_runs_is_refused_at_the_line(fn, line):
    with pytest.raises(ad.AliasingError) as caught:
        ad.grad(fn)(X.copy())
    assert line in str(caught.value)
    assert "test_s7_runtime_checks.py" in str(caught.value)
    assert isinstance(caught.value, ad.UnsupportedSyntaxError)


def test_the_check_appears_in_the_generated_code_only_where_needed():
    assert "check_unshared(Q, " in ad.source(ad.grad(diag_then_write))

    def owned(x):
        y = np.zeros(3)
        y[0] = x[0]
        return np.sum(y * x)

    assert "check_unshared" not in ad.source(ad.grad(owned))


def test_a_write_into_an_argument_changes_the_callers_array_as_python_does():
    expected_array = X.copy()
    expected_value = write_into_argument(expected_array)
    given = X.copy()
    value, grad = ad.value_and_grad(write_into_argument)(given)
    assert value == pytest.approx(expected_value)
    np.testing.assert_allclose(given, expected_array)
    # d/dx of sum(x'^2) where x'[0] = x0 x1: 2 x0 x1 (x1, x0) + 2 x1 on x1, 2 x2 on x2.
    x0, x1, x2 = X
    np.testing.assert_allclose(grad, [2 * x0 * x1 * x1, 2 * x0 * x1 * x0 + 2 * x1, 2 * x2])
    check_grads(write_into_argument, (X.copy(),), order=2)


def test_a_write_into_an_argument_does_not_write_into_the_callers_tangent():
    tangent = np.array([1.0, 0.5, -0.25])
    kept = tangent.copy()
    ad.jvp(write_into_argument, (X.copy(),), (tangent,))
    np.testing.assert_array_equal(tangent, kept)


def test_a_write_into_an_argument_that_another_argument_shares_is_refused():
    check_grads(write_into_first_argument, (X.copy(), X.copy() + 1.0), order=1)
    same = X.copy()
    with pytest.raises(ad.AliasingError, match="shares memory with `y`"):
        ad.grad(write_into_first_argument)(same, same)


def writes_into_its_argument(a, b):
    a[0] = np.sin(a[1] * b)
    return a


def calls_a_helper_that_writes_into_its_argument(x, s):
    m = x * 1.0
    r = writes_into_its_argument(m, s)
    return np.sum(np.tanh(r + m))


def test_a_write_into_a_helpers_argument_is_refused_when_it_runs():
    # The caller's m changes too, and the caller's derivative would not follow that.
    with pytest.raises(ad.AliasingError, match="is an argument") as caught:
        ad.grad(calls_a_helper_that_writes_into_its_argument)(X.copy(), 0.5)
    assert "a[0] = np.sin(a[1] * b)" in str(caught.value)


def scales_its_argument(a, b):
    a *= b
    return a


def calls_a_helper_that_scales_its_argument(x, s):
    m = x * 1.0
    r = scales_its_argument(m, s)
    return np.sum(np.tanh(r + m))


def test_an_augmented_assignment_to_a_helpers_argument_is_refused_when_it_runs():
    # Python changes the caller's array, which the caller reads again: the derivative would not follow.
    for run in (lambda f: ad.value_and_grad(f)(X.copy(), 0.5), lambda f: ad.jvp(f, (X.copy(), 0.5), (X, 0.0)),
                lambda f: ad.hessian(f)(X.copy(), 0.5)):
        with pytest.raises(ad.AliasingError, match="is an argument") as caught:
            run(calls_a_helper_that_scales_its_argument)
        assert "a *= b" in str(caught.value)


def test_an_augmented_assignment_to_the_transformed_functions_own_argument_rebinds_it():
    # The caller is the user, who keeps the array passed in (docs/api.md): the value and the gradient
    # are those of the function of the argument's value on entry.
    check_grads(scales_its_argument, (X.copy(), 0.5), order=2)


def test_dict_called_with_keywords_is_a_dict_display():
    check_grads(dict_call, (X.copy(), X.copy() + 1.0), order=2)
