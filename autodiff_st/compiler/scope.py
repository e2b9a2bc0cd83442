"""What a name in the user's function refers to: its closure cells, its globals, then the builtins.

Each function keeps its own namespace: a callee is resolved in the function that calls it, never in a
merged one.
"""

import builtins

import gast

MISSING = object()


def resolve_name(name, parsed):
    if name in parsed.closure:
        try:
            return parsed.closure[name].cell_contents
        except ValueError:
            return MISSING
    if name in parsed.globals:
        return parsed.globals[name]
    return getattr(builtins, name, MISSING)


def resolve_path(node, parsed):
    """The object a dotted path such as ``np.linalg.inv`` names in the user's function, or None. A name
    the normalizer wrote for a run-time helper (``helper_name``) names that helper."""
    if getattr(node, "helper", None) is not None:
        return node.helper
    if isinstance(node, gast.Name):
        obj = resolve_name(node.id, parsed)
        return None if obj is MISSING else obj
    if isinstance(node, gast.Attribute):
        base = resolve_path(node.value, parsed)
        return None if base is None else getattr(base, node.attr, None)
    return None


def helper_name(obj, name):
    """A name in the normal form for the run-time helper ``obj`` (``runtime.add_at``): it resolves to
    ``obj``, and the pipeline renames it to the name under which the generated code binds ``obj``."""
    node = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    node.helper = obj
    return node
