"""What is differentiated is what Python runs, only typed errors leave the library, errors point at the
user's lines, and transforms are safe to run from several threads."""

import functools
import importlib
import operator
import sys
import threading
import time
import traceback

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import cache
from autodiff_st.compiler.naming import identifier_for
from autodiff_st.core.errors import (AutodiffError, InputTypeError, OptionTypeError, OptionValueError,
                                     SourceUnavailableError, StaleSourceError, UnsupportedSyntaxError)
from autodiff_st.runtime.calls import primitive_caller


def times_three(func):
    @functools.wraps(func)
    def wrapper(x):
        return 3.0 * func(x)
    return wrapper


def scaled_by(k):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return k * func(*args, **kwargs)
        return wrapper
    return decorate


@times_three
def tripled_square(x):
    return np.sum(x ** 2)


@scaled_by(3.0)
def scaled_square(x):
    return np.sum(x ** 2)


X = np.array([1.0, -2.0, 0.5])


# --- what is differentiated is what Python runs ----------------------------------------------------

def test_a_decorated_function_is_differentiated_through_its_wrapper():
    assert np.isclose(tripled_square(X), 3.0 * np.sum(X ** 2))
    np.testing.assert_allclose(ad.grad(tripled_square)(X), 6.0 * X)
    ad.testing.check_grads(tripled_square, (X,))


def test_a_wrapper_with_star_args_is_differentiated_as_python_runs_it():
    # The wrapper `k * func(*args, **kwargs)` is what Python runs: specialized on the call's arguments.
    assert np.isclose(scaled_square(X), 3.0 * np.sum(X ** 2))
    np.testing.assert_allclose(ad.grad(scaled_square)(X), 6.0 * X)
    ad.testing.check_grads(scaled_square, (X,))
    np.testing.assert_allclose(ad.hessian(scaled_square)(X), 6.0 * np.eye(3))


def test_a_module_edited_after_import_is_refused(tmp_path, monkeypatch):
    module_file = tmp_path / "edited_after_import.py"
    module_file.write_text("import numpy as np\n\ndef f(x):\n    return np.sum(x * 2.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_after_import")
    try:
        module_file.write_text("import numpy as np\n\ndef f(x):\n    return np.sum(x * 30.0)\n")
        with pytest.raises(StaleSourceError) as info:
            ad.grad(module.f)(X)
        assert "edited_after_import.py" in str(info.value)
        fresh = importlib.reload(module)
        np.testing.assert_allclose(ad.grad(fresh.f)(X), 30.0 * np.ones(3))
    finally:
        sys.modules.pop("edited_after_import", None)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("make", [lambda: np.matrix([[1.0, 2.0]]), lambda: np.ma.array([1.0, 2.0], mask=[0, 1])],
                         ids=["matrix", "masked"])
@pytest.mark.parametrize("transform", [ad.grad, ad.jacrev, ad.jacfwd], ids=["grad", "jacrev", "jacfwd"])
def test_array_subclasses_with_other_operators_are_refused(transform, make):
    value = make()
    with pytest.raises(InputTypeError) as info:
        transform(lambda x: x * x)(value)
    assert type(value).__name__ in str(info.value) and "np.asarray" in str(info.value)
    with pytest.raises(InputTypeError):
        ad.vjp(lambda x: x * x, value)


def test_a_parameter_is_still_an_input():
    w = ad.Parameter(np.array([1.0, 2.0]))
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(x * x))(w), 2.0 * w)


# --- nothing but typed errors leaves the library ---------------------------------------------------

class NoisyKey(str):
    reprs = 0

    def __repr__(self):
        NoisyKey.reprs += 1
        return "'a'"


def test_dict_keys_are_never_written_with_their_own_repr():
    with pytest.raises(InputTypeError):
        ad.jacrev(lambda d: d["a"] * 2.0)({NoisyKey("a"): X})
    assert NoisyKey.reprs == 0
    jac = ad.jacrev(lambda d: d["a"] * 2.0 + d[1])({"a": X, 1: X})
    np.testing.assert_allclose(jac["a"], 2.0 * np.eye(3))
    np.testing.assert_allclose(jac[1], np.eye(3))


@pytest.mark.parametrize("text, expected", [("<lambda>", "lambda_"), ("f", "f"), ("my fn.v2", "my_fn_v2"),
                                            ("2nd", "v2nd"), ("class", "class_"), ("", "f"), ("é", "f")])
