"""Loops that read slices of their array arguments: the cases of tests/test_hoist_slices.py, in a file of
their own so that the compiler reads their source."""

import numpy as np


def rk_like(x, steps):
    y = np.zeros(x.shape[0])
    for _ in range(steps):
        k = np.concatenate((x[0:1], x[1:] * y[:-1]))
        y = y + 0.1 * k + 0.05 * x[:-1].sum()
    return y[-1] + np.sum(y * x)


def two_dimensional(W, steps):
    h = np.ones(W.shape[0])
    for t in range(steps):
        h = np.tanh(W[:, 1:] @ h[1:] + W[:, 0])
        h = h + W[1:3, ::2].sum()
    return np.sum(h ** 2)


def bound_from_outside(x, n):
    total = 0.0
    m = n - 1
    for i in range(3):
        total = total + np.sum(x[1:m] * i) + np.sum(x[-m:]) * x[0]
    return total


def index_changes(x):
    total = 0.0
    for i in range(1, 4):
        total = total + np.sum(x[i:] ** 2)
    return total


def argument_rebound(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(x[1:] ** 2)
        x = x * 0.5
    return total


def read_after_loop(x, n):
    total = 0.0
    for i in range(n):
        part = x[1:]
        total = total + np.sum(part * i)
    return total + np.sum(part ** 2)


def zero_trips(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(x[1:] * i) * x[0]
    return total + x[2]


def writes_in_place(x):
    y = x * 1.0
    total = 0.0
    for i in range(3):
        total = total + np.sum(y[1:] * x[1:])
        y[0] = y[0] * 2.0
    return total


def nested_loops(x):
    total = 0.0
    for i in range(2):
        for j in range(3):
            total = total + np.sum(np.sin(x[1:]) * x[:-1]) * (i + j)
    return total
