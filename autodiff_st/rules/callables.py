"""The run-time helpers of calls assembled at run time (runtime/callables.py): the order ``sorted`` puts
items in is a list of positions, which changes only in steps, so it carries no derivative; the
elements themselves are differentiated through the comprehension that picks them
(compiler/normalize_functions.py)."""

from ..core.registry import nondifferentiable
from ..runtime.callables import sorted_order
from ..runtime.closures import closure_caller, closure_for_transform, converted_transform
from ..runtime.vectorized import is_inexact, lane_last_order, lane_result_order

nondifferentiable(sorted_order)
# A closure given to a transform, and the callable made of it: the values bound in the closure never reach
# the call (runtime/closures.py), which is passed them as arguments.
nondifferentiable(closure_for_transform, converted_transform, closure_caller)
nondifferentiable(lane_last_order, lane_result_order, is_inexact)  # axis orders; a type test, from the arguments' numbers of axes
