"""Index gradients of one element added in place, where the static kinds prove what the run-time check
of ``accumulate_index`` would find (a pass over the backward statements, run by the pipeline).

A loop reading ``x[i]`` accumulates ``x_bar = accumulate_index(x_bar, x_i_bar, x, np.index_exp[i])``
(backward.py). ``accumulate_index`` (runtime/indexing.py) adds into ``x_bar`` in place when it owns its
memory, nothing else refers to it, it has ``x``'s shape and dtype, and the value is real. The statement
becomes ``x_bar[i] += x_i_bar`` where all of that is proved before the code runs:

- ``x_bar = zeros_like(x)`` is the statement right before the loop, and inside the loop ``x_bar`` appears
  in no statement but such accumulations into it: a fresh array, of ``x``'s shape, that no other name holds;
- ``x`` is a parameter bound nowhere else, called with an ``np.ndarray`` of dtype float64 (its rank and
  dtype are part of the cache key: compiler/kinds.py), indexed with as many ``int`` names as it has axes;
- the value is a real number: a name of number kind, or a name the backward pass binds only to constants,
  numbers, arithmetic on those (``+ - * /``, never ``**``, which can make a complex number) and the number
  rules of rules/math_builtins.py on them (``cos_of_number(x_i)``).

The value is then a float64 added to one float64 element, exactly what ``accumulate_index`` does in place
on that path; the call, its checks and the ``np.index_exp`` tuple are gone from each iteration.
"""

import gast

from ..runtime.cotangents import zeros_like
from ..runtime.indexing import accumulate_index
from .kinds import INT_KIND

_REAL_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)


def accumulate_in_place(statements, facts, helpers, intake=()):
    """``statements`` (the backward pass, run after the statements ``intake``, which bind the seed or the
    cotangent) with each provable accumulation of one element made in place."""
    zeros = helpers.name_for(zeros_like, "zeros_like")
    accumulate = helpers.name_for(accumulate_index, "accumulate_index")
    rules = {name for name, obj in helpers.bound.items() if getattr(obj, "on_numbers", False)}
    numbers = _LazyNumbers(list(intake) + list(statements), facts, rules)
    return _rewrite(statements, facts, zeros, accumulate, numbers)


class _LazyNumbers:
    """``_real_numbers`` of the statements, found at the first question: most backward passes have no loop
    this pass rewrites, and the walk over every statement cost about a tenth of a first transform. The
    first question comes before the first rewrite (``_element_add`` asks before it builds), so the
    statements it walks are the ones given."""

    def __init__(self, statements, facts, rules):
        self.statements, self.facts, self.rules, self.names = statements, facts, rules, None

    def __contains__(self, name):
        if self.names is None:
            self.names = _real_numbers(self.statements, self.facts, self.rules)
        return name in self.names


def _rewrite(statements, facts, zeros, accumulate, numbers):
    result = []
    for k, stmt in enumerate(statements):
        for field in ("body", "orelse"):
            if isinstance(stmt, (gast.For, gast.While, gast.If)):
                setattr(stmt, field, _rewrite(getattr(stmt, field), facts, zeros, accumulate, numbers))
        if isinstance(stmt, gast.For) and k > 0:
            owned = _fresh_zeros(statements[k - 1], facts, zeros)
            if owned is not None:
                _in_place(stmt, owned, facts, accumulate, numbers)
        result.append(stmt)
    return result


