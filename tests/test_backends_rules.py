"""The rule table and the two function catalogues on other array libraries (tests/backend_rule_sweep.py).

On dask, every case's gradient is lazy and equal to numpy's, equal after computing a value on the way, or
refused with an AutodiffError naming what dask cannot do; none is wrong and none crashes. On
array-api-strict, whose arrays numpy's ``np.*`` calls do not carry, every transform refuses the arrays at
its entry with a typed error naming the library. The whole rule table runs in
`python tests/backend_rule_sweep.py [--backend strict]`; docs/backends.md has its counts.
"""

import pathlib

import pytest

pytest.importorskip("dask.array", reason="dask is not installed")

from tests.backend_rule_sweep import Dask, Strict, catalogue_cases, rule_cases, sweep  # noqa: E402
from tests.rule_cases import CORE_CASES  # noqa: E402

# The catalogue entries dask refuses, and why: what the library lacks, or an index gradient that needs a
# scatter-add.
CATALOGUE_REFUSALS = {
    "catalogue:dot": "dask.array.routines.dot",  # np.dot of a 0-d Python float and a dask array
    "catalogue:reshape_transpose": "reshape_rechunk",  # a reshape dask cannot do without rechunking
    "control_flow:index_multi_axis": "slice_wrap_lists",  # dask has no nd fancy indexing
    # a boolean mask computed from the data: a dask array of unknown shape, which the gradient must know
    "control_flow:index_mask_from_data": "_sanitize_index_element",
    "control_flow:index_row_mask": "_sanitize_index_element",
    "control_flow:loop_mask_reads": "_sanitize_index_element",
    # integer-array and boolean index gradients need np.add.at
    "control_flow:index_fancy_repeats": "scatter-add",
    "control_flow:index_fancy_literal": "scatter-add",
    "control_flow:index_mask_arg": "scatter-add",
    "control_flow:index_argmax": "scatter-add",
    "control_flow:index_mixed_slice_fancy": "scatter-add",
    "control_flow:loop_fancy_array_repeats": "scatter-add",
}


def _by_name(lines):
    return dict(line.split(": ", 1) for line in lines)


def test_core_rule_cases_on_dask(tmp_path: pathlib.Path):
    counts, details = sweep(rule_cases(CORE_CASES, tmp_path), Dask())
    print(dict(counts))
    assert not details["wrong"] and not details["crash"] and not details["plain fails"], dict(details)
    for line in details["refused"]:
        assert "dask" in line or "scatter-add" in line, line
    assert counts["lazy"] >= 40, counts


def test_both_catalogues_on_dask():
    counts, details = sweep(catalogue_cases(), Dask())
    print(dict(counts))
    assert not details["wrong"] and not details["crash"] and not details["plain fails"], dict(details)
    refused = _by_name(details["refused"])
    assert set(refused) == set(CATALOGUE_REFUSALS), sorted(set(refused) ^ set(CATALOGUE_REFUSALS))
    for name, why in refused.items():
        assert CATALOGUE_REFUSALS[name] in why, (name, why)
    # what is computed on the way, the user's own function computes too (a branch on a value)
    assert not details["eager"], details["eager"]
    assert counts["lazy"] >= 160, counts


def test_core_rule_cases_on_array_api_strict(tmp_path: pathlib.Path):
    pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    counts, details = sweep(rule_cases(CORE_CASES, tmp_path), Strict())
    print(dict(counts))
    assert set(counts) <= {"refused", "no array"}, dict(counts)
    for line in details["refused"]:
        assert "array_api_strict" in line, line
    assert counts["refused"] >= 40
