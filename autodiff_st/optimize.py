"""Stage 6, optimize: drop adjoint code whose result nothing reads.

The reverse pass already skips statements whose result has no adjoint. What is left to clean up are
pieces of inlined rules that the call site did not need, such as a shared intermediate computed for a
cotangent that was dropped.
"""

import gast


def _loads(stmt):
    return {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _stores(stmt):
    return {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def drop_dead_assignments(statements, live):
    """Remove assignments, scanning backwards, whose targets are not read later or in ``live``."""
    live = set(live)
    kept = []
    for stmt in reversed(statements):
        targets = _stores(stmt)
        if isinstance(stmt, gast.Assign) and targets and not (targets & live):
            continue
        live = (live - targets) | _loads(stmt)
        kept.append(stmt)
    kept.reverse()
    return kept
