"""The objects differentiation with respect to parameters is built on.

``Parameter`` is a numpy array identified by object identity. ``Cell`` is a base class whose
``__call__`` runs ``construct``, as in MindSpore. The run-time code recognizes both (a Cell is called
through its ``construct``, a Parameter's gradient is collected); ``nn`` builds its layers on them.
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
