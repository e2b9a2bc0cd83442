"""Rules for scipy.stats: the densities, distribution functions and survival functions of norm, t, gamma,
beta and chi2, poisson's in its rate, dirichlet's and multivariate_normal's densities. Registered only
when scipy is importable.

``scipy.stats.norm`` is an object, and ``scipy.stats.norm.logpdf`` a method bound to it. The compiler
resolves ``scipy.stats.norm.logpdf(x, loc=m, scale=s)``, or ``norm.logpdf(...)`` after ``from scipy.stats
import norm``, by getattr to that bound method, and bound methods of the same object and function are
equal and hash alike: the registry keys on them as on any function. A frozen distribution
(``norm(m, s).logpdf(x)``) is another object, with no rule: it is refused like any function without one.

The rules are explicit formulas in the standardized variable z = (x - loc) / scale, written with
functions that have rules (the distribution's own pdf and logpdf among them), so they differentiate
again. They take the parameters by the names scipy gives them (``df``, ``a``, ``b``, ``loc``, ``scale``,
``mu``, ``alpha``, ``mean``, ``cov``), positionally or by keyword.

What is refused (left out of ``diff``: a differentiated value passed there raises
``NonDifferentiableError`` when the function is transformed):

- the shape parameters (t's df, gamma's a, beta's a and b, chi2's df) of cdf, logcdf, sf and logsf: their
  derivatives are derivatives of incomplete beta and gamma functions in their shape parameters, which
  have no closed form in scipy's functions. pdf and logpdf are differentiated in every parameter.
- poisson's k and loc are read but carry no gradient (``nograd``): the result is piecewise constant in
  them (0 off the integers).

Outside the support (gamma and chi2 below loc, beta outside (loc, loc + scale), poisson off the
non-negative integers) the pdf is 0 and logpdf -inf in a whole neighbourhood: their gradients there are 0,
as are those of logcdf and logsf where they are -inf.
"""

import numpy as np
from scipy import special, stats

from ..runtime import (nan_unless_full_rank, psd_inverse, require, symmetric_from_triangle, symmetric_from_triangle_transpose,
                       unbroadcast)
from ..core.registry import vjp_rule, diagonal, jvp_rule, linear


# -- scipy.stats.norm ----------------------------------------------------------------------------------------

@vjp_rule(stats.norm.logpdf, diff=('x', 'loc', 'scale'))
def norm_logpdf(g, ans, x, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * (-z)
    return (unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc),
            unbroadcast(-(g_z * z + g) / scale, scale))


@vjp_rule(stats.norm.pdf, diff=('x', 'loc', 'scale'))
def norm_pdf(g, ans, x, loc=0, scale=1):
    w = g * ans  # pdf = exp(logpdf)
    z = (x - loc) / scale
    g_z = w * (-z)
    return (unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc),
            unbroadcast(-(g_z * z + w) / scale, scale))


@vjp_rule(stats.norm.cdf, diff=('x', 'loc', 'scale'))
def norm_cdf(g, ans, x, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * stats.norm.pdf(z)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.norm.logcdf, diff=('x', 'loc', 'scale'))
def norm_logcdf(g, ans, x, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * np.exp(stats.norm.logpdf(z) - ans)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.norm.sf, diff=('x', 'loc', 'scale'))
def norm_sf(g, ans, x, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * stats.norm.pdf(z)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.norm.logsf, diff=('x', 'loc', 'scale'))
def norm_logsf(g, ans, x, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * np.exp(stats.norm.logpdf(z) - ans)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


# -- scipy.stats.t -------------------------------------------------------------------------------------------

@vjp_rule(stats.t.logpdf, diff=('x', 'df', 'loc', 'scale'))
def t_logpdf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * (-(df + 1) * z / (df + z ** 2))
    g_df = g * (special.digamma((df + 1) / 2) - special.digamma(df / 2) - 1 / df - np.log1p(z ** 2 / df)
                + (df + 1) * z ** 2 / (df * (df + z ** 2))) / 2
    return (unbroadcast(g_z / scale, x), unbroadcast(g_df, df),
            unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g) / scale, scale))


