"""Functions whose generated adjoints are pinned by test_golden.py. Editing a line here changes the
line numbers quoted in every snapshot below it: regenerate with AUTODIFF_ST_UPDATE_GOLDEN=1."""

import math

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def logistic_loss(w, X, y):
    p = sigmoid(X @ w)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def mlp_loss(W1, W2, x, labels):
    hidden = np.tanh(x @ W1)
    logits = hidden @ W2
    shift = np.max(logits, axis=1, keepdims=True)
    lse = shift + np.log(np.sum(np.exp(logits - shift), axis=1, keepdims=True))
    return -np.mean(np.sum(labels * (logits - lse), axis=1))


def reassigned(x, scale=2.0):
    x = x * scale
    x += np.sin(x)
    return x.sum()


def collides(x, x_bar, d):
    out = x * x_bar + d
    np_2 = np.exp(out)
    return np_2.mean()


def two_outputs(x, y):
    return x ** 2 + y, x * y


def with_aux(x, y):
    loss = np.sum((x - y) ** 2)
    return loss, x - y


def on_floats(x, y):
    r = math.sqrt(x * x + y * y)
    return r * math.exp(-x / y)


# Control flow and indexing.

def rnn(W, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)


def piecewise(x, y):
    if np.sum(x) > 0:
        z = x * y
    elif np.sum(y) > 0:
        z = x + y
    else:
        z = x - y
    return np.sum(z ** 2)


def newton_sqrt(a):
    x = a
    while np.max(np.abs(x * x - a)) > 1e-10:
        x = 0.5 * (x + a / x)
    return np.sum(x)


def first_large(x):
    for i in range(10):
        x = x * 1.1
        if np.sum(x) > 5.0:
            return np.sum(x ** 2)
    return np.sum(x)


def skip_and_stop(x):
    total = 0.0
    for i in range(6):
        if i == 1:
            continue
        if i == 4:
            break
        total = total + np.sum(x * i)
    return total


def prefix_products(x):
    y = x.copy()
    for i in range(1, y.shape[0]):
        y[i] = y[i - 1] * x[i]
    return np.sum(y)


def scatter_add(x):
    y = np.zeros(3)
    y[[0, 0, 2]] += x
    return np.sum(y * y)


def row_losses(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w)
    return total


def paired(X, Y):
    total = 0.0
    for i, (a) in enumerate(X):
        total = total + np.sum(a) * i
    for a, b in zip(X, Y):
        total = total + np.sum(a * b)
    return total


def clipped(x, low, high):
    s = np.sum(x)
    scale = 2.0 if low < s < high else 0.5
    return s * scale


class TwoLayer:
    """A Cell whose construct reads a Parameter through self and calls a method that reads another
    (see docs/weights.md). test_golden.py makes it an ad.nn.Cell, to keep this module's imports to numpy."""

    def __init__(self, hidden, out):
        self.hidden = hidden
        self.out = out

    def features(self, x):
        return np.tanh(x @ self.hidden)

    def construct(self, x, y):
        h = self.features(x)
        r = h @ self.out - y
        return np.mean(r ** 2)
