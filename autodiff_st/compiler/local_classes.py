"""Classes defined inside the differentiated function, lowered to nested functions and dicts.

A ``class`` statement in the function's body (or in a loop or branch of it) is rewritten before the
fence, into code the later stages already differentiate:

- each instance is a dict of its attributes, made where the instance is made (``layer = {}``), and
  ``obj.a`` / ``obj.a = v`` are ``obj["a"]`` / ``obj["a"] = v``;
- each method is a nested function of the enclosing function, named after the class and the method
  (``Layer_call(self, v)``), so that it reads the enclosing function's variables as Python's closure
  does, with the value they have at the call, and their derivatives flow through it (nested functions
  are lifted with the values they read passed in: normalize_functions.py);
- a method that sets an attribute of ``self`` (``__init__``, ``obj.step(v)``) works on a copy of the
  dict and returns ``(result, self)``; the call, on its own line, rebinds the instance:
  ``_, layer = Layer_init(layer, 2.0)``. Python changes the object in place; the rebinding gives every
  later read the new attributes, which is the same as long as no second name refers to the object. So
  an instance is only ever used through its one name: read or set an attribute, call a method, call it.
  Any other use (passed to a function, returned, stored in a list, compared, a second name bound to it)
  is refused at its line;
- the class statement's class attributes are variables (``Layer_attr_scale = 2.0``), computed where
  the class statement runs, as Python does each time the function runs;
- methods are resolved statically along the class's MRO (local classes and module-level bases), once
  per concrete class, so ``self.f()`` in a base's method calls the subclass's ``f``, and ``super()``
  calls the next class's method;
- a dataclass gets the ``__init__`` the decorator would write (fields in order, constant defaults,
  ``__post_init__``); ``@property`` reads call the getter; ``@staticmethod`` and ``@classmethod`` are
  called without the instance.

A method that calls another method has a copy of the callee nested in it, so that a method is compiled
with the values of the enclosing function that it and its callees read passed in. Each lowered method
is compiled from text written here, one line per statement, each pointing at the user's line.
"""

import ast
import builtins
import copy
import dataclasses
import inspect

import gast

from ..core.errors import UnsupportedSyntaxError
from .local_class_scope import Scope, name_node, own_nodes, refuse, set_origin, statements
from .parsing import origin_of, parse_function
from .scope import resolve_path

_KINDS = {property: "property", staticmethod: "static", classmethod: "class"}


@dataclasses.dataclass
class _Method:
    node: gast.FunctionDef  # the user's def
    kind: str  # "method", "property", "static", "class"
    first: int  # the file line of node.lineno == 1 (its parse's first line)
    filename: str
    synthesized: bool = False  # the __init__ written for a dataclass


@dataclasses.dataclass
class _LocalClass:
    name: str
    node: gast.ClassDef
    bases: list  # _LocalClass or module-level classes
    methods: dict  # name -> _Method
    attrs: dict  # class attribute name -> variable name
    shadow: type  # an empty class with the same MRO, for the resolution order
    is_dataclass: bool = False
    frozen: bool = False


def lower_local_classes(parsed):
    """Rewrite ``parsed.node`` in place when its body defines classes; nothing otherwise."""
    if not any(isinstance(n, gast.ClassDef) for n in own_nodes(parsed.node.body)):
        return
    _Lowering(parsed).run()


