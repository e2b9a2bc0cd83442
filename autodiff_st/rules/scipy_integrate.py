"""The rule of scipy.integrate.odeint with a right-hand side of the user's own, at first order.

``ys = odeint(func, y0, times, args)`` solves ``y' = func(y, s, *args)`` (``func(s, y, *args)`` with
``tfirst=True``) and returns the states at ``times``, one row each. Its derivatives are those of the ODE,
not of the solver's steps:

- reverse mode (the adjoint method): from the last time back to the first, the state, its adjoint ``a``
  and the parameters' adjoint ``p`` are integrated backwards with odeint itself, ``a' = -a J_y`` and
  ``p' = -a J_args``, where ``a J_y`` and ``a J_args`` are the vector-Jacobian products of ``func``'s own
  generated adjoint (runtime/calls.py ``call_vjp_forward``/``call_vjp_backward``). At each time the
  row's cotangent is added to ``a``. The cotangent of a time ``times[i]`` (i >= 1) is
  ``g[i] . func(ys[i], times[i])``; that of ``times[0]`` is ``-(y0_bar - g[0]) . func(y0, times[0])``
  (moving the start moves the whole trajectory back along the flow).
- forward mode: the state and its tangent are integrated forwards together, the tangent by the
  linearized ODE ``Y' = J_y Y + J_args args_dot`` (``call_jvp`` of ``func``), starting from
  ``y0_dot - func(y0, times[0]) times_dot[0]``, and ``func(ys[i], times[i]) times_dot[i]`` is added to row i.

The values come from the solver, so they are exact only to its tolerances (``rtol``, ``atol``, which are
passed on to the solves of the derivatives, as are ``mxstep`` and ``hmax``).

Second derivatives are refused: differentiating the adjoint solve again would need the adjoint of
odeint's own solves of the augmented system, which this rule does not provide. ``full_output=True``
is refused (its second result is a dict of solver statistics).

The parameter is called ``times`` (scipy calls it ``t``; a forward rule's tangent is ``t``), so pass
the times by position, as everyone does.
"""

import numpy as np
from scipy import integrate

from ..core.errors import UnsupportedCaseError
from ..core.registry import batching_rule, jvp_rule, vjp_rule
from ..runtime.batched import loop_call
from ..runtime.calls import call_jvp, call_vjp_backward, call_vjp_forward


def _options(rtol, atol, mxstep, hmax):
    options = {"mxstep": mxstep, "hmax": hmax}
    if rtol is not None:
        options["rtol"] = rtol
    if atol is not None:
        options["atol"] = atol
    return options


def _check(args, full_output):
    if full_output:
        raise UnsupportedCaseError("autodiff_st differentiates scipy.integrate.odeint only with "
                                   "full_output=False (its second result is a dict of solver statistics).",
                                   hint="Call odeint without full_output to differentiate it.")
    if not isinstance(args, (tuple, list)):
        raise UnsupportedCaseError("autodiff_st differentiates scipy.integrate.odeint with args= given as a "
                                   f"tuple; it got a {type(args).__name__}.", hint="Write args=(value,).")


def _rhs(func, y, s, args, tfirst):
    return func(s, y, *args) if tfirst else func(y, s, *args)


def _active(args, tfirst):
    """Positions of the state and of the extra arguments in a call of ``func``."""
    return ((1,) if tfirst else (0,)) + tuple(range(2, 2 + len(args)))


def _call_args(y, s, args, tfirst):
    return ((s, y) if tfirst else (y, s)) + tuple(args)


def odeint_cotangents(g, ans, func, y0, times, args, tfirst, full_output, options):
    """The cotangents of ``y0``, ``times`` and ``args`` (a list) of ``ans = odeint(func, y0, times, args)``."""
    _check(args, full_output)
    args = tuple(args)
    g = np.asarray(g, dtype=float)
    ans = np.asarray(ans, dtype=float)
    times = np.asarray(times, dtype=float)
    n = ans.shape[1]
    shapes = [np.shape(a) for a in args]
    sizes = [int(np.size(a)) for a in args]
    active = _active(args, tfirst)

    def augmented(state, s):
        y, a = state[:n], state[n:2 * n]
        out, residuals = call_vjp_forward(func, active, *_call_args(y, s, args, tfirst))
        bars = call_vjp_backward(residuals, a)
        parts = [np.ravel(out), -_flat(bars[0], n)]
        parts += [-_flat(b, size) for b, size in zip(bars[1:], sizes)]
        return np.concatenate(parts)

    a = g[-1].copy()
    p = np.zeros(sum(sizes))
    t_bar = np.zeros(times.shape)
    for i in range(len(times) - 1, 0, -1):
        t_bar[i] = g[i] @ np.ravel(_rhs(func, ans[i], times[i], args, tfirst))
        state = np.concatenate([ans[i], a, p])
        final = integrate.odeint(augmented, state, np.array([times[i], times[i - 1]]), **options)[-1]
        a = final[n:2 * n] + g[i - 1]
        p = final[2 * n:]
    t_bar[0] = -(a - g[0]) @ np.ravel(_rhs(func, ans[0], times[0], args, tfirst))
    args_bar, start = [], 0
    for shape, size in zip(shapes, sizes):
        args_bar.append(np.reshape(p[start:start + size], shape) if shape else float(p[start]))
        start += size
    return np.reshape(a, np.shape(y0)), t_bar, args_bar


