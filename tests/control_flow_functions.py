"""Module-level functions with control flow and subscript reads, for tests/test_control_flow.py.

The compiler reads each function's source, so they live at module level (a recursive function must be
able to call itself by its global name). Each function's input domain is stated next to its entry in
the catalogue, in test_control_flow.py.
"""

import math

import numpy as np


# ==================================================================================================
# Branches: if / elif / else, nested ifs, returns in branches
# ==================================================================================================

def if_float(x):
    if x > 0:
        y = x * x
    else:
        y = -x
    return y


def if_array_sum(x):
    if np.sum(x) > 0:
        y = np.sin(x) * x
    else:
        y = x ** 2
    return np.sum(y)


def if_elif_else(x):
    if x < -1.0:
        y = x ** 3
    elif x < 1.0:
        y = np.sin(x) * 2.0
    else:
        y = np.exp(x) - x
    return y


def branch_changes_active(x, y, c):
    z = y
    if c:
        z = x * 3
    return np.sum(z * x)


def if_without_else(x):
    y = x * 1.5
    if np.sum(x) > 0:
        y = y * y
    return np.sum(y * x)


def nested_if(x, y):
    if np.sum(x) > 0:
        if np.sum(y) > 0:
            z = x * y
        else:
            z = x - y
    else:
        if np.sum(y) > 0:
            z = np.exp(x) + y
        else:
            z = x * x * y
    return np.sum(z)


def branch_first_binding(x, flag):
    if flag:
        a = np.sin(x)
        b = a * x
    else:
        b = np.cos(x)
    return np.sum(b * b)


def branch_on_string(x, mode):
    if mode == "square":
        y = x * x
    elif mode == "cube":
        y = x * x * x
    else:
        y = np.abs(x)
    return np.sum(y)


def branch_on_ndim(x):
    if x.ndim == 2:
        y = np.sum(x * x, axis=1)
    else:
        y = x * x
    return np.sum(np.sqrt(y))


def branch_not(x, flag):
    y = x
    if not flag:
        y = np.tanh(x)
    return np.sum(y * x)


def returns_in_branches(x):
    if x < -1.0:
        return -x * 2.0
    if x < 1.0:
        return x * x
    return np.log(x) + 1.0


def return_early_array(x, y):
    if np.sum(x * y) > 0:
        return np.sum(x * y)
    z = x - y
    return np.sum(z * z)


def both_branches_return(x):
    if np.max(x) > 1.0:
        return np.sum(np.exp(x))
    else:
        return np.sum(np.sin(x))


def chained_comparison(x):
    if 0.0 < x < 1.0:
        y = x * (1.0 - x)
    else:
        y = x * 0.5
    return y


def and_condition(x, y):
    if x > 0 and y > 0:
        z = x * y
    else:
        z = x + y
    return z


def or_condition(x, y):
    if x > 1.0 or y > 1.0:
        z = np.exp(x - y)
    else:
        z = x * y * y
    return z


def or_value(x, y):
    z = x or y
    return z * y


def and_value(x, y):
    z = x and y
    return z * x


def all_positive_branch(x):
    if np.all(x > 0):
        y = np.log(x)
    else:
        y = x * x
    return np.sum(y)


def reassigned_in_both(x, w):
    h = x * w
    if np.sum(h) > 0:
        h = np.tanh(h)
        h = h * w
    else:
        h = h * h
    return np.sum(h * x)


# ==================================================================================================
# Conditional expressions
# ==================================================================================================

def ifexp_float(x):
    y = x * x if x > 0 else -x
    return y * 3.0


def ifexp_nested(x):
    y = x ** 2 if x > 1.0 else (np.sin(x) if x > -1.0 else x * 0.5)
    return y


def ifexp_array(x, y):
    z = x * y if np.sum(x) > np.sum(y) else x + y * y
    return np.sum(z)


def ifexp_in_expression(x):
    return np.sum(x * (2.0 if np.mean(x) > 0 else 3.0) + (x if x[0] > 0 else x * x))


# ==================================================================================================
# Subscript reads
# ==================================================================================================

def index_int(x):
    return x[2] * x[0] + x[-1] ** 2


def index_slices(x):
    return np.sum(x[1:4] * x[:3]) + np.sum(x[::2] ** 2) + np.sum(x[::-1] * x)


