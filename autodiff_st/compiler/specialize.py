"""Functions with ``*args`` and ``**kwargs``, specialized on the arguments of a call.

``def f(x, *parts, **options)`` called with three positional arguments and the keyword ``scale`` is
differentiated as the function Python binds for that call:

    def f(x, parts_0, parts_1, *, scale):
        options = {'scale': scale}
        parts = (parts_0, parts_1)
        ...the user's body, line for line...

Every argument then has a parameter of its own, so a derivative with respect to the second positional
argument is the derivative with respect to ``parts_0``, and the tuple and dict the body reads are
displays whose elements the compiler follows. A function given to a transform itself is specialized on
its positional arguments only, keeping ``**options`` as a parameter: the transforms differentiate
positional arguments, so the keywords it receives carry no derivative.

The specialized source (rewritten.py) keeps the user's lines and points at them.
"""

import ast
import dataclasses
import inspect
import keyword
import textwrap
import weakref

import gast

from ..core import registry as rules
from ..core.errors import SourceUnavailableError, UnsupportedSyntaxError
from ..rules.math_builtins import NUMBER_FORMS
from .parsing import lambda_as_def
from .rewritten import body_lines, build_function, origin_at_line

_VARIADIC = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
_SPECIALIZED = weakref.WeakKeyDictionary()  # function -> {(count, keywords): specialized function}


def is_variadic(fn):
    code = getattr(fn, "__code__", None)
    return code is not None and bool(code.co_flags & _VARIADIC)


def specialized(fn, count, keywords=None):
    """``fn`` (a function with ``*args`` or ``**kwargs``) as a function of ``count`` positional arguments
    and the keyword arguments ``keywords`` (a tuple of names; None keeps ``**kwargs`` as a parameter)."""
    if not is_variadic(fn):
        return fn
    per_fn = _SPECIALIZED.get(fn)
    if per_fn is None:
        per_fn = _SPECIALIZED[fn] = {}
    key = (count, keywords)
    found = per_fn.get(key)
    if found is None:
        found = per_fn[key] = _specialize(fn, count, keywords)
    return found


def for_kinds(fn, kinds):
    """``fn`` specialized for a transform's call: ``kinds`` has one entry per positional argument."""
    if not is_variadic(fn):
        return fn
    code = fn.__code__
    count = len(kinds) if kinds is not None else code.co_argcount
    return specialized(fn, count, None)


def _parse(fn):
    try:
        lines, first = inspect.getsourcelines(fn.__code__)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(f"cannot read the source of {fn.__qualname__}: {exc}.") from None
    text = "".join(lines)
    shift = len(lines[0]) - len(lines[0].lstrip())
    try:
        tree = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        raise SourceUnavailableError(f"cannot parse the source of {fn.__qualname__}.") from None
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    if node is None or node.name != fn.__code__.co_name:
        raise SourceUnavailableError(f"cannot find the definition of {fn.__qualname__} in its source.",
                                     hint="Give the function a name with def.")
    return node, first, shift


def _parse_lambda(fn):
    """A lambda as a def of its one expression: ``def lambda_lineN(*args): return <body>``, and the body
    as one line of text at the lambda's line (the lambda may sit inside a longer statement)."""
    lam, first = lambda_as_def(fn)
    node = gast.gast_to_ast(lam)
    lineno = first + node.body[0].lineno - 1
    return node, first, [("return " + ast.unparse(node.body[0].value), lineno)]


