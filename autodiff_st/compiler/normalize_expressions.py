"""Expressions to atoms: the part of normalize that takes an expression apart.

An atom is a name or a constant. Each operation of a nested expression is assigned to a fresh temporary
whose name says what it holds (``exp_neg_z``, ``y_times_log_p``), so that what is left is one operation
on atoms. Expressions that Python evaluates only in part become statements of the normal form: a
conditional expression and ``and``/``or`` become ``if`` statements assigning one name, a chained
comparison becomes ``and``, and a list comprehension becomes a loop appending to a new list. A call of a
nested ``def`` or a lambda is replaced by its return expression, with the arguments put in.
"""

import copy

import builtins

import gast
import numpy as np

from ..core.errors import UnsupportedSyntaxError
from ..runtime.numeric import add_at
from .inline_helpers import INLINED, caller_bound_names, inlinable
from .ir import If, load, static_path_root
from .naming import describe_operand
from .scope import helper_name

OP_WORDS = {
    gast.Add: "plus", gast.Sub: "minus", gast.Mult: "times", gast.Div: "over", gast.MatMult: "matmul",
    gast.Pow: "pow", gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.BitAnd: "and", gast.BitOr: "or",
    gast.BitXor: "xor", gast.LShift: "lshift", gast.RShift: "rshift",
}
COMPARE_WORDS = {
    gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq", gast.NotEq: "ne",
    gast.Is: "is", gast.IsNot: "is_not", gast.In: "in", gast.NotIn: "not_in",
}
UNARY_WORDS = {gast.USub: "neg", gast.UAdd: "pos", gast.Not: "not", gast.Invert: "invert"}


