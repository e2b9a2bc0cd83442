"""Optimize: drop adjoint code whose result nothing reads.

The reverse pass already skips statements whose result has no adjoint. What is left to clean up are
pieces of inlined rules that the call site did not need, such as a shared intermediate computed for a
cotangent that was dropped.
"""

import gast

from .ir import walk_tree


def _loads(stmt):
    return _Summary(stmt).reads()


def _stores(stmt):
    return _Summary(stmt).stores


class _Summary:
    """The names one statement (with what is nested in it) reads and writes, found in one walk.

    ``loads`` counts the ``Name`` nodes read, per name; ``augmented`` holds the targets of ``x += 1``,
    which read ``x`` too; ``stores`` the names written.
    """

    __slots__ = ("stmt", "loads", "augmented", "stores")

    def __init__(self, stmt):
        self.stmt = stmt
        loads, augmented, stores = {}, set(), set()
        for node in walk_tree(stmt):
            cls = node.__class__
            if cls is gast.Name:
                ctx = node.ctx.__class__
                if ctx is gast.Load:
                    loads[node.id] = loads.get(node.id, 0) + 1
                elif ctx is gast.Store:
                    stores.add(node.id)
            elif cls is gast.AugAssign and isinstance(node.target, gast.Name):
                augmented.add(node.target.id)
        self.loads, self.augmented, self.stores = loads, augmented, stores

    def reads(self):
        return set(self.loads) | self.augmented

    def reads_name(self, name):
        return name in self.loads or name in self.augmented


class _Summaries:
    """``_Summary`` of statements, kept while a pass rewrites them (see ``forget``)."""

    def __init__(self):
        self._table = {}

    def of(self, stmt):
        entry = self._table.get(id(stmt))
        if entry is None or entry.stmt is not stmt:
            entry = self._table[id(stmt)] = _Summary(stmt)
        return entry

    def forget(self, stmt):
        """Drop what is known of ``stmt`` and of the statements nested in it (they changed)."""
        for node in walk_tree(stmt):
            if isinstance(node, gast.stmt):
                self._table.pop(id(node), None)


def drop_dead_assignments(statements, live, only_pure=False):
    """Remove assignments, scanning backwards, whose targets are not read later or in ``live``.

    With ``only_pure``, only statements marked ``pure`` (no effect but their result) are removed: the
    user's own forward statements may print or call functions with effects.
    """
    live = set(live)
    kept = []
    for stmt in reversed(statements):
        summary = _Summary(stmt)
        targets = summary.stores
        if only_pure and isinstance(stmt, gast.For) and getattr(stmt, "iter_cannot_raise", False) \
                and _all_pure(stmt.body) and not (targets & live):
            continue  # a finite loop over a range that only computes values nothing reads
        # Loops and branches are kept whole; a tape pop is never dropped, or the tape would fall out of step.
        removable = isinstance(stmt, gast.Assign) and getattr(stmt, "pop_of", None) is None \
            and (getattr(stmt, "pure", False) or not only_pure)
        if removable and targets and not (targets & live):
            continue
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            if only_pure and isinstance(stmt, (gast.For, gast.While)):
                stmt.body = _drop_faint(stmt.body, live)
            # A branch or loop may not run, so what it assigns is not certainly replaced; what it reads
            # before assigning it itself is live before it.
            live |= _exposed([stmt])
        else:
            live = (live - targets) | summary.reads()
        kept.append(stmt)
    kept.reverse()
    return kept


_FOLDABLE = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b, gast.Mult: lambda a, b: a * b}


def _number(node):
    return isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) \
        and not isinstance(node.value, bool)


def _string(node):
    return isinstance(node, gast.Constant) and isinstance(node.value, str)