def _specialize(fn, count, keywords):
    code = fn.__code__
    lambda_body = None
    if code.co_name == "<lambda>":
        node, first, lambda_body = _parse_lambda(fn)
        shift = 0
    else:
        node, first, shift = _parse(fn)
    name = node.name
    filename = code.co_filename
    header_origin = origin_at_line(filename, first + node.lineno - 1, name)
    args = node.args
    taken = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {a.arg for a in ast.walk(node)
                                                                         if isinstance(a, ast.arg)}
    positional = args.posonlyargs + args.args
    named = {a.arg for a in args.args + args.kwonlyargs}
    extra = max(0, count - len(positional)) if args.vararg is not None else 0
    star_names = []
    for i in range(extra):
        candidate = f"{args.vararg.arg}_{i}"
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        star_names.append(candidate)
    extra_keywords = []
    if args.kwarg is not None and keywords is not None:
        assigned = {t.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                    for t in [n]} | {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for k in keywords:
            if k in named:
                continue
            if not str.isidentifier(k) or keyword.iskeyword(k):
                raise UnsupportedSyntaxError(f"autodiff_st cannot differentiate {name} called with the keyword "
                                             f"{k!r}.", origin=header_origin, hint="Pass keywords that are names.")
            if k in read and k not in assigned:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate this call of {name} with the keyword `{k}`: {name} also "
                    f"reads a name `{k}` from outside, which a parameter of that name would hide.",
                    origin=header_origin, hint=f"Rename the keyword, or read `{args.kwarg.arg}[{k!r}]` "
                                               "under another name.")
            extra_keywords.append(k)
    # The signature: defaults are written as placeholders, their values are fn's own.
    params = []
    keep_defaults = extra == 0
    first_default = len(positional) - len(args.defaults)
    for i, a in enumerate(positional):
        params.append(a.arg + ("=None" if keep_defaults and i >= first_default else ""))
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            params.append("/")
    params += star_names
    if args.kwonlyargs or extra_keywords:
        params.append("*")
    params += [a.arg + ("=None" if d is not None else "") for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    params += extra_keywords
    if args.kwarg is not None and keywords is None:
        params.append("**" + args.kwarg.arg)
    prefix = []
    if args.kwarg is not None and keywords is not None:
        prefix.append(f"{args.kwarg.arg} = {{{', '.join(f'{k!r}: {k}' for k in extra_keywords)}}}")
    if args.vararg is not None:
        prefix.append(f"{args.vararg.arg} = ({''.join(n + ', ' for n in star_names)})")
    if lambda_body is not None:
        body, indent = lambda_body, None
    else:
        body, indent = body_lines(filename, node, first, shift)
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    described = f"{name} called with {count} positional argument(s)" + (
        f" and the keywords {', '.join(keywords)}" if keywords else "")
    return build_function(name, filename, header_origin, ", ".join(params), prefix, body, indent, described,
                          fn.__globals__, cells, fn.__defaults__ if keep_defaults else None, fn.__kwdefaults__)


# --------------------------------------------------------------------------------------------------
# Calls specialized on the kinds of their arguments
# --------------------------------------------------------------------------------------------------

def specialize_calls_on_numbers(facts, helpers):
    """``np.sin(t)``, where the analysis proved ``t`` a Python number, calls ``sin_of_number(t)`` instead
    (rules/math_builtins.py): math's function, with numpy's value and a Python float result. Run by
    ``analyze`` once the kinds are known and before liveness, which may then recompute the call in the
    backward pass instead of taping it. The call's guard stays on the user's name (``np``): the
    ``Name`` put in its place records what it replaced, in ``specialized_from``."""
    for op in facts.body_ops:
        callee = facts.callees.get(id(op))
        if callee is None or callee.kind != "rule" or op.kind != "assign":
            continue
        try:
            form = NUMBER_FORMS.get(callee.obj)
        except TypeError:  # an unhashable callable
            continue
        call = op.value
        if form is None or call.keywords or len(call.args) != 1 or not _is_number(call.args[0], facts.kinds):
            continue
        name = gast.Name(id=helpers.name_for(form, form.__name__), ctx=gast.Load(), annotation=None,
                         type_comment=None)
        name.specialized_from = call.func
        call.func = name
        facts.callees[id(op)] = dataclasses.replace(callee, obj=form, rule=rules.lookup(form))


def _is_number(node, kinds):
    if isinstance(node, gast.Constant):
        return type(node.value) in (int, float)
    return isinstance(node, gast.Name) and kinds.is_number(node.id)
