"""``with`` blocks, ``try`` statements and ``global`` declarations in the normal form.

A ``with`` block's context expression is evaluated into a name; its body becomes an ``If`` on a name
bound to True, guarded ``("with", name)``: the forward pass runs the body inside ``with
guarded_context(name):`` (runtime/guards.py), exactly as Python enters and leaves the manager, and the
backward pass reads the body as the branch it is (outside the manager). A manager that suppresses an
exception raised inside the block is refused when that happens. Several items nest, as in Python.

A ``try`` statement's body is guarded ``("try", exception types)``: the forward pass runs it inside
``try:`` with one ``except`` clause for the types of all the user's clauses, which raises
``caught_in_try``'s refusal: the derivative is proven only for a body that runs to its end, and the
except clauses never run. The ``else`` clause follows the body; the ``finally`` clause is the last
part of a body guarded ``("finally",)``, and runs in a ``finally:`` as Python runs it. A ``return``,
``break`` or ``continue`` inside a ``try`` statement is refused.

``global x`` only reads: a read of ``x`` is a read of the module global, as without the declaration;
an assignment to a name declared ``global`` or ``nonlocal`` is refused (it would change a value outside
the function, which the derivative does not follow).
"""

import copy

import gast

from ..core.errors import UnsupportedSyntaxError
from .ir import If, static_path_root


class GuardLowering:
    """Mixed into ``Normalizer``: uses ``atom``, ``flag``, ``nested``, ``statements``, ``block``,
    ``is_local`` and ``declared_outside``."""

    def with_statement(self, stmt, origin, items=None):
        items = stmt.items if items is None else items
        item = items[0]
        if item.optional_vars is not None:
            raise UnsupportedSyntaxError(
                "autodiff_st cannot differentiate `with ... as name` yet.", origin=origin,
                hint="Write the block without `as`, and bind what you need before it.")
        manager = self.atom(item.context_expr, origin, hint="context")
        entered = self.flag("entered", True, origin)
        results = []
        if len(items) > 1:
            body = self.nested(lambda: results.append(self.with_statement(stmt, origin, items[1:])))
        else:
            body = self.nested(lambda: results.append(self.statements(stmt.body)))
        self.block.append(If(entered, body, [], origin, guard=("with", manager)))
        return results[0]

    def try_statement(self, stmt, origin):
        for part in [stmt.body, stmt.orelse, stmt.finalbody]:
            for node in part:
                for inner in gast.walk(node):
                    if isinstance(inner, (gast.Return, gast.Break, gast.Continue)) and not _inside_function(node, inner):
                        raise UnsupportedSyntaxError(
                            f"autodiff_st cannot differentiate a `{type(inner).__name__.lower()}` inside a "
                            "`try` statement.", origin=getattr(inner, "origin", origin),
                            hint="Assign the result to a name and return it after the `try` statement.")
        types = []
        for handler in stmt.handlers:
            kind = handler.type
            if kind is None:
                types.append(gast.Name(id="BaseException", ctx=gast.Load(), annotation=None, type_comment=None))
                continue
            for part in kind.elts if isinstance(kind, gast.Tuple) else [kind]:
                root = static_path_root(part)
                if root is None or self.is_local(root):
                    raise UnsupportedSyntaxError(
                        "autodiff_st can differentiate an `except` clause only for exception classes named by "
                        "a global path (`except ValueError`, `except np.linalg.LinAlgError`).", origin=origin,
                        hint="Name the exception class itself in the except clause.")
                types.append(copy.deepcopy(part))
        entered = self.flag("entered", True, origin)

        def guarded_body():
            if stmt.handlers:
                body = self.nested(lambda: self.statements(stmt.body))
                caught = gast.Tuple(elts=types, ctx=gast.Load()) if len(types) > 1 else types[0]
                self.block.append(If(entered, body, [], origin, guard=("try", caught)))
            else:
                self.statements(stmt.body)
            self.statements(stmt.orelse)
            if stmt.finalbody:
                final = self.nested(lambda: self.statements(stmt.finalbody))
                self.block.append(If(entered, final, [], origin, guard=("final",)))

        if stmt.finalbody:
            body = self.nested(guarded_body)
            self.block.append(If(entered, body, [], origin, guard=("finally",)))
        else:
            guarded_body()
        return None

    def declare_outside(self, stmt, origin):
        """``global x`` or ``nonlocal x``: reads are reads of the outer variable."""
        for name in stmt.names:
            if name in self.env:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate `{name}` declared {type(stmt).__name__.lower()} after "
                    "it is used as a local variable.", origin=origin)
            self.declared_outside[name] = origin
        return None

    def refuse_outside_write(self, name, origin):
        if name in self.declared_outside:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate an assignment to `{name}`, declared global or nonlocal: it "
                "changes a variable outside the function, which the derivative does not follow.", origin=origin,
                hint=f"Return the new value of `{name}` and assign it outside the differentiated function.")


def _inside_function(root, node):
    """Whether ``node`` sits in a nested function or lambda under ``root`` (its jumps are its own)."""
    for child in gast.walk(root):
        if isinstance(child, (gast.FunctionDef, gast.Lambda)) and child is not root:
            if any(n is node for n in gast.walk(child)):
                return True
    return False
