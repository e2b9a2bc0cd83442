"""Functions with starred items in list and tuple displays: the cases of tests/test_starred_displays.py,
in a file of their own so that the compiler reads their source."""

import numpy as np


def state_vector(y):
    # an ODE right-hand side with a state vector built from a slice and scalars
    return np.array([*y[2:], -y[0] * y[1], np.sin(y[0])])


def grows_in_a_loop(x):
    ys = [x[0]]
    for i in range(1, x.shape[0]):
        ys = [*ys, ys[-1] * x[i]]
    return np.sum(np.array(ys) ** 2)


def tuple_with_a_tail(x):
    head, *rest = (*x[:2] * 2.0, np.cos(x[2]))
    return head * rest[0] + rest[1]


def _split(x):
    return (*x[:2], np.sum(x[2:] ** 2))


def helper_returns_starred_tuple(x):
    a, b, c = _split(x)
    return a * b + c


def concatenate_parts(x):
    parts = [x[:1] * 3.0, x[1:2]]
    return np.sum(np.concatenate([*parts, np.exp(x[2:])]) ** 2)


def starred_only(x):
    return np.sum(np.stack([*x]) * x)


def nested_starred(x):
    rows = [[*x[:2], 1.0], [x[2], *x[1:3] ** 2]]
    return np.sum(np.array(rows) ** 2)


def returns_nothing(x):
    return []