class FoldConstants(gast.NodeTransformer):
    """Fold what inlining a rule leaves behind: ``2 - 1`` becomes ``1``, and ``x ** 1`` becomes ``x``."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if _number(node.left) and _number(node.right) and type(node.op) in _FOLDABLE:
            return gast.Constant(value=_FOLDABLE[type(node.op)](node.left.value, node.right.value), kind=None)
        if isinstance(node.op, gast.Pow) and _number(node.right) and node.right.value == 1:
            return node.left
        return node

    def visit_Compare(self, node):
        """``True is True``, ``None is None``: what a rule's test of an optional argument becomes when the
        call leaves it at its default."""
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (gast.Is, gast.IsNot)) \
                and isinstance(node.left, gast.Constant) and isinstance(node.comparators[0], gast.Constant) \
                and (node.left.value is None or node.comparators[0].value is None
                     or isinstance(node.left.value, bool) and isinstance(node.comparators[0].value, bool)):
            same = node.left.value is node.comparators[0].value
            return gast.Constant(value=same if isinstance(node.ops[0], gast.Is) else not same, kind=None)
        if len(node.ops) == 1 and isinstance(node.ops[0], (gast.Eq, gast.NotEq)) and (
                _number(node.left) and _number(node.comparators[0])  # 2 == 0: a rule's test of a constant exponent
                or _string(node.left) and _string(node.comparators[0])):  # "C" == "C": of a default order
            equal = node.left.value == node.comparators[0].value
            return gast.Constant(value=equal if isinstance(node.ops[0], gast.Eq) else not equal, kind=None)
        return node

    def visit_BoolOp(self, node):
        """``True and False`` and the like, once their operands are folded."""
        self.generic_visit(node)
        if all(isinstance(v, gast.Constant) and isinstance(v.value, bool) for v in node.values):
            values = [v.value for v in node.values]
            return gast.Constant(value=all(values) if isinstance(node.op, gast.And) else any(values), kind=None)
        return node

    def visit_IfExp(self, node):
        """``a if True else b`` is ``a``: a rule's branch on an argument left at its default."""
        self.generic_visit(node)
        if isinstance(node.test, gast.Constant) and isinstance(node.test.value, bool):
            return node.body if node.test.value else node.orelse
        return node


def fold_constants(node):
    return FoldConstants().visit(node)


def delete_dead_values(statements, keep):
    """Add ``del`` after the last statement that reads each local value.

    A generated gradient function holds every intermediate until it returns; freeing each one when
    nothing reads it again keeps the peak memory near a hand-written adjoint's. ``keep`` names values
    that must live to the end (the returned ones). Statements inside loops and branches count as one
    statement here, so a value read in a loop lives until the loop is done.
    """
    last = {}
    for i, stmt in enumerate(statements):
        for node in walk_tree(stmt):
            if node.__class__ is gast.Name:
                last[node.id] = i
    dying = {}
    for name, i in last.items():
        if name not in keep:
            dying.setdefault(i, []).append(name)
    first_store = {}
    for i, stmt in enumerate(statements):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):  # bound on every path, unlike in a branch
            for name in _bound_by(stmt):
                first_store.setdefault(name, i)
    out = []
    for i, stmt in enumerate(statements):
        out.append(stmt)
        # Only locals bound by now: not globals, helpers, or names bound later.
        names = [n for n in dying.get(i, []) if first_store.get(n, len(statements)) <= i]
        if names:
            out.append(gast.Delete(targets=[gast.Name(id=n, ctx=gast.Del(), annotation=None, type_comment=None)
                                            for n in sorted(names)]))
    return out



def live_in(statements):
    """The names ``statements`` read before they assign them: what must hold a value when they start."""
    return _exposed(statements)


def _exposed(statements):
    """Names ``statements`` may read before assigning them (their live-in set)."""
    exposed, defined = set(), set()
    for stmt in statements:
        if isinstance(stmt, gast.For):
            inner = _exposed(stmt.body) - _stores(stmt.target)
            exposed |= (_loads(stmt.iter) | inner | _exposed(stmt.orelse)) - defined
        elif isinstance(stmt, gast.While):
            exposed |= (_loads(stmt.test) | _exposed(stmt.body) | _exposed(stmt.orelse)) - defined
        elif isinstance(stmt, gast.If):
            exposed |= (_loads(stmt.test) | _exposed(stmt.body) | _exposed(stmt.orelse)) - defined
        else:
            exposed |= _loads(stmt) - defined
            if isinstance(stmt, (gast.Assign, gast.AugAssign)) and not isinstance(stmt, gast.AugAssign):
                defined |= {t.id for t in stmt.targets if isinstance(t, gast.Name)}
    return exposed


def _drop_faint(body, live):
    """A kept loop's ``body`` without the pure assignments whose values only feed each other: in the
    gradient-only code of ``s = s + np.sin(x[i]) * w`` the loop stays for the tape, but ``s`` and the terms
    added to it are read by nothing but the next ``s``. A name qualifies when nothing after the loop reads
    it (``live``), only pure assignments at the top of the body bind it, and only those of qualifying names
    read it."""
    assigns = [stmt for stmt in body if isinstance(stmt, gast.Assign) and getattr(stmt, "pure", False)
               and getattr(stmt, "pop_of", None) is None and len(stmt.targets) == 1
               and isinstance(stmt.targets[0], gast.Name)]
    if not assigns:
        return body
    chosen = {id(stmt) for stmt in assigns}
    faint = {stmt.targets[0].id for stmt in assigns} - set(live)
    for stmt in body:  # a name bound any other way is left alone
        if id(stmt) not in chosen:
            faint -= _Summary(stmt).stores
    changed = True
    while changed and faint:
        changed = False
        for stmt in body:
            reads = _Summary(stmt).reads()
            if id(stmt) in chosen and stmt.targets[0].id in faint:
                continue
            if reads & faint:
                faint -= reads
                changed = True
    if not faint:
        return body
    return [stmt for stmt in body if not (id(stmt) in chosen and stmt.targets[0].id in faint)] or [gast.Pass()]


