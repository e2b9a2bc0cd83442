"""Stage 10, api: the public contract of grad, value_and_grad and vjp (SPEC.md).

Expected values are derived by hand from the math, never copied from the program's output.
"""

import sys

import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.core import errors


# --------------------------------------------------------------------------------------------------
# Functions under test. The compiler reads their source, so they live at module level.
# --------------------------------------------------------------------------------------------------

def mul3(x, y, z):
    return x * y * z + y


def mul(x, y):
    return x * y


def cube(x):
    return x * x * x


def square_plus_aux(x):
    return x * x, x + 1.0


def square_plus_two_aux(x):
    return x * x, x + 1.0, 3.0 * x


def square_only(x):
    return x * x


def square_in_one_tuple(x):
    return (x * x,)


def sum_of_squares(x):
    return np.sum(x * x)


def outer_product(x, y):
    return x * y  # with x of shape (3,) and y of shape (2, 1): a (2, 3) output


def elementwise_sin(x):
    return np.sin(x)


def two_outputs(x, y):
    return x * x + y, x * y


def with_defaults(x, scale=2.0, *, power=3.0):
    return scale * x ** power


def int_power(x, n):
    return x ** n


def keyword_only(x, *, y):
    return x * y


def reads_unused(x, y):
    return y * 2.0


CALLS = [0]


def counted_sin(x):
    """Runs in the forward pass only; the rule below is what the backward pass uses."""
    CALLS[0] += 1
    return np.sin(x)


@ad.register_vjp(counted_sin)
def counted_sin_vjp(g, ans, x):
    return g * np.cos(x)


def uses_counted_sin(x, y):
    return counted_sin(x) * y


def uses_counted_sin_with_aux(x):
    return counted_sin(x) * 2.0, x * 3.0


ACT = np.tanh


def applies_act(x):
    return ACT(x) * 2.0


def python_cube(x):
    return x * x * x


class Scaler:
    def __init__(self, k):
        self.k = k

    def loss(self, x, y):
        return self.k * x * y * y


class TanhCell(ad.nn.Cell):
    def __init__(self, w):
        self.w = w

    def construct(self, x, y):
        return np.sum(np.tanh(self.w * x) * y)


# --------------------------------------------------------------------------------------------------
# grad_position / argnums: the table of SPEC.md
# --------------------------------------------------------------------------------------------------