def test_identifier_for(text, expected):
    assert identifier_for(text) == expected


def test_jacobians_of_the_gradient_of_a_lambda_and_of_an_odd_name():
    square = lambda x: np.sum(x ** 3)  # noqa: E731
    np.testing.assert_allclose(ad.jacrev(ad.grad(square))(X), np.diag(6.0 * X))

    def cube(x):
        return np.sum(x ** 3)

    cube.__name__ = "not an identifier!"
    np.testing.assert_allclose(ad.jacrev(ad.grad(cube))(X), np.diag(6.0 * X))


def test_a_callable_without_source_reached_at_run_time_is_a_typed_refusal():
    def apply(f, x):
        return np.sum(f(x))

    with pytest.raises(SourceUnavailableError, match="itemgetter"):
        ad.grad(apply, grad_position=1)(operator.itemgetter(0), X)
    # a partial of a function with a rule is differentiated through the rule
    np.testing.assert_allclose(ad.grad(apply, grad_position=1)(functools.partial(np.sin), X), np.cos(X))


def test_a_primitive_caller_has_a_clean_name_clear_of_its_keywords():
    def odd(x, primitive=1.0):
        return x * primitive

    odd.__name__ = "0 odd-name"
    caller = primitive_caller(odd, 1, ("primitive",))
    assert caller.__name__ == "call_v0_odd_name"
    assert caller(2.0, primitive=3.0) == 6.0


OPTION_CASES = [
    (lambda: ad.grad(np.sin, has_aux="yes"), OptionTypeError),
    (lambda: ad.value_and_grad(np.sin, has_aux=1), OptionTypeError),
    (lambda: ad.grad(np.sin, return_value="no"), OptionTypeError),
    (lambda: ad.jacrev(np.sin, has_aux="yes"), OptionTypeError),
    (lambda: ad.jacrev(np.sin, holomorphic="yes"), OptionTypeError),
    (lambda: ad.jacrev(np.sin, allow_int=None), OptionTypeError),
    (lambda: ad.jacrev(np.sin, return_value=[]), OptionTypeError),
    (lambda: ad.jacfwd(np.sin, has_aux="yes"), OptionTypeError),
    (lambda: ad.hessian(lambda x: x, has_aux="yes"), OptionTypeError),
    (lambda: ad.jacrev(np.sin, chunk_size=1.5), TypeError),
    (lambda: ad.jacrev(np.sin, chunk_size=0), ValueError),
    (lambda: ad.vjp(np.sin, X, has_aux="yes"), OptionTypeError),
    (lambda: ad.vmap(np.sin, in_axes="0"), OptionTypeError),
    (lambda: ad.vmap(np.sin, chunk_size=0), OptionValueError),
]


@pytest.mark.parametrize("make, error", OPTION_CASES, ids=range(len(OPTION_CASES)))
def test_options_of_the_wrong_type_are_typed_errors(make, error):
    with pytest.raises(error) as info:
        make()
    assert isinstance(info.value, AutodiffError)


def test_has_aux_yes_is_a_type_error_as_seed_000_says():
    with pytest.raises(TypeError):
        ad.jacrev(lambda x: (x, x), has_aux="yes")


# --- errors point at the user ----------------------------------------------------------------------

def mismatched_shapes(x):
    y = x * 2.0
    return np.sum(y + np.ones(4))


def refuses_odd_sizes(n):
    if n % 2:
        raise ValueError("an odd size")
    return n


def calls_a_checking_helper(x, n):
    refuses_odd_sizes(n)
    return np.sum(x * 2.0)


def _frames(info):
    return traceback.extract_tb(info.tb)


def _library_frames(frames):
    """The library's frames, but for the one boundary frame that re-raises with the user's traceback: the
    wrapper of core/tracebacks.py, or a transform's own __call__ where it is its own boundary (grad's)."""
    return [f for f in frames if "/autodiff_st/" in f.filename and "tracebacks.py" not in f.filename
            and not (f.name == "__call__" and "with_traceback(tb)" in f.line)]


def test_a_shape_mismatch_points_at_the_users_line():
    with pytest.raises(ValueError, match="broadcast") as info:
        ad.grad(mismatched_shapes)(X)
    frames = _frames(info)
    user = [f for f in frames if f.filename == __file__ and f.name == "mismatched_shapes"]
    assert user and user[-1].line == "return np.sum(y + np.ones(4))"
    library = _library_frames(frames)
    assert not library, frames
    assert type(info.value) is ValueError