@vjp_rule(stats.t.pdf, diff=('x', 'df', 'loc', 'scale'))
def t_pdf(g, ans, x, df, loc=0, scale=1):
    w = g * ans  # pdf = exp(logpdf)
    z = (x - loc) / scale
    g_z = w * (-(df + 1) * z / (df + z ** 2))
    g_df = w * (special.digamma((df + 1) / 2) - special.digamma(df / 2) - 1 / df - np.log1p(z ** 2 / df)
                + (df + 1) * z ** 2 / (df * (df + z ** 2))) / 2
    return (unbroadcast(g_z / scale, x), unbroadcast(g_df, df),
            unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + w) / scale, scale))


@vjp_rule(stats.t.cdf, diff=('x', 'loc', 'scale'))
def t_cdf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * stats.t.pdf(z, df)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.t.logcdf, diff=('x', 'loc', 'scale'))
def t_logcdf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * np.exp(stats.t.logpdf(z, df) - ans)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.t.sf, diff=('x', 'loc', 'scale'))
def t_sf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * stats.t.pdf(z, df)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.t.logsf, diff=('x', 'loc', 'scale'))
def t_logsf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * np.exp(stats.t.logpdf(z, df) - ans)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


# -- scipy.stats.gamma ---------------------------------------------------------------------------------------

@vjp_rule(stats.gamma.logpdf, diff=('x', 'a', 'loc', 'scale'))
def gamma_logpdf(g, ans, x, a, loc=0, scale=1):
    u = (x - loc) / scale
    inside = u > 0  # outside the support the density is constant
    z = np.where(inside, u, 1.0)
    g_inside = np.where(inside, g, 0)
    g_z = g_inside * ((a - 1) / z - 1)
    g_a = g_inside * (np.log(z) - special.digamma(a))
    return (unbroadcast(g_z / scale, x), unbroadcast(g_a, a),
            unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g_inside) / scale, scale))


@vjp_rule(stats.gamma.pdf, diff=('x', 'a', 'loc', 'scale'))
def gamma_pdf(g, ans, x, a, loc=0, scale=1):
    w = g * ans  # pdf = exp(logpdf)
    u = (x - loc) / scale
    inside = u > 0  # outside the support the density is constant
    z = np.where(inside, u, 1.0)
    g_inside = np.where(inside, w, 0)
    g_z = g_inside * ((a - 1) / z - 1)
    g_a = g_inside * (np.log(z) - special.digamma(a))
    return (unbroadcast(g_z / scale, x), unbroadcast(g_a, a),
            unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g_inside) / scale, scale))


@vjp_rule(stats.gamma.cdf, diff=('x', 'loc', 'scale'))
def gamma_cdf(g, ans, x, a, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * stats.gamma.pdf(z, a)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.gamma.logcdf, diff=('x', 'loc', 'scale'))
def gamma_logcdf(g, ans, x, a, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = np.where(z > 0, g * np.exp(stats.gamma.logpdf(z, a) - ans), 0)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.gamma.sf, diff=('x', 'loc', 'scale'))
def gamma_sf(g, ans, x, a, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * stats.gamma.pdf(z, a)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.gamma.logsf, diff=('x', 'loc', 'scale'))
def gamma_logsf(g, ans, x, a, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = np.where(z > 0, -g * np.exp(stats.gamma.logpdf(z, a) - ans), 0)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


# -- scipy.stats.beta ----------------------------------------------------------------------------------------

@vjp_rule(stats.beta.logpdf, diff=('x', 'a', 'b', 'loc', 'scale'))
def beta_logpdf(g, ans, x, a, b, loc=0, scale=1):
    u = (x - loc) / scale
    inside = np.logical_and(u > 0, u < 1)  # outside the support the density is constant
    z = np.where(inside, u, 0.5)
    g_inside = np.where(inside, g, 0)
    g_z = g_inside * ((a - 1) / z - (b - 1) / (1 - z))
    g_a = g_inside * (np.log(z) - special.digamma(a) + special.digamma(a + b))
    g_b = g_inside * (np.log1p(-z) - special.digamma(b) + special.digamma(a + b))
    return (unbroadcast(g_z / scale, x), unbroadcast(g_a, a),
            unbroadcast(g_b, b), unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g_inside) / scale, scale))


