"""``ad.vmap``: map a function over an axis of its arguments, with JAX's conventions.

The function runs through its batched version (``batching.py``): one pass over the whole batch where
every operation has a batching rule, and one call per batch element where it has not. See docs/vmap.md.
"""

import functools
from typing import Any, Callable, Optional

import numpy as np

from ..compiler.batching import compiled_batched, has_source, materialize
from ..core import trees
from ..core.errors import BackendError, OptionTypeError, OptionValueError
from ..core.registry import batching_rule_for
from ..core.tracebacks import user_facing
from ..core.transform import Transform, check_options
from ..runtime import batched as batching_runtime
from ..runtime.batched import Batched
from ..runtime.calls import underlying_function
from ..runtime.namespaces import backend_name, is_foreign, is_lazy
from .progress import check_progress, track, with_progress
from .vmap_jacobians import batched_sources, vmap_transform, why_not_batched


def _check_axis_spec(spec, what):
    if spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool)):
        return
    if isinstance(spec, (tuple, list)):
        for s in spec:
            _check_axis_spec(s, what)
        return
    if isinstance(spec, dict):
        for s in spec.values():
            _check_axis_spec(s, what)
        return
    raise OptionTypeError(f"vmap {what} must be an int, None, or a tuple of them (one per argument), not "
                          f"{type(spec).__name__}.")


@with_progress
class VMap:
    """The function returned by ``vmap``."""

    def __init__(self, fn, in_axes=0, out_axes=0, chunk_size=None, progress=False):
        if not callable(fn):
            raise OptionTypeError(f"vmap expects a function, got {type(fn).__name__}")
        _check_axis_spec(in_axes, "in_axes")
        _check_axis_spec(out_axes, "out_axes")
        check_options("vmap", chunk_size=chunk_size)
        self.fn = fn
        self.in_axes = in_axes
        self.out_axes = out_axes
        self.chunk_size = chunk_size
        self.progress = progress  # progress.py: count the chunks of each call
        self._plans = {}  # vmap_jacobians: per argument kinds, how a transform runs batched
        self.last_fallbacks = []  # the per-element fallbacks the last call took: (what, where)
        functools.update_wrapper(self, fn, updated=())

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return VMap(self.fn.__get__(obj, objtype), self.in_axes, self.out_axes, self.chunk_size, self.progress)

    @user_facing
    def __call__(self, *args, **kwargs):
        in_axes = self.in_axes
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)
        if isinstance(in_axes, tuple):
            if len(in_axes) != len(args):
                raise OptionValueError(f"vmap in_axes has {len(in_axes)} entries but the function was called with "
                                       f"{len(args)} positional arguments")
        else:
            in_axes = (in_axes,) * len(args)
        _refuse_foreign(args, kwargs)
        sizes = []
        moved = tuple(_move_in(a, ax, f"argument {i}", sizes) for i, (a, ax) in enumerate(zip(args, in_axes)))
        if not sizes:
            raise OptionValueError("vmap needs at least one argument with a mapped axis: in_axes is None for every "
                                   "argument")
        distinct = sorted({n for _, n in sizes})
        if len(distinct) > 1:
            listed = ", ".join(f"{where} has size {n}" for where, n in sizes)
            raise OptionValueError(f"vmap got inconsistent sizes for the mapped axes: {listed}")
        size = distinct[0]
        step = size if self.chunk_size is None else self.chunk_size
        if step >= size:
            return self._finish(self._run(moved, kwargs), size)
        chunks = []
        for start in track(range(0, size, step)):
            part = tuple(_take(a, start, start + step) for a in moved)
            n = min(step, size - start)
            chunks.append(self._finish(self._run(part, kwargs), n))
        return _concatenate(chunks, self.out_axes, chunks[0])

    def _run(self, args, kwargs):
        with batching_runtime.recording() as fallbacks:
            result = None
            if isinstance(self.fn, Transform):  # its generated code, batched (vmap_jacobians.py)
                why = None
                try:
                    result = vmap_transform(self.fn, args, kwargs, self._plans)
                except batching_runtime.NeedsLoop as exc:  # e.g. residuals that differ between elements
                    why = exc.what
                if result is None:
                    why = why or why_not_batched(self.fn, args) or "keyword arguments, or an output it does not batch"
                    batching_runtime.report(f"{why}: the {type(self.fn).__name__.lower()} runs once per batch "
                                            "element", "vmap")
            if result is None:
                result = batching_runtime.call(self.fn, *args, **kwargs)
        self.last_fallbacks = list(dict.fromkeys(fallbacks))
        return result

    def _finish(self, out, size):
        return _move_out(out, self.out_axes, size, "output")

    def generated_source(self):
        """The batched source of the mapped function (for ``ad.source``), with a comment line for each
        per-element fallback the last call took."""
        notes = "".join(f"# vmap fell back to one call per batch element: {what} (at {where}).\n"
                        for what, where in self.last_fallbacks)
        return notes + self._batched_source()

    def _batched_source(self):
        if isinstance(self.fn, Transform):
            why = why_not_batched(self.fn)
            if why is not None:
                return (f"# vmap runs this {type(self.fn).__name__.lower()} once per batch element ({why}); "
                        "its generated code:\n" + self.fn.generated_source())
            return "\n".join(f"# vmap of {type(self.fn).__name__.lower()}: {title}\n{source}"
                             for title, source in batched_sources(self.fn))
        target, _ = underlying_function(self.fn)
        if isinstance(target, VMap):
            return target.generated_source()
        if batching_rule_for(target) is not None or isinstance(target, np.ufunc):
            return f"# {batching_runtime.describe(target)} is batched by its rule, not by generated code.\n"
        if not has_source(target):
            return (f"# {batching_runtime.describe(target)} has no source to batch: vmap calls it once per "
                    "batch element.\n")
        return compiled_batched(target).source


