"""``linearize``: the value of a function at fixed inputs, and its Jacobian-vector product there.

``linearize(f, *primals)`` returns ``(f(*primals), f_jvp)``; ``f_jvp(*tangents)`` is
``jvp(f, primals, tangents)[1]``. The inputs are checked and the generated tangent function is compiled
(or found in the cache) once, when ``linearize`` is called; each call of ``f_jvp`` checks its tangents and
runs that tangent function again. The generated tangent function computes the primal values it needs
alongside the tangents, so each call re-evaluates ``f`` at the primals: a tangent costs about one jvp,
not one multiplication by a stored linear map (JAX stores the linearized program instead). Memory stays
that of one jvp, and nothing depends on the tangents' values.
"""

from typing import Any, Callable, Tuple

from ..core.errors import AutodiffError
from .checks import check_input, function_name
from .jacobian_parts import zero_like_output
from .jacobians import check_tangent, tangent_runner


class Linearized:
    """``f_jvp``: the Jacobian-vector product of a function at fixed primals."""

    def __init__(self, fn, primals, run):
        self.fn = fn
        self.primals = primals
        self._run = run

    def __call__(self, *tangents):
        if len(tangents) != len(self.primals):
            raise ValueError(f"the linearized {function_name(self.fn)} takes {len(self.primals)} tangent"
                             f"{'s' if len(self.primals) != 1 else ''} (one per primal), got {len(tangents)}.")
        for i, (t, x) in enumerate(zip(tangents, self.primals)):
            check_tangent(t, x, i)
        return self._run(tangents)[1]

    def __repr__(self):
        return f"<linearized {function_name(self.fn)} at {len(self.primals)} primal(s)>"


def linearize(fn: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Tuple[Any, ...]:
    """``(fn(*primals), f_jvp)``, or ``(fn(*primals), f_jvp, aux)`` with has_aux, where ``f_jvp(*tangents)``
    gives the tangent of the output along ``tangents`` at ``primals``. See the module docstring."""
    if not primals:
        raise AutodiffError(f"linearize({function_name(fn)}) needs at least one primal input.")
    for i, x in enumerate(primals):
        check_input(x, i, fn)
    run = tangent_runner(fn, primals, has_aux)
    zeros = tuple(zero_like_output(x) for x in primals)
    out, _, aux = run(zeros)
    linear = Linearized(fn, primals, run)
    return (out, linear, aux) if has_aux else (out, linear)
