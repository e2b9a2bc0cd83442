"""What generated code calls at run time.

``helpers`` holds the array helpers that adjoints and derivative rules call (``unbroadcast``,
``zeros_like``, the gradients of matmul and indexing); they are re-exported here, so a rule may say
``runtime.unbroadcast``. ``calls`` runs calls into the user's own functions, ``weights`` collects the
gradients of Parameters, ``batched`` holds the batched values of ``vmap``, and ``loader`` compiles
generated source and keeps its line map. Nothing here imports the compiler: a run-time module that
needs a callee's generated functions asks ``core.hooks``.
"""

from .helpers import *  # noqa: F401,F403