def _flat(x, size):
    """A cotangent or tangent as a flat vector of ``size`` numbers (a zero may come as a scalar)."""
    x = np.asarray(x, dtype=float)
    return np.full(size, float(x)) if x.ndim == 0 and size != 1 else np.ravel(x)


def odeint_tangent(ans, func, y0, times, args, y0_dot, times_dot, args_dot, tfirst, full_output, options):
    """The tangent of ``ans = odeint(func, y0, times, args)`` given tangents of its inputs (None: zero)."""
    _check(args, full_output)
    args = tuple(args)
    ans = np.asarray(ans, dtype=float)
    times = np.asarray(times, dtype=float)
    n = ans.shape[1]
    start = np.zeros(n) if y0_dot is None else np.ravel(np.asarray(y0_dot, dtype=float)).copy()
    if times_dot is not None:
        times_dot = np.broadcast_to(np.asarray(times_dot, dtype=float), times.shape)
        start = start - np.ravel(_rhs(func, ans[0], times[0], args, tfirst)) * times_dot[0]
    if args_dot is None:
        active = (1,) if tfirst else (0,)
        extra = ()
    else:
        active = _active(args, tfirst)
        extra = tuple(args_dot)

    def linearized(state, s):
        y, tangent = state[:n], state[n:]
        out, out_dot = call_jvp(func, active, (tangent,) + extra, *_call_args(y, s, args, tfirst))
        return np.concatenate([np.ravel(out), _flat(out_dot, n)])

    solved = integrate.odeint(linearized, np.concatenate([ans[0], start]), times, **options)
    result = solved[:, n:]
    if times_dot is not None:
        rates = np.array([np.ravel(_rhs(func, ans[i], times[i], args, tfirst)) for i in range(len(times))])
        result = result + rates * times_dot[:, None]
    return result


@vjp_rule(integrate.odeint, diff=("y0", "times", "args"), sequences=("args",))
def odeint(g, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None, rtol=None,
           atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0, mxordn=12, mxords=5,
           printmessg=0, tfirst=False):
    cotangents = odeint_cotangents(g, ans, func, y0, times, args, tfirst, full_output,
                                   _options(rtol, atol, mxstep, hmax))
    return cotangents[0], cotangents[1], cotangents[2]


@jvp_rule(integrate.odeint, wrt="y0")
def odeint_jvp_y0(t, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None,
                  rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0,
                  mxordn=12, mxords=5, printmessg=0, tfirst=False):
    return odeint_tangent(ans, func, y0, times, args, t, None, None, tfirst, full_output,
                          _options(rtol, atol, mxstep, hmax))


@jvp_rule(integrate.odeint, wrt="times")
def odeint_jvp_times(t, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None,
                     rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0,
                     mxordn=12, mxords=5, printmessg=0, tfirst=False):
    return odeint_tangent(ans, func, y0, times, args, None, t, None, tfirst, full_output,
                          _options(rtol, atol, mxstep, hmax))


@jvp_rule(integrate.odeint, wrt="args")
def odeint_jvp_args(t, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None,
                    rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0,
                    mxordn=12, mxords=5, printmessg=0, tfirst=False):
    return odeint_tangent(ans, func, y0, times, args, None, None, t, tfirst, full_output,
                          _options(rtol, atol, mxstep, hmax))


# Batched (jacfwd, jacrev, vmap): one solve per batch element. The helpers hand the user's right-hand side
# to scipy's solver, which needs plain arrays.
@batching_rule(odeint_cotangents)
def odeint_cotangents_batched(*args, **kwargs):
    return loop_call(odeint_cotangents, args, kwargs)


@batching_rule(odeint_tangent)
def odeint_tangent_batched(*args, **kwargs):
    return loop_call(odeint_tangent, args, kwargs)
