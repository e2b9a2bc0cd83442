"""The step-8 constructs: the Python researchers write, one small function each.

``CASES`` lists (group, name, function, arguments); the first argument is differentiated. The probe
(tests/s8_probe.py) and the step-8 tests read them.
"""

import functools

import numpy as np

A3 = np.array([[2.0, 0.3, -0.4], [0.3, 1.5, 0.2], [-0.4, 0.2, 1.1]])
SCALE = 1.7


# --- 1. containers built from differentiated scalars -----------------------------------------------

def ode_rhs(y, k=2.0, c=0.5):
    return np.array([y[1], -k * y[0] - c * y[1]])


def array_of_scalar(x):
    return np.array([x, x * 2])


def nested_list_array(x):
    return np.array([[x[0], x[1] * x[0]], [np.sin(x[1]), 1.0]])


def asarray_of_scalars(x):
    a, b = x[0], x[1]
    return np.sum(np.asarray([a * b, a + b]) ** 2)


def stack_mixed(x):
    return np.stack([x, x ** 2, np.array([x[0], x[1], x[2]])])


def vstack_mixed(x):
    return np.vstack([x, [x[0], 2.0 * x[1], x[2]]])


def hstack_mixed(x):
    return np.hstack([x, [x[0] * x[1]], np.sin(x)])


def concatenate_mixed(x):
    return np.concatenate([x, [x[0] ** 2, x[1]]])


def concatenate_tuple(x):
    return np.concatenate((x[:1] * 3.0, (x[1], x[2])))


def mean_of_list(x):
    a = x[0] * x[1]
    b = np.sin(x[2])
    return np.mean([a, b])


def sum_of_list(x):
    return np.sum([x[0] ** 2, x[1] * x[2]])


def max_of_list(x):
    return np.max([x[0] * 2.0, x[1] + 0.1, np.exp(x[2])])


# --- 2. unpacking ----------------------------------------------------------------------------------

def unpack_exp(theta):
    ell, sf2, sn2 = np.exp(theta)
    return sf2 * np.exp(-0.5 / ell ** 2) + sn2


def unpack_svd(a):
    u, s, vt = np.linalg.svd(a)
    return np.sum(s ** 2) + np.sum((u * s) @ vt)


def unpack_eigh(x):
    w, v = np.linalg.eigh(x + x.T)
    return np.sum(w ** 2) + np.sum(v ** 2 * w)


def unpack_lstsq(a):
    b = np.array([1.0, 2.0, 0.5])
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(sol ** 2)


def unpack_starred(x):
    first, *rest = x
    return first * np.sum(np.asarray(rest) ** 2)


def unpack_starred_tuple(x):
    head, *middle, last = (x[0], x[1], x[2] * 2.0)
    return head * last + middle[0]


# --- 3. statements ---------------------------------------------------------------------------------

def checks_with_raise(x):
    if np.any(x < -10.0):
        raise ValueError("x must be above -10")
    return np.sum(x ** 2)


def checks_with_assert(x):
    assert x.shape == (3,), "x must have three elements"
    return np.sum(np.sin(x))


def try_finally(x):
    try:
        y = np.sin(x) * x
    finally:
        done = True
    return np.sum(y) if done else 0.0


def try_except_not_raising(x):
    try:
        y = np.exp(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


def with_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x * x)
    return np.sum(y)


def reads_global(x):
    global SCALE
    return np.sum(x * SCALE)