class _Lowering:
    def __init__(self, parsed):
        self.parsed = parsed
        lines, self.first = inspect.getsourcelines(parsed.fn.__code__)
        self.taken = {n.id for n in gast.walk(parsed.node) if isinstance(n, gast.Name)} | \
            {n.name for n in gast.walk(parsed.node) if isinstance(n, (gast.FunctionDef, gast.ClassDef))} | \
            set(parsed.globals) | set(parsed.closure) | set(dir(builtins))
        self.classes = {}
        self.written = set()  # attribute names stored anywhere: instance attributes
        self.lowered = {}  # (class, defining class, method) -> def name
        self.demanded = {}  # class name -> [(key, def node)] for the enclosing function
        self.members = {}  # (module-level class, name) -> _Method or what module_member found

    def fresh(self, base):
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    # -- the classes ---------------------------------------------------------------------------------

    def run(self):
        node = self.parsed.node
        for n in sorted((n for n in own_nodes(node.body) if isinstance(n, gast.ClassDef)),
                        key=lambda n: (n.lineno, n.col_offset)):
            self.define(n)
        for n in gast.walk(node):
            if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store):
                self.written.add(n.attr)
        for cls in self.classes.values():
            methods = list(cls.methods.values())
            for k in cls.shadow.__mro__:
                if k.__dict__.get("local") is None and k is not object:
                    methods += [m for m in (self.module_member(k, a) for a in k.__dict__) if isinstance(m, _Method)]
            for method in methods:
                for n in gast.walk(method.node):
                    if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store):
                        self.written.add(n.attr)
        self.instances = self.instance_names(node)
        scope = Scope(self, self.instances, None)
        node.body = scope.block(node.body)
        _splice(node.body, self.demanded)

    def define(self, node):
        if node.name in self.classes:
            refuse(f"a second definition of class `{node.name}` in one function", node,
                   "Give each class a name of its own.")
        if node.keywords:
            what = "a metaclass" if any(k.arg == "metaclass" for k in node.keywords) else "class keywords"
            refuse(f"the class `{node.name}` with {what}", node,
                   "Define the class at module level, or drop the metaclass: a local class is lowered to "
                   "functions and dicts, which a metaclass could change.")
        is_dataclass, frozen = False, False
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, gast.Call) else deco
            if resolve_path(target, self.parsed) is not dataclasses.dataclass:
                refuse(f"the decorated class `{node.name}`", deco,
                       "Only @dataclasses.dataclass is supported on a class inside the function; define "
                       "the class at module level.")
            if isinstance(deco, gast.Call):
                for k in deco.keywords:
                    if k.arg != "frozen" or not isinstance(k.value, gast.Constant):
                        refuse(f"@dataclass({k.arg}=...) on the local class `{node.name}`", deco,
                               "Use @dataclass or @dataclass(frozen=True).")
                    frozen = bool(k.value.value)
                if deco.args:
                    refuse("@dataclass with positional arguments", deco, "Use @dataclass.")
            is_dataclass = True
        bases = []
        for base in node.bases:
            if isinstance(base, gast.Name) and base.id in self.classes:
                bases.append(self.classes[base.id])
                continue
            obj = resolve_path(base, self.parsed)
            if obj is object:
                continue
            if not isinstance(obj, type) or type(obj) is not type or any(
                    k is not object and getattr(k, "__module__", "builtins") == "builtins" for k in obj.__mro__) \
                    or dataclasses.is_dataclass(obj):
                refuse(f"the class `{node.name}` with the base `{ast.unparse(gast.gast_to_ast(base))}`", base,
                       "A class inside the function may derive from another class inside it or from a plain "
                       "module-level class (no metaclass, builtin base or dataclass).")
            special = sorted(name for k in obj.__mro__ if k is not object for name in vars(k)
                             if _is_special(name) and name not in _PLAIN_SPECIAL)
            if special:
                refuse(f"the class `{node.name}` with the base `{ast.unparse(gast.gast_to_ast(base))}`, which defines "
                       f"`{special[0]}`", base, _SPECIAL_HINT)
            bases.append(obj)
        if is_dataclass and bases:
            refuse(f"the dataclass `{node.name}` with a base class", node, "Define it without a base class.")
        shadow_bases = tuple(b.shadow if isinstance(b, _LocalClass) else b for b in bases) or (object,)
        try:
            shadow = type(node.name, shadow_bases, {})
        except TypeError as exc:
            refuse(f"the class `{node.name}`: {exc}", node, "Give it bases Python can order.")
        shadow.local = None
        cls = _LocalClass(node.name, node, bases, {}, {}, shadow, is_dataclass, frozen)
        shadow.local = cls
        cls.replacement = []
        fields = []
        for stmt in node.body:
            if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant) or isinstance(stmt, gast.Pass):
                continue
            if isinstance(stmt, gast.FunctionDef):
                if _is_special(stmt.name) and stmt.name not in _CALLED_SPECIAL:
                    refuse(f"the method `{node.name}.{stmt.name}`", stmt, _SPECIAL_HINT)
                kind = "method"
                for deco in stmt.decorator_list:
                    obj = resolve_path(deco, self.parsed)
                    if obj not in _KINDS or len(stmt.decorator_list) > 1:
                        refuse(f"the decorated method `{node.name}.{stmt.name}`", deco,
                               "Methods of a class inside the function may be plain, @property, @staticmethod "
                               "or @classmethod (no setter); define the class at module level otherwise.")
                    kind = _KINDS[obj]
                cls.methods[stmt.name] = _Method(stmt, kind, self.first, self.parsed.filename)
                continue
            if isinstance(stmt, gast.AnnAssign) and isinstance(stmt.target, gast.Name) and is_dataclass:
                if stmt.value is not None and not isinstance(stmt.value, gast.Constant):
                    refuse(f"the field `{stmt.target.id}` of the local dataclass `{node.name}`", stmt,
                           "Give the field a constant default, or none.")
                fields.append(stmt)
                continue
            if isinstance(stmt, (gast.Assign, gast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
                if len(targets) == 1 and isinstance(targets[0], gast.Name):
                    if _is_special(targets[0].id):
                        refuse(f"the class attribute `{node.name}.{targets[0].id}`", stmt, _SPECIAL_HINT)
                    if isinstance(stmt.value, (gast.List, gast.Dict, gast.Set, gast.ListComp, gast.DictComp)):
                        refuse(f"the class attribute `{node.name}.{targets[0].id}` holding a list or dict", stmt,
                               "State shared by every instance and changed by methods is not followed; "
                               "make it an instance attribute in __init__.")
                    cls.attrs[targets[0].id] = self.fresh(f"{node.name}_attr_{targets[0].id}")
                    continue
            refuse(f"this statement in the body of the class `{node.name}`", stmt,
                   "A class inside the function may hold methods, class attributes (name = value) and "
                   "dataclass fields.")
        if is_dataclass:
            if "__init__" in cls.methods:
                refuse(f"the dataclass `{node.name}` with its own __init__", node, "Drop the dataclass decorator.")
            cls.methods["__init__"] = self.dataclass_init(cls, fields)
        self.classes[node.name] = cls

    def dataclass_init(self, cls, fields):
        params = ", ".join(["self"] + [ast.unparse(gast.gast_to_ast(f.target)) +
                                       ("" if f.value is None else "=" + repr(f.value.value)) for f in fields])
        lines = [f"def __init__({params}):"] + [f"    self.{f.target.id} = {f.target.id}" for f in fields]
        if "__post_init__" in cls.methods:
            lines.append("    self.__post_init__()")
        if not fields and len(lines) == 1:
            lines.append("    pass")
        node = statements("\n".join(lines), origin_of(cls.node))[0]
        node.lineno = cls.node.lineno
        for n in gast.walk(node):
            if hasattr(n, "lineno"):
                n.lineno = cls.node.lineno
        for f in fields:
            self.written.add(f.target.id)
        return _Method(node, "method", self.first, self.parsed.filename, synthesized=True)

    def instance_names(self, node):
        """Names bound to instances: ``name = Cls(...)``; every binding of such a name must be one of
        the same class."""
        bound = {}
        for n in own_nodes(node.body):
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) \
                    and isinstance(n.value, gast.Call) and isinstance(n.value.func, gast.Name) \
                    and n.value.func.id in self.classes:
                name, cls = n.targets[0].id, n.value.func.id
                if bound.get(name, cls) != cls:
                    refuse(f"the name `{name}` bound to instances of two classes", n, "Give each a name of its own.")
                bound[name] = cls
        args = node.args
        params = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
        for name in bound:
            if name in params:
                refuse(f"the parameter `{name}` rebound to an instance of `{bound[name]}`", node,
                       "Give the instance a name of its own.")
        for n in own_nodes(node.body):
            if isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.For, gast.Delete, gast.With)):
                targets = n.targets if isinstance(n, (gast.Assign, gast.Delete)) else \
                    [i.optional_vars for i in n.items if i.optional_vars] if isinstance(n, gast.With) else [n.target]
                plain = isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.value, gast.Call) \
                    and isinstance(n.value.func, gast.Name) and n.value.func.id in self.classes
                for t in targets:
                    for name in _bound_names(t):
                        if name in bound and not (plain and isinstance(t, gast.Name)):
                            refuse(f"this binding of `{name}`, which elsewhere holds an instance of "
                                   f"`{bound[name]}`", n, "Give the instance a name of its own.")
        return bound

    # -- methods -------------------------------------------------------------------------------------

    def find(self, cls, attr, after=None):
        """``(defining class, what)`` for ``attr`` on instances of ``cls`` along its MRO (after the class
        ``after``, for super()); what is a _Method, ("attr", variable or path) or None."""
        mro = cls.shadow.__mro__
        if after is not None:
            mro = mro[mro.index(after.shadow if isinstance(after, _LocalClass) else after) + 1:]
        for k in mro:
            local = k.__dict__.get("local") if "local" in k.__dict__ else None
            if local is not None:
                if attr in local.methods:
                    return local, local.methods[attr]
                if attr in local.attrs:
                    return local, ("attr", local.attrs[attr])
                continue
            if k is object:
                return None, None
            if attr in k.__dict__:
                return k, self.module_member(k, attr)
        return None, None

    def module_member(self, owner, attr):
        key = (owner, attr)
        if key not in self.members:
            self.members[key] = self.read_member(owner, attr)
        return self.members[key]

    def read_member(self, owner, attr):
        value = owner.__dict__[attr]
        if attr.startswith("__") and attr.endswith("__") and not inspect.isfunction(value):
            return None  # __dict__, __module__, __doc__, __weakref__
        kind = "method"
        for wrapper, name in _KINDS.items():
            if isinstance(value, wrapper):
                kind = name
                value = value.fget if wrapper is property else value.__func__
        if not inspect.isfunction(value):
            if kind != "method":
                return None
            return ("module_attr", owner, attr)
        parsed = parse_function(value)
        if value.__code__.co_filename != self.parsed.filename or parsed.globals is not self.parsed.globals:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate `{owner.__name__}.{attr}` in a class defined inside the "
                "function: the base class lives in another module.", origin=self.parsed.node.origin,
                hint="Define the subclass at module level too, or the base class beside this function.")
        free = set(value.__code__.co_freevars) - {"__class__"}
        if free:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate `{owner.__name__}.{attr}`: it reads variables of a function "
                "around it.", origin=parsed.node.origin, hint="Define the base class at module level.")
        _, first = inspect.getsourcelines(value.__code__)
        return _Method(parsed.node, kind, first, value.__code__.co_filename)

    def method_def(self, cls, owner, name, method, stack):
        """The lowered def of ``method`` (found on ``owner``) for instances of ``cls``: (def name, node,
        mutates)."""
        key = (cls.name, getattr(owner, "name", None) or owner.__name__, name)
        if key in stack:
            refuse(f"the method `{name}` of the local class `{cls.name}`: it calls itself", method.node,
                   "Write the recursion as a loop, or define the class at module level.")
        found = self.lowered.get(key)
        if found is not None:
            return found
        node = copy.deepcopy(method.node)
        for n in gast.walk(node):
            if isinstance(n, gast.stmt) and hasattr(n, "lineno"):
                n.file_line = method.first + n.lineno - 1
        args = node.args
        if method.kind != "static":
            positional = args.posonlyargs + args.args
            if not positional:
                refuse(f"the method `{name}` without a `self` parameter", method.node, "Add `self`.")
            receiver = positional[0].id
            if args.posonlyargs:
                args.posonlyargs = args.posonlyargs[1:]
            else:
                args.args = args.args[1:]
        else:
            receiver = None
        short = name.strip("_") or "method"
        base = f"{cls.name}_{short}" if owner is cls or owner is self.find(cls, name)[0] else \
            f"{cls.name}_{getattr(owner, 'name', None) or owner.__name__}_{short}"
        def_name = self.fresh(base)
        scope = Scope(self, {receiver: cls.name} if method.kind == "method" or method.kind == "property" else {},
                       (cls, owner, receiver, method.kind, stack + (key,)))
        if method.kind == "class":
            scope.class_receiver = receiver
        scope.initializing = method.synthesized
        node.body = scope.block([s for s in node.body if not (isinstance(s, gast.Expr)
                                                              and isinstance(s.value, gast.Constant))])
        mutates = scope.mutates
        origin = origin_of(method.node)
        if mutates:
            given = self.fresh(f"{receiver}_given")
            positional = args.posonlyargs or args.args
            new_param = gast.Name(id=given, ctx=gast.Param(), annotation=None, type_comment=None)
            positional.insert(0, new_param)
            prefix = statements(f"{receiver} = {{}}\n{receiver}.update({given})", origin)
            for stmt in prefix:
                stmt.file_line = method.first + method.node.lineno - 1
            _returns_with(node.body, receiver)
            if not node.body or not isinstance(node.body[-1], gast.Return):
                node.body.append(statements(f"return (None, {receiver})", origin)[0])
                node.body[-1].file_line = method.first + method.node.end_lineno - 1
            node.body = prefix + node.body
        elif receiver is not None and method.kind in ("method", "property"):
            (args.posonlyargs or args.args).insert(0, gast.Name(id=receiver, ctx=gast.Param(), annotation=None,
                                                                type_comment=None))
        node.body = [d for _, d in scope.callees] + node.body
        node.decorator_list = []
        node.name = def_name
        set_origin(node, origin)
        node.origin = origin
        node.source_lines = _lines(node, method)
        found = self.lowered[key] = (def_name, node, mutates)
        return found