def _fresh_zeros(stmt, facts, zeros):
    """``(acc, x)`` where ``stmt`` is ``acc = zeros_like(x)`` of an ndarray parameter of dtype float64."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
            and isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Name)
            and stmt.value.func.id == zeros and len(stmt.value.args) == 1 and not stmt.value.keywords
            and isinstance(stmt.value.args[0], gast.Name)):
        return None
    x = stmt.value.args[0].id
    kind = facts.kinds.kind(x)
    if x not in facts.params or not facts.kinds.bound_once(x) or kind.kind != "array" \
            or kind.dtype != "float64" or not kind.rank:
        return None
    return stmt.targets[0].id, x


def _in_place(loop, owned, facts, accumulate, numbers):
    acc, x = owned
    rank = facts.kinds.rank(x)
    found = []  # (list holding the statement, its position, the new statement)

    def visit(body):
        for position, stmt in enumerate(body):
            new = _element_add(stmt, acc, x, rank, facts, accumulate, numbers)
            if new is not None:
                found.append((body, position, new))
            for field in ("body", "orelse"):
                if isinstance(stmt, (gast.For, gast.While, gast.If)):
                    visit(getattr(stmt, field))

    visit(loop.body)
    uses = sum(1 for node in gast.walk(loop) if isinstance(node, gast.Name) and node.id == acc)
    if not found or uses != 2 * len(found):  # acc appears elsewhere in the loop: leave every one alone
        return
    for body, position, new in found:
        body[position] = new


def _element_add(stmt, acc, x, rank, facts, accumulate, numbers):
    """``acc[i] += v`` for ``acc = accumulate_index(acc, v, x, np.index_exp[i])`` of one element, else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id == acc and isinstance(stmt.value, gast.Call)
            and isinstance(stmt.value.func, gast.Name) and stmt.value.func.id == accumulate
            and len(stmt.value.args) == 4 and not stmt.value.keywords):
        return None
    first, value, operand, index = stmt.value.args
    if not (isinstance(first, gast.Name) and first.id == acc and isinstance(operand, gast.Name) and operand.id == x
            and isinstance(value, gast.Name) and value.id in numbers
            and isinstance(index, gast.Subscript) and isinstance(index.value, gast.Attribute)
            and index.value.attr == "index_exp"):
        return None
    parts = index.slice.elts if isinstance(index.slice, gast.Tuple) else [index.slice]
    if len(parts) != rank or not all(isinstance(p, gast.Name) and facts.kinds.kind(p.id) == INT_KIND for p in parts):
        return None
    target = gast.Subscript(value=gast.Name(id=acc, ctx=gast.Load(), annotation=None, type_comment=None),
                            slice=index.slice, ctx=gast.Store())
    new = gast.AugAssign(target=target, op=gast.Add(), value=value)
    return gast.copy_location(new, stmt)


def _real_numbers(statements, facts, rules=()):
    """The names that hold a real number wherever the backward pass reads them: names of number kind, and
    names every assignment of the backward pass binds to a number (the largest such set: each assignment
    keeps the property given the others). ``rules`` names the number rules (``cos_of_number``,
    rules/math_builtins.py): np.cos and the like of a real number, a real number."""
    assignments = {}
    plain = set()  # the target nodes of those assignments
    for stmt in statements:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
                assignments.setdefault(node.targets[0].id, []).append(node.value)
                plain.add(id(node.targets[0]))
    # names bound some other way (a tuple target, a loop target, an augmented assignment)
    others = {node.id for stmt in statements for node in gast.walk(stmt)
              if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and id(node) not in plain}
    assigned = set(assignments) | others
    candidates = {name for name in assignments if name not in others and not facts.is_local(name)}

    def real(node):
        if isinstance(node, gast.Constant):
            return type(node.value) in (int, float)
        if isinstance(node, gast.Name):
            return node.id in candidates or (node.id not in assigned or facts.is_local(node.id)) \
                and facts.kinds.is_number(node.id)
        if isinstance(node, gast.BinOp):
            return isinstance(node.op, _REAL_OPS) and real(node.left) and real(node.right)
        if isinstance(node, gast.UnaryOp):
            return isinstance(node.op, (gast.USub, gast.UAdd)) and real(node.operand)
        if isinstance(node, gast.Call):
            return isinstance(node.func, gast.Name) and node.func.id in rules and len(node.args) == 1 \
                and not node.keywords and real(node.args[0])
        return False

    changed = True
    while changed:
        changed = False
        for name in sorted(candidates):
            if not all(real(value) for value in assignments[name]):
                candidates.discard(name)
                changed = True
    return candidates | {name for name in facts.kinds.numbers}
