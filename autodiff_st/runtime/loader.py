"""Stage 8, load: compile generated source so that tracebacks and pdb show it.

The source is registered with ``linecache`` under a descriptive file name, so a traceback through a
generated adjoint prints the generated line, and ``pdb`` can step through it.
"""

import itertools
import linecache
import types

_counter = itertools.count(1)


def compile_module(source, description):
    filename = f"<autodiff_st {description} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec"), filename


def small_function(source, description, namespace):
    """A small generated function (one ``def`` in ``source``) that calls the objects in ``namespace``:
    compiled like an adjoint, so its source can be read, and transformed again."""
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
