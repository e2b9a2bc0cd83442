"""The core rule table (tests/rule_cases.py's CORE_CASES) on dask arrays: every case's gradient is lazy and
equal to numpy's, equal after computing a value on the way, or refused with an AutodiffError; none is wrong
and none crashes. The whole table runs in `python tests/backend_rule_sweep.py` (docs/backends.md has its
counts)."""

import collections
import pathlib

import numpy as np
import pytest

pytest.importorskip("dask.array", reason="dask is not installed")

from tests.backend_rule_sweep import classify  # noqa: E402
from tests.rule_cases import CORE_CASES  # noqa: E402
from tests.rule_harness import build_module, sample_args  # noqa: E402


def test_core_rule_cases_on_dask(tmp_path: pathlib.Path):
    module = build_module(CORE_CASES, tmp_path)
    counts, bad = collections.Counter(), []
    for i, c in enumerate(CORE_CASES):
        kind, why = classify(getattr(module, f"wrapper_{i}"), sample_args(c, np.random.default_rng(i)))
        counts[kind] += 1
        if kind in ("wrong", "crash"):
            bad.append(f"{c.id}: {kind} {why}")
    print(dict(counts))
    assert not bad, bad
    assert counts["lazy"] >= 40, counts
