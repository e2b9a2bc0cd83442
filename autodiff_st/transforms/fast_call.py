"""The cached call of a ``grad``: one generated function per argument kinds that does only what those kinds
need, made when the full path has recorded a call (transforms/grad.py).

``fast_caller(...)`` returns a function of the transform's positional arguments (and keywords) that either
runs the generated gradient and returns what the transform returns, or returns ``MISS`` without running
anything, and the transform then takes its full path (which compiles or recompiles as needed and makes a
new fast caller). For one 1-d float64 array differentiated by ``ad.grad`` it reads

    def fast_call_of_f(a0, **kw):
        if not (type(a0) is ndarray and a0.ndim == 1 and ((t0 := a0.dtype) is d0 or t0 == d0)):
            return MISS
        if GENERATION[0] != generation:
            return MISS
        try:
            if G['np'] is not o0:
                return MISS
        except KeyError:
            return MISS
        out, g0 = fused(a0, **kw) if kw else fused(a0)
        if not (type(g0) is ndarray and (g0.dtype is t0 or g0.dtype == t0) and g0.shape == a0.shape
                and g0.flags.writeable):
            g0 = matched(g0, a0)
        return g0

Each line is an exact equivalent of a check of the full path, or a stricter one that answers MISS:

- the kinds test is ``argument_kinds(args) == kinds`` (runtime/calls.py) without building the tuple; an
  array's ``ndim`` and ``dtype`` are read on every call, as both can be assigned;
- the validity test is the compiled module's ``still_valid(target)`` (compiler/pipeline.py) unrolled over
  its guards: the generation counter that ``clear_cache`` bumps, each global guard read from the
  function's globals (a name missing there, or one that was a builtin, answers MISS unless it is still
  absent and the builtin is the same object), each closure guard from its cell (an empty cell answers
  MISS);
- an ndarray input whose kind matched is not checked again: the full call that recorded the kinds ran
  ``check_input`` on an array of that dtype, and for an ndarray that check reads the dtype alone. Numbers
  other than ``float`` (``int``, ``bool``, ``np.float64`` share the kind) and other kinds still run
  ``check_input``, which refuses integers and complex numbers;
- the gradient of an array is returned as it is when it is an ndarray of the input's dtype and shape that
  may be written; otherwise, and for every other kind, it goes through ``match_input``, as on the full
  path. A float input gets ``float(g)``.

The function is compiled under a file name in this package, so that tracebacks drop its frame as they
drop the library's other frames.
"""

import builtins
import os

import numpy as np

from ..compiler.pipeline import GENERATION
from ..core.names import identifier_for
from ..runtime.calls import NUMBER_TYPES, argument_kinds
from .kinds_match import kind_test

MISS = object()  # what a fast caller returns when this call must take the full path

_HERE = os.path.dirname(os.path.abspath(__file__))


def _cell_is(cell, obj):
    try:
        return cell.cell_contents is obj
    except ValueError:  # an empty cell: the name was deleted
        return False


def _guard_tests(compiled, target, namespace):
    """Lines of the validity test: ``compiled.still_valid(target)``, unrolled; MISS on any doubt."""
    lines = ["    if GENERATION[0] != generation:", "        return MISS"]
    namespace["GENERATION"], namespace["generation"] = GENERATION, compiled.generation
    globals_ = target.__globals__
    namespace["G"], namespace["B"], namespace["cell_is"] = globals_, builtins.__dict__, _cell_is
    checks = []
    for k, (name, obj, cell) in enumerate(compiled.guard_plan(target)):
        namespace[f"o{k}"] = obj
        if cell is not None:
            namespace[f"c{k}"] = target.__closure__[cell]
            checks.append(f"not cell_is(c{k}, o{k})")
        elif name in globals_:
            checks.append(f"G[{name!r}] is not o{k}")
        else:  # a builtin when compiled: still no global of that name, and the same builtin
            checks.append(f"{name!r} in G or B[{name!r}] is not o{k}")
    if checks:
        lines += ["    try:", f"        if {' or '.join(checks)}:", "            return MISS",
                  "    except KeyError:", "        return MISS"]
    return lines


def fast_caller(count, prefix, kinds, positions, compiled, fused, target, fn, single, returns, check_input,
                match_input):
    """The fast caller of a ``grad`` (see the module's docstring) for calls with ``count`` positional
    arguments of ``kinds`` (the kinds of ``prefix + args``), differentiated at ``positions`` (of args),
    running ``fused`` (``(*prefix, *args) -> (out, *gradients)``) of ``compiled``, bound from ``target``.
    ``returns`` is what the transform returns: "gradient", "value_and_grad" (``(out, gradient)``),
    "return_value" (``(gradient, out)``) or "result" (the caller passes the transform first, and its
    ``result(out, gradient)`` is returned)."""
    namespace = {"ndarray": np.ndarray, "numbers": NUMBER_TYPES, "MISS": MISS, "fused": fused,
                 "check": check_input, "matched": match_input, "fn": fn, "kinds": kinds,
                 "argument_kinds": argument_kinds}
    bound = [f"p{i}" for i in range(len(prefix))]
    for i, p in enumerate(prefix):
        namespace[f"p{i}"] = p
    params = [f"a{i}" for i in range(count)]
    names = bound + params
    tests = [kind_test(name, i, kind, namespace) for i, (name, kind) in enumerate(zip(names, kinds))]
    if len(kinds) != len(names) or None in tests:  # kinds of a form not known here: compare them whole
        tests = [f"argument_kinds(({''.join(n + ', ' for n in names)})) == kinds"]
    lines = [f"    if not ({' and '.join(tests) or 'True'}):", "        return MISS"]
    lines += _guard_tests(compiled, target, namespace)
    offset = len(prefix)
    for p in positions:  # (an ndarray's check was the dtype the kinds test just read)
        kind = kinds[offset + p]
        if kind is True:
            lines.append(f"    if type(a{p}) is not float:")
            lines.append(f"        check(a{p}, {p}, fn)")
        elif not isinstance(kind, tuple):
            lines.append(f"    check(a{p}, {p}, fn)")
    call = ", ".join(names)
    grads = [f"g{j}" for j in range(len(positions))]
    lines.append(f"    out, {''.join(g + ', ' for g in grads)}= fused({call}, **kw) if kw else fused({call})")
    for g, p in zip(grads, positions):
        kind = kinds[offset + p]
        i = offset + p
        if isinstance(kind, tuple) and f"d{i}" in namespace:
            lines.append(f"    if not (type({g}) is ndarray and ({g}.dtype is t{i} or {g}.dtype == t{i}) "
                         f"and {g}.shape == a{p}.shape and {g}.flags.writeable):")
            lines.append(f"        {g} = matched({g}, a{p})")
        elif kind is True:
            lines.append(f"    {g} = float({g}) if type(a{p}) is float else matched({g}, a{p})")
        else:
            lines.append(f"    {g} = matched({g}, a{p})")
    gradient = grads[0] if single else f"({''.join(g + ', ' for g in grads)})"
    head = "s, " if returns == "result" else ""
    lines.append("    return " + {"gradient": gradient, "value_and_grad": f"out, {gradient}",
                                  "return_value": f"{gradient}, out",
                                  "result": f"s.result(out, {gradient})"}[returns])
    name = "fast_call_of_" + identifier_for(getattr(target, "__name__", "f"))
    source = f"def {name}({head}{''.join(p + ', ' for p in params)}**kw):\n" + "\n".join(lines) + "\n"
    exec(compile(source, os.path.join(_HERE, f"<{name}>"), "exec"), namespace)  # noqa: S102 (text built above from kinds and names)
    return namespace[name]
