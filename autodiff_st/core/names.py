"""Identifiers for generated source, made from names the user chose.

A function's ``__name__`` may be ``<lambda>``, hold dots or spaces, or be anything a user assigned; it
becomes part of generated names (``gradient_of_f``), so it is reduced to a plain identifier first. The
compiler (``compiler.naming``) and the run-time helpers that write small functions both use this.
"""

import keyword
import re


def identifier_for(text, default="f"):
    """``text`` as a Python identifier: ASCII letters, digits and underscores, never a keyword; ``default``
    when nothing of it is left (or it is not a string)."""
    text = text if isinstance(text, str) else default
    name = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_") or default
    if name[0].isdigit():
        name = "v" + name
    return name + "_" if keyword.iskeyword(name) else name