def index_step_negative(x):
    return np.sum(x[5:0:-2] * x[1:-1:2])


def index_2d(x):
    return np.sum(x[1, :4] * x[:, 2]) + np.sum(x[1:3, ::2] ** 2)


def index_ellipsis_none(x):
    return np.sum(x[..., 0] * x[..., 1]) + np.sum(x[None, :, 1] * x[:, None, 2])


def index_fancy_repeats(x, idx):
    return np.sum(x[idx] ** 2)


def index_fancy_literal(x):
    return np.sum(np.sin(x[np.array([0, 2, 2, 1, 0])]))


def index_mask_from_data(x):
    return np.sum(x[x > 0] ** 3)


def index_mask_arg(x, mask):
    return np.sum(np.exp(x[mask]))


def index_multi_axis(x, rows, cols):
    return np.sum(x[rows, cols] * x[rows, cols])


def index_argmax(x):
    i = np.argmax(x)
    return x[i] * x[i]


def index_row_mask(x):
    keep = np.sum(x, axis=1) > 0
    return np.sum(x[keep] ** 2)


def index_mixed_slice_fancy(x, idx):
    return np.sum(x[1:, idx] * 2.0) + np.sum(x[idx, ::-1] ** 2)


# ==================================================================================================
# Loops over range
# ==================================================================================================

def loop_sum(x, n):
    s = 0.0
    for i in range(n):
        s = s + x
    return np.sum(s)


def loop_power(x, n):
    s = x
    for i in range(n):
        s = s * x
    return np.sum(s)


def loop_index_as_exponent(x, n):
    s = 0.0
    for i in range(n):
        s = s + x ** i / (i + 1)
    return np.sum(s)


def loop_range_start_stop_step(x, n):
    s = x * 0.0
    for k in range(1, n, 2):
        s = s + np.sin(k * x)
    for k in range(n, 0, -1):
        s = s * 0.9 + x / k
    return np.sum(s)


def loop_rebinds_parameter(x, n):
    for i in range(n):
        x = np.sin(x) + 0.5 * x
    return np.sum(x)


def loop_overwrites_read_later(x, n):
    z = x * 0.0
    y = x
    for i in range(n):
        y = np.sin(x * (i + 1))
        z = z + y * y
    return np.sum(z * y)


def loop_aug_assign(x, y, n):
    s = x * 1.0
    for i in range(n):
        s += y
        s *= x
    return np.sum(s)


def loop_two_carried(a, b, n):
    for i in range(n):
        a, b = b, a + b
    return a * 2.0 + b


def loop_swap_arrays(x, y, n):
    for i in range(n):
        x, y = y * 0.5, np.sin(x)
    return np.sum(x * y)


def scalar_loop_100(r, x):
    for i in range(100):
        x = r * x * (1.0 - x)
    return x


def scalar_loop_100_math(x):
    y = x
    for i in range(100):
        y = y + 0.01 * math.sin(y) * x
    return y


def euler_decay(x0, k, steps):
    x = x0
    dt = 0.1
    for i in range(steps):
        x = x + dt * (-k * x)
    return x


def unrolled_descent(w, target, steps):
    lr = 0.1
    for i in range(steps):
        g = 2.0 * (w - target)
        w = w - lr * g
    return np.sum(w * w)


def newton_sqrt(a, steps):
    y = a
    for i in range(steps):
        y = 0.5 * (y + a / y)
    return y


def power_iteration(A, v, steps):
    for i in range(steps):
        v = A @ v
        v = v / np.linalg.norm(v)
    return v @ A @ v


def rnn(W, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h)


def rnn_with_readout(W, U, h, xs):
    total = 0.0
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t])
        total = total + np.sum(h * h)
    return total


def loop_zero_iterations(x, n):
    y = x * 2.0
    for i in range(n):
        y = y * y
    return np.sum(y)


def loop_last_value_after(x, n):
    for i in range(n):
        y = np.cos(x) * i
    return np.sum(y * x)


# ==================================================================================================
# Nested loops
# ==================================================================================================

def nested_loops(x, n, m):
    s = 0.0
    for i in range(n):
        for j in range(m):
            s = s + x[i] * x[j] * (i - j)
    return s


