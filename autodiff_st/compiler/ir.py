"""The intermediate form the compiler's passes share: the normal form's statements, and small builders.

``normalize`` produces it: a list of ``Op``, ``If``, ``Loop`` and ``Break``. ``analyze`` reads it, and
``reverse`` and ``forward`` turn it into generated statements.
"""

import dataclasses

import gast

from .parsing import Origin


@dataclasses.dataclass
class Op:
    """One statement of the normal form.

    kind is one of:
      "assign": ``target = value``, value a single operation on atoms, or an atom (a copy);
      "setitem": ``target[index] = stored``, value the element ``target[index]`` written into;
      "append":  ``target.append(stored)``, on a list the function made;
      "pop":     ``target = items.pop()``, value the list ``items``;
      "unpack": ``targets = value``, value a call or a name;
      "return": ``return value``, value an atom or a tuple of atoms;
      "expr":   ``value`` evaluated for its effect (a call);
      "assert": ``assert value``;
      "unshared": ``check_unshared(*value)``, the run-time sharing check before an in-place write
                  (runtime/sharing.py); value a tuple with no elements where the analysis proved it
                  unneeded.
      "raise":  ``raise value[0]`` (``from value[1]`` when there are two), in the forward pass.
    """

    kind: str
    target: object  # str, tuple of str, or None
    value: gast.expr
    origin: Origin
    nested: bool = False  # inside a loop or a branch: it may overwrite a value the backward pass needs
    stored: object = None  # for "setitem" (``target[index] = stored``): the atom written


@dataclasses.dataclass
class If:
    """``if test: body else: orelse``, where ``test`` names a value that the branches do not change.

    A ``with`` block or a ``try`` statement is an ``If`` on a name bound to True whose ``guard`` says what
    the forward pass runs its body inside: ("with", context expression), ("try", exception types) for a
    body whose except clauses are refused when they catch, ("finally",) for a body whose last ``If``,
    guarded ("final",), is its ``finally`` clause. The backward pass reads it as the branch it is.
    """

    test: str
    body: list
    orelse: list
    origin: Origin
    guard: tuple = None


@dataclasses.dataclass
class Loop:
    """A ``for`` or ``while`` loop in normal form.

    A for loop walks ``sources`` (atoms) together, by position: ``targets[i]`` takes the items of
    ``sources[i]``, and ``index`` (if any) the position, as with ``enumerate`` and ``zip``. When
    ``sources`` is a single ``range(...)`` call (``range_args``), the target takes its values. A while
    loop (``kind == "while"``) has no sources; its body starts by testing the condition and breaks out
    when it is false. ``break``, ``continue`` and ``return`` inside the body are already lowered to
    flags, so the body always runs to its end, where ``Break`` statements leave the loop. ``count``
    names the number of iterations run, which the backward pass reads.
    """

    kind: str
    sources: list
    range_args: list
    index: object
    targets: list
    body: list
    count: str
    origin: Origin


@dataclasses.dataclass
class Break:
    origin: Origin


def walk_ops(nodes):
    """Every ``Op`` in a normal-form block, nested blocks included, in program order."""
    for node in nodes:
        if isinstance(node, Op):
            yield node
        elif isinstance(node, If):
            yield from walk_ops(node.body)
            yield from walk_ops(node.orelse)
        elif isinstance(node, Loop):
            yield from walk_ops(node.body)


def is_atom(node):
    if isinstance(node, (gast.Name, gast.Constant, gast.JoinedStr)):
        return True
    if isinstance(node, (gast.Tuple, gast.List)):
        return all(is_atom(e) for e in node.elts)
    if isinstance(node, gast.Dict):
        return all(is_atom(v) for v in node.values)
    return False


def load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def static_path_root(node):
    """The root name of a dotted path such as ``np.linalg.inv``, or None."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def walk_loops(nodes):
    for node in nodes:
        if isinstance(node, Loop):
            yield node
            yield from walk_loops(node.body)
        elif isinstance(node, If):
            yield from walk_loops(node.body)
            yield from walk_loops(node.orelse)


def walk_tree(node, prune=()):
    """The nodes of the gast tree ``node`` in ``gast.walk``'s order (breadth first), as a list, less the
    contexts (``Load``, ``Store``) and operators, which the passes never look for.

    The passes ask this of every generated statement, several times; ``gast.walk``'s generators cost
    several times as much. Nodes of the classes in ``prune`` are left out with all they hold.
    """
    nodes = [node]
    append = nodes.append
    table = _CHILD_FIELDS
    node_class = gast.AST
    for parent in nodes:  # the list grows as it is read: breadth first
        fields = table.get(parent.__class__)
        if fields is None:
            fields = child_fields(parent.__class__)
        for field in fields:
            value = getattr(parent, field, None)
            if value is None:
                continue
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, node_class) and (not prune or item.__class__ not in prune):
                        append(item)
            elif isinstance(value, node_class) and (not prune or value.__class__ not in prune):
                append(value)
    return nodes


_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "id", "kind", "type_comment", "attr"})
_CHILD_FIELDS = {gast.Constant: ()}


def child_fields(cls):
    """The fields of the node class ``cls`` that may hold nodes other than contexts and operators."""
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        fields = _CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _LEAF_FIELDS)
    return fields


def name_nodes(node):
    """The ``Name`` nodes in the tree ``node``, in ``gast.walk``'s order."""
    return [n for n in walk_tree(node) if n.__class__ is gast.Name]
