"""A deliberately small set of objects for differentiating with respect to parameters.

``Parameter`` is a numpy array identified by object identity. ``Cell`` is a base class whose
``__call__`` runs ``construct``, as in MindSpore. This is not a neural-network library: it holds what
the reference examples need and what users need to write their own cells.
"""

import numpy as np


class Parameter(np.ndarray):
    """A numpy array that is a trainable parameter. It behaves as an ndarray everywhere."""

    def __new__(cls, data, name=None):
        obj = np.array(data, dtype=np.result_type(np.asarray(data).dtype, np.float32)
                       if np.asarray(data).dtype.kind in "iub" else None).view(cls)
        obj.name = name
        return obj

    def __array_finalize__(self, obj):
        self.name = getattr(obj, "name", None)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # Results of arithmetic on a Parameter are plain arrays, not Parameters.
        result = np.asarray(array)
        if return_scalar and result.ndim == 0:
            return result[()]
        return result

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"


class Cell:
    """Base class of differentiable objects: calling a cell runs its ``construct`` method."""

    def __call__(self, *args, **kwargs):
        return self.construct(*args, **kwargs)

    def construct(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define construct()")

    def trainable_params(self):
        """Every Parameter reachable through attributes, lists and child cells, in attribute order."""
        found, seen = [], set()

        def visit(value):
            if isinstance(value, Parameter):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif isinstance(value, Cell):
                for child in vars(value).values():
                    visit(child)
            elif isinstance(value, (list, tuple)):
                for child in value:
                    visit(child)
            elif isinstance(value, dict):
                for child in value.values():
                    visit(child)

        for child in vars(self).values():
            visit(child)
        return found


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