def _all_pure(statements):
    for stmt in statements:
        if isinstance(stmt, gast.Assign) and getattr(stmt, "pure", False):
            continue
        if isinstance(stmt, gast.For) and getattr(stmt, "iter_cannot_raise", False) and _all_pure(stmt.body):
            continue
        if isinstance(stmt, gast.If) and _all_pure(stmt.body) and _all_pure(stmt.orelse):
            continue
        if isinstance(stmt, gast.Pass):
            continue
        return False
    return True


_SCOPES = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda)


def _bound_by(stmt):
    """Names a statement binds in the function's scope; a comprehension's own variables are not."""
    return {node.id for node in walk_tree(stmt, prune=_SCOPES)
            if node.__class__ is gast.Name and isinstance(node.ctx, gast.Store)}


def propagate_copies(statements, protected=()):
    """Drop ``a_bar = b_bar`` copies in the backward pass, reading ``b_bar`` where ``a_bar`` was read.

    A copy goes when ``a`` is assigned nowhere else, is read only later in the same block, and ``b``
    keeps its value until then (``b = a`` does not count: after the rewrite it is ``b = b``, which goes
    too). What adding a cotangent to a temporary leaves behind, one line per operator, reads as noise,
    and in a loop it costs a statement per iteration. Names in ``protected`` stay.
    """
    counts, reads = {}, {}
    for stmt in statements:
        for node in walk_tree(stmt):
            if node.__class__ is gast.Name:
                table = counts if isinstance(node.ctx, gast.Store) else reads
                table[node.id] = table.get(node.id, 0) + 1
    return _propagate_block(statements, counts, set(protected), reads, _Summaries())


def _read_count(statements, name, summaries):
    return sum(summaries.of(stmt).loads.get(name, 0) for stmt in statements)


def _propagate_block(block, counts, protected, reads, summaries):
    block = list(block)
    i = 0
    while i < len(block):
        stmt = block[i]
        for field in ("body", "orelse"):
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                setattr(stmt, field, _propagate_block(getattr(stmt, field), counts, protected, reads, summaries)
                        or ([gast.Pass()] if field == "body" else []))
                summaries.forget(stmt)
        copy = _copy_of(stmt)
        if copy is not None and counts.get(copy[0]) == 1 and copy[0] not in protected:
            a, b = copy
            # Every read of a must follow the copy in this block: in a loop, a read before it would
            # see the previous iteration's value.
            if reads.get(a, 0) == _read_count(block[i + 1:], a, summaries) \
                    and _replaceable(block[i + 1:], a, b, summaries):
                rest = [_rename_loads(s, a, b, summaries) for s in block[i + 1:]]
                dropped = [s for s in rest if _copy_of(s) == (b, b)]
                rest = [s for s in rest if _copy_of(s) != (b, b)]
                reads[b] = reads.get(b, 0) + reads.pop(a, 0) - len(dropped) - 1  # the copy read b once
                block = block[:i] + rest
                continue
        i += 1
    return block


def _copy_of(stmt):
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
            and isinstance(stmt.value, gast.Name) and getattr(stmt, "pop_of", None) is None:
        return stmt.targets[0].id, stmt.value.id
    return None


def _replaceable(rest, a, b, summaries):
    """Whether every read of ``a`` in ``rest`` comes before ``b`` is given another value."""
    b_changed = False
    for stmt in rest:
        summary = summaries.of(stmt)
        reads_a = summary.reads_name(a)
        if reads_a and b_changed:
            return False
        if b in summary.stores and _copy_of(stmt) != (b, a):
            if isinstance(stmt, (gast.If, gast.For, gast.While)) and reads_a:
                return False
            b_changed = True
        if isinstance(stmt, gast.Delete) and any(t.id in (a, b) for t in stmt.targets):
            return False
    return True


def _rename_loads(stmt, old, new, summaries):
    if old not in summaries.of(stmt).loads:
        return stmt
    for node in walk_tree(stmt):
        if node.__class__ is gast.Name and isinstance(node.ctx, gast.Load) and node.id == old:
            node.id = new
    summaries.forget(stmt)
    return stmt