class TestGradPosition:
    def test_default_position_is_zero(self):
        # d/dx (x*y*z + y) = y*z
        assert ad.grad(mul3)(2.0, 3.0, 5.0) == pytest.approx(15.0)

    def test_int_gives_one_gradient(self):
        g = ad.grad(mul3, grad_position=1)(2.0, 3.0, 5.0)
        assert not isinstance(g, tuple)
        assert g == pytest.approx(2.0 * 5.0 + 1.0)

    def test_tuple_gives_tuple_in_order(self):
        g = ad.grad(mul3, grad_position=(2, 0))(2.0, 3.0, 5.0)
        assert isinstance(g, tuple) and len(g) == 2
        assert g[0] == pytest.approx(2.0 * 3.0)  # d/dz
        assert g[1] == pytest.approx(3.0 * 5.0)  # d/dx

    def test_one_element_tuple_gives_one_tuple(self):
        g = ad.grad(mul3, grad_position=(1,))(2.0, 3.0, 5.0)
        assert isinstance(g, tuple) and len(g) == 1
        assert g[0] == pytest.approx(11.0)

    def test_list_is_accepted_like_a_tuple(self):
        g = ad.grad(mul3, grad_position=[0, 1])(2.0, 3.0, 5.0)
        assert g == pytest.approx((15.0, 11.0))

    def test_negative_index_counts_from_the_end(self):
        assert ad.grad(mul3, grad_position=-1)(2.0, 3.0, 5.0) == pytest.approx(6.0)
        g = ad.grad(mul3, grad_position=(-3, -2))(2.0, 3.0, 5.0)
        assert g == pytest.approx((15.0, 11.0))

    def test_argnums_is_an_alias(self):
        assert ad.grad(mul3, argnums=1)(2.0, 3.0, 5.0) == pytest.approx(11.0)
        assert ad.grad(mul3, argnums=(0, 2))(2.0, 3.0, 5.0) == pytest.approx((15.0, 6.0))
        assert ad.value_and_grad(mul3, argnums=2)(2.0, 3.0, 5.0) == pytest.approx((33.0, 6.0))

    def test_both_names_is_a_type_error(self):
        with pytest.raises(TypeError):
            ad.grad(mul3, grad_position=1, argnums=1)
        with pytest.raises(TypeError):
            ad.grad(mul3, grad_position=(0, 1), argnums=(0, 1))
        with pytest.raises(TypeError):
            ad.value_and_grad(mul3, grad_position=2, argnums=1)

    def test_both_names_with_explicit_zero_is_a_type_error(self):
        with pytest.raises(TypeError):
            ad.grad(mul3, grad_position=0, argnums=1)

    def test_none_without_weights_fails_when_grad_is_called(self):
        with pytest.raises(ValueError):
            ad.grad(mul3, grad_position=None)  # the result is never called
        with pytest.raises(ValueError):
            ad.grad(mul3, None)
        with pytest.raises(ValueError):
            ad.value_and_grad(mul3, grad_position=None)
        with pytest.raises(ValueError):
            ad.grad(grad_position=None)(mul3)  # decorator form: fails when applied

    def test_out_of_range(self):
        df = ad.grad(mul3, grad_position=3)
        with pytest.raises(errors.GradPositionError) as info:
            df(2.0, 3.0, 5.0)
        assert isinstance(info.value, ValueError)
        assert "3" in str(info.value)
        with pytest.raises(errors.GradPositionError):
            ad.grad(mul3, grad_position=-4)(2.0, 3.0, 5.0)
        with pytest.raises(errors.GradPositionError):
            ad.grad(mul3, grad_position=(0, 7))(2.0, 3.0, 5.0)

    def test_duplicated(self):
        with pytest.raises(errors.GradPositionError) as info:
            ad.grad(mul3, grad_position=(0, 0))
        assert isinstance(info.value, ValueError)
        with pytest.raises(errors.GradPositionError):
            ad.grad(mul3, argnums=(1, 2, 1))

    def test_duplicated_after_resolving_negative_positions(self):
        with pytest.raises(errors.GradPositionError):
            ad.grad(mul3, grad_position=(0, -3))(2.0, 3.0, 5.0)

    def test_empty_tuple(self):
        with pytest.raises(errors.GradPositionError):
            ad.grad(mul3, grad_position=())

    @pytest.mark.parametrize("bad", ["0", 1.0, True, (0, "1"), (0, 1.0), {0: 1}])
    def test_wrong_type(self, bad):
        with pytest.raises(errors.GradPositionTypeError) as info:
            ad.grad(mul3, grad_position=bad)
        assert isinstance(info.value, TypeError)
        assert isinstance(info.value, ad.AutodiffError)


# --------------------------------------------------------------------------------------------------
# has_aux, return_value, value_and_grad
# --------------------------------------------------------------------------------------------------

class TestAux:
    def test_aux_is_a_tuple_even_for_one_extra_output(self):
        gradient, aux = ad.grad(square_plus_aux, has_aux=True)(3.0)
        assert gradient == pytest.approx(6.0)
        assert isinstance(aux, tuple)
        assert aux == pytest.approx((4.0,))
        gradient, (aux0,) = ad.grad(square_plus_aux, has_aux=True)(3.0)  # the seed's unpacking works
        assert aux0 == pytest.approx(4.0)

    def test_aux_with_two_extra_outputs(self):
        gradient, aux = ad.grad(square_plus_two_aux, has_aux=True)(3.0)
        assert gradient == pytest.approx(6.0)  # only out1 is differentiated
        assert aux == pytest.approx((4.0, 9.0))

    def test_aux_is_not_differentiated(self):
        x = np.array([0.1, 0.2, 0.3])
        gradient, aux = ad.grad(square_plus_aux, has_aux=True)(x)
        np.testing.assert_allclose(gradient, 2 * x)  # not 2x + 1
        np.testing.assert_allclose(aux[0], x + 1.0)

    @pytest.mark.parametrize("fn", [square_only, square_in_one_tuple])
    def test_fewer_than_two_outputs(self, fn):
        with pytest.raises(ValueError) as info:
            ad.grad(fn, has_aux=True)(3.0)
        assert isinstance(info.value, errors.AuxError)
        assert fn.__name__ in str(info.value)

    def test_fewer_than_two_outputs_value_and_grad_and_vjp(self):
        with pytest.raises(errors.AuxError):
            ad.value_and_grad(square_only, has_aux=True)(3.0)
        with pytest.raises(errors.AuxError):
            ad.vjp(square_only, 3.0, has_aux=True)

    def test_return_value(self):
        gradient, value = ad.grad(cube, return_value=True)(2.0)
        assert gradient == pytest.approx(12.0)
        assert value == pytest.approx(8.0)

    def test_return_value_with_aux(self):
        out = ad.grad(square_plus_two_aux, has_aux=True, return_value=True)(3.0)
        assert len(out) == 3
        gradient, value, aux = out
        assert gradient == pytest.approx(6.0)
        assert value == pytest.approx(9.0)  # out1 only
        assert aux == pytest.approx((4.0, 9.0))

    def test_value_and_grad(self):
        value, gradient = ad.value_and_grad(cube)(2.0)
        assert value == pytest.approx(8.0)
        assert gradient == pytest.approx(12.0)

    def test_value_and_grad_with_aux_gives_the_full_output(self):
        value, gradient = ad.value_and_grad(square_plus_two_aux, has_aux=True)(3.0)
        assert isinstance(value, tuple)
        assert value == pytest.approx((9.0, 4.0, 9.0))
        assert gradient == pytest.approx(6.0)

    def test_value_and_grad_tuple_positions(self):
        value, (gx, gy) = ad.value_and_grad(mul, grad_position=(0, 1))(2.0, 5.0)
        assert value == pytest.approx(10.0)
        assert (gx, gy) == pytest.approx((5.0, 2.0))


