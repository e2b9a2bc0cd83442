"""The rule table and the two function catalogues on other array libraries (tests/backend_rule_sweep.py).

On dask, every case's gradient is lazy and equal to numpy's, equal after computing a value on the way,
refused with an AutodiffError, or fails as the user's own function fails on dask arrays; none is wrong, and
the only crashes are the listed ones. On array-api-strict, whose arrays numpy's ``np.*`` calls do not carry,
every transform refuses the arrays at its entry with a typed error. The whole rule table runs in
`python tests/backend_rule_sweep.py [--backend strict]`; docs/backends.md has its counts.
"""

import pathlib

import numpy as np
import pytest

pytest.importorskip("dask.array", reason="dask is not installed")

from tests.backend_rule_sweep import Dask, Strict, catalogue_cases, rule_cases, sweep  # noqa: E402
from tests.rule_cases import CORE_CASES  # noqa: E402

# A boolean mask computed from the data gives dask an array of unknown shape (nan), which the gradient's
# reshape cannot take: a crash today, to become a typed refusal.
KNOWN_CRASHES = {"control_flow:index_mask_from_data", "control_flow:index_row_mask", "control_flow:loop_mask_reads"}

# The user's own function fails on dask arrays (and the transform fails the same way).
# dask raises a ValueError for lu of chunks that are not square; docs/backends.md says a library's error under
# a transform becomes a BackendError, which does not happen on this branch (to fix where calls are wrapped).
KNOWN_RULE_CRASHES = {"slogdet-835"}

PLAIN_FAILS = {"catalogue:dot", "catalogue:reshape_transpose", "control_flow:index_multi_axis"}


def _names(lines):
    return {line.split(": ")[0] for line in lines}


def test_core_rule_cases_on_dask(tmp_path: pathlib.Path):
    counts, details = sweep(rule_cases(CORE_CASES, tmp_path), Dask())
    print(dict(counts))
    assert not details["wrong"], details["wrong"]
    assert _names(details["crash"]) <= KNOWN_RULE_CRASHES, details["crash"]
    assert counts["lazy"] >= 40, counts


def test_both_catalogues_on_dask():
    counts, details = sweep(catalogue_cases(), Dask())
    print(dict(counts))
    assert not details["wrong"], details["wrong"]
    assert _names(details["crash"]) <= KNOWN_CRASHES, details["crash"]
    assert _names(details["plain fails"]) <= PLAIN_FAILS, details["plain fails"]
    for line in details["refused"]:
        assert "dask.array" in line or "autodiff_st" in line, line
    assert counts["lazy"] >= 150, counts


def test_core_rule_cases_on_array_api_strict(tmp_path: pathlib.Path):
    pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    counts, details = sweep(rule_cases(CORE_CASES, tmp_path), Strict())
    print(dict(counts))
    assert set(counts) <= {"refused", "no array"}, dict(counts)
    for line in details["refused"]:
        assert "array_api_strict" in line, line
    assert counts["refused"] >= 40