def nested_loops_carry(x, n, m):
    h = x
    for i in range(n):
        g = h
        for j in range(m):
            g = np.sin(g) * x
        h = h + g * 0.5
    return np.sum(h)


def nested_break_inner(x, n):
    s = 0.0
    for i in range(n):
        for j in range(n):
            if j > i:
                break
            s = s + x[i] * x[j]
    return s


def nested_break_data(x):
    s = 0.0
    for i in range(len(x)):
        for j in range(len(x)):
            s = s + x[i] * x[j]
            if s > 2.0:
                break
        s = s * 0.5
    return s


def nested_continue_outer(X):
    s = 0.0
    for i in range(X.shape[0]):
        if i == 1:
            continue
        for j in range(X.shape[1]):
            if j == 2:
                continue
            s = s + X[i, j] ** 2
    return s


def nested_return(X):
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if X[i, j] > 1.0:
                return X[i, j] * np.sum(X[i])
    return np.sum(X)


# ==================================================================================================
# break, continue, return inside loops, for/else
# ==================================================================================================

def break_fixed(x, n):
    s = x
    for i in range(10):
        if i == n:
            break
        s = s * np.cos(x)
    return np.sum(s)


def break_on_data(x):
    s = 0.0
    for xi in x:
        if s > 3.0:
            break
        s = s + xi * xi
    return s


def continue_on_data(x):
    s = 0.0
    for xi in x:
        if xi < 0:
            continue
        s = s + xi ** 3
    return s


def continue_on_index(x, n):
    s = x * 0.0
    for i in range(n):
        if i % 2 == 1:
            continue
        s = s + np.sin(x) * i
    return np.sum(s)


def return_in_loop(x):
    s = 0.0
    for xi in x:
        s = s + xi
        if s > 1.0:
            return s * s
    return -s


def several_returns(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) * 2.0
        if np.sum(y) > 5.0:
            return np.sum(y * x)
        if np.sum(y) < -5.0:
            return np.sum(y)
    if np.sum(y) > 0:
        return np.sum(y * y)
    return np.sum(np.exp(y))


def for_else_no_break(x, n):
    s = x
    for i in range(n):
        s = s * 1.1 + x
    else:
        s = s * s
    return np.sum(s)


def for_else_break_taken(x):
    s = 0.0
    for xi in x:
        s = s + xi
        if s > 1.0:
            break
    else:
        s = s * 10.0
    return s * s


def for_else_break_not_taken(x):
    s = 0.0
    for xi in x:
        s = s + xi * xi
        if s > 100.0:
            break
    else:
        s = np.sqrt(s)
    return s


# ==================================================================================================
# while loops
# ==================================================================================================

def while_counter(x, n):
    i = 0
    s = x
    while i < n:
        s = np.sin(s) + x
        i += 1
    return np.sum(s)


def while_data_exit(x):
    s = 1.0
    while s < 10.0:
        s = s * x
    return s


def while_array_exit(x):
    y = x
    while np.sum(y * y) < 50.0:
        y = y * 1.7 + 0.1
    return np.sum(y)


def while_true_break(x):
    y = x
    k = 0
    while True:
        y = y * 0.5 + np.sin(y)
        k += 1
        if k >= 4:
            break
    return np.sum(y)


def while_and_condition(x, n):
    i = 0
    s = 0.5
    while i < n and s < 5.0:
        s = s * x + 0.1
        i = i + 1
    return s


def while_continue(x, n):
    i = 0
    s = 0.0
    while i < n:
        i = i + 1
        if i == 2:
            continue
        s = s + x * i
    return np.sum(s * s)


def while_return(x):
    s = x
    while True:
        s = s * 1.5
        if s > 4.0:
            return s + x
    return s


# ==================================================================================================
# for over arrays, zip and enumerate
# ==================================================================================================

def loop_over_elements(x):
    p = 1.0
    for xi in x:
        p = p * xi
    return p


def loop_over_rows(X):
    s = 0.0
    for row in X:
        s = s + np.sum(np.sin(row) * row)
    return s


def loop_over_rows_last_row(X):
    s = 0.0
    for row in X:
        s = s + np.sum(row)
    return s * np.sum(row * row)


def loop_over_zip(X, Y):
    s = 0.0
    for a, b in zip(X, Y):
        s = s + a @ b
    return s


