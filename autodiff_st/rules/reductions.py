"""Rules for reductions: sum, mean, max, min, and their relatives: weighted, NaN-ignoring, cumulative,
order statistics (median, quantiles) and trace."""

import numpy as np

from ..runtime import (expand_reduced, reduced_count, extremum_mask, prod_others, weights_like, sum_to_weights,
                       nan_count, reverse_cumsum, cumulative_axis, before_first_zero, at_first_zero, quantile_weights,
                       diagonal_mask, inside_bounds, normalize_axis, require)
from ..core.registry import vjp_rule, nondifferentiable, method, NONDIFF_METHODS, diagonal, linear, jvp_rule


@vjp_rule(np.sum)
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
    # initial adds a constant; where= leaves elements out, and their gradient is zero.
    return (expand_reduced(g, a, axis, keepdims) if where is True
            else expand_reduced(g, a, axis, keepdims) * where)


@vjp_rule(np.mean)
def mean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, where=True):
    # With where=, the mean of the elements selected, of which there are count_selected per lane.
    return (expand_reduced(g / reduced_count(a, axis), a, axis, keepdims) if where is True
            else expand_reduced(g, a, axis, keepdims) * where / count_selected(a, axis, where))


@vjp_rule(np.max, np.amax)
def max(g, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
    # Where initial is the max, no element attains it (or one that equals it takes the gradient, one
    # valid subgradient at that kink); elements left out by where= never do.
    return expand_reduced(g, a, axis, keepdims) * (extremum_mask(a, ans, axis, keepdims) if where is True and initial is None
                                                   else selected_extremum_mask(a, ans, axis, keepdims, where))


@vjp_rule(np.min, np.amin)
def min(g, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
    return expand_reduced(g, a, axis, keepdims) * (extremum_mask(a, ans, axis, keepdims) if where is True and initial is None
                                                   else selected_extremum_mask(a, ans, axis, keepdims, where))


@vjp_rule(np.var)
def var(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return expand_reduced(g, a, axis, keepdims) * 2 * centered / (reduced_count(a, axis) - ddof)


@vjp_rule(np.std)
def std(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # Where std is 0 every element equals the mean: for a single element std is identically 0, and at
    # a constant array (a kink, as |x| at 0) the gradient 0 is chosen, as abs's sign(0) = 0.
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return (expand_reduced(g / np.where(ans == 0, 1, ans), a, axis, keepdims) * centered
            / (reduced_count(a, axis) - ddof))


@vjp_rule(np.prod)
def prod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
    # The derivative by each element is the product of the others, computed without dividing by it,
    # so zeros in a are handled exactly. initial multiplies every product; elements left out by where=
    # count as ones and have gradient zero.
    others = prod_others(a, axis) if where is True else prod_others(np.where(where, a, 1), axis) * where
    return expand_reduced(g if initial is None else g * initial, a, axis, keepdims) * others


def count_selected(a, axis, where):
    """The number of elements ``where`` selects in each lane of the reduction of ``a`` over ``axis``."""
    count = np.sum(np.broadcast_to(where, np.shape(a)), axis=axis, keepdims=True)
    return count.astype(np.result_type(np.asarray(a).dtype, np.float32))  # counts in a's float type


def selected_extremum_mask(a, ans, axis, keepdims, where):
    """``extremum_mask`` among the elements ``where`` selects: the others never attain the extremum."""
    hit = (np.asarray(a) == expand_reduced(ans, a, axis, keepdims)) & where
    hit = hit.astype(np.asarray(a).dtype)
    return hit / np.maximum(np.sum(hit, axis=axis, keepdims=True), 1)


nondifferentiable(count_selected, selected_extremum_mask)

for _name, _fn in [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min),
                   ("var", np.var), ("std", np.std), ("prod", np.prod)]:
    method(_name, _fn)

nondifferentiable(np.argmax, np.argmin, np.argsort, np.count_nonzero, np.any, np.all)


# -- weighted, NaN-ignoring, cumulative and order-statistic reductions ------------------------------

@vjp_rule(np.average, diff=("a", "weights"))
def average(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    # ans = sum(w a) / sum(w): each element counts with its weight; each weight pulls the average
    # towards its element.
    require(not returned, "the derivative of np.average is implemented for returned=False.")
    w = weights_like(weights, a, axis)
    g_each = expand_reduced(g, a, axis, keepdims) / np.sum(w, axis=axis, keepdims=True)
    return g_each * w, sum_to_weights(g_each * (a - expand_reduced(ans, a, axis, keepdims)), weights, axis)


@vjp_rule(np.nansum)
def nansum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.where(np.isnan(a), 0, expand_reduced(g, a, axis, keepdims))


@vjp_rule(np.nanmean)
def nanmean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.where(np.isnan(a), 0, expand_reduced(g, a, axis, keepdims) / nan_count(a, axis))


@vjp_rule(np.nanmax, np.nanmin)
def nanmax(g, ans, a, axis=None, out=None, keepdims=False):
    # NaN never equals the extremum, so the mask leaves NaNs out; ties share the gradient.
    return expand_reduced(g, a, axis, keepdims) * extremum_mask(a, ans, axis, keepdims)


@vjp_rule(np.nanprod)
def nanprod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    # NaNs count as ones; the product of the others is exact at zeros, as for prod.
    return np.where(np.isnan(a), 0, expand_reduced(g, a, axis, keepdims) *
                    prod_others(np.where(np.isnan(a), 1, a), axis))


@vjp_rule(np.nanvar)
def nanvar(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0, a - np.nanmean(a, axis=axis, keepdims=True))
    return expand_reduced(g, a, axis, keepdims) * 2 * centered / (nan_count(a, axis) - ddof)


@vjp_rule(np.nanstd)
def nanstd(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0, a - np.nanmean(a, axis=axis, keepdims=True))
    return expand_reduced(g / np.where(ans == 0, 1, ans), a, axis, keepdims) * centered / (nan_count(a, axis) - ddof)


@vjp_rule(np.ptp)
def ptp(g, ans, a, axis=None, out=None, keepdims=False):
    # max - min: the largest elements get +g, the smallest -g (ties share it).
    highest = extremum_mask(a, np.max(a, axis=axis, keepdims=True), axis, True)
    lowest = extremum_mask(a, np.min(a, axis=axis, keepdims=True), axis, True)
    return expand_reduced(g, a, axis, keepdims) * (highest - lowest)


@vjp_rule(np.cumsum)
def cumsum(g, ans, a, axis=None, dtype=None, out=None):
    # Each element reaches every later partial sum. With axis=None, cumsum runs over a flattened.
    return np.reshape(reverse_cumsum(g, axis), np.shape(a))


@vjp_rule(np.cumprod)
def cumprod(g, ans, a, axis=None, dtype=None, out=None):
    # d ans_i / d a_j is the product of a_0..a_i without a_j, for j <= i. Exact at zeros (first order):
    # before the first zero of a lane it is ans_i / a_j; at the first zero, the cumulative product with
    # that zero left out; after it, every such product holds the zero. The second derivative is exact
    # away from zeros (at an exact zero it misses the terms through that zero).
    x = np.reshape(a, np.shape(ans))
    ax = cumulative_axis(axis)
    before = before_first_zero(x, ax)
    first = at_first_zero(x, ax)
    g_before = np.where(before, reverse_cumsum(g * ans, ax) / np.where(before, x, 1), 0)
    g_first = np.where(first, reverse_cumsum(g * np.cumprod(np.where(first, 1, x), axis=ax), ax), 0)
    return np.reshape(g_before + g_first, np.shape(a))


@vjp_rule(np.median)
def median(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    # The middle element (or the two middle ones, half each). Among equal values the gradient goes to
    # the one a stable sort puts in the middle: one valid subgradient.
    return expand_reduced(g, a, axis, keepdims) * quantile_weights(a, 0.5, axis, "linear")


@vjp_rule(np.quantile, diff=("a",))
def quantile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    require(np.ndim(q) == 0, "the derivative of np.quantile is implemented for one quantile q at a time.")
    return expand_reduced(g, a, axis, keepdims) * quantile_weights(a, q, axis, method)


@vjp_rule(np.percentile, diff=("a",))
def percentile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    require(np.ndim(q) == 0, "the derivative of np.percentile is implemented for one percentile q at a time.")
    return expand_reduced(g, a, axis, keepdims) * quantile_weights(a, q / 100, axis, method)


@vjp_rule(np.trace)
def trace(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return np.expand_dims(g, normalize_axis((axis1, axis2), np.ndim(a))) * diagonal_mask(a, offset, axis1, axis2)


@vjp_rule(np.linalg.trace)
def linalg_trace(g, ans, x, offset=0, dtype=None):
    # The traces of the last two axes.
    return np.expand_dims(g, (-2, -1)) * diagonal_mask(x, offset, -2, -1)


@vjp_rule(np.ndarray.clip, diff=("a",))
def clip_method(g, ans, a, min=None, max=None, out=None):
    # x.clip(min, max): the method's bounds are called min and max
    return g * inside_bounds(a, min, max)


method("clip", np.ndarray.clip)
for _name, _fn in [("cumsum", np.cumsum), ("cumprod", np.cumprod), ("trace", np.trace)]:
    method(_name, _fn)
NONDIFF_METHODS.update({"argpartition", "searchsorted", "round"})

nondifferentiable(np.nanargmax, np.nanargmin, np.argpartition, np.searchsorted, np.digitize)


# -- forward rules ---------------------------------------------------------------------------------------
# A reduction's tangent is the same reduction of the tangent weighted by the derivative of each element:
# the elements attaining a max, the middle of a sort, the product of the others.

linear(np.sum, np.mean, np.cumsum, np.trace, np.linalg.trace)
diagonal(np.ndarray.clip)


@jvp_rule(np.max, np.amax, np.min, np.amin)
def max_jvp(t, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
    # Ties share the tangent, as they share the gradient.
    return np.sum(t * (extremum_mask(a, ans, axis, keepdims) if where is True and initial is None
                       else selected_extremum_mask(a, ans, axis, keepdims, where)), axis=axis, keepdims=keepdims)


@jvp_rule(np.var)
def var_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return np.sum(2 * centered * t, axis=axis, keepdims=keepdims) / (reduced_count(a, axis) - ddof)


@jvp_rule(np.std)
def std_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # d std = d var / (2 std)
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return (np.sum(centered * t, axis=axis, keepdims=keepdims)
            / ((reduced_count(a, axis) - ddof) * np.where(ans == 0, 1, ans)))


@jvp_rule(np.prod)
def prod_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
    others = prod_others(a, axis) if where is True else prod_others(np.where(where, a, 1), axis) * where
    tangent = np.sum(t * others, axis=axis, keepdims=keepdims)
    return tangent if initial is None else tangent * initial


@jvp_rule(np.average, wrt="a")
def average_jvp_a(t, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    # For fixed weights the average is linear in a.
    require(not returned, "the derivative of np.average is implemented for returned=False.")
    return np.average(t, axis=axis, weights=weights, keepdims=keepdims)


@jvp_rule(np.average, wrt="weights")
def average_jvp_weights(t, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    # d (sum(w a) / sum(w)) = sum(dw (a - ans)) / sum(w)
    require(not returned, "the derivative of np.average is implemented for returned=False.")
    spread = weights_like(t, a, axis) * (a - expand_reduced(ans, a, axis, keepdims))
    return (np.sum(spread, axis=axis, keepdims=keepdims)
            / np.sum(weights_like(weights, a, axis), axis=axis, keepdims=keepdims))


@jvp_rule(np.nansum)
def nansum_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.sum(np.where(np.isnan(a), 0, t), axis=axis, keepdims=keepdims)


@jvp_rule(np.nanmean)
def nanmean_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.nanmean(np.where(np.isnan(a), np.nan, t), axis=axis, keepdims=keepdims)


@jvp_rule(np.nanmax, np.nanmin)
def nanmax_jvp(t, ans, a, axis=None, out=None, keepdims=False):
    return np.sum(np.where(np.isnan(a), 0, t) * extremum_mask(a, ans, axis, keepdims), axis=axis, keepdims=keepdims)


@jvp_rule(np.nanprod)
def nanprod_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.sum(np.where(np.isnan(a), 0, t * prod_others(np.where(np.isnan(a), 1, a), axis)),
                  axis=axis, keepdims=keepdims)


@jvp_rule(np.nanvar)
def nanvar_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0, a - np.nanmean(a, axis=axis, keepdims=True))
    return np.sum(2 * centered * np.where(np.isnan(a), 0, t) / (nan_count(a, axis) - ddof),
                  axis=axis, keepdims=keepdims)


@jvp_rule(np.nanstd)
def nanstd_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0, a - np.nanmean(a, axis=axis, keepdims=True))
    return np.sum(centered * np.where(np.isnan(a), 0, t) / (nan_count(a, axis) - ddof),
                  axis=axis, keepdims=keepdims) / np.where(ans == 0, 1, ans)


@jvp_rule(np.ptp)
def ptp_jvp(t, ans, a, axis=None, out=None, keepdims=False):
    highest = extremum_mask(a, np.max(a, axis=axis, keepdims=True), axis, True)
    lowest = extremum_mask(a, np.min(a, axis=axis, keepdims=True), axis, True)
    return np.sum(t * (highest - lowest), axis=axis, keepdims=keepdims)


@jvp_rule(np.cumprod)
def cumprod_jvp(t, ans, a, axis=None, dtype=None, out=None):
    # d ans_i = sum over j <= i of t_j times the product of a_0..a_i without a_j. Exact at zeros: before
    # the first zero of a lane it is ans_i sum(t_j / a_j); from the first zero on, only the term of that
    # zero survives, its t times the cumulative product with the zero left out.
    x = np.reshape(a, np.shape(ans))
    t = np.reshape(t, np.shape(ans))
    ax = cumulative_axis(axis)
    before = before_first_zero(x, ax)
    first = at_first_zero(x, ax)
    from_before = ans * np.cumsum(np.where(before, t / np.where(before, x, 1), 0), axis=ax)
    from_first = np.sum(np.where(first, t, 0), axis=ax, keepdims=True) * np.cumprod(np.where(first, 1, x), axis=ax)
    return np.where(before, from_before, from_first)


@jvp_rule(np.median)
def median_jvp(t, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return np.sum(t * quantile_weights(a, 0.5, axis, "linear"), axis=axis, keepdims=keepdims)


@jvp_rule(np.quantile)
def quantile_jvp(t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    require(np.ndim(q) == 0, "the derivative of np.quantile is implemented for one quantile q at a time.")
    return np.sum(t * quantile_weights(a, q, axis, method), axis=axis, keepdims=keepdims)


@jvp_rule(np.percentile)
def percentile_jvp(t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    require(np.ndim(q) == 0, "the derivative of np.percentile is implemented for one percentile q at a time.")
    return np.sum(t * quantile_weights(a, q / 100, axis, method), axis=axis, keepdims=keepdims)
