"""Right-hand sides of ODEs for the rule checks of scipy.integrate.odeint (tests/rule_cases_scipy.py),
written in a file so that the compiler can read their source."""

import numpy as np


def decay(y, s, a):
    """y' = f(y, s, a), autograd's test right-hand side with one parameter vector."""
    return -np.sqrt(s) - y + a - np.mean((y + a) ** 2)


def oscillator(s, y, k):
    """A damped oscillator with stiffness k, time first (tfirst=True)."""
    return np.array([y[1], -k * y[0] - 0.1 * y[1]])
