"""Train a small two-layer network with plain SGD, taking gradients with respect to its Parameters.

    .venv/bin/python examples/train_regression.py            # 300 steps
    .venv/bin/python examples/train_regression.py --steps 20 # a short run (the test suite runs this)

The network is an ``ad.nn.Cell`` with two ``ad.nn.Dense`` layers. ``ad.value_and_grad(..., weights=
net.trainable_params())`` returns the loss and one gradient per Parameter, in the order of the list;
the SGD step then updates each Parameter in place, outside the differentiated function.
"""

import argparse

import numpy as np

import autodiff_st as ad


class Regressor(ad.nn.Cell):
    def __init__(self, n_in, n_hidden):
        self.hidden = ad.nn.Dense(n_in, n_hidden, dtype=np.float64, seed=1)
        self.out = ad.nn.Dense(n_hidden, 1, dtype=np.float64, seed=2)

    def construct(self, x):
        return self.out(np.tanh(self.hidden(x)))


def make_data(n=256, n_in=4, seed=0):
    """Synthetic regression: y = sin(x @ a) + noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_in))
    a = rng.standard_normal((n_in, 1))
    y = np.sin(x @ a) + 0.05 * rng.standard_normal((n, 1))
    return x, y


def train(steps=300, learning_rate=0.1, report_every=None, verbose=True):
    """Run ``steps`` SGD steps; return the list of losses, one per step."""
    x, y = make_data()
    net = Regressor(x.shape[1], 16)
    loss_fn = ad.nn.MSELoss()

    def forward(inputs, labels):
        return loss_fn(net(inputs), labels)

    weights = net.trainable_params()
    step = ad.value_and_grad(forward, grad_position=None, weights=weights)
    losses = []
    report_every = report_every or max(1, steps // 10)
    for i in range(steps):
        loss, grads = step(x, y)
        for w, g in zip(weights, grads):
            w -= learning_rate * g  # in place: the Parameter keeps its identity
        losses.append(float(loss))
        if verbose and (i % report_every == 0 or i == steps - 1):
            print(f"step {i:4d}  loss {loss:.5f}")
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="number of SGD steps")
    options = parser.parse_args(argv)
    losses = train(options.steps)
    print(f"loss fell from {losses[0]:.5f} to {losses[-1]:.5f}")


if __name__ == "__main__":
    main()