class ExpressionLowering:
    """The expression half of ``Normalizer``, which it is mixed into.

    It shares the normalizer's state: ``env`` (user name -> current version), ``namer``, ``sharing``
    (the alias tracker), ``inlined``, ``block``, and the methods ``emit``, ``nested``, ``is_local``,
    ``condition`` and ``loop_statement``, since conditional expressions and comprehensions become
    statements of the block being built.
    """

    def merged_dict(self, node, origin, hint):
        """``{**a, "k": v, **b}``: a new dict, then ``update(a)``, ``["k"] = v``, ``update(b)`` in the order
        Python evaluates the display, each lowered as the statement it is (normalize_collections.py)."""
        name = self.namer.fresh(hint or "merged")
        self.assign_to(name, gast.Dict(keys=[], values=[]), origin)
        user = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
        for key, value in zip(node.keys, node.values):
            if key is None:
                update = gast.Attribute(value=user, attr="update", ctx=gast.Load())
                self.statement_at_origin(gast.Expr(value=gast.Call(func=update, args=[value], keywords=[])), origin)
            else:
                element = gast.Subscript(value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                                         slice=key, ctx=gast.Store())
                self.statement_at_origin(gast.Assign(targets=[element], value=value, type_comment=None), origin)
        return load(self.env[name])

    def statement_at_origin(self, stmt, origin):
        """Normalize ``stmt``, a statement the normal form writes for part of the user's line ``origin``."""
        stmt.origin = origin
        self.statement(stmt)

    def atom(self, node, origin, hint=None):
        return self.expression(node, origin, want_atom=True, hint=hint)

    def expression(self, node, origin, want_atom, hint=None):
        """Normalize ``node``. With want_atom, the result is a name or constant; without, it may be
        one operation on atoms."""
        if isinstance(node, gast.Name):
            if getattr(node, "helper", None) is not None:
                return node  # a run-time helper or lifted function the normal form names (scope.helper_name)
            if node.id in self.nested_functions:  # a nested function used as a value: a closure
                return self.function_value(node.id, origin, want_atom, hint)
            return load(self.env.get(node.id, node.id))
        if isinstance(node, gast.Call):
            node = self.rewritten_call(node, origin)  # f(*xs), super(), nested functions (normalize_functions)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in self.inlined:
            return self.inline_call(node, origin, hint)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and not self.is_local(node.func.id):
            inlined = self.inline_helper(node, origin, hint)  # a module-level helper (inline_helpers.py)
            if inlined is not None:
                return inlined
        if isinstance(node, gast.Lambda):
            return self.lambda_value(node, origin, want_atom, hint)
        if isinstance(node, gast.NamedExpr):  # (s := value): bind s, as a statement would, then read it
            self.assign_to(node.target.id, node.value, origin)
            return load(self.env[node.target.id])
        if isinstance(node, (gast.Call, gast.BinOp)):
            lowered = self.lower_collection_call(node, origin, hint)  # normalize_collections.py
            if lowered is not None:
                return lowered
        if isinstance(node, gast.Call):
            node = self.displays_as_arrays(node, origin)
            node = self.tree_construction(node, origin)
        if isinstance(node, gast.Constant):
            return node
        if isinstance(node, gast.JoinedStr):
            return self.rename_loads(node)
        if isinstance(node, (gast.Tuple, gast.List)):
            return type(node)(elts=[self.atom(e, origin) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Call) and not node.args and node.keywords and all(k.arg for k in node.keywords) \
                and self.resolve_static(node.func) is builtins.dict:
            # dict(a=..., b=...) is the display {"a": ..., "b": ...}
            node = gast.Dict(keys=[gast.Constant(value=k.arg, kind=None) for k in node.keywords],
                             values=[k.value for k in node.keywords])
        if isinstance(node, gast.Dict) and any(k is None for k in node.keys):
            return self.merged_dict(node, origin, hint)
        if isinstance(node, gast.Dict):
            return gast.Dict(keys=node.keys, values=[self.atom(v, origin) for v in node.values])
        if isinstance(node, (gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            return self.comprehension(node, origin, hint)
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
                and isinstance(node.operand, gast.Constant) and isinstance(node.operand.value, (int, float)):
            return gast.Constant(value=-node.operand.value, kind=None)
        if isinstance(node, gast.IfExp):
            return self.conditional_expression(node, origin, hint)
        if isinstance(node, gast.BoolOp):
            return self.boolean_expression(node, origin, hint)
        if isinstance(node, gast.Compare) and len(node.ops) > 1:
            return self.chained_comparison(node, origin, hint)
        if isinstance(node, gast.BinOp):
            value = gast.BinOp(left=self.atom(node.left, origin), op=node.op, right=self.atom(node.right, origin))
        elif isinstance(node, gast.UnaryOp):
            value = gast.UnaryOp(op=node.op, operand=self.atom(node.operand, origin))
        elif isinstance(node, gast.Compare):
            value = gast.Compare(left=self.atom(node.left, origin), ops=node.ops,
                                 comparators=[self.atom(c, origin) for c in node.comparators])
        elif isinstance(node, gast.Call) and self.output_array(node, origin) is not None:
            return self.call_into(node, origin)
        elif isinstance(node, gast.Call):
            value = gast.Call(func=self.callee(node.func, origin),
                              args=[self.atom(a, origin) for a in node.args],
                              keywords=[gast.keyword(arg=k.arg, value=self.atom(k.value, origin))
                                        for k in node.keywords])
        elif isinstance(node, gast.Attribute):
            value = gast.Attribute(value=self.atom(node.value, origin), attr=node.attr, ctx=gast.Load())
        elif isinstance(node, gast.Subscript) and any(self.resolve_static(node.value) is j for j in (np.r_, np.c_)):
            value = self.index_join(node, origin)
        elif isinstance(node, gast.Subscript):
            indexed = self.atom(node.value, origin)
            if isinstance(indexed, (gast.Tuple, gast.List, gast.Dict)):  # [a, b][i]: name the display first
                indexed = load(self.into_temporary(indexed, origin))
            value = gast.Subscript(value=indexed, slice=self.index(node.slice, origin), ctx=gast.Load())
        else:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate the expression `{type(node).__name__}`.",
                origin=origin, hint="Rewrite it with arithmetic and numpy calls.")
        value.origin = origin
        if not want_atom:
            return value
        name = self.namer.fresh(hint or temp_name(value, self.sharing.knows))
        self.emit("assign", name, value, origin)
        self.sharing.record_aliases(name, value)
        return load(name)

    def rename_loads(self, node):
        node = copy.deepcopy(node)
        for child in gast.walk(node):
            if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Load) and child.id in self.env:
                child.id = self.env[child.id]
        return node

    def index(self, node, origin):
        """An index expression with atoms in it: ``i``, ``1:n:2``, ``..., None``, ``mask``."""
        if isinstance(node, gast.Slice):
            return gast.Slice(lower=node.lower and self.atom(node.lower, origin),
                              upper=node.upper and self.atom(node.upper, origin),
                              step=node.step and self.atom(node.step, origin))
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e, origin) for e in node.elts], ctx=gast.Load())
        return self.atom(node, origin)

    def index_join(self, node, origin):
        """``np.r_[x, c, 1:10]`` as the call ``np.r_.__getitem__((x, c, slice(1, 10)))``, which has a
        derivative rule."""
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if any(isinstance(item, gast.Constant) and isinstance(item.value, str) for item in items):
            raise UnsupportedSyntaxError("autodiff_st cannot differentiate np.r_ or np.c_ with a string directive.",
                                         origin=origin, hint="Join with np.concatenate, np.stack or np.column_stack.")
        none = gast.Constant(value=None, kind=None)
        key = [gast.Call(func=load("slice"), args=[self.atom(part, origin) if part else none
                                                    for part in (item.lower, item.upper, item.step)], keywords=[])
               if isinstance(item, gast.Slice) else item for item in items]
        method = gast.Attribute(value=node.value, attr="__getitem__", ctx=gast.Load())
        return gast.Call(func=method, args=[self.atom(gast.Tuple(elts=key, ctx=gast.Load()), origin)], keywords=[])

    def callee(self, func, origin):
        root = static_path_root(func)
        if root is not None and not self.is_local(root):
            return func  # a module-level path such as np.linalg.inv
        if isinstance(func, gast.Name):
            return load(self.env[func.id])
        if isinstance(func, gast.Attribute):
            return gast.Attribute(value=self.atom(func.value, origin), attr=func.attr, ctx=gast.Load())
        return self.atom(func, origin)

    # -- numpy's out=: a write into an existing array ------------------------------------------------

    def output_array(self, call, origin):
        """The ``out=`` argument of a numpy call (by keyword, or a ufunc's extra positional argument), or
        None when there is none."""
        fn = self.resolve_static(call.func)
        if _is_add_at(fn):
            return self.add_at_target(call, origin)
        is_ufunc = isinstance(fn, np.ufunc)
        if not is_ufunc and not (getattr(fn, "__module__", None) or "").startswith("numpy"):
            return None  # the user's own function: out= is just an argument to it
        out = next((k.value for k in call.keywords if k.arg == "out"), None)
        if is_ufunc and len(call.args) > fn.nin:
            out = call.args[fn.nin] if len(call.args) == fn.nin + 1 else gast.Tuple(elts=call.args[fn.nin:])
        if out is None or isinstance(out, gast.Constant) and out.value is None:
            return None
        if isinstance(out, gast.Tuple) and len(out.elts) == 1:
            out = out.elts[0]
        if not isinstance(out, gast.Name) or (is_ufunc and fn.nout != 1) \
                or any(k.arg == "where" for k in call.keywords):
            raise UnsupportedSyntaxError(
                "autodiff_st can differentiate `out=` only as one local array that the whole result is "
                "written into.", origin=origin,
                hint="Drop out= and assign the result to a new name.")
        return out.id

    _FLOAT_MAKERS = (np.zeros, np.ones, np.empty, np.full, np.eye, np.identity, np.linspace)
    _FLOAT_DTYPES = (float, complex, np.float64, np.float32, np.float16, np.complex128, np.complex64)

    def floating_array(self, version, depth=0):
        """Whether every binding of ``version`` gives a floating (or complex) array, as far as the
        function's own statements show: a float-making numpy constructor without another dtype,
        arithmetic with a float constant, or a copy of such an array. Otherwise unknown (False)."""
        bindings = [op for op in self.ops if op.kind == "assign" and op.target == version]
        if version is None or depth > 8 or not bindings:
            return False
        return all(self.floating_value(op.value, depth) for op in bindings)

    def floating_value(self, value, depth):
        if isinstance(value, gast.BinOp):
            return any(isinstance(v, gast.Constant) and isinstance(v.value, (float, complex))
                       and not isinstance(v.value, bool) for v in (value.left, value.right)) \
                or any(isinstance(v, gast.Name) and self.floating_array(v.id, depth + 1)
                       for v in (value.left, value.right))
        if isinstance(value, gast.Name):
            return self.floating_array(value.id, depth + 1)
        if not isinstance(value, gast.Call):
            return False
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr == "copy" and isinstance(func.value, gast.Name):
            return self.floating_array(func.value.id, depth + 1)
        fn = self.resolve_static(func)
        dtype = next((k.value for k in value.keywords if k.arg == "dtype"), None)
        if any(fn is maker for maker in self._FLOAT_MAKERS):
            if fn is np.full and dtype is None:
                fill = value.args[1] if len(value.args) > 1 else next(
                    (k.value for k in value.keywords if k.arg == "fill_value"), None)
                return isinstance(fill, gast.Constant) and isinstance(fill.value, float)
            return dtype is None and len(value.args) <= (1 if fn is not np.linspace else 3) \
                or dtype is not None and any(self.resolve_static(dtype) is d for d in self._FLOAT_DTYPES)
        if fn is np.copy and value.args and isinstance(value.args[0], gast.Name):
            return self.floating_array(value.args[0].id, depth + 1)
        return False

    def add_at_target(self, call, origin):
        """The array ``a`` that ``np.add.at(a, indices, b)`` adds into."""
        if len(call.args) != 3 or call.keywords or not isinstance(call.args[0], gast.Name):
            raise UnsupportedSyntaxError(
                "autodiff_st differentiates np.add.at(a, indices, b) with a local array `a` and the three "
                "arguments given by position.", origin=origin,
                hint="Write `np.add.at(a, indices, b)` with `a` an array made in this function.")
        return call.args[0].id

    def call_into(self, call, origin):
        """``f(..., out=y)``: Python writes the result into ``y`` and returns ``y``. The normal form does
        the same: ``y[...] = f(...)`` (which broadcasts and casts as out= does), then ``y``.

        ``np.add.at(a, indices, b)`` likewise adds ``b`` into ``a`` at ``indices`` and returns None: it
        becomes ``a[...] = add_at(a, indices, b)``, a write into ``a`` like any other (``a`` must be an
        array made in the function that no other name shares), where ``runtime.add_at`` computes the new
        contents in ``a``'s own dtype, as np.add.at does."""
        name = self.output_array(call, origin)
        if _is_add_at(self.resolve_static(call.func)):
            result = gast.Call(func=helper_name(add_at, self.namer.fresh("add_at")), args=call.args, keywords=[])
            result.origin = origin
            target = gast.Subscript(value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                                    slice=gast.Constant(value=Ellipsis, kind=None), ctx=gast.Store())
            self.store_element(target, result, origin)
            return gast.Constant(value=None, kind=None)
        if not self.floating_array(self.env.get(name)):
            # A ufunc refuses to cast its result into an out= of a lower kind (a float result into an int
            # array), where the write below would truncate: accept only an out= known to be floating.
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot tell that `{name}` holds floating-point numbers, so it cannot differentiate "
                f"this `out={name}` as Python runs it: numpy refuses to write a float result into an integer "
                "array.", origin=origin,
                hint=f"Make `{name}` with a float dtype here (`np.zeros(n)`, `x * 1.0`), or drop out= and "
                     "assign the result to a new name.")
        fn = self.resolve_static(call.func)
        args = call.args[:fn.nin] if isinstance(fn, np.ufunc) else call.args
        result = gast.Call(func=call.func, args=args, keywords=[k for k in call.keywords if k.arg != "out"])
        result.origin = origin
        target = gast.Subscript(value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
                                slice=gast.Constant(value=Ellipsis, kind=None), ctx=gast.Store())
        self.store_element(target, result, origin)
        return load(self.env[name])

    # -- expressions evaluated in part --------------------------------------------------------------

    def conditional_expression(self, node, origin, hint):
        """``a if c else b`` becomes an if statement assigning one fresh name in both branches."""
        test = self.condition(node.test, origin, [])
        result = self.namer.fresh(hint or "chosen")
        body = self.nested(lambda: self.emit("assign", result, self.atom(node.body, origin), origin))
        orelse = self.nested(lambda: self.emit("assign", result, self.atom(node.orelse, origin), origin))
        self.block.append(If(test, body, orelse, origin))
        self.sharing.own(result, "unknown")
        return load(result)

    def short_circuit(self, first, rest, origin, hint, keep_going_when):
        """Python's ``and``/``or`` and chained comparisons: evaluate the next part only if needed."""
        result = self.namer.fresh(hint or "either" if not keep_going_when else hint or "both")
        self.emit("assign", result, first, origin)
        # ``a and b`` is the object ``a`` or ``b`` itself: the result shares what each operand shares (a list
        # appended to later, an array written into later, is seen through it)
        self.sharing.record_aliases(result, first)
        for part in rest:
            test = self.namer.fresh(f"{result}_so_far")
            self.emit("assign", test, load(result), origin)
            self.sharing.record_aliases(test, load(result))

            def step(part=part):
                value = self.atom_or_value(part, origin)
                self.emit("assign", result, value, origin)
                self.sharing.record_aliases(result, value)

            step = self.nested(step)
            self.block.append(If(test, step, [], origin) if keep_going_when else If(test, [], step, origin))
        return load(result)

    def atom_or_value(self, part, origin):
        return part(origin) if callable(part) else self.atom(part, origin)

    def boolean_expression(self, node, origin, hint):
        first = self.atom(node.values[0], origin)
        return self.short_circuit(first, node.values[1:], origin, hint, isinstance(node.op, gast.And))

    def chained_comparison(self, node, origin, hint):
        left = self.atom(node.left, origin)
        rights = [self.atom(c, origin) for c in node.comparators[:1]]
        first = gast.Compare(left=left, ops=node.ops[:1], comparators=rights)
        parts = []
        previous = node.comparators[0]
        for op, comparator in zip(node.ops[1:], node.comparators[1:]):
            parts.append(lambda origin, a=previous, o=op, b=comparator: gast.Compare(
                left=self.atom(a, origin), ops=[o], comparators=[self.atom(b, origin)]))
            previous = comparator
        return self.short_circuit(first, parts, origin, hint, True)

    def comprehension(self, node, origin, hint):
        """``[f(x, y) for x in xs if c for y in ys]`` (or a generator, or ``{k: v for ...}``): nested loops,
        one per ``for`` clause with its ``if`` clauses inside it, appending to a new list (writing into a new
        dict), with variable names of their own. The first iterable is evaluated where the comprehension
        stands, the others in the loops, as Python does."""
        is_dict = isinstance(node, gast.DictComp)
        result = self.namer.fresh(hint or ("mapping" if is_dict else "items"))
        self.emit("assign", result, gast.Dict(keys=[], values=[]) if is_dict else gast.List(elts=[], ctx=gast.Load()),
                  origin)
        self.env[result] = result
        self.sharing.own(result, "fresh")
        # The comprehension's variables are its own: rename them so they cannot clobber the function's.
        renames = {n.id: self.namer.fresh(n.id) for generator in node.generators for n in gast.walk(generator.target)
                   if isinstance(n, gast.Name)}

        def renamed(tree):
            tree = copy.deepcopy(tree)
            for n in gast.walk(tree):
                if isinstance(n, gast.Name) and n.id in renames:
                    n.id = renames[n.id]
            for n in gast.walk(tree):
                n.origin = origin
            return tree

        if is_dict:  # result[key] = value: a write into the new dict (normalize_collections.py)
            target = gast.Subscript(value=gast.Name(id=result, ctx=gast.Load(), annotation=None, type_comment=None),
                                    slice=renamed(node.key), ctx=gast.Store())
            body = [gast.Assign(targets=[target], value=renamed(node.value), type_comment=None)]
        else:
            body = [gast.Expr(value=gast.Call(func=gast.Attribute(value=gast.Name(
                id=result, ctx=gast.Load(), annotation=None, type_comment=None), attr="append", ctx=gast.Load()),
                args=[renamed(node.elt)], keywords=[]))]
        for depth, generator in reversed(list(enumerate(node.generators))):
            for condition in reversed(generator.ifs):
                body = [gast.If(test=renamed(condition), body=body, orelse=[])]
            iterable = generator.iter if depth == 0 else renamed(generator.iter)
            body = [gast.For(target=renamed(generator.target), iter=iterable, body=body, orelse=[], type_comment=None)]
        loop = body[0]
        for n in gast.walk(loop):
            if not hasattr(n, "origin"):
                n.origin = origin
        self.loop_statement(loop, origin)
        return load(result)

    # -- nested functions and lambdas ---------------------------------------------------------------

    def define_inline(self, name, args, body, origin):
        if name in self.env:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this definition of `{name}`: the name also holds a value.",
                origin=origin, hint="Give the function a name of its own.")
        self.inlined[name] = ([a.id for a in args.args], body)

    def inline_call(self, node, origin, hint):
        """A call of a nested function or lambda: its return expression, with the arguments put in.

        Names the body reads from the enclosing function take their values at the call, as Python's
        closures do.
        """
        params, body = self.inlined[node.func.id]
        if len(node.args) != len(params) or node.keywords:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot inline this call of `{node.func.id}`: pass exactly its "
                f"{len(params)} argument(s), positionally.", origin=origin)
        return self.inlined_body(params, body, node, origin, hint)

    def inline_helper(self, node, origin, hint):
        """A call of a module-level helper of one ``return`` (inline_helpers.py): its return expression,
        with the arguments put in, where that is certainly the call's result; None otherwise."""
        fn = self.resolve_static(node.func)
        if fn is None:
            return None
        if self.caller_bound is None:
            self.caller_bound = caller_bound_names(self.parsed)
        found = inlinable(fn, node, self.parsed, self.caller_bound, self.inlining)
        if found is None:
            return None
        params, statements, body, free = found
        for name in free:  # the helper's globals: no name the normal form makes may hide them
            self.namer.reserve(name)
        first = len(self.ops)
        self.inlining.append(fn)
        try:
            # the helper's own lines: comments, line maps and errors point at what is computed there
            body_origin = getattr(body, "origin", None) or origin
            if statements:
                result = self.inlined_statements(params, statements, body, node, origin, hint)
            else:
                result = self.inlined_body(params, body, node, body_origin, hint, argument_origin=origin)
        finally:
            self.inlining.pop()
        if len(self.ops) == first:  # nothing emitted (the expression was an atom): a copy carries the guard
            copied = self.namer.fresh(node.func.id)
            self.emit("assign", copied, result, origin)
            self.sharing.own(copied, "unknown")
            result = load(copied)
        op = self.ops[first]
        op.inlined_from = getattr(op, "inlined_from", ()) + (node.func.id,)
        INLINED.add(fn)
        return result

    def inlined_statements(self, params, statements, body, node, origin, hint):
        """A helper of assignments then a ``return``: a parameter it never assigns stands for the argument's
        atom; one it assigns, and each of its locals, gets a fresh name, bound by the helper's statements
        normalized as the caller's own."""
        assigned = {n.id for stmt in statements for n in gast.walk(stmt.targets[0]) if isinstance(n, gast.Name)}
        renamed = {}
        for param, arg in zip(params, node.args):
            if param in assigned:  # bound as Python binds a parameter: an assignment of the argument
                name = self.namer.fresh(param)
                self.statement(_assignment(name, arg, origin))
            else:
                atom = self.atom(arg, origin)
                name = self.namer.fresh(param)
                if isinstance(atom, gast.Name):
                    self.env[name] = atom.id
                else:
                    self.emit("assign", name, atom, origin)
                    self.env[name] = name
                    self.sharing.own(name, "fresh")
            renamed[param] = name
        for local in sorted(assigned - set(params)):
            renamed[local] = self.namer.fresh(local)
        for stmt in copy.deepcopy(statements):
            for n in gast.walk(stmt):
                if isinstance(n, gast.Name) and n.id in renamed:
                    n.id = renamed[n.id]
            self.statement(stmt)
        body = copy.deepcopy(body)
        for n in gast.walk(body):
            if isinstance(n, gast.Name) and n.id in renamed:
                n.id = renamed[n.id]
        return self.expression(body, getattr(body, "origin", None) or origin, want_atom=True, hint=hint)

    def inlined_body(self, params, body, node, origin, hint, argument_origin=None):
        placeholders = {}
        for param, arg in zip(params, node.args):
            atom = self.atom(arg, argument_origin or origin)
            name = self.namer.fresh(param)
            if isinstance(atom, gast.Name):
                self.env[name] = atom.id
            else:
                self.emit("assign", name, atom, argument_origin or origin)
                self.env[name] = name
                self.sharing.own(name, "fresh")
            placeholders[param] = name
        body = copy.deepcopy(body)
        for n in gast.walk(body):
            if isinstance(n, gast.Name) and n.id in placeholders:
                n.id = placeholders[n.id]
            n.origin = origin
        return self.expression(body, origin, want_atom=True, hint=hint)


