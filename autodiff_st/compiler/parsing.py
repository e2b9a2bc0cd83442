"""Parse: read a function's source and turn it into a gast tree.

Every node of the tree gets an ``origin``: the user's file, line and the text of that line. Later passes
copy the origin onto every node they create, so comments in the generated code and error messages can
always point back at the user's line. A generated function (transformed again, for a second derivative
or vmap) is parsed like any other, and its nodes take the user's origins from its line map.
"""

import __future__
import ast
import dataclasses
import functools
import inspect
import linecache
import operator
import os
import sys
import textwrap
import types

import gast

from ..core.errors import SourceUnavailableError, StaleSourceError, UnsupportedSyntaxError
from ..runtime.loader import line_map
from .enumerate_start import lower_enumerate_start
from .starred_displays import lower_starred_displays


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a node comes from in the user's code."""

    filename: str
    lineno: int
    source_line: str
    function: str

    def describe(self):
        return f'  File "{self.filename}", line {self.lineno}, in {self.function}\n    {self.source_line}'

    def short(self):
        """``file.py:12  y = x * 2``, as written above each generated block."""
        return f"{os.path.basename(self.filename)}:{self.lineno}  {self.source_line}"


@dataclasses.dataclass
class ParsedFunction:
    """A user function, parsed: its ``def`` node, where it lives, and what its names refer to."""

    fn: object
    node: gast.FunctionDef
    filename: str
    name: str
    globals: dict
    closure: dict  # free variable name -> cell

    @property
    def first_origin(self):
        return self.node.origin


def origin_of(node):
    return getattr(node, "origin", None)


def _function_origin(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    line = linecache.getline(code.co_filename, code.co_firstlineno).strip()
    return Origin(code.co_filename, code.co_firstlineno, line, code.co_name)


def _read_source(fn):
    name = getattr(fn, "__qualname__", repr(fn))
    if not inspect.isfunction(fn):
        raise SourceUnavailableError(
            f"cannot read the source of {name}: it is not a Python function "
            f"(it is {type(fn).__name__}).",
            hint="Builtins and functions written in C have no source to differentiate. "
            "Register a derivative rule with @ad.register_vjp, or mark it with ad.nondifferentiable.",
        )
    try:
        # The code object, not the function: inspect follows a decorator's __wrapped__ to the undecorated
        # body, which is not what Python runs.
        lines, first = inspect.getsourcelines(fn.__code__)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {name}: {exc}.",
            origin=_function_origin(fn),
            hint="Functions typed at an interactive prompt without a source file cannot be "
            "differentiated. Put the function in a file (or a notebook cell) and import it.",
        ) from None
    return lines, first


# The compiler flags a function's code records that change how its source compiles.
_FUTURE_FLAGS = functools.reduce(operator.or_, (f.compiler_flag for f in map(
    functools.partial(getattr, __future__), __future__.all_feature_names)), 0)
_FILE_CODES = {}  # (file name, its text) -> {(code name, first line): [code objects compiled from it]}


def _compile_file(filename, text, flags, rewritten_by_pytest):
    """The module code of ``text``, compiled as Python compiled it at import. A test module that pytest
    imported had its asserts rewritten: the same rewrite is applied here (pytest is then loaded)."""
    if not rewritten_by_pytest:
        return compile(text, filename, "exec", flags=flags, dont_inherit=True)
    rewrite = sys.modules["_pytest.assertion.rewrite"]
    tree = ast.parse(text, filename=filename)
    rewrite.rewrite_asserts(tree, text.encode(), filename, None)
    return compile(tree, filename, "exec", dont_inherit=True)


def _compile_statements(filename, text, flags):
    """The code of each top-level statement of ``text`` compiled on its own, as IPython and Jupyter run a
    cell: statement by statement. (On Python 3.11 a function compiled alone can differ in its bytecode
    from the same function compiled within the whole cell.)"""
    tree = ast.parse(text, filename=filename)
    return [compile(ast.Module(body=[node], type_ignores=[]), filename, "exec", flags=flags, dont_inherit=True)
            for node in tree.body]