# Special methods change what Python does with an instance without a call in the source (__setattr__,
# __getattr__, __new__, operators, __slots__, __init_subclass__, ...): the lowering to dicts and functions
# would run another program. Only those it follows are allowed: __init__ and __call__ (and a dataclass's
# __post_init__), __repr__ and __str__, and in module-level bases the attributes every plain class has.
_CALLED_SPECIAL = frozenset({"__init__", "__call__", "__post_init__", "__repr__", "__str__"})  # (repr and str
# only show an instance, and every use of an instance other than through its name is refused)
_PLAIN_SPECIAL = _CALLED_SPECIAL | frozenset({"__dict__", "__module__", "__doc__", "__weakref__", "__qualname__",
                                              "__firstlineno__", "__static_attributes__", "__annotations__",
                                              "__annotate__", "__annotate_func__", "__annotations_cache__"})
_SPECIAL_HINT = ("A class inside the function may define __init__ and __call__ among the special methods; "
                 "define a class with others (operators, __setattr__, __getattr__, __new__, __slots__, ...) at "
                 "module level.")


def _is_special(name):
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _bound_names(target):
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, gast.Starred):
        return _bound_names(target.value)
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for e in target.elts for n in _bound_names(e)]
    return []


def _splice(body, demanded):
    """Put the methods the function calls where their class statement is (its marker)."""
    out = []
    for stmt in body:
        cls = getattr(stmt, "local_class", None)
        if cls is not None:
            out.extend(d for _, d in demanded.get(cls.name, ()))
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and not isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
                _splice(inner, demanded)
        for handler in getattr(stmt, "handlers", ()):
            _splice(handler.body, demanded)
        out.append(stmt)
    if not out and body:  # a block that held only a class whose methods nothing calls
        out.append(gast.Pass())
        out[0].origin = origin_of(body[0])
    body[:] = out


