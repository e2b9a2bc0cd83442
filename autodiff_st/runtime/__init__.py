"""What generated code calls at run time.

The array helpers that adjoints and derivative rules call (``unbroadcast``, ``zeros_like``, the
gradients of matmul and indexing) live in modules by theme: ``shapes``, ``cotangents``, ``creation``,
``elementwise``, ``reductions``, ``linalg``, ``norms``, ``joining``, ``indexing``, ``numeric`` (interp,
polyval, convolve, gradient, add.at) and ``containers`` (writes into lists and dicts). They are all
re-exported here, so a rule may say ``runtime.unbroadcast`` and generated code names a helper
``autodiff_st.runtime.<name>``. Besides numpy, they are all that generated code needs, and each one
that can sit on a differentiated path has a derivative rule in ``rules/``, so generated code can itself
be differentiated again.

``namespaces`` says which array library a value belongs to (numpy on the fast path, otherwise the
array-api-compat namespace of dask, CuPy, ...), so the helpers create arrays in the library they were given
(docs/backends.md).

``calls`` runs calls into the user's own functions, ``weights`` collects the gradients of Parameters,
``batched`` holds the batched values of ``vmap``, and ``loader`` compiles generated source and keeps its
line map. Nothing here imports the compiler: a run-time module that needs a callee's generated
functions asks ``core.hooks``.
"""

from .checkpoints import *  # noqa: F401,F403
from .cotangents import *  # noqa: F401,F403
from .containers import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .guards import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .joining import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .namespaces import *  # noqa: F401,F403
from .norms import *  # noqa: F401,F403
from .numeric import *  # noqa: F401,F403
from .psd import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .rule_checks import *  # noqa: F401,F403
from .shapes import *  # noqa: F401,F403
from .sharing import *  # noqa: F401,F403
from .trees import *  # noqa: F401,F403
from .unbound import *  # noqa: F401,F403
