"""The statements of a function or method that uses classes defined inside the function, rewritten
onto dicts and nested functions (local_classes.py explains the lowering)."""

import copy

import gast

from ..core.errors import UnsupportedSyntaxError
from .parsing import origin_of
from .scope import resolve_path

_ESCAPE_HINT = ("An instance of a class defined inside the function is followed through its one name: read or "
                "set its attributes and call its methods there. To pass it on, return it or compare it, define "
                "the class at module level.")


def refuse(message, node, hint):
    raise UnsupportedSyntaxError(f"autodiff_st cannot differentiate {message}.", origin=origin_of(node), hint=hint)


def own_nodes(body):
    """The nodes of ``body``, not looking inside nested functions, lambdas and classes."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (gast.FunctionDef, gast.Lambda, gast.ClassDef)):
            stack.extend(gast.iter_child_nodes(node))


def set_origin(tree, origin):
    for n in gast.walk(tree):
        if not hasattr(n, "origin"):
            n.origin = origin


def name_node(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None, type_comment=None)


def statements(text, origin):
    """The statements of ``text``, parsed, every node at ``origin``."""
    body = gast.parse(text).body
    for stmt in body:
        for n in gast.walk(stmt):
            n.origin = origin
    return body


def _call(func, args, keywords=()):
    return gast.Call(func=name_node(func), args=list(args), keywords=list(keywords))


class Scope(gast.NodeTransformer):
    """One function's or method's body. ``types`` maps the names holding instances to their class's
    name; ``method`` is ``(class, defining class, receiver, kind, stack)`` inside a lowered method."""

    def __init__(self, lowering, types, method):
        self.lowering = lowering
        self.types = dict(types)
        self.method = method
        self.mutates = False
        self.callees = []  # (key, def) nested in a method for the methods it calls
        self.class_receiver = None
        self.initializing = False  # the __init__ written for a dataclass: it may set a frozen one's fields

    # -- statements ----------------------------------------------------------------------------------

    def block(self, body):
        out = []
        for stmt in body:
            made = self.hoisted(stmt) + self.statement(stmt)
            for new in made:
                if new is not stmt:
                    set_origin(new, origin_of(stmt))
                    if hasattr(stmt, "file_line"):
                        for n in gast.walk(new):
                            if isinstance(n, gast.stmt) and not hasattr(n, "file_line"):
                                n.file_line = stmt.file_line
            out.extend(made)
        return out

    def statement(self, stmt):
        classes = self.lowering.classes
        if isinstance(stmt, gast.ClassDef):
            if self.method is not None:
                refuse(f"the class `{stmt.name}` defined inside a method", stmt, "Define it beside the outer class.")
            return self.class_statement(classes[stmt.name])
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, gast.Call):
            target, call = stmt.targets[0], stmt.value
            if isinstance(call.func, gast.Name) and call.func.id in classes and isinstance(target, gast.Name):
                return self.construct(target.id, classes[call.func.id], call)
            lowered = self.method_call(call, statement=True)
            if lowered is not None:
                new, receiver, mutates = lowered
                if mutates:
                    result = self.lowering.fresh("result")
                    return self.unpack(result, receiver, new) + [
                            gast.Assign(targets=[self.visit(target)], value=name_node(result), type_comment=None)]
                stmt.targets = [self.visit(target)]
                stmt.value = new
                return [stmt]
        if isinstance(stmt, (gast.Expr, gast.Return)) and isinstance(stmt.value, gast.Call):
            lowered = self.method_call(stmt.value, statement=True)
            if lowered is not None:
                new, receiver, mutates = lowered
                if not mutates:
                    stmt.value = new
                    return [stmt]
                result = self.lowering.fresh("result" if isinstance(stmt, gast.Return) else "unused")
                out = self.unpack(result, receiver, new)
                if isinstance(stmt, gast.Return):
                    out.append(gast.Return(value=name_node(result)))
                return out
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            if any(self.attribute_target(t) for t in targets):
                if len(targets) > 1:
                    refuse("a chained assignment to attributes", stmt, "Write one assignment per line.")
                stmt.value = self.visit(stmt.value)
                if isinstance(stmt, gast.Assign):
                    stmt.targets = [self.store(targets[0])]
                else:
                    stmt.target = self.store(targets[0])
                return [stmt]
            for t in targets:
                self.check_names_in(t)
        if isinstance(stmt, gast.FunctionDef):
            self.check_names_in(stmt)
            return [stmt]
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            header = "test" if not isinstance(stmt, gast.For) else "iter"
            setattr(stmt, header, self.visit(getattr(stmt, header)))
            if isinstance(stmt, gast.For):
                self.check_names_in(stmt.target)
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, gast.With):
            for item in stmt.items:
                item.context_expr = self.visit(item.context_expr)
            stmt.body = self.block(stmt.body)
            return [stmt]
        if isinstance(stmt, gast.Try):
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            stmt.finalbody = self.block(stmt.finalbody)
            for handler in stmt.handlers:
                handler.body = self.block(handler.body)
            return [stmt]
        if isinstance(stmt, gast.Delete):
            self.check_names_in(stmt)
            return [stmt]
        return [self.visit(stmt)]

    def hoisted(self, stmt):
        """``Affine()(x)``: an instance made inside an expression is made on a line of its own just before
        the statement, under a name of its own (the statement's other calls cannot see it: an instance is
        followed through its one name). Not under a condition, `and`/`or`, a comprehension or a lambda,
        whose parts may not run."""
        if not isinstance(stmt, (gast.Assign, gast.AugAssign, gast.Expr, gast.Return)) or stmt.value is None:
            return []
        classes = self.lowering.classes
        found = []

        def visit(node, top):
            if isinstance(node, (gast.IfExp, gast.BoolOp, gast.Lambda, gast.ListComp, gast.DictComp,
                                 gast.GeneratorExp, gast.SetComp)):
                return
            for field, child in gast.iter_fields(node):
                children = child if isinstance(child, list) else [child]
                for i, c in enumerate(children):
                    if isinstance(c, gast.AST):
                        visit(c, False)
                        if isinstance(c, gast.Call) and isinstance(c.func, gast.Name) and c.func.id in classes \
                                and not (top and isinstance(stmt, gast.Assign) and field == "value"):
                            name = self.lowering.fresh(f"{c.func.id.lower()}_instance")
                            found.append((name, c))
                            replacement = name_node(name)
                            if isinstance(child, list):
                                child[i] = replacement
                            else:
                                setattr(node, field, replacement)

        visit(stmt, True)
        out = []
        for name, call in found:
            made = self.construct(name, classes[call.func.id], call)
            for new in made:
                set_origin(new, origin_of(stmt))
            out.extend(made)
        return out

    def class_statement(self, cls):
        """The class attributes, computed where the class statement runs; the methods follow
        (local_classes.py adds them once the body is lowered)."""
        out = []
        renames = {}
        for stmt in cls.node.body:
            if isinstance(stmt, (gast.Assign, gast.AnnAssign)) and stmt.value is not None:
                target = stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target
                if target.id not in cls.attrs:
                    continue
                value = _Renamer(renames).visit(stmt.value)
                assign = gast.Assign(targets=[name_node(cls.attrs[target.id], store=True)],
                                     value=self.visit(value), type_comment=None)
                set_origin(assign, origin_of(stmt))
                out.append(assign)
                renames[target.id] = cls.attrs[target.id]
        marker = gast.Pass()
        marker.local_class = cls
        marker.origin = origin_of(cls.node)
        out.append(marker)
        return out

    def construct(self, name, cls, call):
        self.types[name] = cls.name
        out = [gast.Assign(targets=[name_node(name, store=True)], value=gast.Dict(keys=[], values=[]),
                           type_comment=None)]
        owner, init = self.lowering.find(cls, "__init__")
        if init is None or not hasattr(init, "node"):
            if call.args or call.keywords:
                refuse(f"`{cls.name}(...)` with arguments: the class has no __init__", call,
                       "Add an __init__ or call it without arguments.")
            return out
        def_name, mutates = self.use(cls, owner, "__init__", init)
        lowered = _call(def_name, [name_node(name)] + [self.visit(a) for a in call.args],
                        [self.visit(k) for k in call.keywords])
        out.extend(self.unpack(self.lowering.fresh("unused"), name, lowered) if mutates
                   else [gast.Expr(value=lowered)])
        return out

    def unpack(self, result, receiver, call):
        """``result, receiver = call`` then a copy the function owns, so that later writes into the
        instance are writes into a dict made here: a list of statements."""
        changed = self.lowering.fresh(f"{receiver}_changed")
        return [gast.Assign(targets=[gast.Tuple(elts=[name_node(result, store=True), name_node(changed, store=True)],
                                                ctx=gast.Store())], value=call, type_comment=None),
                gast.Assign(targets=[name_node(receiver, store=True)], value=gast.Dict(keys=[], values=[]),
                            type_comment=None),
                gast.Expr(value=gast.Call(func=gast.Attribute(value=name_node(receiver), attr="update",
                                                              ctx=gast.Load()),
                                          args=[name_node(changed)], keywords=[]))]

    def attribute_target(self, target):
        if not isinstance(target, gast.Attribute):
            return False
        value = target.value
        if isinstance(value, gast.Name) and value.id in self.types:
            return True
        if isinstance(value, gast.Name) and (value.id in self.lowering.classes or value.id == self.class_receiver) \
                or isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id == "type" \
                or isinstance(value, gast.Attribute) and value.attr == "__class__":
            refuse("a write to an attribute of a class defined inside the function (state shared by every "
                   "instance)", target, "Keep the state on the instance (`self.count = ...`).")
        return False

    def store(self, target):
        name = target.value.id
        cls = self.lowering.classes[self.types[name]]
        if cls.frozen and not (self.initializing and self.method[2] == name):
            refuse(f"a write to `{name}.{target.attr}`: `{cls.name}` is a frozen dataclass", target,
                   "Make a new instance instead.")
        owner, found = self.lowering.find(cls, target.attr)
        if found is not None:
            refuse(f"a write to `{name}.{target.attr}`, which is also a method, property or class attribute of "
                   f"`{cls.name}`", target, "Give the instance attribute a name of its own.")
        if self.method is not None and name == self.method[2]:
            self.mutates = True
        return gast.Subscript(value=name_node(name), slice=gast.Constant(value=target.attr, kind=None),
                              ctx=gast.Store())

    def check_names_in(self, node):
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and (n.id in self.types or n.id in self.lowering.classes
                                             or n.id == self.class_receiver):
                refuse(f"this use of `{n.id}`", n, _ESCAPE_HINT)

    # -- methods -------------------------------------------------------------------------------------

    def use(self, cls, owner, name, method):
        stack = self.method[4] if self.method is not None else ()
        def_name, node, mutates = self.lowering.method_def(cls, owner, name, method, stack)
        key = (cls.name, def_name)
        if self.method is not None:
            if all(k != key for k, _ in self.callees):
                self.callees.append((key, copy.deepcopy(node)))
        else:
            entries = self.lowering.demanded.setdefault(cls.name, [])
            if all(k != key for k, _ in entries):
                entries.append((key, copy.deepcopy(node)))
        return def_name, mutates

    def receiver_of(self, func):
        """``(class, receiver name, owner after which to look)`` for ``obj.m`` or ``super().m``."""
        value = func.value
        if isinstance(value, gast.Name) and value.id in self.types:
            return self.lowering.classes[self.types[value.id]], value.id, None
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and \
                resolve_path(value.func, self.lowering.parsed) is super and value.func.id not in self.types:
            if self.method is None or self.method[2] is None:
                refuse("`super()` outside a method", value, "Call the base class's method by name.")
            if value.args or value.keywords:
                refuse("`super(...)` with arguments in a class defined inside the function", value,
                       "Write `super()`.")
            return self.method[0], self.method[2], self.method[1]
        return None

    def method_call(self, call, statement=False):
        """The lowered call, the receiver and whether it changes the receiver; None for other calls."""
        func = call.func
        classes = self.lowering.classes
        if isinstance(func, gast.Name) and func.id in self.types:
            cls, receiver, after = classes[self.types[func.id]], func.id, None
            attr = "__call__"
        elif isinstance(func, gast.Attribute) and self.receiver_of(func) is not None:
            (cls, receiver, after), attr = self.receiver_of(func), func.attr
        elif isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                (func.value.id in classes or func.value.id == self.class_receiver):
            cls = classes[func.value.id] if func.value.id in classes else self.method[0]
            owner, found = self.lowering.find(cls, func.attr)
            if getattr(found, "kind", None) not in ("static", "class"):
                refuse(f"`{func.value.id}.{func.attr}(...)` called on the class", call,
                       "Call the method on an instance.")
            def_name, _ = self.use(cls, owner, func.attr, found)
            return self.lowered(def_name, [], call), None, False
        elif isinstance(func, gast.Name) and (func.id in classes or func.id == self.class_receiver):
            refuse(f"making an instance of `{func.id}` inside an expression", call,
                   f"Make it on a line of its own: `name = {func.id}(...)`.")
        else:
            return None
        owner, found = self.lowering.find(cls, attr, after)
        if found is None or not hasattr(found, "node") or found.kind == "property":
            if isinstance(func, gast.Attribute) and after is None and attr in self.lowering.written \
                    and found is None:
                return gast.Call(func=self.visit(func), args=[self.visit(a) for a in call.args],
                                 keywords=[self.visit(k) for k in call.keywords]), None, False
            refuse(f"the call of `{attr}` on an instance of `{cls.name}`, which has no such method", call,
                   "Call a method the class defines.")
        def_name, mutates = self.use(cls, owner, attr, found)
        prefix = [] if found.kind in ("static", "class") else [name_node(receiver)]
        if mutates:
            if not statement:
                refuse(f"the call of `{attr}`, which changes `{receiver}`, inside an expression", call,
                       f"Call it on a line of its own: `value = {receiver}.{attr}(...)`.")
            if self.method is not None and receiver == self.method[2]:
                self.mutates = True
        return self.lowered(def_name, prefix, call), receiver if mutates else None, mutates

    def lowered(self, def_name, prefix, call):
        return _call(def_name, prefix + [self.visit(a) for a in call.args], [self.visit(k) for k in call.keywords])

    # -- expressions ---------------------------------------------------------------------------------

    def visit_Call(self, node):
        lowered = self.method_call(node)
        if lowered is not None:
            return lowered[0]
        return self.generic_visit(node)

    def visit_Attribute(self, node):
        value = node.value
        classes = self.lowering.classes
        if not isinstance(value, gast.Name) or not isinstance(node.ctx, gast.Load):
            return self.generic_visit(node)
        if value.id in self.types:
            cls = classes[self.types[value.id]]
        elif value.id in classes or value.id == self.class_receiver:
            cls = classes[value.id] if value.id in classes else self.method[0]
            owner, found = self.lowering.find(cls, node.attr)
            if isinstance(found, tuple):
                return self.class_attribute(found, node)
            refuse(f"`{value.id}.{node.attr}` read from the class", node, "Read class attributes only.")
        else:
            return self.generic_visit(node)
        owner, found = self.lowering.find(cls, node.attr)
        if found is None:
            if node.attr not in self.lowering.written:
                refuse(f"`{value.id}.{node.attr}`: `{cls.name}` sets no attribute `{node.attr}`", node,
                       "Set the attribute in __init__.")
            return gast.Subscript(value=name_node(value.id), slice=gast.Constant(value=node.attr, kind=None),
                                  ctx=gast.Load())
        if node.attr in self.lowering.written:
            refuse(f"`{value.id}.{node.attr}`: an instance attribute of that name also names a method, "
                   f"property or class attribute of `{cls.name}`", node,
                   "Give the instance attribute a name of its own.")
        if isinstance(found, tuple):
            return self.class_attribute(found, node)
        if found.kind != "property":
            refuse(f"the method `{value.id}.{node.attr}` used as a value", node,
                   f"Call it where it is used, or wrap it: `lambda v: {value.id}.{node.attr}(v)` is refused too; "
                   "define the class at module level to pass bound methods on.")
        def_name, mutates = self.use(cls, owner, node.attr, found)
        if mutates:
            refuse(f"the property `{node.attr}`, which changes the instance", node, "Make it a method.")
        return _call(def_name, [name_node(value.id)])

    def class_attribute(self, found, node):
        if found[0] == "attr":
            return name_node(found[1])
        owner = found[1]
        if self.lowering.parsed.globals.get(owner.__name__) is not owner:
            refuse(f"the class attribute `{node.attr}` of `{owner.__name__}`", node,
                   f"Bind `{owner.__name__}` at module level under its own name.")
        return gast.Attribute(value=name_node(owner.__name__), attr=found[2], ctx=gast.Load())

    def visit_Name(self, node):
        if node.id in self.types or node.id in self.lowering.classes or \
                (node.id == self.class_receiver and node.id is not None):
            refuse(f"this use of `{node.id}`", node, _ESCAPE_HINT)
        return node


class _Renamer(gast.NodeTransformer):
    """Names of the class body's earlier attributes, in a class attribute's value."""

    def __init__(self, renames):
        self.renames = renames

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load) and node.id in self.renames:
            return name_node(self.renames[node.id])
        return node
