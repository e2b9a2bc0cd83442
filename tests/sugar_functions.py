"""Assignment expressions, enumerate with a start, dict displays with ``**`` and functools.reduce: the
cases of tests/test_sugar_forms.py, in a file of their own so that the compiler reads their source."""

import functools

import numpy as np


def walrus_in_test(x):
    if (s := np.sum(x ** 2)) > 0.1:
        return s * x[0]
    return s


def walrus_in_while(x):
    t, k = 0.0, 0
    while (k := k + 1) < x.shape[0]:
        t = t + x[k] * x[k - 1]
    return t


def walrus_short_circuit(x):
    if x[0] > 0 and (y := x[1] * 2.0) > -5.0:
        return y * x[2]
    return x[2]


def walrus_reused(x):
    return (a := x[0] * 2.0) * a + (b := np.sin(x[1])) * b


def enumerate_from_one(x):
    t = 0.0
    for k, v in enumerate(x, 1):
        t = t + k * v ** 2
    return t


def enumerate_negative_start_of_zip(x):
    t = 0.0
    for k, (a, b) in enumerate(zip(x, x[1:]), start=-1):
        t = t + k * a * b
    return t


def enumerate_in_comprehension(x):
    return sum(k * v ** 2 for k, v in enumerate(x, 2) if k > 2)


def enumerate_listed(x):
    pairs = list(enumerate(x, start=3))
    return pairs[2][0] * pairs[2][1] ** 2


def enumerate_computed_start(x):
    s = 2
    t = 0.0
    for k, v in enumerate(x, s):
        t = t + k * v
    return t


def dict_merged(x):
    base = {"a": x[0], "b": x[1] * 2.0}
    d = {**base, "b": x[2] ** 2, "c": np.sin(x[0])}
    return d["a"] * d["b"] + d["c"] + base["b"]


def dict_of_parameters(p, x):
    q = {**p, "scale": 2.0}
    return np.sum(q["w"] * x) * q["scale"]


def walrus_in_comprehension(x):
    return sum((w := v * 2.0) * w for v in x)


def reduce_with_lambda(x):
    return functools.reduce(lambda a, b: a * b, x)


def reduce_with_initial(x):
    return functools.reduce(lambda a, b: a + b ** 2, x, 1.0)


def reduce_matrix_products(x):
    A = np.outer(x, x) * 0.1 + np.eye(x.shape[0])
    return np.sum(functools.reduce(np.dot, [A, A * x[0], A.T]))


def reduce_of_nothing(x):
    return functools.reduce(lambda a, b: a + b, x[:0]) + x[0]
