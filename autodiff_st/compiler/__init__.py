"""The compiler: from the user's function to generated Python, in stages.

parsing → fence → normalize (into ``ir``) → analyze → reverse or forward (with ``templates``) →
optimize → emit → load (``runtime.loader``), driven by ``pipeline`` and memoized by ``cache``.
``batching`` rewrites source for ``vmap``. See docs/how-it-works.md.

Importing the compiler installs it in ``core.hooks``, the door through which run-time code asks for a
callee's generated functions.
"""

from ..core import hooks
from .batching import call_batched, has_source
from .cache import adjoint_entry, adjoint_functions
from .specialize import specialized


class _Compiler:
    """What run-time code may ask of the compiler (see ``core.hooks``)."""

    adjoint_entry = staticmethod(adjoint_entry)
    adjoint_functions = staticmethod(adjoint_functions)
    call_batched = staticmethod(call_batched)
    has_source = staticmethod(has_source)
    specialized = staticmethod(specialized)


hooks.install(_Compiler())
