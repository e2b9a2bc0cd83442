"""The functions `make bench` differentiates, written in plain numpy as a user would write them, their
hand-written adjoints (derived on paper), and the same functions written for torch.

autograd and jax run the very numpy code objects below, with the global ``np`` bound to autograd.numpy or
jax.numpy (libraries.with_numpy); torch.func runs the ``*_torch`` versions, which do the same operations.
"""

import math

import numpy as np

import autodiff_st as ad


def logistic_loss(w, X, y):
    """Mean logistic loss; labels y are -1.0 or +1.0."""
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def mlp_loss(W1, W2, b1, b2, x, onehot):
    """784-256-10 MLP, tanh hidden layer, softmax cross-entropy with a stable log-sum-exp."""
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    mx = np.max(logits, axis=1, keepdims=True)
    shifted = logits - mx
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    logp = shifted - lse
    return -np.mean(np.sum(onehot * logp, axis=1))


def tiny(x):
    return x * x


def scalar_loop(x):
    """sum over i < 100 of sin(x i) x, for a Python float x: a loop of scalar operations, with math.sin."""
    s = 0.0
    for i in range(100):
        s = s + math.sin(x * i) * x
    return s


def scalar_loop_np(x):
    """The same loop with np.sin, for autograd and jax (math.sin cannot take their traced values)."""
    s = 0.0
    for i in range(100):
        s = s + np.sin(x * i) * x
    return s


def rnn_loss(W, xs):
    """A tanh recurrence over the rows of xs, from h = 0; the loss is the squared norm of the last h."""
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)


# Hand-written adjoints, derived on paper.

def logistic_grad_hand(w, X, y):
    # L = mean_i log(1 + e_i), e_i = exp(-y_i z_i), z = X w
    # dL/dz_i = -y_i e_i / (1 + e_i) / n;  dL/dw = X^T dL/dz
    e = np.exp(-y * (X @ w))
    return X.T @ (-y * e / (1.0 + e)) / X.shape[0]


def mlp_grad_hand(W1, W2, b1, b2, x, onehot):
    # softmax cross-entropy with one-hot rows: dL/dlogits = (softmax(logits) - onehot) / n.
    # The max shift cancels out of the gradient.
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    dlogits = (e / e.sum(axis=1, keepdims=True) - onehot) / x.shape[0]
    dW2 = h.T @ dlogits
    dpre = (dlogits @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ dpre
    return dW1, dW2


def scalar_loop_grad_hand(x):
    # d/dx sin(x i) x = sin(x i) + x i cos(x i)
    g = 0.0
    for i in range(100):
        g += math.sin(x * i) + x * i * math.cos(x * i)
    return g


def scalar_loop_grad_hand_np(x):
    # The same adjoint written with numpy's functions on the float, as a numpy user would write it.
    g = 0.0
    for i in range(100):
        g += np.sin(x * i) + x * i * np.cos(x * i)
    return g


def rnn_grad_hand(W, xs):
    # Forward, keeping every h (hs[t] is h after t steps); then backward:
    # a_t = W h_{t-1} + x_t, h_t = tanh(a_t); da = dh (1 - h_t^2), dW += da h_{t-1}^T, dh_{t-1} = W^T da.
    steps, n = xs.shape
    hs = np.empty((steps + 1, n))
    hs[0] = 0.0
    h = hs[0]
    for t in range(steps):
        h = np.tanh(W @ h + xs[t])
        hs[t + 1] = h
    dh = 2.0 * h
    dW = np.zeros_like(W)
    for t in range(steps, 0, -1):
        da = dh * (1.0 - hs[t] * hs[t])
        dW += np.outer(da, hs[t - 1])
        dh = W.T @ da
    return dW


def jacobian_layer(x, A):
    return np.tanh(A @ x)


def jacobian_hand(x, A):
    """The batched hand-written VJP: every row of the identity through the backward pass of tanh(A @ x)
    at once, which is what a batched backward pass computes."""
    t = np.tanh(A @ x)
    return (np.eye(t.shape[0]) * (1 - t ** 2)) @ A


def index_loop(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * w
    return s


def index_loop_hand(x, w):
    x_bar = np.zeros_like(x)
    for i in range(x.shape[0]):
        x_bar[i] += w
    return x_bar


# --------------------------------------------------------------------------------------------------
# The same functions for torch.func (imported by the caller only when torch is installed).

def torch_versions(torch):
    """name -> the function written with torch operations."""

    def logistic(w, X, y):
        return torch.mean(torch.log1p(torch.exp(-y * (X @ w))))

    def mlp(W1, W2, b1, b2, x, onehot):
        h = torch.tanh(x @ W1 + b1)
        logits = h @ W2 + b2
        shifted = logits - torch.amax(logits, dim=1, keepdim=True)
        logp = shifted - torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
        return -torch.mean(torch.sum(onehot * logp, dim=1))

    def scalar(x):
        s = 0.0
        for i in range(100):
            s = s + torch.sin(x * i) * x
        return s

    def rnn(W, xs):
        h = torch.zeros(W.shape[0], dtype=W.dtype)
        for t in range(xs.shape[0]):
            h = torch.tanh(W @ h + xs[t])
        return torch.sum(h ** 2)

    def layer(x, A):
        return torch.tanh(A @ x)

    return {"logistic": logistic, "mlp": mlp, "scalar": scalar, "rnn": rnn, "jacrev": layer}


class MLPCell(ad.nn.Cell):
    """The MLP of workload 2 as a Cell: two ad.nn.Dense layers (weights stored (out, in), as MindSpore
    does), tanh, softmax cross-entropy with a stable log-sum-exp."""

    def __init__(self, rng):
        self.hidden = ad.nn.Dense(784, 256, weight_init=rng.standard_normal((256, 784)) / np.sqrt(784),
                                  bias_init=0.1 * rng.standard_normal(256), dtype=np.float64)
        self.out = ad.nn.Dense(256, 10, weight_init=rng.standard_normal((10, 256)) / np.sqrt(256),
                               bias_init=0.1 * rng.standard_normal(10), dtype=np.float64)

    def construct(self, x, onehot):
        h = np.tanh(self.hidden(x))
        logits = self.out(h)
        mx = np.max(logits, axis=1, keepdims=True)
        shifted = logits - mx
        lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        logp = shifted - lse
        return -np.mean(np.sum(onehot * logp, axis=1))


def mlp_cell_grads_hand(W1, b1, W2, b2, x, onehot):
    """The loss of MLPCell and its gradients with respect to W1, b1, W2, b2 (weights stored (out, in))."""
    h = np.tanh(x @ W1.T + b1)
    logits = h @ W2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum(onehot * (shifted - np.log(s)), axis=1))
    dlogits = (e / s - onehot) / x.shape[0]
    dpre = (dlogits @ W2) * (1.0 - h * h)
    return loss, (dpre.T @ x, dpre.sum(axis=0), dlogits.T @ h, dlogits.sum(axis=0))
