"""A catalogue of straight-line numpy functions, each checked against central finite differences.

Every entry is a module-level function (the compiler reads its source), a factory of float64 arguments
in the entry's stated input domain, and the order of the check. ``check_grads`` at order 2 also
differentiates the generated gradient code, so order-2 entries check the adjoint's own derivatives.

A second test compares ``ad.grad`` with gradients derived by hand from the math.
"""

import dataclasses
import math

import numpy as np
import pytest

import autodiff_st as ad
from tests.support import check_against_hand


# --------------------------------------------------------------------------------------------------
# Argument factories. Each call makes fresh arrays from a fixed seed, so every run sees the same data.
# --------------------------------------------------------------------------------------------------

def _rng(seed):
    return np.random.default_rng(seed)


def normal(*shape, seed=0):
    return _rng(seed).standard_normal(shape)


def positive(*shape, seed=0, low=0.5, high=2.0):
    return _rng(seed).uniform(low, high, shape)


def distinct(*shape, seed=0, gap=0.1):
    """Values whose pairwise differences are all at least ``gap``: no ties anywhere (for max, min, abs)."""
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2 + 0.5) * gap * 3
    return _rng(seed).permutation(values).reshape(shape)


# --------------------------------------------------------------------------------------------------
# Arithmetic operators
# --------------------------------------------------------------------------------------------------

def op_add(x, y):
    return x + y


def op_sub(x, y):
    return x - y


def op_mul(x, y):
    return x * y


def op_truediv(x, y):
    return x / y


def op_matmul(a, b):
    return a @ b


def op_matmul_vec(a, v):
    return a @ v


def op_pow_const(x):
    return x ** 3


def op_pow_arrays(x, y):
    return x ** y


def op_rpow_const_base(x):
    return 2.0 ** x


def op_neg(x):
    return -x * 2.0 + (+x)


def op_mod(x, y):
    return x % y


def op_mod_const(x):
    return x % 0.75


def op_mixed_expression(x, y, z):
    return (x * y - z / y) ** 2 + -(x @ z.T).sum() / 3.0


# --------------------------------------------------------------------------------------------------
# Broadcasting
# --------------------------------------------------------------------------------------------------

def bc_scalar_times_matrix(s, m):
    return s * m


def bc_row_plus_matrix(r, m):
    return r + m


def bc_vector_minus_matrix(v, m):
    return m - v


def bc_col_times_row(c, r):
    return c * r


def bc_col_over_matrix(c, m):
    return m / c


def bc_zero_d_array(s, m):
    return np.sum(s * m + s)


# --------------------------------------------------------------------------------------------------
# Python floats, constants, keyword arguments and defaults
# --------------------------------------------------------------------------------------------------

def py_floats(a, b):
    return a * b + a / b - b ** 2 + 3.0


def py_float_and_array(a, x):
    return np.sum(a * x ** 2) + a


def constants(x):
    k = 2.5
    y = 0.5 * x + k
    return np.sum(y * y) - 1.0


def defaults_unused(x, scale=2.0, shift=0.5):
    return np.sum(scale * x + shift * x ** 2)


def defaults_passed(x, scale=2.0, shift=0.5):
    return np.sum(scale * x + shift * x ** 2)


def keyword_only(x, *, power=3.0):
    return np.sum(x ** power)


def numpy_keywords(x):
    return np.sum(np.mean(x, axis=1, keepdims=True) * x, axis=0)


# --------------------------------------------------------------------------------------------------
# Reassignment, augmented assignment, tuple unpacking, tuple outputs
# --------------------------------------------------------------------------------------------------

def reassign(x):
    x = x * 2
    x = np.sin(x)
    x = x + x * x
    return x


def augmented(x, y):
    x += y
    x *= 2
    x -= y * 3.0
    x /= 4.0
    x **= 2
    return x


def augmented_fresh(x, y):
    z = x * y
    z += x
    z *= z
    return z


def swap(a, b):
    a, b = b, a
    return a * 2.0 + b * b


def swap_twice(a, b):
    a, b = b * a, a
    a, b = b, a + b
    return a * b


def tuple_output(x, y):
    return x * y, np.sin(x)


def tuple_output_three(x, y):
    s = np.sum(x * y)
    return s, x - y, np.exp(y)


