"""autodiff_st: automatic differentiation of numerical Python by source transformation.

    import autodiff_st as ad
    dloss = ad.grad(loss)          # a function computing d loss / d (first argument)
    print(ad.source(dloss))        # the generated adjoint, as Python source
"""

from . import rules as _rules
from .core.version import __version__
from .transforms.grad import (grad, value_and_grad, grad_and_value, clear_cache, source, stop_gradient,
                              enable_disk_cache, disable_disk_cache)
from .transforms.vjp import vjp
from .transforms.jacobians import jvp, jacrev, jacfwd
from .transforms.linearize import linearize
from .transforms.custom import custom_vjp, custom_jvp
from .transforms.second_order import hessian
from .core.errors import (AutodiffError, UnsupportedSyntaxError, MissingRuleError, SourceUnavailableError,
                          NonDifferentiableError, GradPositionError, GradPositionTypeError, InputTypeError,
                          CotangentError, AuxError, StaleSourceError, OptionTypeError, OptionValueError,
                          ChunkSizeError, UnsupportedCaseError, AliasingError, BackendError)
from .nn import Parameter
from .core.trees import register_pytree
from .core.checkpoint import Checkpointed as checkpoint
from .transforms.vmap import vmap
from . import nn, testing
from .export import export

register_vjp = _rules.vjp_rule
register_jvp = _rules.jvp_rule
nondifferentiable = _rules.nondifferentiable
nondifferentiable(stop_gradient)


__all__ = [
    "grad", "value_and_grad", "grad_and_value", "clear_cache", "enable_disk_cache",
    "disable_disk_cache", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian",
    "vmap", "custom_vjp", "custom_jvp", "source", "stop_gradient", "register_vjp", "register_jvp", "nondifferentiable",
    "register_pytree", "export", "checkpoint",
    "Parameter", "nn", "testing", "AutodiffError", "UnsupportedSyntaxError", "MissingRuleError",
    "SourceUnavailableError", "NonDifferentiableError", "GradPositionError", "GradPositionTypeError",
    "InputTypeError", "CotangentError", "AuxError", "StaleSourceError", "OptionTypeError", "OptionValueError",
    "ChunkSizeError", "UnsupportedCaseError", "AliasingError", "BackendError",
]