def test_the_users_own_raise_in_a_helper_keeps_its_type_and_line():
    with pytest.raises(ValueError, match="an odd size") as info:
        ad.grad(calls_a_checking_helper)(X, 3)
    frames = _frames(info)
    assert [f.line for f in frames if f.name == "calls_a_checking_helper"] == ["refuses_odd_sizes(n)"]
    assert frames[-1].name == "refuses_odd_sizes" and frames[-1].line == 'raise ValueError("an odd size")'
    assert not _library_frames(frames)


@pytest.mark.parametrize("run", [lambda: ad.jacrev(mismatched_shapes)(X), lambda: ad.jacfwd(mismatched_shapes)(X),
                                 lambda: ad.vjp(mismatched_shapes, X),
                                 lambda: ad.vmap(mismatched_shapes)(np.ones((2, 3)))],
                         ids=["jacrev", "jacfwd", "vjp", "vmap"])
def test_the_user_line_shows_in_every_transform(run):
    with pytest.raises(ValueError) as info:
        run()
    assert any(f.name == "mismatched_shapes" and f.filename == __file__ for f in _frames(info))


# --- threads ---------------------------------------------------------------------------------------

class Scale(ad.nn.Cell):
    def __init__(self, value):
        self.w = ad.Parameter(np.full(3, value))

    def construct(self, x):
        return np.sum(self.w * x * self.w)


def _weight_gradient(cell):
    (got,) = ad.grad(cell, grad_position=None, weights=cell.trainable_params())(X)
    return got


def _weight_jacobian(cell):
    (got,) = ad.jacrev(cell, grad_position=None, weights=cell.trainable_params())(X)
    return got


@pytest.mark.parametrize("transform", [_weight_gradient, _weight_jacobian], ids=["grad", "jacrev"])
def test_two_threads_with_weights_get_their_own_totals(transform):
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        cells = [Scale(1.0), Scale(5.0)]
        expected = [2.0 * c.w * X for c in cells]
        failures = []

        def work(cell, want):
            for _ in range(100):
                got = transform(cell)
                if not np.allclose(got, want):
                    failures.append(got)

        threads = [threading.Thread(target=work, args=(c, e)) for c, e in zip(cells, expected)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
    finally:
        sys.setswitchinterval(interval)


def test_eight_threads_racing_for_one_function_build_it_once(monkeypatch):
    builds = []
    real_build = cache.build

    def counting_build(fn, *args):
        builds.append(fn)
        time.sleep(0.05)
        return real_build(fn, *args)

    monkeypatch.setattr(cache, "build", counting_build)

    def raced(x):
        return np.sum(np.tanh(x) * 3.25)

    barrier = threading.Barrier(8)
    results = [None] * 8

    def work(i):
        barrier.wait()
        results[i] = ad.grad(raced)(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [f for f in builds if f is raced] == [raced]
    for r in results:
        np.testing.assert_allclose(r, 3.25 / np.cosh(X) ** 2)


def test_nested_boundaries_place_the_users_line_once():
    with pytest.raises(ValueError) as info:
        ad.vmap(ad.grad(mismatched_shapes))(np.ones((2, 3)))
    user = [f for f in _frames(info) if f.name == "mismatched_shapes"]
    assert len(user) == 1, _frames(info)


ARGUMENT_CASES = [
    (lambda: ad.grad(np.sin, grad_position=None), ValueError),
    (lambda: ad.grad(np.sin, grad_position=0, argnums=0), TypeError),
    (lambda: ad.grad(np.sin, weights=[1.0]), TypeError),
    (lambda: ad.grad(np.sin, grad_position=(0, "1")), TypeError),
    (lambda: ad.vmap(np.sin, in_axes=(0, 0))(X), ValueError),
    (lambda: ad.vmap(np.sin)(1.0), ValueError),
    (lambda: ad.jacrev(np.sin, has_aux=NoisyKey("x")), TypeError),
]


@pytest.mark.parametrize("run, error", ARGUMENT_CASES, ids=range(len(ARGUMENT_CASES)))
def test_argument_checks_are_typed_and_run_no_user_repr(run, error):
    before = NoisyKey.reprs
    with pytest.raises(error) as info:
        run()
    assert isinstance(info.value, AutodiffError)
    assert NoisyKey.reprs == before