# --------------------------------------------------------------------------------------------------
# Calls to the user's own helpers
# --------------------------------------------------------------------------------------------------

def helper_square(x):
    return x * x


def helper_pair(x, y):
    return x + y, x * y


def helper_scaled(x, scale=1.0):
    return scale * np.tanh(x)


def helper_inner(x):
    return np.exp(-x * x)


def helper_middle(x, y):
    return helper_inner(x) * y


def helper_outer(x, y):
    return helper_middle(x, y) + helper_square(y)


def call_helper(x):
    return np.sum(helper_square(x) + x)


def call_helper_twice(x, y):
    return helper_square(x) + helper_square(y * x)


def call_helper_tuple(x, y):
    s, p = helper_pair(x, y)
    return np.sum(s * p)


def call_helper_keyword(x, y):
    return helper_scaled(x, scale=y) + helper_scaled(y)


def call_helper_keyword_active(x, s):
    return np.sum(helper_scaled(x=x, scale=s))


def call_helper_chain(x, y):
    return np.sum(helper_outer(x, y))


# --------------------------------------------------------------------------------------------------
# numpy functions with derivative rules
# --------------------------------------------------------------------------------------------------

def np_exp_log(x):
    return np.exp(x) * np.log(x)


def np_tanh_sqrt(x):
    return np.tanh(x) + np.sqrt(x)


def np_sin_cos(x):
    return np.sin(x) * np.cos(2.0 * x)


def np_elementwise_more(x):
    a = np.expm1(x) + np.exp2(x) + np.log1p(x) + np.log2(x) + np.log10(x)
    b = np.tan(x) + np.sinh(x) + np.cosh(x) + np.arctan(x) + np.cbrt(x)
    c = np.square(x) + np.reciprocal(x) + np.fabs(x) + np.absolute(-x)
    return a + b + c


def np_arcsin_arccos(x):
    return np.arcsin(x) * np.arccos(x)


def np_maximum_minimum(x, y):
    return np.maximum(x, y) * np.minimum(x, 0.1) + np.fmax(y, -0.05) - np.fmin(x, y)


def np_maximum_broadcast(x, r):
    return np.maximum(x, r)


def np_where(x, y):
    return np.where(x > 0, x * y, np.sin(y))


def np_where_broadcast(x, y):
    return np.where(x > y, x, 0.5 * y)


def np_reductions_axis(x):
    a = np.sum(x, axis=0)
    b = np.mean(x, axis=1, keepdims=True)
    c = np.sum(x * b, axis=(0, 1))
    return np.sum(a * a) + c + np.mean(x)


def np_max_min(x):
    a = np.max(x, axis=1)
    b = np.min(x, axis=0, keepdims=True)
    return np.sum(a) * np.max(x) + np.sum(b * b) - np.min(x) + np.sum(np.amax(x, axis=0))


def np_var_std(x):
    return np.var(x) + np.std(x, axis=0) * np.sum(np.var(x, axis=1, keepdims=True))


def np_std_ddof(x):
    return np.std(x, ddof=1) + np.var(x, axis=1, ddof=1)


def np_prod(x):
    return np.prod(x) + np.sum(np.prod(x, axis=0))


def np_dot(a, b, v):
    return np.dot(a, b) * np.reshape(np.dot(np.dot(a, v), 2.0), (3, 1))


def np_dot_vectors(u, v):
    return np.dot(u, v)


def np_matmul_fn(a, b):
    return np.matmul(a, b)


def np_matmul_stack(a, b):
    return np.matmul(a, b)


def np_outer_inner(u, v):
    return np.outer(u, v) * np.inner(u, v)


def np_reshape_transpose(x):
    y = np.reshape(x, (3, 4))
    z = np.transpose(y)
    w = np.transpose(np.reshape(z, (2, 3, 2)), (2, 0, 1))
    return np.sum(w * np.arange(12.0).reshape(2, 2, 3))


def np_dot_T(x, w):
    return x.T @ w


def methods(x, y):
    a = x.sum(axis=0)
    b = x.reshape(3, 4)
    c = x.reshape((4, 3)).transpose()
    d = x.dot(y)
    return np.sum(a) + np.sum(b * c) + d.mean() + x.T.max() + x.min() + x.prod() + x.var() + x.std()


