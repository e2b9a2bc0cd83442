"""Errors raised by autodiff_st.

Every error the compiler raises is an ``AutodiffError``. When the error concerns a line of the user's
code, the message quotes that line with its file and line number, in the layout of a Python traceback,
and ends with what to do about it.
"""


class AutodiffError(Exception):
    """Base class of every error autodiff_st raises about the user's code or arguments."""

    def __init__(self, message, origin=None, hint=None):
        self.bare_message = message
        self.origin = origin
        self.hint = hint
        super().__init__(self._format())

    def _format(self):
        parts = [self.bare_message]
        if self.origin is not None:
            parts.append(self.origin.describe())
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


class UnsupportedSyntaxError(AutodiffError):
    """A construct the compiler does not differentiate."""


class AliasingError(UnsupportedSyntaxError):
    """An in-place write (``x += e``, ``y[i] = v``, ``out=y``) into an array that another name the function
    reads, or an argument, shares at run time: Python would change both, and the derivative would not."""


class MissingRuleError(AutodiffError):
    """A call on a differentiated value to a function with no derivative rule and no Python source."""


class SourceUnavailableError(AutodiffError):
    """The source of a function to differentiate cannot be read."""


class NonDifferentiableError(AutodiffError):
    """A differentiated value flows into something that has no derivative."""


class GradPositionError(AutodiffError, ValueError):
    """A ``grad_position``/``argnums`` that is out of range, duplicated, or otherwise invalid."""


class GradPositionTypeError(AutodiffError, TypeError):
    """A ``grad_position``/``argnums`` of the wrong type."""


class InputTypeError(AutodiffError, TypeError):
    """A differentiated input of a type that cannot be differentiated: an int, complex or object."""


class CotangentError(AutodiffError, ValueError):
    """A cotangent passed to a ``vjp_fn`` whose structure or shape does not match the output."""


class AuxError(AutodiffError, ValueError):
    """``has_aux=True`` on a function that does not return at least two outputs."""


class StaleSourceError(SourceUnavailableError):
    """The source file of a function no longer matches the code Python runs: it was edited after import."""


class OptionTypeError(AutodiffError, TypeError):
    """An argument of the API of the wrong type: a transform's option (``has_aux='yes'``, ``in_axes``), a
    function that is not one, ``weights`` that are not Parameters, a rule registered with the wrong form."""


class OptionValueError(AutodiffError, ValueError):
    """An argument of the API with a value out of its range (``chunk_size=0``, vmap's ``in_axes`` that do
    not match the arguments, nothing to differentiate)."""


class ChunkSizeError(OptionValueError, TypeError):
    """A ``chunk_size`` that is not None or a positive int: a ValueError, as jacrev's contract says, and a
    TypeError too, as vmap's says for one that is not an int."""


class UnsupportedCaseError(MissingRuleError, NotImplementedError):
    """A derivative rule's refusal, when the generated code runs, of a case it does not differentiate (an
    option or a shape it has no derivative for), rather than a wrong derivative."""


class BackendError(UnsupportedCaseError):
    """What an array library other than numpy cannot do for a transform, named with the backend and the
    construct: a Python ``float`` of a lazy dask array, vmap's per-element loop over one, a rule that needs a
    function the library lacks."""