def loop_over_zip_one_active(X, w, Y):
    s = w * 0.0
    for a, b in zip(X, Y):
        s = s + a * w * b
    return np.sum(s * s)


def loop_enumerate(X):
    s = X[0] * 0.0
    for i, row in enumerate(X):
        s = s + (i + 1) * row * row
    return np.sum(s)


def loop_enumerate_constant(x, coeffs):
    y = x * 0.0
    for i, c in enumerate(coeffs):
        y = y + c * x ** i
    return np.sum(y)


def horner(x, coeffs):
    y = x * 0.0
    for c in coeffs:
        y = y * x + c
    return np.sum(y)


def loop_over_list_constant(x):
    s = 0.0
    for c in [1.0, 2.0, 3.0]:
        s = s + c * np.sin(c * x)
    return np.sum(s)


def loop_over_linspace(x):
    y = x * 0.0
    for t in np.linspace(0.0, 1.0, 5):
        y = y + t * np.exp(t * x)
    return np.sum(y)


def loop_fancy_repeats(x, idx):
    s = 0.0
    for i in idx:
        s = s + x[i] * x[i]
    return s


def loop_fancy_array_repeats(x, idx, n):
    s = x * 0.0
    for k in range(n):
        s = s + np.sum(x[idx] * k)
    return np.sum(s * x)


def loop_mask_reads(x, thresholds):
    s = 0.0
    for t in thresholds:
        s = s + np.sum(x[x > t] ** 2)
    return s


def loop_pairs_neighbours(x):
    s = 0.0
    for i in range(1, len(x)):
        s = s + x[i] * x[i - 1]
    return s


def loop_sliding_window(x, w):
    s = 0.0
    for i in range(len(x) - len(w) + 1):
        s = s + np.tanh(np.sum(x[i:i + len(w)] * w))
    return s


def loop_branch_on_index(x, n):
    s = x
    for i in range(n):
        if i % 2 == 0:
            s = s + x
        else:
            s = s * x
    return np.sum(s)


def loop_branch_on_data(X):
    s = 0.0
    for row in X:
        if np.sum(row) > 0:
            s = s + row
        else:
            s = s - row * row
    return np.sum(s)


def loop_ifexp(x):
    s = 0.0
    for xi in x:
        s = s + (xi * xi if xi > 0 else 0.1 * xi)
    return s


def loop_chained_comparison(x):
    s = 0.0
    for xi in x:
        if -0.5 < xi < 0.5:
            s = s + xi
        else:
            s = s + np.sin(xi)
    return s


def loop_or_condition(x):
    s = 0.0
    for xi in x:
        if xi > 1.0 or xi < -1.0:
            s = s + xi * xi
    return s


def attention_loop(Q, K, V):
    out = 0.0
    for q in Q:
        scores = K @ q
        e = np.exp(scores - np.max(scores))
        weights = e / np.sum(e)
        out = out + np.sum(weights @ V)
    return out


def cumulative_max_rows(X):
    best = X[0]
    for row in X:
        best = np.maximum(best, row)
    return np.sum(best * best)


# ==================================================================================================
# User variables named like generated ones
# ==================================================================================================

def generated_names_collide(x, n):
    tape = x * 1.0
    iterations = 0.0
    for step in range(n):
        position = tape * x
        tape = position + 0.5
        iterations = iterations + np.sum(tape)
    x_bar = iterations * 2.0
    return x_bar


def generated_flag_names(x):
    skip_rest = 0.0
    returned = x * 0.0
    for xi in x:
        if xi < 0:
            continue
        skip_rest = skip_rest + xi
        if skip_rest > 2.0:
            break
        returned = returned + xi * x
    return np.sum(returned) + skip_rest


def generated_return_names(x):
    returned = 0.0
    return_value = x * 2.0
    loop_broken = 1.0
    for xi in x:
        returned = returned + xi * loop_broken
        if returned > 1.0:
            return returned * np.sum(return_value)
    return returned


def generated_position_names(X, position):
    step = 0.0
    for row in X:
        step = step + np.sum(row * position)
    row_next = step * 2.0
    return row_next


# ==================================================================================================
# Calls: recursion, functions passed as arguments, methods
# ==================================================================================================