def methods_shape(x):
    a = x.ravel() * 2.0
    b = x.flatten() + a
    c = np.swapaxes(x, 0, 1).copy()
    d = x.swapaxes(0, 1)
    return np.sum(b) + np.sum(c * d)


def np_shape_functions(x):
    a = np.squeeze(np.expand_dims(x, 0))
    b = np.broadcast_to(x, (2, 3, 4))
    c = np.ravel(x)
    return np.sum(a * a) + np.sum(b) * np.sum(c) + np.sum(np.asarray(x) * np.array(x) + np.copy(x))


def np_astype(x):
    return np.sum(x.astype(np.float64) ** 2)


def np_clip(x):
    return np.clip(x, -0.5, 0.5) * x


def np_abs(x):
    return np.abs(x) + abs(x) * x


def np_ufunc_forms(x, y):
    a = np.add(x, y) * np.subtract(x, y)
    b = np.multiply(a, np.divide(x, y)) + np.power(y, 2.0) - np.negative(x) + np.positive(y)
    return np.true_divide(b, 3.0) + np.mod(x, 0.75)


def math_on_floats(a, b):
    s = math.sin(a) * math.cos(b) + math.tan(a) + math.exp(b) * math.log(b)
    return s + math.sqrt(b) + math.tanh(a) + abs(a) + float(b)


# --------------------------------------------------------------------------------------------------
# Names that look like generated ones
# --------------------------------------------------------------------------------------------------

def named_like_generated(x, x_bar):
    out = x * x_bar
    out_bar = np.sin(out)
    residuals = out_bar + x
    np_2 = residuals * 2.0
    d = np_2 - x_bar
    return np.sum(d * d)


def shadows_runtime_helpers(x, r):
    unbroadcast = x * 2.0
    ones_like = unbroadcast + r
    zeros_like = ones_like * r
    expand_reduced = np.sum(zeros_like, axis=0)
    return expand_reduced


def unbroadcast(x):
    """A user helper that happens to share its name with a runtime helper of generated code."""
    return 3.0 * x


def ones_like(x):
    """Another user helper named like a runtime helper (it is not np.ones_like)."""
    return x * x


def global_helpers_named_like_runtime(x, r):
    return np.sum(unbroadcast(x) + r) + np.sum(ones_like(r) * x)


def locals_named_like_generated_calls(x, out_bar):
    helper_square_pullback = x * 2.0
    x_bar_part = helper_square(x) + helper_square_pullback
    call_forward = x_bar_part * out_bar
    return call_forward, out_bar * x


def shadows_numpy_alias(x):
    np_ = x * 2.0
    sin_x = np.sin(np_)
    sin_x_2 = sin_x * sin_x
    x_bar_2 = sin_x_2 + x
    return x_bar_2



# --------------------------------------------------------------------------------------------------
# More statement forms and argument kinds
# --------------------------------------------------------------------------------------------------

def call_helper_same_argument(x):
    s, p = helper_pair(x, x)
    return np.sum(s * p)


def call_helper_reassign(x):
    x = helper_scaled(x)
    x = helper_scaled(x, 2.0)
    return np.sum(x)


def helper_cell(h, c):
    return np.tanh(h) * c, 0.9 * c + np.sin(h)


def call_helper_in_loop(h, c):
    # The call reads the names it assigns: each iteration's h and c go into the next one.
    for _ in range(3):
        h, c = helper_cell(h, c)
    return np.sum(h * c)


def call_helper_in_branch(h, c):
    if np.sum(h) > -100.0:
        h, c = helper_pair(h, c)
    return np.sum(h * np.sin(c))


def swap_in_loop(a, b):
    for _ in range(3):
        a, b = b, a * b
    return np.sum(a * np.sin(b))


def apply_function_argument(activation, x):
    return activation(x) * x


def call_function_argument(x):
    # np.tanh reaches the helper as a value: the call is resolved when it runs.
    return np.sum(apply_function_argument(np.tanh, x) ** 2)


def returns_input(x):
    return x


def returns_input_twice(x, y):
    return x, x * y, y


def unused_input(x, y):
    return y * 2.0


def alias_then_reassign(x):
    y = x
    x = x * 2.0
    return x + y * y


def chained_assignment(x):
    a = b = x * 2.0
    return a * b