def _assignment(name, value, origin):
    stmt = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                       value=value, type_comment=None)
    stmt.origin = origin
    return stmt


def temp_name(value, is_local):
    """A name that says what ``value`` holds: ``exp_x``, ``a_times_b``, ``x_sum``.

    Operands with long names are left out rather than truncated, so a name never ends mid-word.
    """

    def short(node, limit=12):
        word = describe_operand(node)
        return word if word and len(word) <= limit else None

    if isinstance(value, gast.BinOp):
        word = OP_WORDS.get(type(value.op), "result")
        left, right = short(value.left), short(value.right)
        return f"{left}_{word}_{right}" if left and right else f"{word}_result"
    if isinstance(value, gast.UnaryOp):
        word = UNARY_WORDS.get(type(value.op), "result")
        operand = short(value.operand, 20)
        return f"{word}_{operand}" if operand else f"{word}_result"
    if isinstance(value, gast.Compare):
        word = COMPARE_WORDS.get(type(value.ops[0]), "cmp")
        left, right = short(value.left), short(value.comparators[0])
        return f"{left}_{word}_{right}" if left and right else f"{word}_result"
    if isinstance(value, gast.Call):
        func = value.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and is_local(func.value.id):
            receiver = short(func.value, 16)
            return f"{receiver}_{func.attr}" if receiver else f"{func.attr}_result"
        fname = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "call")
        if len(value.args) == 1:
            arg = short(value.args[0], 20)
            if arg:
                return f"{fname}_{arg}"
        return f"{fname}_result"
    if isinstance(value, gast.Attribute):
        base = short(value.value, 20)
        return f"{base}_{value.attr}" if base else f"{value.attr}_result"
    if isinstance(value, gast.Subscript):
        base, at = short(value.value, 16), short(value.slice, 8)
        if base and at:
            return f"{base}_{at}"
        return f"{base}_part" if base else "part"
    return "tmp"


def _is_add_at(fn):
    """Whether ``fn`` is ``np.add.at`` (a method bound to the ufunc ``np.add``)."""
    return getattr(fn, "__self__", None) is np.add and getattr(fn, "__name__", None) == "at"
