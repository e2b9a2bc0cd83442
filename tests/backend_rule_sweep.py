"""The rule table and the two function catalogues on another array library, each case's gradient against numpy's.

    PYTHONPATH=. python tests/backend_rule_sweep.py [--backend dask|strict] [--catalogues] [--verbose]

A case is, on dask:

- *lazy* when the gradient is a dask array built without computing anything and equals numpy's to 1e-12;
- *eager* when it is equal but something was computed on the way (a value the rule reads on the driver);
- *plain eager* when it is equal and the user's own function computes something on those arrays too (a
  branch on a value, a scipy function that converts its argument): the gradient cannot be lazier;

and on array-api-strict:

- *native* when the gradient is an array-api-strict array equal to numpy's;
- *converted* when it is equal but numpy's: the user's ``np.*`` call converted the array to numpy (numpy's
  protocols do not carry a call to array-api-strict), and the adjoint followed it;

and on both:

- *refused* when an AutodiffError (a BackendError, or the refusal numpy gets too) says why;
- *plain fails* when the gradient raised and the user's own function raises on those arrays too (for example
  ``x.cumprod()`` on a dask array, whose method needs an axis): the transform fails as the function does;
- *no array* when the case has no float array argument;
- *wrong* when it differs, *crash* for any other exception.

Not part of `make test` as a whole (it takes minutes); tests/test_backends_rules.py runs parts of it and
docs/backends.md reports its counts.
"""

import collections
import contextlib
import pathlib
import sys
import tempfile
import warnings

import numpy as np

import autodiff_st as ad
from tests.rule_harness import build_module, sample_args


class Computed(Exception):
    pass


def _refuse_compute(*args, **kwargs):
    raise Computed()


def _floats(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.ndim >= 1


class Dask:
    name = "dask"
    good = "lazy"

    def __init__(self):
        import dask
        import dask.array as da
        self.dask, self.da = dask, da

    def convert(self, a):
        if _floats(a):
            return self.da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape))
        return a

    def guard(self):
        return self.dask.config.set(scheduler=_refuse_compute)

    def native(self, x):
        return isinstance(x, self.da.Array)

    def to_numpy(self, x):
        return np.asarray(self.dask.compute(x, scheduler="sync")[0])


class Strict:
    name = "strict"
    good = "native"

    def __init__(self):
        import array_api_strict
        self.xp = array_api_strict
        self.array = type(array_api_strict.asarray(0.0))

    def convert(self, a):
        return self.xp.asarray(a) if _floats(a) else a

    def guard(self):
        return contextlib.nullcontext()

    def native(self, x):
        return isinstance(x, self.array)

    def to_numpy(self, x):
        return np.from_dlpack(x) if isinstance(x, self.array) else np.asarray(x)


BACKENDS = {"dask": Dask, "strict": Strict}


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [leaf for item in r for leaf in _leaves(item)]
    return [r]


def _close(backend, got, want):
    got, want = _leaves(got), _leaves(want)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        g = backend.to_numpy(g)
        if np.shape(g) != np.shape(w) or not np.allclose(g, w, rtol=1e-10, atol=1e-12, equal_nan=True):
            return False
    return True


def _first_line(error):
    return (str(error).splitlines() or [""])[0][:120]


def _plain_is_lazy(fn, bargs, backend):
    """Whether the user's own function runs on these arrays without computing anything."""
    try:
        with backend.guard():
            fn(*bargs)
    except Computed:
        return False
    except Exception:  # noqa: BLE001
        return True
    return True


def classify(fn, args, backend=None):
    """The class of ``ad.grad(fn)`` with respect to every float array argument, on ``backend`` (dask by
    default), and a short reason."""
    backend = backend or Dask()
    positions = tuple(i for i, a in enumerate(args) if _floats(a))
    if not positions:
        return "no array", ""
    try:
        want = ad.grad(fn, argnums=positions)(*args)
    except Exception as error:  # noqa: BLE001
        return "numpy fails", type(error).__name__
    bargs = tuple(backend.convert(a) for a in args)
    computed = False
    try:
        try:
            with backend.guard():
                got = ad.grad(fn, argnums=positions)(*bargs)
        except Computed:
            computed = True
            got = ad.grad(fn, argnums=positions)(*bargs)
    except ad.AutodiffError as error:
        return "refused", _first_line(error)
    except Exception as error:  # noqa: BLE001
        try:
            fn(*bargs)
        except Exception as plain:  # noqa: BLE001
            return "plain fails", f"{type(plain).__name__}: {_first_line(plain)}"
        return "crash", f"{type(error).__name__}: {_first_line(error)}"
    try:
        ok = _close(backend, got, want)
    except Exception as error:  # noqa: BLE001
        return "crash", f"computing: {type(error).__name__}: {_first_line(error)}"
    if not ok:
        return "wrong", ""
    native = all(backend.native(g) for g in _leaves(got))
    if backend.name == "dask":
        if native and not computed:
            return "lazy", ""
        return ("eager" if _plain_is_lazy(fn, bargs, backend) else "plain eager"), ""
    return ("native" if native else "converted"), ""


def rule_cases(cases, tmp):
    """(id, fn, args) of each rule case."""
    module = build_module(cases, pathlib.Path(tmp))
    return [(c.id, getattr(module, f"wrapper_{i}"), sample_args(c, np.random.default_rng(i)))
            for i, c in enumerate(cases)]


def catalogue_cases():
    """(id, fn, args) of each entry of the two function catalogues (tests/test_catalogue.py and
    tests/test_control_flow.py)."""
    from tests import test_catalogue, test_control_flow
    out = [(f"catalogue:{c.name}", c.fn, c.args()) for c in test_catalogue.CATALOGUE]
    for c in test_control_flow.CATALOGUE:
        fn, args = test_control_flow._resolve(c)
        out.append((f"control_flow:{c.name}", fn, args))
    return out


def sweep(cases, backend):
    counts, details = collections.Counter(), collections.defaultdict(list)
    for name, fn, args in cases:
        kind, why = classify(fn, args, backend)
        counts[kind] += 1
        details[kind].append(f"{name}: {why}")
    return counts, details


def main(argv):
    warnings.simplefilter("ignore")
    backend = BACKENDS[argv[argv.index("--backend") + 1] if "--backend" in argv else "dask"]()
    if "--catalogues" in argv:
        cases = catalogue_cases()
    else:
        from tests.rule_cases import CASES
        cases = rule_cases(CASES, tempfile.mkdtemp())
    counts, details = sweep(cases, backend)
    print(backend.name, dict(counts))
    shown = ("wrong", "crash", "plain fails", "refused", "eager", "plain eager", "converted") if "--verbose" in argv else (
        "wrong", "crash", "plain fails")
    for kind in shown:
        for line in details[kind]:
            print(f"  {kind}: {line}")


if __name__ == "__main__":
    main(sys.argv)