def docstring_annotation_assert(x):
    """A docstring, an annotated assignment, pass, assert and an unused value."""
    y: float = x * 2.0
    pass
    assert True
    unused = np.exp(x)
    return y * y


def int_and_string_args(x, rows, mode):
    return np.sum(x.reshape(rows, -1) * np.arange(12.0).reshape(rows, -1)) + np.sum(x.reshape(-1) ** 2)


def float_powers(a):
    return a ** 2 + a ** 0.5 + 2.0 ** a + np.log(a) + np.exp(a)


def relu_forms(x):
    return np.maximum(x, 0.0) + np.where(x > 0, x, 0.0) * x


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

def logistic_loss(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    logp = shifted - lse
    return -np.mean(np.sum(Y * logp, axis=1))


# --------------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    name: str
    fn: object
    args: object  # a function of no arguments returning the argument tuple
    domain: str
    order: int = 2
    xfail: str = None  # reason, when the whole check is expected to fail


def _mod_args():
    y = positive(3, 4, seed=1, low=0.5, high=1.5)
    k = _rng(2).integers(-2, 3, (3, 4))
    u = _rng(3).uniform(0.2, 0.8, (3, 4))
    return (y * (k + u), y)


def _mod_const_args():
    k = _rng(4).integers(-2, 3, (5,))
    u = _rng(5).uniform(0.2, 0.8, (5,))
    return (0.75 * (k + u),)


def _mlp_args():
    X = normal(6, 4, seed=10)
    Y = np.eye(3)[_rng(11).integers(0, 3, 6)]
    return (normal(4, 5, seed=12) * 0.5, normal(5, seed=13) * 0.1, normal(5, 3, seed=14) * 0.5,
            normal(3, seed=15) * 0.1, X, Y)


def _logistic_args():
    X = normal(8, 3, seed=20)
    y = (_rng(21).uniform(size=8) > 0.5).astype(np.float64)
    return (normal(3, seed=22), 0.3, X, y)


CATALOGUE = [
    # operators
    Case("add", op_add, lambda: (normal(3, 4), normal(3, 4, seed=1)), "all reals"),
    Case("sub", op_sub, lambda: (normal(3, 4), normal(3, 4, seed=1)), "all reals"),
    Case("mul", op_mul, lambda: (normal(3, 4), normal(3, 4, seed=1)), "all reals"),
    Case("truediv", op_truediv, lambda: (normal(3, 4), positive(3, 4, seed=1)), "denominator in [0.5, 2]"),
    Case("matmul", op_matmul, lambda: (normal(3, 4), normal(4, 2, seed=1)), "all reals"),
    Case("matmul_vec", op_matmul_vec, lambda: (normal(3, 4), normal(4, seed=1)), "all reals"),
    Case("pow_const", op_pow_const, lambda: (normal(5),), "all reals (integer exponent)"),
    Case("pow_arrays", op_pow_arrays, lambda: (positive(5), normal(5, seed=1)),
         "base in [0.5, 2] (log of the base), exponent real"),
    Case("rpow_const_base", op_rpow_const_base, lambda: (normal(5),), "all reals"),
    Case("neg_pos", op_neg, lambda: (normal(5),), "all reals"),
    Case("mod", op_mod, _mod_args, "x/y at least 0.2 away from an integer, y in [0.5, 1.5]"),
    Case("mod_const", op_mod_const, _mod_const_args, "x/0.75 at least 0.2 away from an integer"),
    Case("mixed_expression", op_mixed_expression,
         lambda: (normal(3, 4), positive(3, 4, seed=1), normal(3, 4, seed=2)), "y in [0.5, 2]"),
    # broadcasting
    Case("scalar_times_matrix", bc_scalar_times_matrix, lambda: (1.7, normal(3, 4)),
         "all reals; Python float scalar"),
    Case("row_plus_matrix", bc_row_plus_matrix, lambda: (normal(1, 4), normal(3, 4, seed=1)), "all reals"),
    Case("vector_minus_matrix", bc_vector_minus_matrix, lambda: (normal(4), normal(3, 4, seed=1)),
         "all reals"),
    Case("col_times_row", bc_col_times_row, lambda: (normal(3, 1), normal(1, 4, seed=1)), "all reals"),
    Case("col_over_matrix", bc_col_over_matrix, lambda: (positive(3, 1), normal(3, 4, seed=1)),
         "divisor in [0.5, 2]"),
    Case("zero_d_array", bc_zero_d_array, lambda: (np.array(0.7), normal(3, 4)), "all reals"),
    # floats, constants, keywords, defaults
    Case("py_floats", py_floats, lambda: (1.3, 0.8), "b != 0 (b = 0.8)"),
    Case("py_float_and_array", py_float_and_array, lambda: (0.9, normal(4)), "all reals"),
    Case("constants", constants, lambda: (normal(4),), "all reals"),
    Case("defaults_unused", defaults_unused, lambda: (normal(4),), "all reals"),
    Case("defaults_passed", defaults_passed, lambda: (normal(4), 1.5, -0.25), "all reals"),
    Case("keyword_only", keyword_only, lambda: (positive(4),), "x in [0.5, 2]"),
    Case("numpy_keywords", numpy_keywords, lambda: (normal(3, 4),), "all reals"),
    # assignment forms, tuples
    Case("reassign", reassign, lambda: (normal(5),), "all reals"),
    Case("augmented", augmented, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("augmented_fresh", augmented_fresh, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("swap", swap, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("swap_twice", swap_twice, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("tuple_output", tuple_output, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("tuple_output_three", tuple_output_three, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    # helpers
    Case("call_helper", call_helper, lambda: (normal(5),), "all reals"),
    Case("call_helper_twice", call_helper_twice, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("call_helper_tuple", call_helper_tuple, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("call_helper_keyword", call_helper_keyword, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    Case("call_helper_keyword_active", call_helper_keyword_active, lambda: (normal(5), 0.7), "all reals"),
    Case("call_helper_chain", call_helper_chain, lambda: (normal(5), normal(5, seed=1)), "all reals"),
    # numpy functions
    Case("exp_log", np_exp_log, lambda: (positive(5),), "x in [0.5, 2] (log)"),
    Case("tanh_sqrt", np_tanh_sqrt, lambda: (positive(5),), "x in [0.5, 2] (sqrt)"),
    Case("sin_cos", np_sin_cos, lambda: (normal(5),), "all reals"),
    Case("elementwise_more", np_elementwise_more, lambda: (positive(5, low=0.3, high=1.2),),
         "x in [0.3, 1.2]: positive for logs, cbrt, reciprocal and fabs; away from tan's poles"),
    Case("arcsin_arccos", np_arcsin_arccos, lambda: (_rng(0).uniform(-0.8, 0.8, 5),), "x in [-0.8, 0.8]"),
    Case("maximum_minimum", np_maximum_minimum, lambda: (distinct(6), distinct(6, seed=1) + 0.01),
         "no ties: x and y differ and are away from 0.1 and -0.05 (grid shifted by 0.01)"),
    Case("maximum_broadcast", np_maximum_broadcast, lambda: (distinct(3, 4), distinct(1, 4, seed=1) + 0.01),
         "no ties between x and the broadcast row"),
    Case("where", np_where, lambda: (distinct(6), normal(6, seed=1)), "x away from 0 (the condition)"),
    Case("where_broadcast", np_where_broadcast, lambda: (distinct(3, 4), distinct(4, seed=1) + 0.01),
         "x away from y (the condition)"),
    Case("reductions_axis", np_reductions_axis, lambda: (normal(3, 4),), "all reals"),
    Case("max_min", np_max_min, lambda: (distinct(3, 4),), "no ties"),
    Case("var_std", np_var_std, lambda: (normal(3, 4),), "non-constant rows and columns (std > 0)"),
    Case("std_ddof", np_std_ddof, lambda: (normal(3, 4),), "non-constant rows (std > 0)"),
    Case("prod", np_prod, lambda: (positive(3, 4, low=0.5, high=1.5),), "no zero element",
         order=1),  # second order of prod needs a rule for runtime.prod_others
    Case("dot", np_dot, lambda: (normal(3, 4), normal(4, 2, seed=1), normal(4, seed=2)), "all reals"),
    Case("dot_vectors", np_dot_vectors, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("matmul_fn", np_matmul_fn, lambda: (normal(3, 4), normal(4, 2, seed=1)), "all reals"),
    Case("matmul_stack", np_matmul_stack, lambda: (normal(2, 3, 4), normal(4, 2, seed=1)),
         "all reals; (2,3,4) @ (4,2) broadcasts the right operand"),
    Case("outer_inner", np_outer_inner, lambda: (normal(3), normal(3, seed=1)), "all reals"),
    Case("reshape_transpose", np_reshape_transpose, lambda: (normal(12),), "all reals"),
    Case("dot_T", np_dot_T, lambda: (normal(4, 3), normal(4, 2, seed=1)), "all reals"),
    Case("methods", methods, lambda: (distinct(12, gap=0.05) * 0.3 + 1.5, normal(12, seed=1)),
         "x positive (prod) with no ties (max, min)", order=1),  # prod: see the "prod" case
    Case("methods_shape", methods_shape, lambda: (normal(3, 4),), "all reals"),
    Case("shape_functions", np_shape_functions, lambda: (normal(3, 4),), "all reals"),
    Case("astype", np_astype, lambda: (normal(4),), "all reals"),
    Case("clip", np_clip, lambda: (distinct(8),), "x away from the clip bounds -0.5 and 0.5"),
    Case("abs", np_abs, lambda: (distinct(8) + 0.01,), "x away from 0"),
    Case("ufunc_forms", np_ufunc_forms, lambda: (_mod_const_args()[0], positive(5, seed=1)),
         "y in [0.5, 2]; x/0.75 at least 0.2 away from an integer"),
    Case("math_on_floats", math_on_floats, lambda: (0.6, 1.4), "a away from 0 (abs) and tan's poles; b > 0"),
    # names
    Case("named_like_generated", named_like_generated, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("shadows_runtime_helpers", shadows_runtime_helpers, lambda: (normal(3, 4), normal(4, seed=1)),
         "all reals"),
    Case("global_helpers_named_like_runtime", global_helpers_named_like_runtime,
         lambda: (normal(3, 4), normal(4, seed=1)), "all reals"),
    Case("locals_named_like_generated_calls", locals_named_like_generated_calls,
         lambda: (normal(3, 4), normal(3, 4, seed=1)), "all reals"),
    Case("shadows_numpy_alias", shadows_numpy_alias, lambda: (normal(4),), "all reals"),
    # more statement forms and argument kinds
    Case("call_helper_same_argument", call_helper_same_argument, lambda: (normal(5),), "all reals"),
    Case("call_helper_reassign", call_helper_reassign, lambda: (normal(5),), "all reals"),
    Case("call_helper_in_loop", call_helper_in_loop, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("call_helper_in_branch", call_helper_in_branch, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("swap_in_loop", swap_in_loop, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("call_function_argument", call_function_argument, lambda: (normal(5),), "all reals"),
    Case("returns_input", returns_input, lambda: (normal(3, 2),), "all reals"),
    Case("returns_input_twice", returns_input_twice, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("unused_input", unused_input, lambda: (normal(4), normal(4, seed=1)), "all reals"),
    Case("alias_then_reassign", alias_then_reassign, lambda: (normal(4),), "all reals"),
    Case("chained_assignment", chained_assignment, lambda: (normal(4),), "all reals"),
    Case("docstring_annotation_assert", docstring_annotation_assert, lambda: (normal(4),), "all reals"),
    Case("int_and_string_args", int_and_string_args, lambda: (normal(3, 4), 3, "fast"),
         "all reals; the int and the string are passed through"),
    Case("float_powers", float_powers, lambda: (1.3,), "a > 0 (sqrt, log)"),
    Case("relu_forms", relu_forms, lambda: (distinct(8) + 0.01,), "x away from 0 (the kink)"),
    # models
    Case("logistic_loss", logistic_loss, _logistic_args, "all reals; labels are 0.0 or 1.0"),
    Case("mlp_softmax_cross_entropy", mlp_loss, _mlp_args,
         "all reals; one-hot targets; no ties in the logits' row maxima"),
]


def _params():
    out = []
    for case in CATALOGUE:
        marks = [pytest.mark.xfail(strict=True, raises=ad.AutodiffError, reason=case.xfail)] if case.xfail else []
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def test_catalogue_has_enough_entries():
    assert len(CATALOGUE) >= 45
    assert len({c.name for c in CATALOGUE}) == len(CATALOGUE)
    for case in CATALOGUE:
        assert case.order in (1, 2) and case.domain


@pytest.mark.parametrize("case", _params())
def test_catalogue(case):
    ad.testing.check_grads(case.fn, case.args(), order=case.order, modes=("rev",))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CATALOGUE if c.xfail])
def test_catalogue_first_order_of_xfailed(case):
    """Entries whose second order is expected to fail still get their first order checked."""
    ad.testing.check_grads(case.fn, case.args(), order=1, modes=("rev",))


# --------------------------------------------------------------------------------------------------
# Gradients derived by hand from the math
# --------------------------------------------------------------------------------------------------

def var_all(x):
    return np.var(x)


def std_columns(x):
    return np.sum(np.std(x, axis=0))


def max_rows(x):
    return np.sum(np.max(x, axis=1))


def log_sum_exp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def stop_gradient_use(x, y):
    return np.sum(ad.stop_gradient(x) * y + x * y)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _hand_logistic(w, b, X, y):
    # L = -mean(y log p + (1-y) log(1-p)), p = sigmoid(Xw + b): dL/dz = (p - y) / n.
    dz = (_sigmoid(X @ w + b) - y) / len(y)
    return X.T @ dz, float(np.sum(dz))


def _hand_mlp(W1, b1, W2, b2, X, Y):
    # Cross-entropy of softmax: dL/dlogits = (softmax - Y) / n; then back through h = tanh(X W1 + b1).
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    soft = e / e.sum(axis=1, keepdims=True)
    dlogits = (soft - Y) / X.shape[0]
    dpre = (dlogits @ W2.T) * (1.0 - h ** 2)
    return X.T @ dpre, dpre.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)


def _hand_augmented(x, y):
    # x1 = ((x + y) * 2 - 3y) / 4 = (2x - y) / 4, and the output is x1 ** 2.
    x1 = (2 * x - y) / 4
    return x1, -x1 / 2


def _hand_math(a, b):
    da = (math.cos(a) * math.cos(b) + 1 + math.tan(a) ** 2 + 1 - math.tanh(a) ** 2 + np.sign(a))
    db = (-math.sin(a) * math.sin(b) + math.exp(b) * math.log(b) + math.exp(b) / b
          + 1 / (2 * math.sqrt(b)) + 1)
    return da, db


def _rows_argmax_mask(x):
    return (x == x.max(axis=1, keepdims=True)).astype(float)


HAND = [
    # (id, function, argument factory, grad_position, hand-derived gradient(s) from the arguments)
    ("mul", op_mul, lambda: (normal(3, 4), normal(3, 4, seed=1)), (0, 1), lambda x, y: (y, x)),
    ("truediv", op_truediv, lambda: (normal(3, 4), positive(3, 4, seed=1)), (0, 1),
     lambda x, y: (1 / y, -x / y ** 2)),
    ("matmul", op_matmul, lambda: (normal(3, 4), normal(4, 2, seed=1)), (0, 1),
     lambda a, b: (np.ones((3, 2)) @ b.T, a.T @ np.ones((3, 2)))),
    ("pow_arrays", op_pow_arrays, lambda: (positive(5), normal(5, seed=1)), (0, 1),
     lambda x, y: (y * x ** (y - 1), x ** y * np.log(x))),
    ("mod", op_mod, _mod_args, (0, 1), lambda x, y: (np.ones_like(x), -np.floor(x / y))),
    ("col_times_row", bc_col_times_row, lambda: (normal(3, 1), normal(1, 4, seed=1)), (0, 1),
     lambda c, r: (np.full((3, 1), r.sum()), np.full((1, 4), c.sum()))),
    ("py_floats", py_floats, lambda: (1.3, 0.8), (0, 1),
     lambda a, b: (b + 1 / b, a - a / b ** 2 - 2 * b)),
    ("var_all", var_all, lambda: (normal(3, 4),), 0, lambda x: 2 * (x - x.mean()) / x.size),
    ("std_columns", std_columns, lambda: (normal(3, 4),), 0,
     lambda x: (x - x.mean(axis=0)) / (x.shape[0] * x.std(axis=0))),
    ("max_rows", max_rows, lambda: (distinct(3, 4),), 0, _rows_argmax_mask),
    ("log_sum_exp", log_sum_exp, lambda: (distinct(6),), 0, lambda x: np.exp(x) / np.exp(x).sum()),
    ("prod", np_prod, lambda: (positive(3, 4, low=0.5, high=1.5),), 0,
     lambda x: np.prod(x) / x + np.prod(x, axis=0) / x),
    ("clip", np_clip, lambda: (distinct(8),), 0,
     lambda x: (np.abs(x) <= 0.5) * x + np.clip(x, -0.5, 0.5)),
    ("where", np_where, lambda: (distinct(6), normal(6, seed=1)), (0, 1),
     lambda x, y: (np.where(x > 0, y, 0.0), np.where(x > 0, x, np.cos(y)))),
    ("tuple_output_summed", tuple_output, lambda: (normal(5), normal(5, seed=1)), (0, 1),
     lambda x, y: (y + np.cos(x), x)),
    ("swap", swap, lambda: (normal(5), normal(5, seed=1)), (0, 1), lambda a, b: (2 * a, np.full(5, 2.0))),
    ("augmented", augmented, lambda: (normal(5), normal(5, seed=1)), (0, 1), _hand_augmented),
    ("helper_tuple", call_helper_tuple, lambda: (normal(5), normal(5, seed=1)), (0, 1),
     lambda x, y: (x * y + (x + y) * y, x * y + (x + y) * x)),
    ("helper_chain", call_helper_chain, lambda: (normal(5), normal(5, seed=1)), (0, 1),
     lambda x, y: (-2 * x * np.exp(-x * x) * y, np.exp(-x * x) + 2 * y)),
    ("global_helpers_named_like_runtime", global_helpers_named_like_runtime,
     lambda: (normal(3, 4), normal(4, seed=1)), (0, 1),
     lambda x, r: (np.full((3, 4), 3.0) + r * r, np.full(4, 3.0) + 2 * r * x.sum(axis=0))),
    ("stop_gradient", stop_gradient_use, lambda: (normal(4), normal(4, seed=1)), (0, 1),
     lambda x, y: (y, 2 * x)),
    ("math_on_floats", math_on_floats, lambda: (0.6, 1.4), (0, 1), _hand_math),
    ("logistic_loss", logistic_loss, _logistic_args, (0, 1), lambda w, b, X, y: _hand_logistic(w, b, X, y)),
    ("mlp_softmax_cross_entropy", mlp_loss, _mlp_args, (0, 1, 2, 3), _hand_mlp),
]


@pytest.mark.parametrize("fn, make_args, positions, hand", [pytest.param(*h[1:], id=h[0]) for h in HAND])
def test_against_hand_derived_gradient(fn, make_args, positions, hand):
    check_against_hand(fn, make_args, positions, hand)


# --------------------------------------------------------------------------------------------------
# Bugs found while writing the catalogue (expected to fail until fixed)
# --------------------------------------------------------------------------------------------------

def prod_of(x):
    return np.prod(x)


def test_prod_gradient_with_a_zero_element():
    x = np.array([2.0, 0.0, 3.0])
    # d/dx_i prod(x) is the product of the other elements.
    np.testing.assert_array_equal(ad.grad(prod_of)(x), np.array([0.0, 6.0, 0.0]))


def clip_upper_only(x):
    return np.sum(np.clip(x, None, 0.5))


def clip_lower_only(x):
    return np.sum(np.clip(x, a_min=-0.5, a_max=None))


def test_clip_with_no_lower_bound():
    x = np.array([-1.0, 0.2, 0.9])
    np.testing.assert_array_equal(ad.grad(clip_upper_only)(x), np.array([1.0, 1.0, 0.0]))


def test_clip_with_no_upper_bound():
    x = np.array([-1.0, 0.2, 0.9])
    np.testing.assert_array_equal(ad.grad(clip_lower_only)(x), np.array([0.0, 1.0, 1.0]))


def var_positional_ddof(x):
    return np.sum(np.var(x, 0, None, None, 1))


def test_var_with_positional_ddof():
    x = normal(3, 4)
    # np.var(x, 0, None, None, 1) is the column variance with ddof=1: d/dx = 2 (x - column mean) / (n - 1).
    expected = 2 * (x - x.mean(axis=0)) / (x.shape[0] - 1)
    np.testing.assert_allclose(ad.grad(var_positional_ddof)(x), expected, rtol=1e-10)