# --------------------------------------------------------------------------------------------------
# Seeding of non-scalar and tuple outputs
# --------------------------------------------------------------------------------------------------

class TestSeeding:
    def test_non_scalar_output_is_summed(self):
        x = np.array([0.1, -0.4, 2.0])
        np.testing.assert_allclose(ad.grad(elementwise_sin)(x), np.cos(x))

    def test_non_scalar_output_of_a_broadcast(self):
        x = np.array([1.0, 2.0, 3.0])
        y = np.array([[1.0], [10.0]])
        gx, gy = ad.grad(outer_product, grad_position=(0, 1))(x, y)
        # sum_ij x_j y_i: d/dx_j = sum_i y_i, d/dy_i = sum_j x_j
        np.testing.assert_allclose(gx, np.full(3, 11.0))
        np.testing.assert_allclose(gy, np.full((2, 1), 6.0))

    def test_tuple_output_without_aux_seeds_every_output(self):
        # d/dx [(x^2 + y) + x y] = 2x + y, d/dy = 1 + x
        gx, gy = ad.grad(two_outputs, grad_position=(0, 1))(2.0, 5.0)
        assert gx == pytest.approx(9.0)
        assert gy == pytest.approx(3.0)

    def test_tuple_output_three_elements(self):
        # x^2 + (x + 1) + 3x: 2x + 4
        assert ad.grad(square_plus_two_aux)(3.0) == pytest.approx(10.0)

    def test_value_and_grad_of_tuple_output(self):
        value, gx = ad.value_and_grad(two_outputs)(2.0, 5.0)
        assert value == pytest.approx((9.0, 10.0))
        assert gx == pytest.approx(9.0)


# --------------------------------------------------------------------------------------------------
# Call forms: decorators, positional options, kinds of fn
# --------------------------------------------------------------------------------------------------

@ad.grad
def decorated_bare(x):
    return x * x * x


@ad.grad(grad_position=(0, 1))
def decorated_with_options(x, y):
    return x * y * y


@ad.value_and_grad
def decorated_value_and_grad(x):
    return x * x