@vjp_rule(stats.beta.pdf, diff=('x', 'a', 'b', 'loc', 'scale'))
def beta_pdf(g, ans, x, a, b, loc=0, scale=1):
    w = g * ans  # pdf = exp(logpdf)
    u = (x - loc) / scale
    inside = np.logical_and(u > 0, u < 1)  # outside the support the density is constant
    z = np.where(inside, u, 0.5)
    g_inside = np.where(inside, w, 0)
    g_z = g_inside * ((a - 1) / z - (b - 1) / (1 - z))
    g_a = g_inside * (np.log(z) - special.digamma(a) + special.digamma(a + b))
    g_b = g_inside * (np.log1p(-z) - special.digamma(b) + special.digamma(a + b))
    return (unbroadcast(g_z / scale, x), unbroadcast(g_a, a),
            unbroadcast(g_b, b), unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g_inside) / scale, scale))


@vjp_rule(stats.beta.cdf, diff=('x', 'loc', 'scale'))
def beta_cdf(g, ans, x, a, b, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * stats.beta.pdf(z, a, b)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.beta.logcdf, diff=('x', 'loc', 'scale'))
def beta_logcdf(g, ans, x, a, b, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = np.where(np.logical_and(z > 0, z < 1), g * np.exp(stats.beta.logpdf(z, a, b) - ans), 0)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.beta.sf, diff=('x', 'loc', 'scale'))
def beta_sf(g, ans, x, a, b, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * stats.beta.pdf(z, a, b)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.beta.logsf, diff=('x', 'loc', 'scale'))
def beta_logsf(g, ans, x, a, b, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = np.where(np.logical_and(z > 0, z < 1), -g * np.exp(stats.beta.logpdf(z, a, b) - ans), 0)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


# -- scipy.stats.chi2 ----------------------------------------------------------------------------------------

@vjp_rule(stats.chi2.logpdf, diff=('x', 'df', 'loc', 'scale'))
def chi2_logpdf(g, ans, x, df, loc=0, scale=1):
    u = (x - loc) / scale
    inside = u > 0  # outside the support the density is constant
    z = np.where(inside, u, 1.0)
    g_inside = np.where(inside, g, 0)
    g_z = g_inside * ((df / 2 - 1) / z - 1 / 2)
    g_df = g_inside * ((np.log(z / 2) - special.digamma(df / 2)) / 2)
    return (unbroadcast(g_z / scale, x), unbroadcast(g_df, df),
            unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g_inside) / scale, scale))


@vjp_rule(stats.chi2.pdf, diff=('x', 'df', 'loc', 'scale'))
def chi2_pdf(g, ans, x, df, loc=0, scale=1):
    w = g * ans  # pdf = exp(logpdf)
    u = (x - loc) / scale
    inside = u > 0  # outside the support the density is constant
    z = np.where(inside, u, 1.0)
    g_inside = np.where(inside, w, 0)
    g_z = g_inside * ((df / 2 - 1) / z - 1 / 2)
    g_df = g_inside * ((np.log(z / 2) - special.digamma(df / 2)) / 2)
    return (unbroadcast(g_z / scale, x), unbroadcast(g_df, df),
            unbroadcast(-g_z / scale, loc), unbroadcast(-(g_z * z + g_inside) / scale, scale))


@vjp_rule(stats.chi2.cdf, diff=('x', 'loc', 'scale'))
def chi2_cdf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = g * stats.chi2.pdf(z, df)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.chi2.logcdf, diff=('x', 'loc', 'scale'))
def chi2_logcdf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = np.where(z > 0, g * np.exp(stats.chi2.logpdf(z, df) - ans), 0)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.chi2.sf, diff=('x', 'loc', 'scale'))
def chi2_sf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = -g * stats.chi2.pdf(z, df)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


