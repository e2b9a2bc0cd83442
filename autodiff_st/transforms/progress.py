"""``progress=True`` on ``jacrev``, ``jacfwd``, ``hessian`` and ``vmap``: a progress bar over the passes
through generated code.

A transform made with ``progress=True`` reports while it runs. What it counts is *passes*: one batched
pass over a chunk of rows (jacrev) or columns (jacfwd, vmap's chunks), or one unbatched pass per row or
column (``chunk_size=1``, hessian's columns). A call that runs as one batched pass shows ``1`` pass.

- With tqdm installed, a tqdm bar on stderr, shown only once the call has run ``DELAY_SECONDS`` (2 s):
  quick calls print nothing.
- Without tqdm, a warning once per process through the ``"autodiff_st"`` logger, then INFO records on that
  logger at most every ``DELAY_SECONDS`` while the call runs (``logging.basicConfig(level=logging.INFO)``
  shows them).

The transform's ``__call__`` opens a report (``with_progress``); its loops wrap their iterables in
``track``, which counts only while a report is open. A transform called inside another one (the pieces
of ``jacrev(jacrev(f))``, pytree inputs) adds its passes to the open report when it has ``progress=True``
itself, and counts nothing when it has not.
"""

import contextvars
import functools
import logging
import time

from ..core.errors import OptionTypeError
from ..core.tracebacks import user_facing

try:
    from tqdm import tqdm
except ImportError:  # tqdm is optional: without it, progress goes to the logger
    tqdm = None

log = logging.getLogger("autodiff_st")

DELAY_SECONDS = 2.0  # a call shows progress only once it has run this long
_active = contextvars.ContextVar("autodiff_st_progress", default=None)
_warned = []  # one warning per process that tqdm is missing


def check_progress(owner, progress):
    if not isinstance(progress, bool):
        raise OptionTypeError(f"{owner} takes progress=True or False, not {type(progress).__name__}.")
    return progress


class Report:
    """The progress of one call: a tqdm bar, or INFO records on the logger."""

    def __init__(self, label):
        self.label = label
        self.total = 0
        self.done = 0
        self.start = time.perf_counter()
        self.last_log = self.start
        self.bar = None
        if tqdm is not None:
            self.bar = tqdm(total=0, desc=label, unit="pass", delay=DELAY_SECONDS)
        elif not _warned:
            _warned.append(True)
            log.warning("progress=True shows a bar when tqdm is installed (pip install tqdm); without it, "
                        "progress goes to the 'autodiff_st' logger at INFO level every %.0f s.", DELAY_SECONDS)

    def grow(self, count):
        self.total += count
        if self.bar is not None:
            self.bar.total = self.total

    def advance(self):
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last_log >= DELAY_SECONDS and now - self.start >= DELAY_SECONDS:
            self.last_log = now
            log.info("%s: %d/%d passes, %.1f s", self.label, self.done, self.total, now - self.start)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif time.perf_counter() - self.start >= DELAY_SECONDS:
            log.info("%s: %d/%d passes, done in %.1f s", self.label, self.done, self.total,
                     time.perf_counter() - self.start)


def _label(transform):
    fn = getattr(transform, "fn", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{type(transform).__name__.lower()} of {name}"


def run_reporting(transform, call, args, kwargs):
    """Run ``call(*args, **kwargs)`` with a report open when the transform has ``progress=True``."""
    enabled = getattr(transform, "progress", False)
    current = _active.get()
    if enabled and current is not None:  # inside a call that reports already: add to its passes
        return call(*args, **kwargs)
    report = Report(_label(transform)) if enabled else None
    token = _active.set(report)
    try:
        return call(*args, **kwargs)
    finally:
        _active.reset(token)
        if report is not None:
            report.close()


def with_progress(cls):
    """Class decorator: ``cls.__call__`` runs with a report open when the instance has ``progress=True``
    (inside the boundary that points tracebacks at the user's lines)."""
    call = getattr(cls.__call__, "__wrapped__", cls.__call__)

    @functools.wraps(call)
    def reporting_call(self, *args, **kwargs):
        return run_reporting(self, call, (self,) + args, kwargs)

    cls.__call__ = user_facing(reporting_call)
    return cls


def track(iterable):
    """``iterable``, counted as passes of the open report (as it is when no report is open)."""
    report = _active.get()
    if report is None:
        return iterable
    return _counted(iterable, report)


def _counted(iterable, report):
    items = list(iterable)
    report.grow(len(items))
    for item in items:
        yield item
        report.advance()
