"""More rules for scipy.special: beta functions, incomplete beta and gamma functions, Bessel functions,
inverse error functions, the normal distribution's functions, rgamma and multigammaln. Registered only
when scipy is importable.

Each body is written with functions that have rules themselves (digamma, the Bessel functions of
neighbouring orders, exp and log), so that the gradient can be differentiated again.

What is refused, and why (a refused parameter is left out of ``diff``: a differentiated value passed
there raises ``NonDifferentiableError`` when the function is transformed):

- betainc(a, b, x) in a and b, gammainc(a, x) and gammaincc(a, x) in a: their derivatives in the shape
  parameters are hypergeometric series that scipy does not provide; only x is differentiated.
- The order v (or n) of jv, yv, yn, iv, ive and kv: the derivative in the order has no closed form in
  terms of scipy's functions.
- multigammaln(a, d): d is an integer dimension; only a is differentiated.

A parameter that is only read (an order, a shape parameter) may be a list, as the ufunc allows: the bodies
write ``np.subtract(v, 1)`` rather than ``v - 1``. That gives a float64 order for a Python number, so the
gradient goes back to the argument's dtype (``cast_like``).
"""

import math

import numpy as np
from scipy import special

from ..runtime import cast_like, unbroadcast
from ..core.registry import vjp_rule, diagonal

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


# -- beta functions ----------------------------------------------------------------------------------

@vjp_rule(special.beta)
def beta(g, ans, a, b):
    # B(a, b) = Γ(a) Γ(b) / Γ(a + b): d log B / d a = ψ(a) - ψ(a + b).
    both = special.digamma(a + b)
    return unbroadcast(g * ans * (special.digamma(a) - both), a), unbroadcast(g * ans * (special.digamma(b) - both), b)


@vjp_rule(special.betaln)
def betaln(g, ans, a, b):
    # digamma of a Python number is an np.float64, which would make a float32 gradient float64: each
    # difference keeps the dtype of digamma(a + b)
    both = special.digamma(a + b)
    return (unbroadcast(g * cast_like(special.digamma(a) - both, both), a),
            unbroadcast(g * cast_like(special.digamma(b) - both, both), b))


@vjp_rule(special.betainc, diff=("x",))
def betainc(g, ans, a, b, x):
    # The regularized incomplete beta function's derivative in x is the beta density x^(a-1) (1-x)^(b-1) / B(a, b).
    # (betaln of Python numbers is a float64 scalar: the gradient goes back to x's dtype.)
    return unbroadcast(cast_like(g * np.exp(np.subtract(a, 1) * np.log(x) + np.subtract(b, 1) * np.log1p(-x) - special.betaln(a, b)), x), x)


@vjp_rule(special.gammainc, diff=("x",))
def gammainc(g, ans, a, x):
    # P(a, x) = γ(a, x) / Γ(a): its derivative in x is the gamma density x^(a-1) e^(-x) / Γ(a).
    return unbroadcast(cast_like(g * np.exp(np.subtract(a, 1) * np.log(x) - x - special.gammaln(a)), x), x)


@vjp_rule(special.gammaincc, diff=("x",))
def gammaincc(g, ans, a, x):
    # Q(a, x) = 1 - P(a, x).
    return unbroadcast(cast_like(-g * np.exp(np.subtract(a, 1) * np.log(x) - x - special.gammaln(a)), x), x)


# -- Bessel functions, in their argument -----------------------------------------------------------

@vjp_rule(special.jv, diff=("z",))
def jv(g, ans, v, z):
    # J_v' = (J_{v-1} - J_{v+1}) / 2.
    return unbroadcast(cast_like(g * (special.jv(np.subtract(v, 1), z) - special.jv(np.add(v, 1), z)) / 2, z), z)


@vjp_rule(special.yv, diff=("z",))
def yv(g, ans, v, z):
    return unbroadcast(cast_like(g * (special.yv(np.subtract(v, 1), z) - special.yv(np.add(v, 1), z)) / 2, z), z)


@vjp_rule(special.yn, diff=("x",))
def yn(g, ans, n, x):
    return unbroadcast(cast_like(g * (special.yn(np.subtract(n, 1), x) - special.yn(np.add(n, 1), x)) / 2, x), x)


