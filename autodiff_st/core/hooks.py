"""The one door through which run-time code reaches the compiler.

Generated code calls the user's functions through ``runtime.calls``, and ``vmap`` runs them batched
through ``runtime.batched``. Both need the callee's *generated* functions, which only the compiler can
make; but the run-time layer sits below the compiler and must not import it. So the compiler, when it
is imported, installs itself here (``install``), and run-time code asks ``compiler()``.

The installed object provides:

- ``adjoint_functions(fn, positions, mode, kinds=None, roots=None)``: the generated functions of ``fn``
  (see ``compiler.cache``); ``adjoint_entry`` (same arguments): ``(compiled, functions)``, the compiled
  module's ``still_valid(fn)`` telling whether the functions may be reused;
- ``call_batched(fn, args, kwargs)``: ``fn`` run on batched arguments through its batched source;
- ``has_source(fn)``: whether ``fn`` can be batched from its source;
- ``specialized(fn, count, keywords)``: a function with ``*args`` or ``**kwargs`` as the plain function
  Python binds for a call with ``count`` positional arguments and these keywords.

The loader installs its line map the same way (``install_line_maps``), for tracebacks that point at the
user's lines (``core.tracebacks``).
"""

_COMPILER = None
_ORIGIN_AT = None
_SOURCE_OF = None


def install_source(source_of):
    """``ad.source`` (transforms/grad.py): what a transform's notebook display shows (core/display.py)."""
    global _SOURCE_OF
    _SOURCE_OF = source_of


def source_of(transform):
    return _SOURCE_OF(transform) if _SOURCE_OF is not None else None


def install(compiler):
    global _COMPILER
    _COMPILER = compiler


def compiler():
    if _COMPILER is None:
        raise RuntimeError("autodiff_st.compiler is not imported: import autodiff_st first")
    return _COMPILER


def install_line_maps(origin_at):
    """The loader's ``origin_at``: core's traceback rewriting (``core.tracebacks``) asks it for the user's
    line of a generated line."""
    global _ORIGIN_AT
    _ORIGIN_AT = origin_at


def origin_at(filename, lineno):
    """The user's origin of a generated line, or None (or when no loader is imported)."""
    return None if _ORIGIN_AT is None else _ORIGIN_AT(filename, lineno)