@vjp_rule(stats.chi2.logsf, diff=('x', 'loc', 'scale'))
def chi2_logsf(g, ans, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    g_z = np.where(z > 0, -g * np.exp(stats.chi2.logpdf(z, df) - ans), 0)
    return unbroadcast(g_z / scale, x), unbroadcast(-g_z / scale, loc), unbroadcast(-g_z * z / scale, scale)


# -- scipy.stats.poisson, in its rate --------------------------------------------------------------------

@vjp_rule(stats.poisson.logpmf, diff=("mu",), nograd=("k", "loc"))
def poisson_logpmf(g, ans, k, mu, loc=0):
    # log pmf = k log mu - mu - log k!: d/dmu = k / mu - 1 (0 off the support, where it is -inf).
    return unbroadcast(np.where(np.isfinite(ans), g * (np.subtract(k, loc) / mu - 1), 0), mu)


@vjp_rule(stats.poisson.pmf, diff=("mu",), nograd=("k", "loc"))
def poisson_pmf(g, ans, k, mu, loc=0):
    return unbroadcast(np.where(ans > 0, g * ans * (np.subtract(k, loc) / mu - 1), 0), mu)


@vjp_rule(stats.poisson.cdf, diff=("mu",), nograd=("k", "loc"))
def poisson_cdf(g, ans, k, mu, loc=0):
    # cdf = Q(floor(k) + 1, mu) (regularized upper incomplete gamma): d/dmu = -pmf(floor(k), mu).
    return unbroadcast(-g * stats.poisson.pmf(np.floor(np.subtract(k, loc)), mu), mu)


@vjp_rule(stats.poisson.sf, diff=("mu",), nograd=("k", "loc"))
def poisson_sf(g, ans, k, mu, loc=0):
    return unbroadcast(g * stats.poisson.pmf(np.floor(np.subtract(k, loc)), mu), mu)


@vjp_rule(stats.poisson.logcdf, diff=("mu",), nograd=("k", "loc"))
def poisson_logcdf(g, ans, k, mu, loc=0):
    return unbroadcast(np.where(np.subtract(k, loc) >= 0, -g * np.exp(stats.poisson.logpmf(np.floor(np.subtract(k, loc)), mu) - ans), 0), mu)


@vjp_rule(stats.poisson.logsf, diff=("mu",), nograd=("k", "loc"))
def poisson_logsf(g, ans, k, mu, loc=0):
    return unbroadcast(np.where(np.isfinite(ans), g * np.exp(stats.poisson.logpmf(np.floor(np.subtract(k, loc)), mu) - ans), 0), mu)


# -- scipy.stats.dirichlet ---------------------------------------------------------------------------------
#
# x holds the K components on its first axis: shape (K,) or (K, N). scipy also takes K - 1 components (the
# last is then 1 minus their sum); that form is refused when differentiated. scipy checks that x lies on
# the simplex, so the gradient in x is that of the formula sum((alpha - 1) log x) - log B(alpha), which
# is the derivative along the simplex (and what an x normalized inside the function receives).

@vjp_rule(stats.dirichlet.logpdf)
def dirichlet_logpdf(g, ans, x, alpha):
    require(np.shape(x)[0] == np.size(alpha), "the derivative of scipy.stats.dirichlet is implemented for x with "
            "all K components on its first axis, not K - 1.")
    g_x = np.reshape(g, np.shape(x)[1:])
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))  # alpha against x's first axis
    normalizer = np.reshape(special.digamma(alpha) - special.digamma(np.sum(alpha)), np.shape(column))
    return (g_x * (column - 1) / x,
            np.sum(np.reshape(g_x * (np.log(x) - normalizer), (np.size(alpha), -1)), axis=1))


@vjp_rule(stats.dirichlet.pdf)
def dirichlet_pdf(g, ans, x, alpha):
    require(np.shape(x)[0] == np.size(alpha), "the derivative of scipy.stats.dirichlet is implemented for x with "
            "all K components on its first axis, not K - 1.")
    g_x = np.reshape(g * ans, np.shape(x)[1:])
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    normalizer = np.reshape(special.digamma(alpha) - special.digamma(np.sum(alpha)), np.shape(column))
    return (g_x * (column - 1) / x,
            np.sum(np.reshape(g_x * (np.log(x) - normalizer), (np.size(alpha), -1)), axis=1))


