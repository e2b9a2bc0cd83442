"""Rules for scipy.special. Registered only when scipy is importable: scipy stays optional.

Rule bodies call scipy through ``special.`` (``special.expit``), so that no rule function here shadows
the function it differentiates. Where scipy computes in float64 for a float32 input (polygamma), the
gradient goes back to the input's dtype.
"""

import math

import numpy as np
from scipy import special

from ..runtime import cast_like, expand_reduced, one_if_none, unbroadcast
from ..core.registry import vjp_rule, diagonal, jvp_rule


@vjp_rule(special.logsumexp, diff=("a", "b"))
def logsumexp(g, ans, a, axis=None, b=None, keepdims=False):
    # ans = log sum(b exp(a)), so d ans / d a = b exp(a - ans) and d ans / d b = exp(a - ans).
    # (return_sign=True, which returns a tuple, is not taken.)
    g_full = expand_reduced(g, a, axis, keepdims)
    weights = np.exp(a - expand_reduced(ans, a, axis, keepdims))
    return unbroadcast(g_full * one_if_none(b) * weights, a), unbroadcast(g_full * weights, b)


@vjp_rule(special.softmax)
def softmax(g, ans, x, axis=None):
    # d softmax_i / d x_j = s_i (delta_ij - s_j).
    return ans * (g - np.sum(g * ans, axis=axis, keepdims=True))


@vjp_rule(special.log_softmax)
def log_softmax(g, ans, x, axis=None):
    # log_softmax = x - logsumexp(x), and exp(log_softmax) is the softmax.
    return g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)


@vjp_rule(special.expit)
def expit(g, ans, x):
    return g * ans * (1 - ans)


@vjp_rule(special.log_expit)
def log_expit(g, ans, x):
    # d log(expit(x)) / dx = 1 - expit(x) = expit(-x).
    return g * special.expit(-x)


@vjp_rule(special.logit)
def logit(g, ans, x):
    # logit(p) = log(p / (1 - p)).
    return g / (x * (1 - x))


@vjp_rule(special.erf)
def erf(g, ans, z):
    return g * (2 / math.sqrt(math.pi)) * np.exp(-z ** 2)


@vjp_rule(special.erfc)
def erfc(g, ans, x):
    return -g * (2 / math.sqrt(math.pi)) * np.exp(-x ** 2)


@vjp_rule(special.gamma)
def gamma(g, ans, z):
    return g * ans * special.digamma(z)


@vjp_rule(special.gammaln)
def gammaln(g, ans, x):
    return g * special.digamma(x)


@vjp_rule(special.digamma)
def digamma(g, ans, z):
    return g * cast_like(special.polygamma(1, z), z)


@vjp_rule(special.polygamma, diff=("x",))
def polygamma(g, ans, n, x):
    # polygamma computes in float64: the gradient goes back to x's dtype.
    return cast_like(g * special.polygamma(n + 1, x), x)


@vjp_rule(special.xlogy)
def xlogy(g, ans, x, y):
    # x log y, defined as 0 where x == 0 (for any y): the gradient in y, x / y, is 0 there too.
    return unbroadcast(g * np.log(y), x), unbroadcast(g * x / np.where(x == 0, 1, y), y)


@vjp_rule(special.xlog1py)
def xlog1py(g, ans, x, y):
    # x log(1 + y), defined as 0 where x == 0: the gradient in y, x / (1 + y), is 0 there too.
    return unbroadcast(g * np.log1p(y), x), unbroadcast(g * x / np.where(x == 0, 1, 1 + y), y)


# -- forward rules ---------------------------------------------------------------------------------------

diagonal(special.expit, special.log_expit, special.logit, special.erf, special.erfc, special.gamma, special.gammaln,
         special.digamma, special.xlogy, special.xlog1py)


@jvp_rule(special.logsumexp, wrt="a")
def logsumexp_jvp_a(t, ans, a, axis=None, b=None, keepdims=False):
    # d ans = sum(b exp(a - ans) da): the tangent averaged with the softmax weights.
    weights = one_if_none(b) * np.exp(a - expand_reduced(ans, a, axis, keepdims))
    return np.sum(weights * t, axis=axis, keepdims=keepdims)


@jvp_rule(special.logsumexp, wrt="b")
def logsumexp_jvp_b(t, ans, a, axis=None, b=None, keepdims=False):
    return np.sum(np.exp(a - expand_reduced(ans, a, axis, keepdims)) * t, axis=axis, keepdims=keepdims)


@jvp_rule(special.softmax)
def softmax_jvp(t, ans, x, axis=None):
    return ans * (t - np.sum(t * ans, axis=axis, keepdims=True))


@jvp_rule(special.log_softmax)
def log_softmax_jvp(t, ans, x, axis=None):
    return t - np.sum(np.exp(ans) * t, axis=axis, keepdims=True)


@jvp_rule(special.polygamma)
def polygamma_jvp(t, ans, n, x):
    return t * special.polygamma(n + 1, x)
