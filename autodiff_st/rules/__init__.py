"""Derivative rules by family, registered in ``core.registry`` when this package is imported.

Each module registers the rules of one family: operators, elementwise functions, reductions, linear
algebra, shape and joining, indexing, math and builtins, making arrays from numbers (creation),
numpy's numerical routines (numpy_signal: interp, polyval, convolve, gradient, ...), the methods of
ufuncs (ufunc_methods: np.add.reduce, np.add.at, ...), scipy.special, the helpers that generated code calls (so that generated code can be differentiated
again), and the batching rules of ``vmap``. The registry itself (``vjp_rule``, ``lookup``, ...) lives
in ``core.registry``; its names are re-exported here.
"""

from ..core.registry import (ATTRIBUTES, METHODS, NONDIFF_ATTRIBUTES, NONDIFF_METHODS, ForwardRule, Rule,  # noqa: F401
                             all_rules, attribute, batching_rule, batching_rule_for, diagonal, display_name,
                             is_nondifferentiable, jvp_rule, linear, lookup, lookup_forward, method, multilinear,
                             nondifferentiable, vjp_rule)

# The families register in this order, the order their rules were written in.
from . import operators, elementwise, reductions, linalg, linalg_eig, shape  # noqa: F401
from . import math_builtins, adjoint_helpers, indexing, creation, batching  # noqa: F401
from . import numpy_signal, ufunc_methods, trees, autograd_gaps, callables, containers  # noqa: F401

try:  # scipy is optional: its rules are registered only when it is installed
    import scipy.special  # noqa: F401
except ImportError:
    pass
else:
    from . import scipy_special, scipy_special_more, scipy_stats, scipy_linalg, scipy_signal  # noqa: F401
    from . import scipy_banded, scipy_stats_more, scipy_integrate  # noqa: F401
