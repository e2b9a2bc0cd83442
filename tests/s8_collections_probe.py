"""Probe: run each container construct (tests/s8_collection_cases.py) through reverse and forward mode at
order 2 (ad.testing.check_grads, values included), jacrev against jacfwd, and hessian against finite
differences of grad, and record pass / refused / crash / wrong. Run from the repository root:

    PYTHONPATH=$PWD python tests/s8_collections_probe.py
"""

import collections
import os
import sys
import traceback

import numpy as np

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # after PYTHONPATH

import autodiff_st as ad  # noqa: E402
from autodiff_st.core.errors import AutodiffError  # noqa: E402
from tests.s8_collection_cases import CASES  # noqa: E402


class Wrong(Exception):
    pass


def close(a, b, tol):
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(close(p, q, tol) for p, q in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=tol, atol=tol)


def fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def checks(fn, args, aux):
    x, rest = args[0], args[1:]
    if aux:
        def value(xx):
            return fn(xx, *rest)[0]
    else:
        def value(xx):
            return fn(xx, *rest)

    def check_rev():
        if aux:
            (g, a) = ad.grad(fn, has_aux=True)(*args)
            if not close(a, fn(*args)[1:], 1e-9):
                raise Wrong("aux value")
            if not close(g, fd_grad(value, x), 1e-5):
                raise Wrong("grad with has_aux")
            return
        ad.testing.check_grads(fn, args, order=2, modes=("rev",))

    def check_fwd():
        if aux:
            out, tangent, a = ad.jvp(fn, args, (np.ones_like(x),) + tuple(0.0 * np.asarray(r) for r in rest), has_aux=True)
            if not close(out, value(x), 1e-9) or not close(a, fn(*args)[1], 1e-9):
                raise Wrong("jvp value")
            if not close(tangent, np.sum(fd_grad(value, x)), 1e-5):
                raise Wrong("jvp tangent")
            return
        ad.testing.check_grads(fn, args, order=2, modes=("fwd",))

    def check_jacobians():
        rev = ad.jacrev(fn, has_aux=aux)(*args)
        fwd = ad.jacfwd(fn, has_aux=aux)(*args)
        if not close(rev, fwd, 1e-8):
            raise Wrong("jacrev != jacfwd")

    def check_hessian():
        hess = ad.hessian(fn, has_aux=aux)(*args)
        if aux:
            hess = hess[0]
        grad = ad.grad(fn, has_aux=aux)

        def grad_at(xx):
            g = grad(xx, *rest)
            return g[0] if aux else g
        numeric = np.stack([fd_grad(lambda xx: grad_at(xx)[i], x, 1e-5) for i in range(x.size)])
        if not close(hess, numeric, 1e-4):
            raise Wrong("hessian != finite differences of grad")

    return {"rev2": check_rev, "fwd2": check_fwd, "jac": check_jacobians, "hess": check_hessian}


def probe(fn, args, aux):
    results = {}
    for name, check in checks(fn, args, aux).items():
        try:
            check()
        except AutodiffError as exc:
            results[name] = ("refused", type(exc).__name__ + ": " + exc.bare_message.splitlines()[0][:100])
        except (Wrong, AssertionError) as exc:
            results[name] = ("WRONG", str(exc)[:120])
        except Exception as exc:  # noqa: BLE001 - the probe records crashes
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            results[name] = ("crash", f"{type(exc).__name__}: {str(exc)[:80]} @ {os.path.basename(tb.filename)}:{tb.lineno}")
        else:
            results[name] = ("pass", "")
    return results


def main():
    counts = collections.Counter()
    by_group = collections.defaultdict(collections.Counter)
    for group, name, fn, args in CASES:
        res = probe(fn, args, aux=name.startswith("aux"))
        for check, (status, detail) in res.items():
            counts[status] += 1
            by_group[group][status] += 1
            print(f"{group:14s} {name:26s} {check:5s} {status:8s} {detail}", flush=True)
    print()
    for group, c in by_group.items():
        print(f"{group}: {dict(c)}")
    print("totals:", dict(counts))


if __name__ == "__main__":
    main()
