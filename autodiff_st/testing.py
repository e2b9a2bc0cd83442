"""Check derivatives against central finite differences.

``check_grads`` picks random directions ``u`` (in the inputs) and ``v`` (in the output), and compares
``<v, J u>`` from a central finite difference of ``fn`` with ``<J^T v, u>`` from the generated adjoint.
At order 2 it repeats the check on the generated gradient function itself, so the adjoint's own
derivatives, which higher-order transforms rely on, are checked as well. Wherever it checks a derivative
it also checks the value the generated code computes alongside it against the plain function's: a
transform must never change what the function returns.
"""

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .core import trees
from .compiler.cache import adjoint_functions
from .runtime.calls import argument_kinds
from .transforms.checks import target_of


def _plain(x):
    """A pytree object (dataclass, NamedTuple, registered class) as the tuple of its children, None for a
    child that holds no float: the structure its cotangents and tangents have in generated code."""
    if trees.is_tree(x):
        return tuple(_plain(c) if trees.holds_floats(c) else None for c in trees.children(x))
    return x


def _is_differentiable(x):
    if trees.is_tree(x):
        kids = [c for c in trees.children(x) if trees.holds_floats(c)]
        return len(kids) > 0 and all(_is_differentiable(c) for c in kids)
    if isinstance(x, (tuple, list)):
        return len(x) > 0 and all(_is_differentiable(e) for e in x)
    if isinstance(x, dict):
        return len(x) > 0 and all(_is_differentiable(e) for e in x.values())
    if isinstance(x, bool):
        return False
    if isinstance(x, (float, np.floating)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def _random_like(x, rng):
    if trees.is_tree(x):  # an object of x's class; children without floats stay
        return trees.rebuild(x, [_random_like(c, rng) if trees.holds_floats(c) else c for c in trees.children(x)])
    if isinstance(x, (tuple, list)):
        return type(x)(_random_like(e, rng) for e in x)
    if isinstance(x, dict):
        return {k: _random_like(v, rng) for k, v in x.items()}
    if np.iscomplexobj(x):  # a complex output gets a complex cotangent: both parts are checked
        return rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x))
    if isinstance(x, (float, np.floating)) or np.ndim(x) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def _inner(a, b):
    a, b = _plain(a), _plain(b)
    if isinstance(a, dict):
        return sum(_inner(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return sum(_inner(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return 0.0
    if np.iscomplexobj(a) or np.iscomplexobj(b):  # the pairing Re(sum(a * b)) of rules/elementwise.py
        return float(np.real(np.sum(np.asarray(a, dtype=np.complex128) * np.asarray(b, dtype=np.complex128))))
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def _numeric_output(out):
    out = _plain(out)
    if isinstance(out, (tuple, list)):
        return tuple(_numeric_output(o) for o in out)
    if isinstance(out, dict):
        return {k: _numeric_output(v) for k, v in out.items()}
    if out is None or isinstance(out, (str, bool, int)) and not isinstance(out, float):
        return None
    return out


def _copied(args):
    """The arguments with every array copied: the plain function may write into its inputs."""
    if trees.is_tree(args):
        return trees.rebuild(args, [_copied(a) for a in trees.children(args)])
    if isinstance(args, (tuple, list)):
        return type(args)(_copied(a) for a in args)
    if isinstance(args, dict):
        return {k: _copied(v) for k, v in args.items()}
    return args.copy() if isinstance(args, np.ndarray) else args


def _same_value(got, expected, rtol, atol):
    if trees.is_tree(expected):
        return type(got) is type(expected) and all(
            _same_value(g, e, rtol, atol) for g, e in zip(trees.children(got), trees.children(expected)))
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(
            _same_value(got[k], expected[k], rtol, atol) for k in expected)
    if isinstance(expected, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(expected) and all(
            _same_value(g, e, rtol, atol) for g, e in zip(got, expected))
    if expected is None or isinstance(expected, (str, bool)):
        return got == expected
    try:
        return np.shape(got) == np.shape(expected) and bool(
            np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))
    except TypeError:
        return got == expected


def _check_value(fn, target, prefix, args, got, mode, rtol, atol):
    """Raise unless ``got``, the value a generated function computed, equals the plain function's."""
    expected = target(*prefix, *_copied(args))
    if not _same_value(got, expected, rtol, atol):
        raise AssertionError(
            f"check_grads: the value computed by the {mode} code of {getattr(fn, '__qualname__', fn)} "
            f"differs from the plain function's: {got!r}, plain function = {expected!r}.")


def _step(x, direction, size):
    if trees.is_tree(x):
        return trees.rebuild(x, [_step(c, d, size) if trees.holds_floats(c) else c
                                 for c, d in zip(trees.children(x), trees.children(direction))])
    if isinstance(x, (tuple, list)):
        return type(x)(_step(e, d, size) for e, d in zip(x, direction))
    if isinstance(x, dict):
        return {k: _step(v, direction[k], size) for k, v in x.items()}
    if isinstance(x, float):
        return float(x + direction * size)
    return x + np.asarray(direction) * size


def check_grads(fn: Callable[..., Any], args: Sequence[Any], order: int = 2, modes: Iterable[str] = ("rev", "fwd"),
                eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Raise AssertionError unless ``fn``'s derivatives at ``args`` match finite differences.

    Every float or float-array argument is differentiated; other arguments are passed through.
    ``modes`` names the modes to check: "rev" compares ``<J^T v, u>`` from the generated adjoint, and
    "fwd" compares ``<v, J u>`` from the generated tangent function, each with a central finite
    difference; each mode's value must also equal ``fn``'s own. At order 2 the same checks run on the
    generated gradient function.
    """
    modes = tuple(modes)
    unknown = set(modes) - {"rev", "fwd"}
    if unknown:
        raise ValueError(f"unknown modes {sorted(unknown)}: use 'rev' and/or 'fwd'")
    args = tuple(args)
    positions = tuple(i for i, a in enumerate(args) if _is_differentiable(a))
    if not positions:
        raise ValueError("check_grads: no float argument to differentiate")
    rng = np.random.default_rng(seed)
    target, prefix = target_of(fn)
    offset = len(prefix)
    shifted = tuple(p + offset for p in positions)
    if "rev" in modes:
        _check_reverse(fn, target, prefix, args, positions, shifted, rng, eps, rtol, atol)
    if "fwd" in modes:
        _check_forward(fn, target, prefix, args, positions, shifted, rng, eps, rtol, atol)
    if order >= 2:
        fused = adjoint_functions(target, shifted, "grad", argument_kinds(prefix + args))[0]
        check_grads(fused, prefix + args, order=order - 1, modes=modes, eps=eps, rtol=rtol * 10,
                    atol=atol * 10, seed=seed + 1)


def _check_reverse(fn, target, prefix, args, positions, shifted, rng, eps, rtol, atol):
    forward, backward = adjoint_functions(target, shifted, "vjp", argument_kinds(prefix + args))
    out, residuals = forward(*prefix, *_copied(args))
    _check_value(fn, target, prefix, args, out, "reverse-mode", rtol, atol)
    out = _numeric_output(out)
    v = _random_like(out, rng)
    grads = backward(residuals, v)
    u = {p: _random_like(args[p], rng) for p in positions}
    analytic = sum(_inner(g, u[p]) for g, p in zip(grads, positions))
    _compare_with_finite_difference(fn, target, prefix, args, positions, u, v, analytic, eps, rtol, atol,
                                    "reverse-mode", "<J^T v, u>")


def _compare_with_finite_difference(fn, target, prefix, args, positions, u, v, analytic, eps, rtol, atol, mode, what):
    """Raise unless ``analytic`` equals ``<v, J u>`` by a central finite difference of ``target``."""

    def shifted_args(sign):
        new = list(args)
        for p in positions:
            new[p] = _step(args[p], u[p], sign * eps)
        return new

    plus = _numeric_output(target(*prefix, *shifted_args(+1)))
    minus = _numeric_output(target(*prefix, *shifted_args(-1)))
    numeric = (_inner(v, plus) - _inner(v, minus)) / (2 * eps)
    scale = max(1.0, abs(numeric), abs(analytic))
    if not abs(analytic - numeric) <= atol + rtol * scale * 10:
        raise AssertionError(
            f"check_grads: the {mode} derivative of {getattr(fn, '__qualname__', fn)} disagrees with "
            f"central finite differences: {what} = {analytic!r}, finite difference = {numeric!r}.")


def _check_forward(fn, target, prefix, args, positions, shifted, rng, eps, rtol, atol):
    (tangent_fn,) = adjoint_functions(target, shifted, "jvp", argument_kinds(prefix + args))
    u = {p: _random_like(args[p], rng) for p in positions}
    out, out_dot = tangent_fn(tuple(u[p] for p in positions), *prefix, *_copied(args))
    _check_value(fn, target, prefix, args, out, "forward-mode", rtol, atol)
    out = _numeric_output(out)
    v = _random_like(out, rng)
    analytic = _inner(v, _numeric_output(out_dot))
    _compare_with_finite_difference(fn, target, prefix, args, positions, u, v, analytic, eps, rtol, atol,
                                    "forward-mode", "<v, J u>")