def recurse(x, depth):
    if depth == 0:
        return x
    return np.sin(recurse(x, depth - 1)) * x


def recurse_sum(x, depth):
    if depth == 0:
        return np.sum(x * x)
    return recurse_sum(x * 0.5, depth - 1) + np.sum(np.cos(x))


def square_sin(x):
    return np.sin(x) * x


def apply(f, x):
    return f(x)


def apply_n(f, x, n):
    for i in range(n):
        x = f(x)
    return np.sum(x)


def apply_twice_branch(f, g, x):
    if np.sum(x) > 0:
        y = f(x)
    else:
        y = g(x)
    return np.sum(f(y))


def loop_calls_helper(x, n):
    s = x
    for i in range(n):
        s = square_sin(s) + x
    return np.sum(s)


class Model:
    def __init__(self, w, steps):
        self.w = w
        self.steps = steps

    def cell(self, h):
        return np.tanh(self.w * h)

    def loss(self, x):
        h = x
        for i in range(self.steps):
            h = self.cell(h) + x
        return np.sum(h * h)

    def branchy(self, x):
        if self.steps > 2:
            y = self.cell(x) * self.w
        else:
            y = x * self.w
        return np.sum(y)

    def scaled(self, x):
        s = 0.0
        for wi in self.w:
            s = s + np.sum(np.sin(wi * x))
        return s


def uses_model(model, x):
    total = 0.0
    for i in range(2):
        total = total + model.loss(x * (i + 1.0))
    return total


def helper_kw(x, scale=1.0, power=2):
    return scale * x ** power


def loop_keyword_call(x, w):
    s = x
    for i in range(3):
        s = helper_kw(s, scale=w, power=2) * 0.5 + x
    return np.sum(s)


def loop_with_defaults(x, n=3, c=0.5):
    for i in range(n):
        x = x * c + np.sin(x)
    return np.sum(x)


square = lambda v: v * v  # noqa: E731  (a module-level lambda, called inside a loop)


def loop_calls_global_lambda(x):
    s = x
    for i in range(2):
        s = square(s) + x
    return np.sum(s)


class Tree:
    def __init__(self, w):
        self.w = w

    def depth(self, x, d):
        if d == 0:
            return x
        return self.depth(np.tanh(self.w * x), d - 1) + x


def mutual_a(x, n):
    if n == 0:
        return x
    return mutual_b(x * 1.5, n - 1)


def mutual_b(x, n):
    if n == 0:
        return np.sin(x)
    return mutual_a(np.cos(x) * x, n - 1)


def mutual_recursion(x):
    return np.sum(mutual_a(x, 4))


# ==================================================================================================
# Functions for the other tests
# ==================================================================================================

def refuses_subscript_write(x):
    y = x * 1.0
    for i in range(3):
        y[i] = x[i] * 2.0
    return np.sum(y)


def refuses_append(x):
    out = []
    for i in range(3):
        out.append(x * i)
    return np.sum(np.stack(out) ** 2)


def refuses_try_in_loop(x):
    s = 0.0
    for i in range(3):
        try:
            s = s + x * i
        except ValueError:
            pass
    return np.sum(s)


def loop_power_array(x, n):
    s = x
    for i in range(n):
        s = s * x
    return s


