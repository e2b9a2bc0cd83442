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
