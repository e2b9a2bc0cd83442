"""A deliberately small set of objects for differentiating with respect to parameters.

``Parameter`` is a numpy array identified by object identity. ``Cell`` is a base class whose
``__call__`` runs ``construct``, as in MindSpore. This is not a neural-network library: it holds what
the reference examples need and what users need to write their own cells.
"""

import numpy as np

from .core.model import Cell, Parameter

__all__ = ["Parameter", "Cell", "Dense", "MSELoss"]


class Dense(Cell):
    """A fully connected layer, in MindSpore's layout: ``weight`` of shape (out_channels, in_channels),
    then ``bias`` of shape (out_channels,); ``construct(x)`` is ``x @ weight.T + bias``.

    Without ``weight_init``, the weight is drawn uniformly from ±1/sqrt(in_channels) (``seed`` picks the
    draw), and the bias starts at zero. ``dtype`` is float32, as in MindSpore, unless given.
    """

    def __init__(self, in_channels, out_channels, has_bias=True, weight_init=None, bias_init=None,
                 dtype=np.float32, seed=None):
        if weight_init is None:
            bound = 1.0 / np.sqrt(in_channels)
            weight_init = np.random.default_rng(seed).uniform(-bound, bound, (out_channels, in_channels))
        self.weight = Parameter(np.asarray(weight_init, dtype=dtype).reshape(out_channels, in_channels),
                                name="weight")
        self.has_bias = has_bias
        if has_bias:
            bias = np.zeros(out_channels) if bias_init is None else bias_init
            self.bias = Parameter(np.asarray(bias, dtype=dtype).reshape(out_channels), name="bias")

    def construct(self, x):
        y = x @ self.weight.T
        if self.has_bias:
            y = y + self.bias
        return y


class MSELoss(Cell):
    """The mean of the squared differences between ``logits`` and ``labels``."""

    def construct(self, logits, labels):
        return np.mean((logits - labels) ** 2)
