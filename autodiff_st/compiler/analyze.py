"""Stage 4, analyze: what each call refers to, and which values carry a derivative.

Callees are resolved by identity, through the function's own closure, its globals and the builtins, so
each function keeps its own namespace. A value is *active* when it depends on a differentiated input
through differentiable operations; only active values get adjoints.
"""

import dataclasses
import inspect

import gast

from ..core import registry as rules
from ..core.model import Cell
from ..core.transform import Transform
from ..runtime.calls import is_generated_call
from .ir import static_path_root
from .scope import resolve_path

@dataclasses.dataclass
class Callee:
    """What a call in the normal form refers to.

    kind is "rule" (a derivative rule inlines), "nondiff" (no derivative flows), "user" (a Python
    function differentiated into its own adjoint, called through ``call_vjp_forward``; also the helpers
    generated code calls other functions through, when generated code is differentiated again), "method" (a method
    of an array: ``rule`` holds the function it maps to), or "unknown" (no rule and no source).
    """

    kind: str
    obj: object = None
    rule: object = None
    pack: bool = False  # x.reshape(2, 3) packs its arguments into one tuple


def is_user_function(obj):
    if isinstance(obj, (Cell, Transform)):
        return True
    if inspect.ismethod(obj):
        return is_user_function(obj.__func__)
    if not inspect.isfunction(obj):
        return False
    module = getattr(obj, "__module__", "") or ""
    return not (module == "numpy" or module.startswith("numpy.") or module.startswith("autodiff_st."))


def classify_call(call, parsed, is_local):
    func = call.func
    root = static_path_root(func)
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and is_local(func.value.id):
        name = func.attr
        if name in rules.METHODS:
            primitive, kind = rules.METHODS[name]
            return Callee("method", primitive, rules.lookup(primitive), pack=(kind == "pack"))
        if name in rules.NONDIFF_METHODS:
            return Callee("nondiff")
        if name == "astype":
            return Callee("astype")
        return Callee("unknown_method", name)
    if root is not None and is_local(root):
        return Callee("user", None)  # a function held in a local variable: dispatched at run time
    obj = resolve_path(func, parsed)
    if obj is None:
        return Callee("unknown", None)
    rule = rules.lookup(obj)
    if rule is not None:
        return Callee("rule", obj, rule)
    if is_generated_call(obj):
        return Callee("user", obj)
    if rules.is_nondifferentiable(obj):
        return Callee("nondiff", obj)
    if is_user_function(obj):
        return Callee("user", obj)
    if inspect.isclass(obj) and issubclass(obj, (int, bool, str)):
        return Callee("nondiff", obj)
    return Callee("unknown", obj)
