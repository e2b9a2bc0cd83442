"""Rules found missing by the test suite of another project (HIPS/autograd's own tests, run by
../shared/foreign/autograd_suite.py): ``tuple(...)`` and ``list(...)`` of differentiated values (with
the helper of their cotangent), casts to numpy's integer and bool scalar types, and
scipy.special.gammasgn.
"""

import builtins

import numpy as np

import autodiff_st.runtime as runtime
from ..core.registry import linear, nondifferentiable, vjp_rule


@vjp_rule(builtins.tuple, builtins.list, sequences=("iterable",))
def sequence_copy(g, ans, iterable):
    # tuple(x) and list(x) only regroup the items of x: each takes its item's cotangent back; for an array,
    # its rows stacked.
    return runtime.items_cotangent(iterable, g)


@vjp_rule(runtime.items_cotangent, nograd=("value",), diff=("cotangents",), sequences=("cotangents",))
def items_cotangent_rule(g, ans, value, cotangents):
    return list(g)


linear(builtins.tuple, builtins.list, runtime.items_cotangent)

# Casts to an integer or a bool: their result changes only in steps, so no derivative flows through them
# (as for int() and bool(), which the compiler knows already).
nondifferentiable(np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
                  runtime.inner_order)

try:
    import scipy.special
except ImportError:  # scipy is optional
    pass
else:
    nondifferentiable(scipy.special.gammasgn)  # the sign of the gamma function: piecewise constant