def rnn_states(W, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return h


def loop_recomputes(x, n):
    y = x
    for i in range(n):
        y = x * 2.0
    return np.sum(y)


def straight_line(x):
    y = np.sin(x) * x
    return np.sum(y * y)


def refuses_nested_subscript_write(x):
    y = np.zeros((3, 3))
    for i in range(3):
        y[i][i] = x[i] * 2.0
    return np.sum(y)


def refuses_nested_def_in_loop(x):
    s = 0.0
    for i in range(3):
        def scale(v):
            return v * i
        s = s + scale(x)
    return np.sum(s)


def refuses_lambda_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + (lambda v: v * 2.0)(x)
    return np.sum(s)


def refuses_tuple_in_loop(x):
    s = x
    for i in range(3):
        pair = (s, x)
        s = pair[0] * pair[1] + 1.0
    return np.sum(s)


# ==================================================================================================
# Bugs found while writing tests/test_control_flow.py (their tests are marked xfail)
# ==================================================================================================

def two_outputs(x):
    return np.sin(x), x * x


def loop_unpack_user_call(x, n):
    s = x
    for i in range(n):
        a, b = two_outputs(s)
        s = a * 2.0 + b * 0.5
    return np.sum(s)


def loop_unpack_divmod(x, y, n):
    s = x
    for i in range(n):
        q, r = np.divmod(s, y)
        s = r * 3.0 + q
    return np.sum(s)


def loop_aug_assign_alias_of_param(x, n):
    s = x
    for i in range(n):
        s += x
    return np.sum(s)


def nested_loops_same_target(x):
    s = 0.0
    for i in range(2):
        for i in range(3):
            s = s + x * i
    return np.sum(s)


def two_enumerates_same_index(X, c):
    s = 0.0
    for i, ci in enumerate(c):
        s = s + ci * np.sum(X[i])
    for i, ci in enumerate(c):
        s = s * 0.5 + i * np.sum(X[i] ** 2)
    return s


def doubled_in_loop(x):
    s = x
    for i in range(3):
        s = s * 2.0
    return s


def returned_from_branches(x):
    if x > 0:
        return x * x
    return -x


def loop_with_aux(x):
    s = x
    for i in range(3):
        s = s * 2.0
    return np.sum(s), s


def loop_counts_only(x, n):
    k = 0.0
    for i in range(n):
        k = k + i
    return np.sum(x * k)


def loop_cubed_array(x):
    s = x
    for i in range(3):
        s = s * x
    return s


def loop_counter_unused(x, n):
    i = 0
    while i < n:
        i = i + 1
    return np.sum(x * 2.0)


def loop_dead_work(x, n):
    y = x * 2.0
    for i in range(n):
        z = y * 3.0
    return np.sum(y)


# ==================================================================================================
# Not yet supported when these tests were written (subscript writes, lists and tuples of differentiated
# values): each must be refused clearly or differentiated right.
# ==================================================================================================

def write_scatter_repeats(x, idx):
    y = np.zeros(3)
    for k in range(len(idx)):
        y[idx[k]] += x[k] * x[k]
    return np.sum(y * y)


def write_mask(x):
    y = x * 1.0
    y[y < 0] = 0.0
    return np.sum(y * x)


def write_overwrites_read_value(x):
    y = x * 1.0
    y[0] = y[1] * y[2]
    y[1] = y[0] * x[0]
    return np.sum(y * y)


def write_in_branch(x, flag):
    y = x * 2.0
    if flag:
        y[1:3] = np.sin(x[1:3])
    return np.sum(y * x)


def write_into_parameter(x):
    for i in range(len(x) - 1):
        x[i + 1] = x[i + 1] + x[i] * 0.5
    return np.sum(x * x)


def write_row_in_loop(W, h):
    H = np.zeros((3, len(h)))
    for t in range(3):
        h = np.tanh(W @ h)
        H[t] = h
    return np.sum(H ** 2)


def list_of_states(x):
    states = []
    h = x
    for i in range(3):
        h = np.sin(h) * 2.0
        states.append(h)
    return np.sum(np.stack(states) ** 2)


def tuple_swap_in_loop(x):
    pair = (x, x * 2.0)
    for i in range(2):
        pair = (pair[1] * 0.5, pair[0] + pair[1])
    return np.sum(pair[0] * pair[1])


def loop_rebinds_iterated(X):
    s = 0.0
    for row in X:
        s = s + np.sum(row * row)
        X = X * 2.0
    return s


def zip_rebinds_source(X, w):
    s = 0.0
    for row, wi in zip(X, w):
        s = s + np.sum(row) * wi
        w = w * 3.0
    return s


def iterate_into_own_name(x):
    s = 0.0
    for x in x:
        s = s + x * x
    return s


def closure_over_active(x):
    s = x * 1.0
    for i in range(3):
        def f(v):
            return v * s
        s = f(s) + x
    return np.sum(s)


def closure_late_binding(x):
    for i in range(3):
        def f(v):
            return v * i
    return np.sum(f(x))


LOG = []


def refuses_append_to_global(x):
    s = x
    for i in range(3):
        s = np.sin(s)
        LOG.append(s)
    return np.sum(s)


def refuses_append_to_argument(x, out):
    for i in range(3):
        out.append(x * i)
    return np.sum(x)
