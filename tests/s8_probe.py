"""Probe: run each step-8 construct (tests/s8_constructs.py) through ad.grad, ad.jacfwd and ad.hessian
(jacfwd(jacrev) for a function whose output is not a scalar) and record pass / refused / crash / wrong. Run from the repository root:

    PYTHONPATH=$PWD python tests/s8_probe.py
"""

import collections
import os
import sys
import traceback

import numpy as np

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # after PYTHONPATH

import autodiff_st as ad  # noqa: E402
from autodiff_st.core.errors import AutodiffError  # noqa: E402
from tests.s8_constructs import CASES  # noqa: E402


def numeric_jacobian(f, x, eps=1e-5):
    x = np.asarray(x, dtype=float)
    out0 = np.asarray(f(x if x.ndim else float(x)), dtype=float)
    jac = np.zeros(out0.shape + x.shape)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        plus = np.asarray(f(x + d if x.ndim else float(x + d)), dtype=float)
        minus = np.asarray(f(x - d if x.ndim else float(x - d)), dtype=float)
        jac[(...,) + i] = (plus - minus) / (2 * eps)
    return jac


def probe(fn, args):
    rest = args[1:]
    x0 = args[0]

    def of_x(x):
        return fn(x, *rest)

    results = {}
    transforms = {
        "grad": (lambda: ad.grad(fn)(*args),
                 lambda: numeric_jacobian(lambda x: np.sum(of_x(x)), x0)),
        "jacfwd": (lambda: ad.jacfwd(fn)(*args), lambda: numeric_jacobian(of_x, x0)),
        "hessian": (lambda: (ad.hessian(fn) if np.ndim(of_x(x0)) == 0 else ad.jacfwd(ad.jacrev(fn)))(*args),
                    lambda: numeric_jacobian(lambda x: numeric_jacobian(of_x, x, 1e-4), x0, 1e-4)),
    }
    for name, (got_fn, expected_fn) in transforms.items():
        try:
            got = got_fn()
        except AutodiffError as exc:
            results[name] = ("refused", exc.bare_message.splitlines()[0][:110])
            continue
        except Exception as exc:  # noqa: BLE001 - the probe records crashes
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            results[name] = ("crash", f"{type(exc).__name__}: {str(exc)[:80]} @ {os.path.basename(tb.filename)}:{tb.lineno}")
            continue
        expected = expected_fn()
        tol = 1e-4 if name == "hessian" else 1e-6
        ok = np.shape(got) == np.shape(expected) and np.allclose(got, expected, rtol=tol, atol=tol)
        results[name] = ("pass", "") if ok else ("WRONG", f"got {np.shape(got)} expected {np.shape(expected)}")
    return results


def main():
    counts = collections.Counter()
    for group, name, fn, args in CASES:
        res = probe(fn, args)
        for transform, (status, detail) in res.items():
            counts[status] += 1
            print(f"{group:11s} {name:24s} {transform:8s} {status:8s} {detail}")
    print()
    print("totals:", dict(counts))


if __name__ == "__main__":
    main()