class TestForms:
    def test_bare_decorator(self):
        assert decorated_bare(2.0) == pytest.approx(12.0)

    def test_decorator_with_options(self):
        assert decorated_with_options(2.0, 3.0) == pytest.approx((9.0, 12.0))

    def test_value_and_grad_decorator(self):
        assert decorated_value_and_grad(3.0) == pytest.approx((9.0, 6.0))

    def test_positional_grad_position(self):
        assert ad.grad(mul, (0, 1))(2.0, 3.0) == pytest.approx((3.0, 2.0))
        assert ad.grad(mul3, (0, 1))(2.0, 3.0, 5.0) == pytest.approx((15.0, 11.0))

    def test_bound_method(self):
        s = Scaler(3.0)
        # k x y^2
        assert ad.grad(s.loss)(2.0, 5.0) == pytest.approx(75.0)
        assert ad.grad(s.loss, 1)(2.0, 5.0) == pytest.approx(60.0)
        assert ad.grad(s.loss, -1)(2.0, 5.0) == pytest.approx(60.0)
        with pytest.raises(errors.GradPositionError):
            ad.grad(s.loss, 2)(2.0, 5.0)  # self is not counted

    def test_cell(self):
        w = np.array([1.0, 2.0])
        x = np.array([0.5, 0.25])
        y = np.array([3.0, -1.0])
        cell = TanhCell(w)
        gx, gy = ad.grad(cell, (0, 1))(x, y)
        t = np.tanh(w * x)
        np.testing.assert_allclose(gx, y * w * (1 - t ** 2))
        np.testing.assert_allclose(gy, t)

    def test_closure_capturing_an_array(self):
        w = np.array([1.0, 2.0, 3.0])

        def f(x):
            return np.sum(w * x * x)

        x = np.array([1.0, -1.0, 0.5])
        np.testing.assert_allclose(ad.grad(f)(x), 2 * w * x)

    def test_closure_sees_rebound_cell(self):
        def make():
            w = np.array([1.0, 2.0])

            def f(x):
                return np.sum(w * x)

            def set_w(value):
                nonlocal w
                w = value

            return f, set_w

        f, set_w = make()
        df = ad.grad(f)
        x = np.ones(2)
        np.testing.assert_allclose(df(x), [1.0, 2.0])
        set_w(np.array([-3.0, 7.0]))
        np.testing.assert_allclose(df(x), [-3.0, 7.0])

    def test_lambda(self):
        assert ad.grad(lambda x: x * x * 3.0)(2.0) == pytest.approx(12.0)
        assert ad.grad(lambda a, b: np.sin(a) * b, 1)(0.5, 2.0) == pytest.approx(np.sin(0.5))

    def test_keyword_and_default_arguments_pass_through(self):
        assert ad.grad(with_defaults)(2.0) == pytest.approx(2.0 * 3.0 * 4.0)
        assert ad.grad(with_defaults)(2.0, scale=1.0, power=2.0) == pytest.approx(4.0)
        assert ad.grad(with_defaults)(2.0, 5.0) == pytest.approx(5.0 * 3.0 * 4.0)
        assert ad.grad(keyword_only)(2.0, y=5.0) == pytest.approx(5.0)

    def test_int_argument_not_differentiated_passes_through(self):
        assert ad.grad(int_power)(2.0, 3) == pytest.approx(12.0)


# --------------------------------------------------------------------------------------------------
# Input and gradient types
# --------------------------------------------------------------------------------------------------

class TestTypes:
    @pytest.mark.parametrize("value", [2, np.int64(2), np.array([1, 2]), np.array([1, 2], dtype=np.int32)])
    def test_int_input_is_a_type_error_suggesting_float(self, value):
        with pytest.raises(TypeError) as info:
            ad.grad(cube)(value)
        assert "float" in str(info.value)
        assert isinstance(info.value, errors.InputTypeError)

    def test_int_input_in_second_position(self):
        with pytest.raises(TypeError, match="float"):
            ad.grad(mul, (0, 1))(2.0, 3)
        assert ad.grad(int_power)(2.0, 3) == pytest.approx(12.0)  # not in grad_position: fine

    def test_int_input_to_vjp(self):
        with pytest.raises(TypeError, match="float"):
            ad.vjp(cube, 2)

    def test_float_gives_float(self):
        g = ad.grad(cube)(2.0)
        assert type(g) is float
        assert g == 12.0

    def test_unused_float_gives_float_zero(self):
        g = ad.grad(reads_unused)(1.5, 2.0)
        assert type(g) is float and g == 0.0

    def test_float32_array_stays_float32(self):
        x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
        g = ad.grad(sum_of_squares)(x)
        assert isinstance(g, np.ndarray)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 2 * x)

    def test_float32_scalar_stays_float32(self):
        g = ad.grad(cube)(np.float32(2.0))
        assert isinstance(g, np.float32)
        assert g == pytest.approx(12.0)

    def test_float32_against_float64_constants(self):
        x = np.array([1.0, 2.0], dtype=np.float32)
        y = np.array([3.0, 4.0])  # float64: the computation is promoted, the gradient is not
        g = ad.grad(mul, 0)(x, y)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, y)

    def test_shape_is_kept_under_broadcasting(self):
        x = np.ones((3, 1))
        y = np.arange(12.0).reshape(3, 4)
        gx, gy = ad.grad(mul, (0, 1))(x, y)
        assert gx.shape == (3, 1) and gy.shape == (3, 4)
        np.testing.assert_allclose(gx, y.sum(axis=1, keepdims=True))
        np.testing.assert_allclose(gy, np.ones((3, 4)))

    def test_scalar_against_array_gives_a_float(self):
        gx, gy = ad.grad(mul, (0, 1))(np.ones((2, 3)), 2.0)
        assert type(gy) is float and gy == pytest.approx(6.0)
        np.testing.assert_allclose(gx, np.full((2, 3), 2.0))

    def test_zero_dimensional_array(self):
        g = ad.grad(cube)(np.array(2.0))
        assert isinstance(g, np.ndarray) and g.shape == ()
        assert float(g) == pytest.approx(12.0)

    @pytest.mark.parametrize("fn, args", [
        (sum_of_squares, (np.ones((2, 3)),)),
        (reads_unused, (np.ones(3), 2.0)),
        (mul, (np.ones((3, 1)), np.ones((3, 4)))),
        (elementwise_sin, (np.ones(4),)),
    ])
    def test_gradient_is_writeable_and_not_the_input(self, fn, args):
        g = ad.grad(fn)(*args)
        assert g.flags.writeable
        assert g.shape == args[0].shape
        assert not np.shares_memory(g, args[0])
        g[...] = 0.0  # must not raise

    def test_complex_input_is_refused(self):
        with pytest.raises(TypeError):
            ad.grad(cube)(1.0 + 2.0j)