@jvp_rule(stats.dirichlet.logpdf, wrt="x")
def dirichlet_logpdf_jvp_x(t, ans, x, alpha):
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    return np.reshape(np.sum((column - 1) * t / x, axis=0), np.shape(ans))


@jvp_rule(stats.dirichlet.logpdf, wrt="alpha")
def dirichlet_logpdf_jvp_alpha(t, ans, x, alpha):
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    normalizer = np.reshape(special.digamma(alpha) - special.digamma(np.sum(alpha)), np.shape(column))
    return np.reshape(np.sum(np.reshape(t, np.shape(column)) * (np.log(x) - normalizer), axis=0), np.shape(ans))


@jvp_rule(stats.dirichlet.pdf, wrt="x")
def dirichlet_pdf_jvp_x(t, ans, x, alpha):
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    return ans * np.reshape(np.sum((column - 1) * t / x, axis=0), np.shape(ans))


@jvp_rule(stats.dirichlet.pdf, wrt="alpha")
def dirichlet_pdf_jvp_alpha(t, ans, x, alpha):
    column = np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    normalizer = np.reshape(special.digamma(alpha) - special.digamma(np.sum(alpha)), np.shape(column))
    return ans * np.reshape(np.sum(np.reshape(t, np.shape(column)) * (np.log(x) - normalizer), axis=0), np.shape(ans))


# -- scipy.stats.multivariate_normal -------------------------------------------------------------------------
#
# logpdf = -(x - mean)^T C^-1 (x - mean) / 2 - log det C / 2 - d log(2 pi) / 2, for x of shape (..., d).
# scipy reads only the lower triangle of cov (it calls eigh with lower=True): C is the symmetric matrix
# that triangle stands for, and cov's gradient lies in its lower triangle. With allow_singular=True, C^-1
# is scipy's pseudo-inverse (runtime/psd.py): the derivatives in x and mean are those along the support,
# and off the support (density 0, log density -inf in a whole neighbourhood) they are 0; the gradient of
# a singular cov, which has no derivative, is nan (runtime/psd.py). Refused when differentiated: a cov that is not a (d, d)
# matrix (a scalar or a diagonal), and 1-D x read as samples of a 1-D distribution.

_MVN_CASES = ("the derivative of scipy.stats.multivariate_normal is implemented for a (d, d) cov and x with d on "
              "its last axis.")