def uses_nonlocal(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v

    add(np.sum(x ** 2))
    add(np.sum(np.sin(x)))
    return total


# --- 4. functions ----------------------------------------------------------------------------------

def star_args_helper(*parts):
    return parts[0] * parts[1]


def calls_star_args(x):
    return np.sum(star_args_helper(x, np.sin(x)))


def kwargs_helper(x, **options):
    return x * options["scale"]


def calls_kwargs(x):
    return np.sum(kwargs_helper(x, scale=2.5))


def keyword_only(x, *, power=3.0):
    return np.sum(x ** power)


def calls_keyword_only(x):
    return keyword_only(x, power=2.0) + keyword_only(x)


def scaled(x, s):
    return np.sum(np.sin(x) * s)


scaled_by_two = functools.partial(scaled, s=2.0)


def calls_partial(x):
    return scaled_by_two(x) * 2.0


class Quadratic:
    def __init__(self, a):
        self.a = a

    def __call__(self, x):
        return np.sum(x * (self.a @ x))


QUAD = Quadratic(A3)


def calls_callable_object(x):
    return QUAD(x) + 1.0


def nested_def_closure(x):
    w = np.cos(x)

    def energy(v):
        y = v * w
        z = np.sum(y ** 2)
        return z + np.sum(v)

    return energy(x) + energy(2.0 * x)


def apply_twice(f, x):
    return f(f(x))


def passes_nested_function(x):
    def step(v):
        return np.sin(v) + v

    return np.sum(apply_twice(step, x))


def sorted_with_lambda(x):
    pairs = [(x[0], x[1]), (x[2], x[0])]
    ordered = sorted(pairs, key=lambda t: t[0])
    return ordered[0][1] * ordered[1][1]


def map_with_lambda(x):
    doubled = list(map(lambda t: t * 2.0, [x[0], x[1], x[2]]))
    return doubled[0] * doubled[1] + doubled[2]


X3 = np.array([0.7, -0.4, 1.3])
POS3 = np.array([0.7, 0.4, 1.3])
M3 = np.array([[1.0, 0.2, -0.3], [0.1, 0.9, 0.4], [-0.2, 0.5, 1.4]])

CASES = [
    ("containers", "ode_rhs", ode_rhs, (np.array([0.3, -1.2]),)),
    ("containers", "array_of_scalar", array_of_scalar, (0.7,)),
    ("containers", "nested_list_array", nested_list_array, (np.array([0.3, -1.2]),)),
    ("containers", "asarray_of_scalars", asarray_of_scalars, (np.array([0.3, -1.2]),)),
    ("containers", "stack_mixed", stack_mixed, (X3,)),
    ("containers", "vstack_mixed", vstack_mixed, (X3,)),
    ("containers", "hstack_mixed", hstack_mixed, (X3,)),
    ("containers", "concatenate_mixed", concatenate_mixed, (X3,)),
    ("containers", "concatenate_tuple", concatenate_tuple, (X3,)),
    ("containers", "mean_of_list", mean_of_list, (X3,)),
    ("containers", "sum_of_list", sum_of_list, (X3,)),
    ("containers", "max_of_list", max_of_list, (X3,)),
    ("unpacking", "unpack_exp", unpack_exp, (np.array([0.2, -0.3, 0.1]),)),
    ("unpacking", "unpack_svd", unpack_svd, (M3,)),
    ("unpacking", "unpack_eigh", unpack_eigh, (M3,)),
    ("unpacking", "unpack_lstsq", unpack_lstsq, (M3,)),
    ("unpacking", "unpack_starred", unpack_starred, (X3,)),
    ("unpacking", "unpack_starred_tuple", unpack_starred_tuple, (X3,)),
    ("statements", "checks_with_raise", checks_with_raise, (X3,)),
    ("statements", "checks_with_assert", checks_with_assert, (X3,)),
    ("statements", "try_finally", try_finally, (X3,)),
    ("statements", "try_except_not_raising", try_except_not_raising, (X3,)),
    ("statements", "with_errstate", with_errstate, (X3,)),
    ("statements", "reads_global", reads_global, (X3,)),
    ("statements", "uses_nonlocal", uses_nonlocal, (X3,)),
    ("functions", "star_args_itself", star_args_helper, (X3, POS3)),
    ("functions", "calls_star_args", calls_star_args, (X3,)),
    ("functions", "calls_kwargs", calls_kwargs, (X3,)),
    ("functions", "keyword_only", keyword_only, (X3,)),
    ("functions", "calls_keyword_only", calls_keyword_only, (X3,)),
    ("functions", "partial_itself", scaled_by_two, (X3,)),
    ("functions", "calls_partial", calls_partial, (X3,)),
    ("functions", "callable_object", QUAD, (X3,)),
    ("functions", "calls_callable_object", calls_callable_object, (X3,)),
    ("functions", "nested_def_closure", nested_def_closure, (X3,)),
    ("functions", "passes_nested_function", passes_nested_function, (X3,)),
    ("functions", "sorted_with_lambda", sorted_with_lambda, (X3,)),
    ("functions", "map_with_lambda", map_with_lambda, (X3,)),
]
