"""The rule table on dask arrays: each case's gradient on dask arrays against numpy's, by class.

    PYTHONPATH=. python tests/backend_rule_sweep.py [--verbose]

A case is *lazy* when the gradient is a dask array built without computing anything and equals numpy's to
1e-12; *eager* when it is equal but something was computed on the way (a value the rule reads on the
driver, or a numpy result); *refused* when an AutodiffError says why; *wrong* when it differs; *crash*
for any other exception. Not part of `make test` (it takes minutes); docs/backends.md reports its counts.
"""

import collections
import pathlib
import sys
import tempfile
import warnings

import numpy as np
import dask
import dask.array as da

import autodiff_st as ad
from tests.rule_cases import CASES
from tests.rule_harness import build_module, sample_args


class Computed(Exception):
    pass


def _refuse_compute(*args, **kwargs):
    raise Computed()


def _to_dask(a):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.ndim >= 1:
        return da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape))
    return a


def _close(got, want):
    if isinstance(want, (tuple, list)):
        return len(got) == len(want) and all(_close(g, w) for g, w in zip(got, want))
    got = np.asarray(dask.compute(got, scheduler="sync")[0])
    return np.shape(got) == np.shape(want) and np.allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True)


def classify(fn, args):
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    if not positions:
        return "no array", ""
    try:
        want = ad.grad(fn, argnums=positions)(*args)
    except Exception as error:  # noqa: BLE001
        return "numpy fails", type(error).__name__
    dargs = tuple(_to_dask(a) for a in args)
    try:
        with dask.config.set(scheduler=_refuse_compute):
            got = ad.grad(fn, argnums=positions)(*dargs)
        lazy = all(isinstance(g, da.Array) for g in (got if isinstance(got, tuple) else (got,)))
    except Computed:
        lazy = False
        try:
            got = ad.grad(fn, argnums=positions)(*dargs)
        except ad.AutodiffError as error:
            return "refused", str(error).splitlines()[0][:120]
        except Exception as error:  # noqa: BLE001
            return "crash", f"{type(error).__name__}: {str(error)[:100]}"
    except ad.AutodiffError as error:
        return "refused", str(error).splitlines()[0][:120]
    except Exception as error:  # noqa: BLE001
        return "crash", f"{type(error).__name__}: {str(error)[:100]}"
    try:
        ok = _close(got, want)
    except Exception as error:  # noqa: BLE001
        return "crash", f"computing: {type(error).__name__}: {str(error)[:100]}"
    return ("lazy" if lazy else "eager") if ok else "wrong", ""


def main(argv):
    warnings.simplefilter("ignore")
    module = build_module(CASES, pathlib.Path(tempfile.mkdtemp()))
    counts, details = collections.Counter(), collections.defaultdict(list)
    for i, c in enumerate(CASES):
        fn = getattr(module, f"wrapper_{i}")
        kind, why = classify(fn, sample_args(c, np.random.default_rng(i)))
        counts[kind] += 1
        details[kind].append(f"{c.id}: {why}")
    print(dict(counts))
    for kind in ("wrong", "crash", "refused", "eager") if "--verbose" in argv else ("wrong", "crash"):
        for line in details[kind]:
            print(f"  {kind}: {line}")


if __name__ == "__main__":
    main(sys.argv)
