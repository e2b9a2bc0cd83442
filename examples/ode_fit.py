"""Fit the parameters of a damped oscillator to observations, differentiating through an RK4 solver.

    .venv/bin/python examples/ode_fit.py              # 120 gradient steps
    .venv/bin/python examples/ode_fit.py --steps 40   # a short run (ODE_FIT_STEPS=40 does the same)

The oscillator is y'' = -k y - c y', written as a first-order system with the state (y, y'). Its right-hand
side is a plain ``np.array`` of the state's elements, and the solver a Python loop of classical
Runge-Kutta steps. Observations of y are made with known parameters (and a little noise); gradient descent
on the squared error recovers them, with ``ad.value_and_grad`` differentiating the whole solve.
"""

import argparse
import os

import numpy as np

import autodiff_st as ad

TRUE_PARAMS = np.array([4.0, 0.5])  # k (stiffness), c (damping)
START_PARAMS = np.array([3.0, 0.2])
DT = 0.1
STEPS_IN_TIME = 50  # the solve covers 5 time units


def rhs(y, k, c):
    """The derivative of the state (position, velocity)."""
    return np.array([y[1], -k * y[0] - c * y[1]])


def rk4_step(y, k, c, dt):
    k1 = rhs(y, k, c)
    k2 = rhs(y + 0.5 * dt * k1, k, c)
    k3 = rhs(y + 0.5 * dt * k2, k, c)
    k4 = rhs(y + dt * k3, k, c)
    return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def trajectory(params, y0, n, dt):
    """The positions after each of ``n`` steps."""
    k, c = params
    y = y0
    positions = np.zeros(n)
    for i in range(n):
        y = rk4_step(y, k, c, dt)
        positions[i] = y[0]
    return positions


def loss(params, y0, observed, dt):
    """The mean squared error between the solved positions and the observed ones."""
    k, c = params
    y = y0
    total = 0.0
    for i in range(len(observed)):
        y = rk4_step(y, k, c, dt)
        total = total + (y[0] - observed[i]) ** 2
    return total / len(observed)


def make_observations(seed=0):
    rng = np.random.default_rng(seed)
    y0 = np.array([1.0, 0.0])
    clean = trajectory(TRUE_PARAMS, y0, STEPS_IN_TIME, DT)
    return y0, clean + 0.002 * rng.standard_normal(clean.shape)


def fit(steps=120, learning_rate=0.6, report_every=None, verbose=True):
    """Gradient descent from START_PARAMS; returns (the parameters found, the losses, one per step)."""
    y0, observed = make_observations()
    value_and_grad = ad.value_and_grad(loss)
    params = START_PARAMS.copy()
    losses = []
    report_every = report_every or max(1, steps // 10)
    for i in range(steps):
        value, g = value_and_grad(params, y0, observed, DT)
        params = params - learning_rate * g
        losses.append(float(value))
        if verbose and (i % report_every == 0 or i == steps - 1):
            print(f"step {i:4d}  loss {value:.6f}  k {params[0]:.4f}  c {params[1]:.4f}")
    return params, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=int(os.environ.get("ODE_FIT_STEPS", 120)),
                        help="number of gradient steps")
    options = parser.parse_args(argv)
    params, losses = fit(options.steps)
    print(f"loss fell from {losses[0]:.6f} to {losses[-1]:.6f}")
    print(f"recovered k = {params[0]:.4f}, c = {params[1]:.4f} (true k = {TRUE_PARAMS[0]}, c = {TRUE_PARAMS[1]})")
    assert losses[-1] < losses[0] / 100, "the loss should fall by a large factor"
    assert np.allclose(params, TRUE_PARAMS, rtol=0.05, atol=0.02), "the parameters should be recovered"
    return params, losses


if __name__ == "__main__":
    main()
