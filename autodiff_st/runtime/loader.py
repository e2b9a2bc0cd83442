"""Load: compile generated source so that tracebacks and pdb show it.

The source is registered with ``linecache`` under a descriptive file name, so a traceback through a
generated adjoint prints the generated line, and ``pdb`` can step through it.

Beside it the loader keeps the module's line map: for each generated line, the user's origin it comes
from (the compiler's ``parsing.Origin``, stored as handed over). Error messages, vmap's fallback reports
and the parse of generated code for a second transform look the user's line up there, instead of reading
it back out of the comments.
"""

import itertools
import keyword
import linecache
import re
import types

_counter = itertools.count(1)
_LINE_MAPS = {}  # generated file name -> {generated line number: the user's origin}


def compile_module(source, description, line_map=None):
    """Compile generated ``source``; ``line_map`` maps its line numbers to the user's origins (lines it
    leaves out come from no user line). Returns the code and the file name it is registered under."""
    filename = f"<autodiff_st {description} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    if line_map is not None:
        _LINE_MAPS[filename] = line_map
    return compile(source, filename, "exec"), filename


def line_map(filename):
    """The line map of a generated file, or None for a file compiled without one (or not generated)."""
    return _LINE_MAPS.get(filename)


def origin_at(filename, lineno):
    """The user's origin of line ``lineno`` of a generated file, or None where there is none."""
    return _LINE_MAPS.get(filename, {}).get(lineno)


def identifier_for(name):
    """``name`` as a Python identifier, for a generated function named after a user's: a lambda's
    ``<lambda>`` gives ``lambda_``, and a ``__name__`` set to any string gives its words."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    word = re.sub(r"\W+", "_", name).strip("_") or "function"
    if word[0].isdigit():
        word = "f_" + word
    return word + "_" if keyword.iskeyword(word) else word


def small_function(source, description, namespace):
    """A small generated function (one ``def`` in ``source``) that calls the objects in ``namespace``:
    compiled like an adjoint, so its source can be read, and transformed again. It comes from no user
    line, so it has no line map."""
    code, _ = compile_module(source, description)
    exec(code, namespace)
    return namespace[source.split("(", 1)[0][len("def "):]]


def inner_code_objects(module_code, factory_name):
    factory = next(c for c in module_code.co_consts
                   if isinstance(c, types.CodeType) and c.co_name == factory_name)
    return {c.co_name: c for c in factory.co_consts if isinstance(c, types.CodeType)}


def make_function(code, user_globals, helper_cells, user_cells, defaults=None, kwdefaults=None):
    closure = tuple(user_cells[n] if n in user_cells else helper_cells[n] for n in code.co_freevars)
    fn = types.FunctionType(code, user_globals, code.co_name, defaults, closure or None)
    if kwdefaults:
        fn.__kwdefaults__ = dict(kwdefaults)
    return fn