def _codes_in(filename, text, flags, rewritten_by_pytest=False, per_statement=False):
    key = (filename, text, flags, rewritten_by_pytest, per_statement)
    found = _FILE_CODES.get(key)
    if found is None:
        found = {}
        try:
            pending = (_compile_statements(filename, text, flags) if per_statement
                       else [_compile_file(filename, text, flags, rewritten_by_pytest)])
        except (SyntaxError, ValueError):
            pending = []
        while pending:
            code = pending.pop()
            found.setdefault((code.co_name, code.co_firstlineno), []).append(code)
            pending += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        if len(_FILE_CODES) > 64:
            _FILE_CODES.clear()
        _FILE_CODES[key] = found
    return found


def check_current(fn):
    """Refuse a function whose source file no longer holds the code Python runs (the file was edited
    after the module was imported): the text read now would be differentiated instead. The current text
    is compiled with the function's future flags, and the code object at the function's name and first
    line must equal ``fn.__code__`` (same bytecode, constants, names and line table)."""
    code = fn.__code__
    text = "".join(linecache.getlines(code.co_filename, fn.__globals__))
    rewritten = ("@pytest_ar" in fn.__globals__ and fn.__globals__.get("__file__") == code.co_filename
                 and "_pytest.assertion.rewrite" in sys.modules)
    candidates = _codes_in(code.co_filename, text, code.co_flags & _FUTURE_FLAGS, rewritten)
    where = (code.co_name, code.co_firstlineno)
    if code not in candidates.get(where, ()) and not rewritten:  # a notebook cell, run statement by statement
        candidates = _codes_in(code.co_filename, text, code.co_flags & _FUTURE_FLAGS, per_statement=True)
    if code not in candidates.get(where, ()):
        raise StaleSourceError(
            f"the source of {getattr(fn, '__qualname__', code.co_name)} in {code.co_filename} no longer matches "
            "the code Python runs: the file was changed after it was imported (or an import hook rewrote "
            "the code), and autodiff_st differentiates only the code that runs.",
            origin=_function_origin(fn),
            hint="Reload the module (importlib.reload) or restart, so that the code and its source agree.")


def lambda_as_def(fn):
    """The lambda ``fn`` as a gast ``def lambda_lineN(...): return <body>``, with its line numbers counted
    from the first line of its source, and that first line."""
    lines, first = _read_source(fn)
    tree = _parse_lambda_source(textwrap.dedent("".join(lines)).strip(), fn)
    return _find_lambda(tree, fn), first


def _find_lambda(tree, fn):
    code = fn.__code__
    argnames = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    found = _lambdas_like(tree, fn)
    if len(found) != 1:
        raise SourceUnavailableError(
            f"cannot tell which lambda on line {code.co_firstlineno} of {code.co_filename} to differentiate "
            f"({len(found)} lambdas there take the arguments {argnames}).",
            origin=_function_origin(fn),
            hint="Give the function a name with def, or put each lambda on its own line.",
        )
    lam = found[0]
    node = gast.FunctionDef(
        name=f"lambda_line{code.co_firstlineno}",
        args=lam.args,
        body=[gast.Return(value=lam.body)],
        decorator_list=[],
        returns=None,
        type_comment=None,
        type_params=[],
    )
    gast.copy_location(node, lam)
    node.body[0].lineno = lam.lineno
    return node


