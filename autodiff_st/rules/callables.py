"""The run-time helpers of calls assembled at run time (runtime/callables.py): the order ``sorted`` puts
items in is a list of positions, which changes only in steps, so it carries no derivative; the
elements themselves are differentiated through the comprehension that picks them
(compiler/normalize_functions.py)."""

from ..core.registry import nondifferentiable
from ..runtime.callables import sorted_order
from ..runtime.vectorized import is_inexact, lane_last_order, lane_result_order

nondifferentiable(sorted_order)
nondifferentiable(lane_last_order, lane_result_order, is_inexact)  # axis orders; a type test, from the arguments' numbers of axes