def _key_text(key):
    """A dict key for a message: the builtin repr of a plain str or int, else its type (a subclass's own
    __repr__ is user code, and messages run none)."""
    return type(key).__repr__(key) if type(key) in (str, int) else f"<a {type(key).__name__} key>"


def _move_in(x, axis, where, sizes):
    """``x`` with its mapped axis moved to 0, as a Batched (leaves of a tuple, list or dict each)."""
    if isinstance(x, Batched):  # called from batched code: vmap of vmap runs once per outer element
        raise batching_runtime.NeedsLoop("vmap called on a batched value")
    if isinstance(axis, (tuple, list, dict)):
        if isinstance(axis, dict):
            if not isinstance(x, dict) or set(axis) != set(x):
                raise OptionValueError(f"vmap in_axes for {where} is a dict whose keys do not match the argument")
            return type(x)({k: _move_in(x[k], axis[k], f"{where}[{_key_text(k)}]", sizes) for k in x})
        if not isinstance(x, (tuple, list)) or len(axis) != len(x):
            raise OptionValueError(f"vmap in_axes for {where} is a sequence of {len(axis)} that does not match the "
                                   "argument's structure")
        items = [_move_in(e, a, f"{where}[{i}]", sizes) for i, (e, a) in enumerate(zip(x, axis))]
        return items if type(x) is list else type(x)(items)
    if axis is None:
        return x
    if isinstance(x, (tuple, list)):
        items = [_move_in(e, axis, f"{where}[{i}]", sizes) for i, e in enumerate(x)]
        return items if type(x) is list else type(x)(items)
    if isinstance(x, dict):
        return type(x)({k: _move_in(v, axis, f"{where}[{_key_text(k)}]", sizes) for k, v in x.items()})
    array = np.asarray(x)
    if array.ndim == 0:
        raise OptionValueError(f"vmap in_axes={axis} for {where}, but it is a scalar with no axis to map over: "
                               "pass in_axes=None for it")
    if not -array.ndim <= axis < array.ndim:
        raise OptionValueError(f"vmap in_axes={axis} is out of range for {where}, which has {array.ndim} dimensions")
    sizes.append((where, array.shape[axis]))
    return Batched(np.moveaxis(array, axis, 0))


