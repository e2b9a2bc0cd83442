"""A first look at autodiff_st: differentiate a logistic-regression loss and read the generated adjoint.

Run it with `make demo`, or `.venv/bin/python examples/quickstart.py`.
"""

import inspect

import numpy as np

import autodiff_st as ad


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss(w, X, y):
    """Mean negative log-likelihood of labels y (0.0 or 1.0) under a logistic model."""
    p = sigmoid(X @ w)
    log_lik = y * np.log(p) + (1.0 - y) * np.log(1.0 - p)
    return -np.mean(log_lik)


def finite_difference(f, w, *args, eps=1e-6):
    """Central differences, one coordinate of w at a time."""
    g = np.zeros_like(w)
    for i in range(w.size):
        step = np.zeros_like(w)
        step[i] = eps
        g[i] = (f(w + step, *args) - f(w - step, *args)) / (2 * eps)
    return g


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + rng.standard_normal(200) > 0).astype(float)
    w = np.zeros(3)

    print("The function to differentiate:\n")
    print(inspect.getsource(sigmoid))
    print(inspect.getsource(loss))

    dloss = ad.grad(loss)  # the gradient with respect to w, the first argument
    print("The adjoint autodiff_st generated for it, from print(ad.source(ad.grad(loss))):\n")
    print(ad.source(dloss))
    print("(The call to sigmoid has its own adjoint: print(ad.source(sigmoid)) shows it.)\n")

    g = dloss(w, X, y)
    g_fd = finite_difference(loss, w, X, y)
    print("Gradient at w = 0:")
    print("  autodiff_st        ", g)
    print("  finite differences ", g_fd)
    print(f"  max abs difference  {np.max(np.abs(g - g_fd)):.1e}")


if __name__ == "__main__":
    main()
