"""Tracebacks that point at the user's code, as JAX's do.

When the user's own code fails inside a generated forward pass (a shape mismatch in ``x + y``, the
user's ``raise`` in a helper), Python's traceback would show generated lines and the library's frames.
At the boundary of each transform (``user_facing``) the traceback is rewritten: the library's own frames
are dropped, and each generated frame is preceded by a frame at the user's file, line and function that
the generated line comes from (the loader's line map, reached through ``hooks.origin_at``), so that the
traceback quotes the user's source above the generated line. The exception itself, and its type, stay
the user's.
"""

import functools
import linecache
import os
import sys
import types
from typing import Any, Callable, TypeVar, cast

from .hooks import origin_at
from .errors import AutodiffError, BackendError
from .trees import is_library_array

_F = TypeVar("_F", bound=Callable[..., Any])  # a decorator that keeps the signature it wraps

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_GENERATED = "<autodiff_st "
_PLACED = "autodiff_st.user_line"  # the module name of the frames placed at the user's lines


class _Marker(Exception):
    """Raised in a frame made to stand at a user's line, to capture that frame."""


def _frame_at(origin):
    """A frame whose code sits at ``origin``'s file and line, in a function of its name: what a traceback
    entry for that line needs. The raise in it spans the whole line, so no carets underline a part."""
    line = linecache.getline(origin.filename, origin.lineno)
    indent = line[: len(line) - len(line.lstrip())] if line.strip() else ""
    width = len(line.strip())
    statement = "raise" + " " * max(1, width - 6) + "_"
    if indent and origin.lineno > 1:  # an indented line needs a block around it, opened on the line above
        text = "\n" * (origin.lineno - 2) + "if 1:\n" + indent + statement
    else:
        text = "\n" * (origin.lineno - 1) + statement
    code = compile(text, origin.filename, "exec")
    renamed = {"co_name": origin.function}
    if sys.version_info >= (3, 11):
        renamed["co_qualname"] = origin.function
    code = code.replace(**renamed)
    try:
        exec(code, {"_": _Marker, "__name__": _PLACED})
    except _Marker:
        tb = sys.exc_info()[2].tb_next
        return tb.tb_frame, tb.tb_lasti, tb.tb_lineno
    raise AssertionError("the frame's code did not raise")  # unreachable: the code is one raise


def user_traceback(tb):
    """``tb`` with the library's frames dropped and generated frames moved to the user's lines, or None
    when it passes through no generated code (nothing to point at)."""
    entries, generated, placed = [], False, False
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(_GENERATED):
            generated = True
            origin = origin_at(filename, tb.tb_lineno)
            if origin is not None and not origin.filename.startswith(_GENERATED) and not placed:
                entries.append(_frame_at(origin))
            # The generated line stays, below the user's: the adjoint is readable code, and pdb's
            # post-mortem steps into it.
            entries.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        elif not filename.startswith(_PACKAGE):
            entries.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        # A frame placed at a user's line by an inner boundary already stands above the next generated one.
        placed = tb.tb_frame.f_globals.get("__name__") == _PLACED
        tb = tb.tb_next
    if not generated or not entries:
        return None
    rebuilt = None
    for frame, lasti, lineno in reversed(entries):
        rebuilt = types.TracebackType(rebuilt, frame, lasti, lineno)
    return rebuilt


def user_facing(call: _F) -> _F:
    """Wrap a transform's entry point: the user's exception from generated code leaves it with a
    traceback that points at the user's lines."""

    @functools.wraps(call)
    def entry(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            refusal, tb = for_user(exc, args, kwargs)
            if refusal is not None:
                raise refusal.with_traceback(tb) from exc
            if tb is None:
                raise
            raise exc.with_traceback(tb)

    return cast(_F, entry)


def for_user(exc, args, kwargs):
    """What leaves a transform called on ``args`` and ``kwargs`` when ``exc`` is raised inside it:
    ``(refusal, traceback)``. ``refusal`` is the ``BackendError`` standing for an exception another array
    library raised (``backend_failure``), or None; ``traceback`` is the one pointed at the user's lines,
    or None to re-raise ``exc`` as it is (the library's own errors, and errors that passed through no
    generated code). A transform whose ``__call__`` is its own boundary calls this itself."""
    if isinstance(exc, AutodiffError):
        return None, None
    return backend_failure(exc, args, kwargs), user_traceback(exc.__traceback__)


_LIBRARY_ROOTS = frozenset({"dask", "distributed", "cupy", "cupyx", "array_api_strict", "array_api_compat", "torch",
                            "jax", "jaxlib"})


def _library_array(values):
    for value in values:
        if isinstance(value, (tuple, list)):
            found = _library_array(value)
        elif isinstance(value, dict):
            found = _library_array(value.values())
        else:
            found = value if is_library_array(value) else None
        if found is not None:
            return found
    return None


def backend_failure(exc, args, kwargs):
    """The ``BackendError`` that stands for ``exc`` when a transform was called on another library's arrays
    and that library raised it (or lacks an attribute the code asked of its array): what numpy's dispatch
    carried there, the library cannot do. None otherwise: the user's own exceptions pass unchanged."""
    array = _library_array(tuple(args) + tuple(kwargs.values()))
    if array is None:
        return None
    library = type(array).__module__.split(".")[0]
    method = f"{type(array).__name__}."
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    if module.split(".")[0] in _LIBRARY_ROOTS:
        construct = f"{module}.{tb.tb_frame.f_code.co_name}"
    elif isinstance(exc, AttributeError) and is_library_array(getattr(exc, "obj", None)):
        construct = f"the array attribute {exc.name!r}"
    elif isinstance(exc, TypeError) and str(exc).startswith(method) and "(" in str(exc):
        # the array's own method called with arguments it does not take (dask's x.cumprod() needs an axis)
        construct = f"the array method {str(exc).split('(')[0]}"
    elif isinstance(exc, TypeError) and "returned NotImplemented from __array_ufunc__" in str(exc):
        construct = "a numpy ufunc method (reduce, accumulate, at) it does not implement"
    else:
        return None
    return BackendError(
        f"autodiff_st: {library} cannot run what this function or its derivative asks of it ({construct}): "
        f"{type(exc).__name__}: {exc}",
        hint=f"The traceback shows the line; see docs/backends.md for what {library} supports. Rechunk the "
             "array, or pass numpy arrays for this function.")
