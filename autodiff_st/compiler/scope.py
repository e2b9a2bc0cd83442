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
    """The object a dotted path such as ``np.linalg.inv`` names in the user's function, or None."""
    if isinstance(node, gast.Name):
        obj = resolve_name(node.id, parsed)
        return None if obj is MISSING else obj
    if isinstance(node, gast.Attribute):
        base = resolve_path(node.value, parsed)
        return None if base is None else getattr(base, node.attr, None)
    return None
