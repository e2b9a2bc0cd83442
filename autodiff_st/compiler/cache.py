"""Cache: run the pipeline once per function, positions and mode, and reuse the result.

Compiled modules are keyed on the function's code object, so a function redefined (a notebook cell run
again) gets a new adjoint. The compiled module records the global names whose values it depended on
(the ``np`` in ``np.sin``), and it is rebuilt if any of them has been rebound since (see
``pipeline.Compiled.still_valid``). Generated code objects are shared between closures of the same
code; each closure is bound to its own cells.

Each build is logged at DEBUG on the logger "autodiff_st": the function (qualified name, file and line),
the mode, the differentiated positions, the argument kinds (which arguments are Python numbers), whether
it was rebuilt because a global it read had been rebound, and the seconds the build took.
"""

import contextlib
import gc
import logging
import os
import threading
import time
import types
import weakref

from ..core import registry
from ..runtime.calls import argument_kinds  # noqa: F401  (the other half of every cache key)
from .inline_helpers import INLINED
from .disk_cache import directory as disk_directory, key_for as disk_key_for, load as disk_load, store as disk_store
from .pipeline import GENERATION, Compiled, build
from .specialize import for_kinds

log = logging.getLogger("autodiff_st")

_COMPILED = {}
_BOUND = weakref.WeakKeyDictionary()
# One build at a time: threads racing for the same adjoint wait for the first one's build and reuse it.
# Re-entrant, because building a function may ask for its callees' adjoints.
_BUILDING = threading.RLock()


@contextlib.contextmanager
def _collector_paused():
    """Building an adjoint makes many short-lived objects (syntax trees) and nothing that must be
    collected before it ends; a full cyclic collection in a process with numpy and scipy loaded costs about 50 ms, and a build used to set one
    off about one time in three. So Python's cyclic collector waits until the build is done (reference
    counting still frees what dies). A collector the user turned off stays off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compiled_adjoint(fn, positions, mode, kinds=None, roots=None):
    """The compiled module for ``fn``. ``roots`` is None, or, for an adjoint that also collects the
    gradients of Parameters (weights=), which arguments may hold Parameters (see weights.py)."""
    fn = for_kinds(fn, kinds)  # *args and **kwargs: the function Python binds for these arguments
    # Code objects compare equal across files when their bytecode is the same: key on the place too,
    # so the generated comments point at the right file.
    code = fn.__code__
    key = (code, code.co_filename, code.co_firstlineno, positions, mode, kinds, roots)
    compiled = _COMPILED.get(key)
    if compiled is not None and compiled.still_valid(fn):
        return compiled
    with _BUILDING:
        compiled = _COMPILED.get(key)  # another thread may have built it while this one waited
        if compiled is None or not compiled.still_valid(fn):
            rebuilt = compiled is not None
            started = time.perf_counter()
            disk_key = None if rebuilt or disk_directory() is None else \
                disk_key_for(fn, positions, mode, kinds, roots)
            if disk_key is not None:
                compiled = disk_load(disk_key, fn, _from_disk)
                if compiled is not None:
                    _COMPILED[key] = compiled
                    return compiled
            with _collector_paused():
                compiled = build(fn, positions, mode, kinds) if roots is None else \
                    build(fn, positions, mode, kinds, roots)
            _COMPILED[key] = compiled
            if disk_key is not None:
                disk_store(disk_key, fn, compiled, f"{mode} of {getattr(fn, '__name__', '?')}")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("compiled %s (%s:%d) mode=%s positions=%s kinds=%s%s%s in %.4f s",
                          getattr(fn, "__qualname__", getattr(fn, "__name__", "?")),
                          os.path.basename(code.co_filename), code.co_firstlineno, mode, positions,
                          _kinds_text(kinds), "" if roots is None else f" roots={roots}",
                          " (rebuilt: a global it reads was rebound)" if rebuilt else "",
                          time.perf_counter() - started)
    return compiled


def _from_disk(payload, filename, codes, helpers, guards):
    """A compiled module from a checked disk cache entry (see disk_cache.load)."""
    return Compiled(payload["source"], filename, codes, tuple(payload["names"]),
                    {name: types.CellType(obj) for name, obj in helpers.items()}, guards, tuple(payload["params"]),
                    frozenset(payload["user_locals"]), factory_name=payload["factory"])


def _kinds_text(kinds):
    """The argument kinds as text: "number" for a Python number, "float64[2]" for a 2-d float64 ndarray,
    "other" otherwise; "any" for None."""
    if kinds is None:
        return "any"
    return "(" + ", ".join("number" if k is True else f"{k[1]}[{k[0]}]" if k else "other" for k in kinds) + ")"


def adjoint_functions(fn, positions, mode, kinds=None, roots=None):
    """The generated functions for ``fn``: (forward, backward) for "vjp", (value_and_grad,) otherwise."""
    return adjoint_entry(fn, positions, mode, kinds, roots)[1]


def adjoint_entry(fn, positions, mode, kinds=None, roots=None):
    """``(compiled, functions)``: the generated functions for ``fn`` (see ``adjoint_functions``) and the
    compiled module they were bound from, whose ``still_valid(fn)`` is their validity token: false once
    ``clear`` has run or a global or closure cell it read has been rebound. A caller that keeps both
    (runtime/calls.py, for a helper called again and again from a loop) reuses the functions while
    ``still_valid(fn)`` holds, and asks again when it does not."""
    fn = for_kinds(fn, kinds)
    per_fn = _BOUND.get(fn)
    if per_fn is None:
        with _BUILDING:
            per_fn = _BOUND.setdefault(fn, {})
    key = (positions, mode, kinds) if roots is None else (positions, mode, kinds, roots)
    entry = per_fn.get(key)
    if entry is not None and entry[0].still_valid(fn):
        return entry
    compiled = compiled_adjoint(fn, positions, mode, kinds, roots)
    entry = per_fn[key] = (compiled, compiled.bind(fn))
    return entry


def clear():
    """Forget every compiled adjoint: the next call of any transform compiles again (``ad.clear_cache``)."""
    with _BUILDING:
        _COMPILED.clear()
        _BOUND.clear()
        GENERATION[0] += 1


def _rules_changed(primitives):
    """A rule registered for (or nondifferentiable marking of) a helper that compiled code inlined as a
    plain function (inline_helpers.py): forget every compiled adjoint, so the rule is used from now on."""
    if any(isinstance(p, types.FunctionType) and p in INLINED for p in primitives):
        clear()


registry.on_change(_rules_changed)