@vjp_rule(special.iv, diff=("z",))
def iv(g, ans, v, z):
    # I_v' = (I_{v-1} + I_{v+1}) / 2.
    return unbroadcast(cast_like(g * (special.iv(np.subtract(v, 1), z) + special.iv(np.add(v, 1), z)) / 2, z), z)


@vjp_rule(special.ive, diff=("z",))
def ive(g, ans, v, z):
    # ive(v, z) = iv(v, z) exp(-|z|) for real z.
    return unbroadcast(cast_like(g * ((special.ive(np.subtract(v, 1), z) + special.ive(np.add(v, 1), z)) / 2 - np.sign(z) * ans), z), z)


@vjp_rule(special.kv, diff=("z",))
def kv(g, ans, v, z):
    # K_v' = -(K_{v-1} + K_{v+1}) / 2.
    return unbroadcast(cast_like(-g * (special.kv(np.subtract(v, 1), z) + special.kv(np.add(v, 1), z)) / 2, z), z)


@vjp_rule(special.j0)
def j0(g, ans, x):
    return -g * special.j1(x)


@vjp_rule(special.j1)
def j1(g, ans, x):
    return g * (special.j0(x) - special.jv(2, x)) / 2


@vjp_rule(special.y0)
def y0(g, ans, x):
    return -g * special.y1(x)


@vjp_rule(special.y1)
def y1(g, ans, x):
    return g * (special.y0(x) - special.yv(2, x)) / 2


@vjp_rule(special.i0)
def i0(g, ans, x):
    return g * special.i1(x)


@vjp_rule(special.i1)
def i1(g, ans, x):
    return g * (special.i0(x) + special.iv(2, x)) / 2


@vjp_rule(special.i0e)
def i0e(g, ans, x):
    # i0e(x) = i0(x) exp(-|x|).
    return g * (special.i1e(x) - np.sign(x) * ans)


@vjp_rule(special.i1e)
def i1e(g, ans, x):
    return g * ((special.i0e(x) + special.ive(2, x)) / 2 - np.sign(x) * ans)


# -- inverse error functions and the normal distribution --------------------------------------------

@vjp_rule(special.erfinv)
def erfinv(g, ans, y):
    # x = erfinv(y) solves erf(x) = y: dx/dy = 1 / erf'(x) = sqrt(pi) / 2 exp(x^2).
    return g * (_SQRT_PI / 2) * np.exp(ans ** 2)


@vjp_rule(special.erfcinv)
def erfcinv(g, ans, y):
    return -g * (_SQRT_PI / 2) * np.exp(ans ** 2)


@vjp_rule(special.ndtr)
def ndtr(g, ans, x):
    # The standard normal cdf: its derivative is the density.
    return g * np.exp(-x ** 2 / 2) / _SQRT_2PI


@vjp_rule(special.log_ndtr)
def log_ndtr(g, ans, x):
    # d log Φ(x) = φ(x) / Φ(x) = exp(log φ(x) - log Φ(x)): no overflow far in the left tail.
    return g * np.exp(-x ** 2 / 2 - ans) / _SQRT_2PI


@vjp_rule(special.ndtri)
def ndtri(g, ans, y):
    # x = ndtri(y) solves Φ(x) = y: dx/dy = 1 / φ(x).
    return g * _SQRT_2PI * np.exp(ans ** 2 / 2)


# -- gamma functions ---------------------------------------------------------------------------------

@vjp_rule(special.rgamma)
def rgamma(g, ans, z):
    # 1 / Γ(z): d/dz = -ψ(z) / Γ(z).
    return -g * ans * special.digamma(z)


@vjp_rule(special.multigammaln, diff=("a",))
def multigammaln(g, ans, a, d):
    # log Γ_d(a) = const + sum_{j<d} log Γ(a - j/2): d/da = sum_{j<d} ψ(a - j/2).
    return g * np.sum(special.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)


diagonal(special.beta, special.betaln, special.betainc, special.gammainc, special.gammaincc, special.jv, special.yv,
         special.yn, special.iv, special.ive, special.kv, special.j0, special.j1, special.y0, special.y1, special.i0,
         special.i1, special.i0e, special.i1e, special.erfinv, special.erfcinv, special.ndtr, special.log_ndtr,
         special.ndtri, special.rgamma, special.multigammaln)