# --------------------------------------------------------------------------------------------------
# vjp
# --------------------------------------------------------------------------------------------------

class TestVJP:
    def test_one_input_gives_a_one_tuple(self):
        x = np.array([0.1, 0.2])
        out, vjp_fn = ad.vjp(elementwise_sin, x)
        np.testing.assert_allclose(out, np.sin(x))
        grads = vjp_fn(np.array([1.0, 2.0]))
        assert isinstance(grads, tuple) and len(grads) == 1
        np.testing.assert_allclose(grads[0], np.cos(x) * [1.0, 2.0])

    def test_two_inputs(self):
        out, vjp_fn = ad.vjp(mul, 2.0, 5.0)
        assert out == pytest.approx(10.0)
        assert vjp_fn(3.0) == pytest.approx((15.0, 6.0))

    def test_repeated_calls_do_not_rerun_the_forward(self):
        x = np.array([0.5, 1.0])
        y = np.array([2.0, 3.0])
        CALLS[0] = 0
        out, vjp_fn = ad.vjp(uses_counted_sin, x, y)
        assert CALLS[0] == 1
        first = vjp_fn(np.ones(2))
        second = vjp_fn(np.ones(2))
        third = vjp_fn(np.array([2.0, -1.0]))
        assert CALLS[0] == 1
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(first[0], np.cos(x) * y)
        np.testing.assert_allclose(first[1], np.sin(x))
        np.testing.assert_allclose(third[0], np.cos(x) * y * [2.0, -1.0])

    def test_returned_gradients_are_independent_between_calls(self):
        x = np.array([0.5, 1.0])
        _, vjp_fn = ad.vjp(elementwise_sin, x)
        first = vjp_fn(np.ones(2))[0]
        first[...] = 100.0
        np.testing.assert_allclose(vjp_fn(np.ones(2))[0], np.cos(x))

    def test_wrong_cotangent_shape(self):
        _, vjp_fn = ad.vjp(elementwise_sin, np.ones(3))
        with pytest.raises(ValueError) as info:
            vjp_fn(np.ones(4))
        message = str(info.value)
        assert "(3,)" in message and "(4,)" in message
        assert isinstance(info.value, errors.CotangentError)

    def test_wrong_cotangent_shape_for_scalar_output(self):
        _, vjp_fn = ad.vjp(sum_of_squares, np.ones(2))
        with pytest.raises(ValueError) as info:
            vjp_fn(np.ones(2))
        assert "(2,)" in str(info.value) and "()" in str(info.value)

    def test_wrong_cotangent_structure(self):
        _, vjp_fn = ad.vjp(elementwise_sin, np.ones(3))
        with pytest.raises(ValueError):
            vjp_fn((np.ones(3),))
        _, vjp_fn = ad.vjp(two_outputs, np.ones(3), np.ones(3))
        with pytest.raises(ValueError):
            vjp_fn(np.ones(3))
        with pytest.raises(ValueError):
            vjp_fn((np.ones(3),))
        with pytest.raises(ValueError):
            vjp_fn((np.ones(3), np.ones(2)))

    def test_tuple_output_takes_a_tuple_cotangent(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        (o1, o2), vjp_fn = ad.vjp(two_outputs, x, y)
        np.testing.assert_allclose(o1, x * x + y)
        np.testing.assert_allclose(o2, x * y)
        u, v = np.array([1.0, -1.0]), np.array([0.5, 2.0])
        gx, gy = vjp_fn((u, v))
        np.testing.assert_allclose(gx, u * 2 * x + v * y)
        np.testing.assert_allclose(gy, u + v * x)

    def test_aux_is_out2_for_exactly_two_outputs(self):
        out, vjp_fn, aux = ad.vjp(square_plus_aux, 3.0, has_aux=True)
        assert out == pytest.approx(9.0)
        assert not isinstance(aux, tuple)
        assert aux == pytest.approx(4.0)
        assert vjp_fn(1.0) == pytest.approx((6.0,))

    def test_aux_is_a_tuple_for_more_outputs(self):
        out, vjp_fn, aux = ad.vjp(square_plus_two_aux, 3.0, has_aux=True)
        assert out == pytest.approx(9.0)
        assert isinstance(aux, tuple)
        assert aux == pytest.approx((4.0, 9.0))
        assert vjp_fn(2.0) == pytest.approx((12.0,))

    def test_aux_with_repeated_calls(self):
        CALLS[0] = 0
        out, vjp_fn, aux = ad.vjp(uses_counted_sin_with_aux, 0.5, has_aux=True)
        assert aux == pytest.approx(1.5)
        for _ in range(3):
            assert vjp_fn(1.0) == pytest.approx((2.0 * np.cos(0.5),))
        assert CALLS[0] == 1

    def test_bound_method_and_cell(self):
        s = Scaler(3.0)
        out, vjp_fn = ad.vjp(s.loss, 2.0, 5.0)
        assert out == pytest.approx(150.0)
        assert vjp_fn(1.0) == pytest.approx((75.0, 60.0))
        w = np.array([1.0, 2.0])
        x, y = np.array([0.5, 0.25]), np.array([3.0, -1.0])
        _, vjp_fn = ad.vjp(TanhCell(w), x, y)
        gx, gy = vjp_fn(2.0)
        t = np.tanh(w * x)
        np.testing.assert_allclose(gx, 2.0 * y * w * (1 - t ** 2))
        np.testing.assert_allclose(gy, 2.0 * t)


# --------------------------------------------------------------------------------------------------
# Redefinition and rebinding
# --------------------------------------------------------------------------------------------------

def _exec_file(path, text):
    path.write_text(text)
    namespace = {"np": np}
    exec(compile(text, str(path), "exec"), namespace)
    return namespace


def test_redefined_function_gets_a_new_adjoint(tmp_path):
    path = tmp_path / "cell.py"
    first = _exec_file(path, "def f(x):\n    return x * x\n")["f"]
    assert ad.grad(first)(3.0) == pytest.approx(6.0)
    second = _exec_file(path, "def f(x):\n    return np.sin(x) * x * x\n")["f"]
    assert ad.grad(second)(3.0) == pytest.approx(np.cos(3.0) * 9.0 + np.sin(3.0) * 6.0)
    assert "sin" in ad.source(ad.grad(second))
    assert ad.grad(first)(3.0) == pytest.approx(6.0)  # the old function keeps its own adjoint


def test_rebinding_a_global_callee(monkeypatch):
    df = ad.grad(applies_act)
    assert df(0.5) == pytest.approx(2.0 * (1.0 - np.tanh(0.5) ** 2))
    monkeypatch.setattr(sys.modules[__name__], "ACT", np.sin)
    assert df(0.5) == pytest.approx(2.0 * np.cos(0.5))
    assert ad.grad(applies_act)(0.5) == pytest.approx(2.0 * np.cos(0.5))
    monkeypatch.setattr(sys.modules[__name__], "ACT", python_cube)
    assert df(0.5) == pytest.approx(2.0 * 3.0 * 0.25)
    _, vjp_fn = ad.vjp(applies_act, 0.5)
    assert vjp_fn(1.0) == pytest.approx((1.5,))
