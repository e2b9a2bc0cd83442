"""The one door through which run-time code reaches the compiler.

Generated code calls the user's functions through ``runtime.calls``, and ``vmap`` runs them batched
through ``runtime.batched``. Both need the callee's *generated* functions, which only the compiler can
make; but the run-time layer sits below the compiler and must not import it. So the compiler, when it
is imported, installs itself here (``install``), and run-time code asks ``compiler()``.

The installed object provides:

- ``adjoint_functions(fn, positions, mode, kinds=None, roots=None)``: the generated functions of ``fn``
  (see ``compiler.cache``);
- ``call_batched(fn, args, kwargs)``: ``fn`` run on batched arguments through its batched source;
- ``has_source(fn)``: whether ``fn`` can be batched from its source.
"""

_COMPILER = None


def install(compiler):
    global _COMPILER
    _COMPILER = compiler


def compiler():
    if _COMPILER is None:
        raise RuntimeError("autodiff_st.compiler is not imported: import autodiff_st first")
    return _COMPILER
