"""How transforms and generated source show themselves in IPython and Jupyter.

``Source`` is what ``ad.source`` returns: a ``str`` (it prints, compares and slices as the plain text)
that a notebook displays as highlighted code (pygments, when installed) instead of an escaped string.
Transforms show their function, their options and their generated source the same way
(``Transform._repr_html_``, ``_repr_pretty_``).
"""

import html

try:  # optional: colours in notebooks
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
except ImportError:
    highlight = None

_OPTIONS = ("positions", "has_aux", "return_value", "chunk_size", "in_axes", "out_axes", "weights", "progress")
_SHOWN_WHEN_SET = ("progress",)  # options shown only when they are on


class Source(str):
    """Generated Python source: plain text everywhere, highlighted code in a notebook."""

    def _repr_html_(self):
        if highlight is not None:
            return highlight(str(self), PythonLexer(), HtmlFormatter(noclasses=True, nowrap=False,
                                                                  prestyles="font-family: monospace"))
        return f"<pre><code>{html.escape(str(self))}</code></pre>"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


def describe(transform):
    """``grad of loss (positions=0, has_aux=False)``: the transform, its function and its options."""
    fn = getattr(transform, "fn", None)
    if hasattr(fn, "fn") and not hasattr(fn, "__code__"):  # a transform of a transform
        name = describe(fn)
    else:
        name = getattr(fn, "__qualname__", None) or repr(fn)
    options = ", ".join(f"{o}={getattr(transform, o)!r}" for o in _OPTIONS
                        if o in vars(transform) and getattr(transform, o) is not None
                        and (o not in _SHOWN_WHEN_SET or getattr(transform, o)))
    kind = type(transform).__name__
    return f"autodiff_st {kind} of {name}" + (f" ({options})" if options else "")


def transform_html(transform, source):
    header = f"<p><b>{html.escape(describe(transform))}</b></p>"
    if source is None:
        return header + "<p><i>its generated source is made on the first call</i></p>"
    return header + Source(source)._repr_html_()
