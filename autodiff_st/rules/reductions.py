"""Rules for reductions: sum, mean, max, min, and their relatives."""

import numpy as np

from ..runtime import expand_reduced, reduced_count, extremum_mask, prod_others
from . import vjp_rule, nondifferentiable, method


@vjp_rule(np.sum)
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return expand_reduced(g, a, axis, keepdims)


@vjp_rule(np.mean)
def mean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return expand_reduced(g / reduced_count(a, axis), a, axis, keepdims)


@vjp_rule(np.max, np.amax)
def max(g, ans, a, axis=None, out=None, keepdims=False):
    return expand_reduced(g, a, axis, keepdims) * extremum_mask(a, ans, axis, keepdims)


@vjp_rule(np.min, np.amin)
def min(g, ans, a, axis=None, out=None, keepdims=False):
    return expand_reduced(g, a, axis, keepdims) * extremum_mask(a, ans, axis, keepdims)


@vjp_rule(np.var)
def var(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return expand_reduced(g, a, axis, keepdims) * 2 * centered / (reduced_count(a, axis) - ddof)


@vjp_rule(np.std)
def std(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return (expand_reduced(g / ans, a, axis, keepdims) * centered
            / (reduced_count(a, axis) - ddof))


@vjp_rule(np.prod)
def prod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    # The derivative by each element is the product of the others, computed without dividing by it,
    # so zeros in a are handled exactly.
    return expand_reduced(g, a, axis, keepdims) * prod_others(a, axis)


for _name, _fn in [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min),
                   ("var", np.var), ("std", np.std), ("prod", np.prod)]:
    method(_name, _fn)

nondifferentiable(np.argmax, np.argmin, np.argsort, np.count_nonzero, np.any, np.all)