@vjp_rule(stats.multivariate_normal.logpdf, diff=("x", "mean", "cov"))
def multivariate_normal_logpdf(g, ans, x, mean=None, cov=1, allow_singular=False):
    require(np.ndim(cov) == 2 and np.ndim(x) >= 1 and np.shape(x)[-1] == np.shape(cov)[-1], _MVN_CASES)
    inverse = psd_inverse(cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse  # C^-1 (x - mean), for each sample
    w = np.where(np.isfinite(ans), g, 0) if allow_singular else g  # off the support: a constant -inf
    g_x = np.expand_dims(np.reshape(w, np.shape(x)[:-1]), -1) * s
    flat = np.reshape(s, (-1, np.shape(cov)[-1]))
    weighted = np.reshape(g_x, np.shape(flat))
    return (-g_x, unbroadcast(g_x, mean),
            symmetric_from_triangle_transpose(
                (weighted.T @ flat - np.sum(w) * (nan_unless_full_rank(inverse, cov) if allow_singular else inverse)) / 2))


@vjp_rule(stats.multivariate_normal.pdf, diff=("x", "mean", "cov"))
def multivariate_normal_pdf(g, ans, x, mean=None, cov=1, allow_singular=False):
    require(np.ndim(cov) == 2 and np.ndim(x) >= 1 and np.shape(x)[-1] == np.shape(cov)[-1], _MVN_CASES)
    inverse = psd_inverse(cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    w = g * ans  # pdf = exp(logpdf); 0 off the support
    g_x = np.expand_dims(np.reshape(w, np.shape(x)[:-1]), -1) * s
    flat = np.reshape(s, (-1, np.shape(cov)[-1]))
    weighted = np.reshape(g_x, np.shape(flat))
    return (-g_x, unbroadcast(g_x, mean),
            symmetric_from_triangle_transpose(
                (weighted.T @ flat - np.sum(w) * (nan_unless_full_rank(inverse, cov) if allow_singular else inverse)) / 2))


@jvp_rule(stats.multivariate_normal.logpdf, wrt="x")
def multivariate_normal_logpdf_jvp_x(t, ans, x, mean=None, cov=1, allow_singular=False):
    inverse = psd_inverse(cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    d = np.reshape(-np.sum(s * t, axis=-1), np.shape(ans))
    return np.where(np.isfinite(ans), d, 0) if allow_singular else d


@jvp_rule(stats.multivariate_normal.logpdf, wrt="mean")
def multivariate_normal_logpdf_jvp_mean(t, ans, x, mean=None, cov=1, allow_singular=False):
    inverse = psd_inverse(cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    d = np.reshape(np.sum(s * t, axis=-1), np.shape(ans))
    return np.where(np.isfinite(ans), d, 0) if allow_singular else d


@jvp_rule(stats.multivariate_normal.logpdf, wrt="cov")
def multivariate_normal_logpdf_jvp_cov(t, ans, x, mean=None, cov=1, allow_singular=False):
    # d logpdf = s^T dC s / 2 - tr(C^-1 dC) / 2, with dC the symmetric matrix t's lower triangle stands for.
    inverse = nan_unless_full_rank(psd_inverse(cov), cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    d_cov = symmetric_from_triangle(t)
    return np.reshape((np.sum((s @ d_cov) * s, axis=-1) - np.sum(inverse * d_cov)) / 2, np.shape(ans))


@jvp_rule(stats.multivariate_normal.pdf, wrt="x")
def multivariate_normal_pdf_jvp_x(t, ans, x, mean=None, cov=1, allow_singular=False):
    inverse = psd_inverse(cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    return ans * np.reshape(-np.sum(s * t, axis=-1), np.shape(ans))


@jvp_rule(stats.multivariate_normal.pdf, wrt="mean")
def multivariate_normal_pdf_jvp_mean(t, ans, x, mean=None, cov=1, allow_singular=False):
    inverse = psd_inverse(cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    return ans * np.reshape(np.sum(s * t, axis=-1), np.shape(ans))


@jvp_rule(stats.multivariate_normal.pdf, wrt="cov")
def multivariate_normal_pdf_jvp_cov(t, ans, x, mean=None, cov=1, allow_singular=False):
    inverse = nan_unless_full_rank(psd_inverse(cov), cov) if allow_singular else np.linalg.inv(symmetric_from_triangle(cov))
    s = (x if mean is None else x - mean) @ inverse
    d_cov = symmetric_from_triangle(t)
    return ans * np.reshape((np.sum((s @ d_cov) * s, axis=-1) - np.sum(inverse * d_cov)) / 2, np.shape(ans))


# The pseudo-inverse's own derivative, where it is the inverse (full rank): d C^-1 = -C^-1 dC C^-1; for a
# singular cov, nan, unless the tangent (or cotangent) is zero, as when only x and mean are differentiated
# again.

@vjp_rule(psd_inverse, diff=("cov",))
def psd_inverse_rule(g, ans, cov):
    return symmetric_from_triangle_transpose(nan_unless_full_rank(-(ans.T @ g @ ans.T), cov, g))


@jvp_rule(psd_inverse)
def psd_inverse_jvp(t, ans, cov):
    return nan_unless_full_rank(-(ans @ symmetric_from_triangle(t) @ ans), cov, t)


@vjp_rule(nan_unless_full_rank, diff=("p",), nograd=("cov", "direction"))
def nan_unless_full_rank_rule(g, ans, p, cov, direction=None):
    return nan_unless_full_rank(g, cov, direction)


linear(nan_unless_full_rank)


# -- forward rules: the univariate functions are elementwise ---------------------------------------------------

diagonal(*[getattr(getattr(stats, name), method) for name in ("norm", "t", "gamma", "beta", "chi2")
           for method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")])
diagonal(*[getattr(stats.poisson, method) for method in ("logpmf", "pmf", "cdf", "sf", "logcdf", "logsf")])