def _refuse_foreign(args, kwargs):
    """vmap runs numpy's batched code, and one call per batch element where an operation has no batching
    rule: neither keeps another library's arrays (a lazy dask array would be computed element by element)."""
    for leaf in _leaves((args, kwargs)):
        if is_foreign(leaf):
            lazy = " and its per-element fallback loop would compute a lazy array element by element" \
                if is_lazy(leaf) else ""
            raise BackendError(
                f"autodiff_st: vmap of a function called on {backend_name(leaf)} arrays is not supported: vmap's "
                f"batched code is numpy code{lazy}.",
                hint=f"Batch the {backend_name(leaf)} computation yourself (the function usually accepts a leading "
                     "batch axis already), or pass numpy arrays to vmap.")


def _leaves(x):
    if isinstance(x, (tuple, list)):
        for item in x:
            yield from _leaves(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from _leaves(item)
    elif trees.is_tree(x):
        for item in trees.children(x):
            yield from _leaves(item)
    else:
        yield x


def _take(x, start, stop):
    if type(x) is Batched:
        return Batched(x.value[start:stop])
    if isinstance(x, (tuple, list)):
        items = [_take(e, start, stop) for e in x]
        return items if type(x) is list else type(x)(items)
    if isinstance(x, dict):
        return type(x)({k: _take(v, start, stop) for k, v in x.items()})
    return x


def _move_out(out, axis, size, where):
    if isinstance(axis, (tuple, list)):
        if not isinstance(out, (tuple, list)) or len(out) != len(axis):
            raise OptionValueError(f"vmap out_axes has {len(axis)} entries but the function's {where} is not a "
                                   "tuple of that length")
        items = [_move_out(o, a, size, f"{where} {i}") for i, (o, a) in enumerate(zip(out, axis))]
        return items if type(out) is list else type(out)(items)
    if isinstance(out, (tuple, list)) and type(out) is not Batched:
        items = [_move_out(o, axis, size, f"{where} {i}") for i, o in enumerate(out)]
        return items if type(out) is list else type(out)(items)
    if isinstance(out, dict):
        return type(out)({k: _move_out(v, axis, size, f"{where} {_key_text(k)}") for k, v in out.items()})
    if axis is None:
        if type(out) is Batched:
            raise OptionValueError(f"vmap out_axes is None for the {where}, but it depends on the mapped axis")
        return out
    if out is None:
        return None
    array = materialize(out, size)
    if not -array.ndim <= axis < array.ndim:
        raise OptionValueError(f"vmap out_axes={axis} is out of range for the {where}, which has {array.ndim - 1} "
                               "dimensions")
    return np.moveaxis(array, 0, axis)


def _concatenate(chunks, axis, first):
    if isinstance(first, dict):
        return type(first)({k: _concatenate([c[k] for c in chunks], axis, first[k]) for k in first})
    if isinstance(first, (tuple, list)):
        axes = axis if isinstance(axis, (tuple, list)) else (axis,) * len(first)
        items = [_concatenate([c[i] for c in chunks], axes[i], first[i]) for i in range(len(first))]
        return items if type(first) is list else type(first)(items)
    if first is None or axis is None:
        return first
    return np.concatenate(chunks, axis=axis)


def vmap(fn: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0, chunk_size: Optional[int] = None,
         progress: bool = False) -> Callable[..., Any]:
    """Map ``fn`` over axis ``in_axes`` of its arguments; the results carry the mapped axis at ``out_axes``.

    ``in_axes`` is an int, None (not mapped), or a tuple with one entry per positional argument; a tuple,
    list or dict argument maps each leaf over the same axis (or over a matching structure of axes).
    ``out_axes`` is an int or a tuple per output. ``chunk_size=k`` runs k batch elements at a time.
    Keyword arguments are passed through unmapped. ``progress=True`` shows a bar over the chunks
    (progress.py). See docs/vmap.md.
    """
    return VMap(fn, in_axes, out_axes, chunk_size, check_progress("vmap", progress))