def _returns_with(body, receiver):
    for n in own_nodes(body):
        if isinstance(n, gast.Return):
            value = n.value if n.value is not None else gast.Constant(value=None, kind=None)
            n.value = gast.Tuple(elts=[value, name_node(receiver)], ctx=gast.Load())
            set_origin(n.value, origin_of(n))


def _lines(node, method):
    """``(text, file line)`` for each line of the body of ``node``, indented by four spaces a level."""
    out = []

    default = method.first + method.node.lineno - 1

    def line_of(stmt):
        return getattr(stmt, "file_line", default)

    def text(stmt):
        return ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(copy.deepcopy(stmt)))).replace("\n", " ")

    def emit(body, depth):
        pad = "    " * depth
        for stmt in body:
            line = line_of(stmt)
            if isinstance(stmt, gast.If):
                out.append((f"{pad}if {_expr(stmt.test)}:", line))
                emit(stmt.body, depth + 1)
                if stmt.orelse:
                    out.append((f"{pad}else:", line))
                    emit(stmt.orelse, depth + 1)
            elif isinstance(stmt, (gast.For, gast.While)):
                head = f"for {_expr(stmt.target)} in {_expr(stmt.iter)}" if isinstance(stmt, gast.For) \
                    else f"while {_expr(stmt.test)}"
                out.append((f"{pad}{head}:", line))
                emit(stmt.body, depth + 1)
                if stmt.orelse:
                    out.append((f"{pad}else:", line))
                    emit(stmt.orelse, depth + 1)
            elif isinstance(stmt, gast.FunctionDef):
                out.append((f"{pad}def {stmt.name}({_expr(stmt.args)}):", line))
                emit(stmt.body, depth + 1)
            elif isinstance(stmt, (gast.With, gast.Try, gast.ClassDef)):
                refuse("this statement in a method of a class defined inside the function", stmt,
                       "Move it to a helper function at module level.")
            else:
                out.append((pad + text(stmt), line))

    emit(node.body, 1)
    return out, "    "


def _expr(node):
    return ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(copy.deepcopy(node))))

