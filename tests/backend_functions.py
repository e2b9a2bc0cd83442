"""Functions the backend tests differentiate on numpy, dask, array-api-strict and CuPy arrays.

Each takes a float array ``x`` of shape (rows, cols) (and ``w`` of shape (cols,) where it says so) and uses
only what numpy's dispatch carries to another library: operators, ufuncs, reductions, matmul, slicing.
"""

import numpy as np


def logistic_loss(w, x, y):
    z = x @ w
    return np.mean(np.logaddexp(0.0, z) - y * z)


def two_layer(w, x, y):
    h = np.tanh(x @ w[:, None] + 0.5)
    return np.sum((h[:, 0] - y) ** 2) / x.shape[0]


def centred_energy(w, x, y):
    centred = x - np.mean(x, axis=0)
    return np.sum(centred ** 2 * w) + np.sum(np.exp(-y ** 2))


def looped(w, x, y):
    z = x @ w
    for _ in range(3):
        z = np.sin(z) * 1.2 + 0.1 * z
    return np.sum(z * z) + np.sum(np.sqrt(y ** 2 + 1.0))


def elementwise_mix(w, x, y):
    z = np.log1p(x ** 2) * np.cos(x) + np.maximum(x, 0.0) / (1.0 + np.abs(x))
    return np.sum(z @ w) + np.sum(np.sinh(y) * np.arctan(y))


def sliced(w, x, y):
    head = x[1:, :] - x[:-1, :]
    return np.sum(head[:, 0] * w[0]) + np.sum(x[:, -1] ** 2) + np.sum(y[::2])


def vector_output(w, x, y):
    return np.tanh(x @ w) * y


CATALOGUE = [logistic_loss, two_layer, centred_energy, looped, elementwise_mix, sliced]


def data(rows=24, cols=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols))
    w = rng.normal(size=cols) * 0.5
    y = (rng.random(rows) > 0.5).astype(np.float64)
    return w, x, y