def parse_function(fn):
    """Parse a plain Python function into a ``ParsedFunction``."""
    lines, first = _read_source(fn)
    check_current(fn)
    source = textwrap.dedent("".join(lines))
    is_lambda = fn.__code__.co_name == "<lambda>"
    if is_lambda:
        # A lambda's source is the whole statement around it; strip to something parseable.
        source = source.strip()
        tree = _parse_lambda_source(source, fn)
    else:
        tree = gast.parse(source)
    if is_lambda:
        node = _find_lambda(tree, fn)
    else:
        defs = [n for n in tree.body if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef))]
        if not defs:
            raise SourceUnavailableError(f"cannot find the definition of {fn.__qualname__} in its source.")
        node = defs[0]
    filename = fn.__code__.co_filename
    name = fn.__code__.co_name if not is_lambda else node.name
    file_lines = linecache.getlines(filename)
    starred = counted = False
    for child in gast.walk(node):
        if hasattr(child, "lineno"):
            lineno = first + child.lineno - 1
            text = file_lines[lineno - 1].strip() if 0 < lineno <= len(file_lines) else ""
            child.origin = Origin(filename, lineno, text, name)
        if child.__class__ is gast.Starred:
            starred = True
        elif child.__class__ is gast.Name and child.id == "enumerate":
            counted = True
    # Rewrites of the syntax itself, where the function has something to rewrite; the nodes they make take
    # the origin of the statement they are in (_fill_missing_origins).
    if counted:  # enumerate(xs, 1) with a constant start (enumerate_start.py)
        lower_enumerate_start(node, fn.__globals__, fn.__code__.co_freevars, _fresh_names(node))
    if starred:  # [*xs, y]: list(xs) + [y], in the helpers of lists (starred_displays.py)
        lower_starred_displays(node)
    _fill_missing_origins(node)
    generated_lines = line_map(filename)
    if generated_lines is not None:
        _point_at_user_lines(node, generated_lines)
    node.decorator_list = []
    closure = {}
    if fn.__closure__:
        closure = dict(zip(fn.__code__.co_freevars, fn.__closure__))
    if isinstance(node, gast.AsyncFunctionDef):
        raise UnsupportedSyntaxError(
            f"cannot differentiate the async function {name}.",
            origin=node.origin,
            hint="Differentiate a plain def function instead.",
        )
    return ParsedFunction(fn=fn, node=node, filename=filename, name=name,
                          globals=fn.__globals__, closure=closure)


def _parse_lambda_source(source, fn):
    """A parse of the lambda's source lines that holds the lambda. The lines may hold a fragment, such
    as ``f = lambda x: x * 2,`` or ``"key": lambda x: x * 2,`` inside a dict display: from the start of
    the text, then from each ``lambda`` keyword on, trim characters off the end until the text parses
    and holds one lambda with ``fn``'s arguments."""
    starts = [0] + [i for i in range(len(source)) if source.startswith("lambda", i)]
    for start in starts:
        text = source[start:]
        while text:
            try:
                tree = gast.parse(text)
            except SyntaxError:
                text = text[:-1]
                continue
            if _lambdas_like(tree, fn):
                return tree
            text = text[:-1]
    raise SourceUnavailableError(
        f"cannot parse the source of the lambda at line {fn.__code__.co_firstlineno} of "
        f"{fn.__code__.co_filename}.",
        hint="Give the function a name with def.",
    )


def _lambdas_like(tree, fn):
    code = fn.__code__
    argnames = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return [node for node in gast.walk(tree) if isinstance(node, gast.Lambda)
            and tuple(a.id for a in node.args.args + node.args.kwonlyargs) == argnames]


def _point_at_user_lines(node, generated_lines):
    """A generated function's nodes take the user's origins of their generated lines, from the line map
    the loader keeps, so that code generated from them quotes the user's lines too. A node of a line that
    comes from no user line (unpacking the residuals) takes none."""
    for child in gast.walk(node):
        origin = origin_of(child)
        if origin is not None:
            user_origin = generated_lines.get(origin.lineno)
            if user_origin is None:
                del child.origin
            else:
                child.origin = user_origin


def _fresh_names(node):
    """``fresh(base)``: a name that no identifier of ``node`` uses, nor an earlier answer."""
    taken = {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}  # parameters are Names in gast

    def fresh(base):
        candidate, k = base, 2
        while candidate in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        return candidate

    return fresh


def _fill_missing_origins(node):
    """Nodes without a line number (operators, contexts) take their parent's origin."""

    def visit(n, inherited):
        own = origin_of(n) or inherited
        if origin_of(n) is None and own is not None:
            n.origin = own
        for child in gast.iter_child_nodes(n):
            visit(child, own)

    visit(node, None)
