"""The base of the callables that ``grad``, ``jacrev`` and the other transforms return."""

import functools

import numpy as np

from . import hooks
from .display import describe, transform_html
from .errors import AutodiffError, ChunkSizeError, OptionTypeError
from .tracebacks import user_facing

_FLAGS = ("has_aux", "return_value", "holomorphic", "allow_int", "value_and_grad")


def check_options(owner, **options):
    """Refuse an option of the wrong type or range: a flag that is not a bool (MindSpore raises TypeError
    for ``has_aux='yes'``; a truthy string must not pass as True), a chunk size that is not a positive int."""
    for name, value in options.items():
        if name in _FLAGS and not isinstance(value, (bool, np.bool_)):
            shown = type(value).__repr__(value) if type(value) in (str, int, float, type(None)) else ""
            raise OptionTypeError(f"{owner} takes {name}=True or False, not {type(value).__name__} {shown}".rstrip()
                                  + ".")
        if name == "chunk_size" and value is not None:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ChunkSizeError(f"{owner} takes chunk_size=None or a positive int, not "
                                     f"{type(value).__name__}.")
            if value <= 0:
                raise ChunkSizeError(f"{owner} takes chunk_size=None or a positive int, not {int(value)}.")


class Transform:
    """Base of the callables that ``grad``, ``value_and_grad`` and friends return."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn, updated=())

    def __init_subclass__(cls, **kwargs):
        """Every transform's options are checked once it is made, and its calls are the boundary where a
        traceback through generated code is pointed back at the user's lines."""
        super().__init_subclass__(**kwargs)
        # A class whose __call__ is its own boundary (``boundary_inside = True``, as Grad's, which saves
        # a frame on its fast path) rewrites tracebacks itself with ``tracebacks.for_user``.
        if "__call__" in cls.__dict__ and not cls.__dict__.get("boundary_inside", False):
            cls.__call__ = user_facing(cls.__dict__["__call__"])
        if "__init__" in cls.__dict__:
            cls.__init__ = _checking_options(cls.__dict__["__init__"])

    def __repr__(self):
        return f"<{describe(self)}>"

    def _display_source(self):
        try:
            return hooks.source_of(self)
        except Exception:  # noqa: BLE001 (a display must not fail: no source yet, or a refusal)
            return None

    def _repr_html_(self):
        return transform_html(self, self._display_source())

    def _repr_pretty_(self, printer, cycle):
        source = self._display_source()
        printer.text(repr(self) + ("\n\n" + source if source else ""))

    def __get__(self, obj, objtype=None):
        # A transform decorating a method: bound to an object, it differentiates the bound method, so
        # positions count after self, as for ad.grad(obj.method).
        if obj is None:
            return self
        return self.rebind(self.fn.__get__(obj, objtype))

    def called_inside(self, args, kwargs):
        """What to differentiate when generated code calls this transform on ``args``: a Python function
        and the leading arguments bound to it. ``Grad``, ``JacRev``, ``JacFwd`` and ``Hessian`` say how
        (transforms/grad.py, transforms/inner_jacobians.py); another transform is refused."""
        raise AutodiffError(
            f"autodiff_st cannot differentiate through a call of {self.described_inside()} made inside the "
            "differentiated function.",
            hint="grad, value_and_grad, jacrev, jacfwd and hessian called inside are differentiated; compose "
                 "other transforms from outside.")

    def described_inside(self):
        return f"a {type(self).__name__.lower()}"


def _checking_options(init):
    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        init(self, *args, **kwargs)
        present = {name: getattr(self, name) for name in _FLAGS + ("chunk_size",) if name in vars(self)}
        check_options(type(self).__name__.lower(), **present)

    return checked
