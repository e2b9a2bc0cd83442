"""A transform of a nested function that reads values of the enclosing function, called at once:
``grad(inner)(v)`` with ``inner = lambda y: x * y`` (closure conversion).

The normal form (compiler/normalize_functions.py) writes ``G(inner, ...)(a, b)``, where ``inner`` reads
``x`` from the enclosing function, as::

    made = G(closure_for_transform(lifted, x), ...)
    closure_caller(made, lifted, 1, 2)(converted_transform(made, lifted, 1), a, b, x)

``lifted`` is the nested function with the names it reads as leading parameters (``def inner(x, y)``).
``closure_for_transform`` is ``make_closure``: ``G`` sees the function Python would give it. Its result
carries no derivative, since ``converted_transform`` never lets the values bound in it reach the call:

- when ``G`` made a gradient of that closure (``ad.grad`` or a function that returns one, with
  positions counted from the front), it is the same transform of ``trailing(lifted)``, which takes the
  captured values as trailing arguments (``def inner(y, x): return lifted(x, y)``). The call passes them,
  so a derivative of the enclosing function flows into ``x`` through the call of the gradient, whose
  own positions still count the nested function's arguments. The caller, a generated function of its
  own, is differentiated through its source like the user's code;
- otherwise the caller calls what ``G`` made on ``(a, b)``, and the captured values passed after them
  only go to ``closure_constants``, which has no derivative: when they carry one, the compiler refuses the
  call, as it refuses any closure passed on with a differentiated value.
"""

import functools
import inspect

from ..core.transform import Transform
from .callables import make_closure
from .loader import small_function


def closure_for_transform(lifted, *captured):
    return make_closure(lifted, *captured)


def _constants_of(lifted):
    """A function returning its first argument, without a derivative rule, whose reason names the nested
    function ``lifted`` comes from: given a differentiated captured value, the compiler refuses the call."""
    found = _CONSTANTS.get(lifted)
    if found is None:
        def closure_constants(function, *captured):
            return function

        name = lifted.__name__
        closure_constants.missing_rule_reason = (
            f"autodiff_st cannot differentiate `G({name})(...)` with respect to the values the nested function "
            f"`{name}` reads from the enclosing function: that needs G to make a gradient of it (ad.grad, or a "
            f"function returning one) and `{name}` to have plain parameters (no defaults, *args or keyword-only "
            f"ones); otherwise what G makes keeps those values as constants. Pass the value to `{name}` as an "
            f"argument instead. `{name}` is defined here:\n"
            + getattr(lifted, "defined_at", f'  File "{lifted.__code__.co_filename}"'))
        found = _CONSTANTS[lifted] = closure_constants
    return found


_CONSTANTS = {}
_TRAILING = {}
_CALLERS = {}
_VARIADIC = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def _plain_parameters(lifted):
    code = lifted.__code__
    return not (code.co_flags & _VARIADIC or code.co_kwonlyargcount or code.co_posonlyargcount
                or lifted.__defaults__ or lifted.__kwdefaults__)


def trailing(lifted, captured_count):
    """``lifted`` with its leading ``captured_count`` parameters moved to the end."""
    key = (lifted, captured_count)
    found = _TRAILING.get(key)
    if found is None:
        names = lifted.__code__.co_varnames[:lifted.__code__.co_argcount]
        captured, own = names[:captured_count], names[captured_count:]
        target = "lifted_function"
        while target in names:
            target += "_"
        source = (f"def {lifted.__name__}({', '.join(own + captured)}):\n"
                  f"    return {target}({', '.join(captured + own)})\n")
        found = _TRAILING[key] = small_function(source, f"{lifted.__name__} with its captured values last",
                                                {target: lifted})
    return found


def _caller(converted, argument_count, captured_count, lifted):
    """The function the call runs, given what ``converted_transform`` returned as ``function``: with
    ``converted``, ``return function(arg0, .., captured0, ..)``; otherwise ``function =
    closure_constants(function, captured0, ..)`` first and ``return function(arg0, ..)``."""
    key = (converted, argument_count, captured_count, None if converted else lifted)
    found = _CALLERS.get(key)
    if found is None:
        args = [f"arg{i}" for i in range(argument_count)]
        captured = [f"captured{i}" for i in range(captured_count)]
        if converted:
            body = f"    return function({', '.join(args + captured)})\n"
        else:
            body = (f"    function = closure_constants({', '.join(['function'] + captured)})\n"
                    f"    return function({', '.join(args)})\n")
        source = f"def closure_call({', '.join(['function'] + args + captured)}):\n" + body
        found = _CALLERS[key] = small_function(source, "call of a function made from a closure",
                                               {"closure_constants": _constants_of(lifted)})
    return found


def _is_gradient_of(made, lifted, captured_count):
    if not isinstance(made, Transform) or type(made).called_inside is Transform.called_inside:
        return False  # only the transforms that say how are differentiated when called inside
    fn = made.fn
    if not (type(fn) is functools.partial and fn.func is lifted and len(fn.args) == captured_count
            and not fn.keywords and _plain_parameters(lifted)):
        return False
    positions = getattr(made, "positions", None)
    positions = (positions,) if isinstance(positions, int) else positions
    return isinstance(positions, tuple) and all(type(p) is int and p >= 0 for p in positions)


def converted_transform(made, lifted, captured_count):
    """What the call calls (see the module's docstring)."""
    if _is_gradient_of(made, lifted, captured_count):
        return made.rebind(trailing(lifted, captured_count))
    return made


def closure_caller(made, lifted, captured_count, argument_count):
    """The generated function that calls ``converted_transform(made, ...)`` on ``(*args, *captured)``."""
    return _caller(_is_gradient_of(made, lifted, captured_count), argument_count, captured_count, lifted)
