"""The base of the callables that ``grad``, ``jacrev`` and the other transforms return."""

import functools

from .errors import AutodiffError


class Transform:
    """Base of the callables that ``grad``, ``value_and_grad`` and friends return."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn, updated=())

    def __get__(self, obj, objtype=None):
        # A transform decorating a method: bound to an object, it differentiates the bound method, so
        # positions count after self, as for ad.grad(obj.method).
        if obj is None:
            return self
        return self.rebind(self.fn.__get__(obj, objtype))

    def called_inside(self, args, kwargs):
        """What to differentiate when generated code calls this transform on ``args``: a Python function
        and the leading arguments bound to it. Only a plain gradient can be differentiated this way
        (``Grad`` says how); other transforms are refused."""
        raise AutodiffError(
            f"autodiff_st cannot differentiate through a call of {self.described_inside()} made inside the "
            "differentiated function; a plain ad.grad(f) called inside works.",
            hint="Compose the transforms from outside instead: jacrev(jacrev(f)), jacrev(grad(f)), hessian(f).")

    def described_inside(self):
        return f"a {type(self).__name__.lower()}"
