"""Rules for products: matmul, dot, outer, inner."""

import numpy as np

from ..runtime import dot_grad_left, dot_grad_right
from . import vjp_rule, method


@vjp_rule(np.dot)
def dot(g, ans, a, b):
    return dot_grad_left(g, a, b), dot_grad_right(g, a, b)


@vjp_rule(np.outer)
def outer(g, ans, a, b):
    return (np.reshape(np.dot(g, np.ravel(b)), np.shape(a)),
            np.reshape(np.dot(np.ravel(a), g), np.shape(b)))


@vjp_rule(np.inner)
def inner(g, ans, a, b):
    # np.inner contracts the last axes; for vectors and matrices this is a @ b.T.
    return dot_grad_left(g, a, np.transpose(b)), np.transpose(dot_grad_right(g, a, np.transpose(b)))


method("dot", np.dot)


@vjp_rule(np.linalg.slogdet, returns_tuple=True)
def slogdet(g, ans, a):
    # d log|det a| = tr(a^-1 da); the sign is piecewise constant.
    return np.swapaxes(np.linalg.inv(a), -1, -2) * np.expand_dims(np.expand_dims(g[1], -1), -1)
