"""Batching: rewrite a function so that it runs on a whole batch at once (the transform behind vmap).

The input is any Python function with readable source: the user's function, a closure, a lambda, one of
our generated adjoints (its source is registered with ``linecache`` by ``loader.py``), or a runtime
helper. It is parsed with ``parsing.parse_function`` like every other stage's input, and rewritten:

- every call ``f(a, b)`` becomes ``batching.call(f, a, b)``, and a method call ``x.m(a)`` becomes
  ``batching.method(x, "m", a)`` (a call through a module, ``np.sum(x)``, is a plain call of
  ``np.sum``);
- every subscript read ``x[i]`` becomes ``batching.getitem(x, i)``, a write ``y[i] = v`` becomes
  ``y = batching.setitem(y, i, v)``, and ``x += v`` becomes ``x = batching.iadd(x, v)``;
- everything else (operators, control flow, containers, comprehensions, nested functions) is left as
  written.

At run time a batched value is a ``batching_runtime.Batched``, an array with the batch on axis 0; the
functions above apply a batching rule when an operand is batched and do the plain operation when none
is, so unbatched values stay as they are. See docs/vmap.md.

The rewritten function is compiled once per function (its text does not depend on which arguments are
batched) and bound to the function's own globals and closure cells, as ``cache.py`` does for adjoints.
Whether a function had to fall back to one call per batch element is remembered per (function, which
arguments are batched).
"""

import copy
import dataclasses
import os
import threading
import types
import weakref

import gast
import numpy as np

from ..runtime import batched as batching_runtime
from ..runtime.batched import Batched, NeedsLoop, batch_size, loop_call, report, slice_of
from ..runtime.loader import compile_module, inner_code_objects, make_function, origin_at
from .ir import load, store
from .local_classes import lower_local_classes
from .emit import Comments, function_def, module_source
from .naming import Namer, identifiers_in
from .parsing import parse_function
from .scope import MISSING, resolve_name


# --------------------------------------------------------------------------------------------------
# The rewrite
# --------------------------------------------------------------------------------------------------

_AUGMENTED = {gast.Add: "iadd", gast.Sub: "isub", gast.Mult: "imul", gast.Div: "itruediv",
              gast.FloorDiv: "ifloordiv", gast.Mod: "imod", gast.Pow: "ipow", gast.MatMult: "imatmul",
              gast.BitAnd: "iand", gast.BitOr: "ior", gast.BitXor: "ixor", gast.LShift: "ilshift",
              gast.RShift: "irshift"}


def _local_names(node):
    names = {a.id for a in gast.walk(node.args) if isinstance(a, gast.Name)}
    for child in gast.walk(node):
        if isinstance(child, gast.Name) and isinstance(child.ctx, (gast.Store, gast.Del, gast.Param)):
            names.add(child.id)
    return names


class _Rewrite(gast.NodeTransformer):
    def __init__(self, helper, slice_name, parsed, local_names):
        self.helper = helper
        self.slice_name = slice_name
        self.parsed = parsed
        self.local_names = local_names

    def _helper_call(self, name, args, keywords=(), like=None):
        node = gast.Call(func=gast.Attribute(value=load(self.helper), attr=name, ctx=gast.Load()),
                         args=list(args), keywords=list(keywords))
        if like is not None and hasattr(like, "origin"):
            node.origin = like.origin
        return node

    def _is_static(self, node):
        """Whether ``node`` names a module or class the function reads from its globals (``np``,
        ``np.linalg``): a call through it is a call of a fixed function, not a method call."""
        while isinstance(node, gast.Attribute):
            node = node.value
        if not isinstance(node, gast.Name) or node.id in self.local_names:
            return False
        obj = resolve_name(node.id, self.parsed)
        return obj is not MISSING and isinstance(obj, (types.ModuleType, type))

    def _index(self, node):
        """A subscript's index as an expression: ``a:b`` becomes ``slice(a, b, None)``."""
        if isinstance(node, gast.Slice):
            parts = [node.lower, node.upper, node.step]
            return gast.Call(func=load(self.slice_name),
                             args=[p if p is not None else gast.Constant(value=None, kind=None) for p in parts],
                             keywords=[])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self._index(e) for e in node.elts], ctx=gast.Load())
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, gast.Name) and func.id == "super" and not node.args:
            return node  # zero-argument super() reads the method's __class__ cell: called as written
        if isinstance(func, gast.Attribute) and not self._is_static(func.value):
            return self._helper_call("method", [func.value, gast.Constant(value=func.attr, kind=None)] + node.args,
                                     node.keywords, node)
        return self._helper_call("call", [func] + node.args, node.keywords, node)

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, gast.Load):
            return self._helper_call("getitem", [node.value, self._index(node.slice)], like=node)
        return node

    def _write(self, target, value, origin):
        """``target[index] = value`` as a statement."""
        base = self.visit(target.value)
        index = self._index(self.visit(target.slice))
        if isinstance(base, gast.Name):
            stmt = gast.Assign(targets=[store(base.id)],
                               value=self._helper_call("setitem", [load(base.id), index, value]), type_comment=None)
        else:
            stmt = gast.Expr(value=self._helper_call("setitem_in_place", [base, index, value]))
        stmt.origin = origin
        return stmt

    def visit_Assign(self, node):
        node.value = self.visit(node.value)
        nested = []  # (subscript, temporary name) for subscripts inside tuple targets
        targets = [t if isinstance(t, gast.Subscript) else self._replace_nested_writes(t, nested)
                   for t in node.targets]
        if not nested and not any(isinstance(t, gast.Subscript) for t in targets):
            node.targets = [self.visit(t) for t in targets]
            return node
        origin = getattr(node, "origin", None)
        out = []
        value = node.value
        if len(targets) > 1:  # evaluate once, then store into each target
            temp = self.fresh("assigned")
            first = gast.Assign(targets=[store(temp)], value=value, type_comment=None)
            first.origin = origin
            out.append(first)
            value = load(temp)
        for target in targets:
            if isinstance(target, gast.Subscript):
                out.append(self._write(target, value, origin))
            else:
                stmt = gast.Assign(targets=[self.visit(target)], value=value, type_comment=None)
                stmt.origin = origin
                out.append(stmt)
        for target, temp in nested:
            out.append(self._write(target, load(temp), origin))
        return out

    def _replace_nested_writes(self, target, nested):
        if isinstance(target, (gast.Tuple, gast.List)):
            target.elts = [self._replace_nested_writes(e, nested) for e in target.elts]
            return target
        if isinstance(target, gast.Subscript):
            temp = self.fresh("item")
            nested.append((target, temp))
            return store(temp)
        return target

    def visit_AugAssign(self, node):
        name = _AUGMENTED[type(node.op)]
        value = self.visit(node.value)
        target = node.target
        origin = getattr(node, "origin", None)
        if isinstance(target, gast.Subscript):
            base = self.visit(target.value)
            index = self._index(self.visit(target.slice))
            read = self._helper_call("getitem", [base, index])
            updated = self._helper_call(name, [read, value])
            if isinstance(base, gast.Name):
                stmt = gast.Assign(targets=[store(base.id)],
                                   value=self._helper_call("setitem", [load(base.id), index, updated]),
                                   type_comment=None)
            else:
                stmt = gast.Expr(value=self._helper_call("setitem_in_place", [base, index, updated]))
        else:
            read_target = self.visit(_as_load(target))
            stmt = gast.Assign(targets=[self.visit(target)], value=self._helper_call(name, [read_target, value]),
                               type_comment=None)
        stmt.origin = origin
        return stmt

    def fresh(self, base):
        return self.namer.fresh(base)


def _as_load(node):
    node = copy.deepcopy(node)
    for child in gast.walk(node):
        if hasattr(child, "ctx"):
            child.ctx = gast.Load()
    return node


# --------------------------------------------------------------------------------------------------
# Compiling and caching
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class BatchedCode:
    source: str
    filename: str
    code: types.CodeType
    helper_cells: dict
    name: str


_COMPILED = {}
_BOUND = weakref.WeakKeyDictionary()
_LOOPED = set()  # (code, which arguments are batched) that needed the per-element loop
_BUILDING = threading.RLock()


def compiled_batched(fn):
    code = fn.__code__
    key = (code, code.co_filename, code.co_firstlineno)
    compiled = _COMPILED.get(key)
    if compiled is None:
        with _BUILDING:  # threads racing for the same function build it once
            compiled = _COMPILED.get(key)
            if compiled is None:
                compiled = _COMPILED[key] = _build(fn)
    return compiled


def _build(fn):
    parsed = parse_function(fn)
    lower_local_classes(parsed)  # classes defined inside: nested functions and dicts (local_classes.py)
    node = parsed.node
    namer = Namer(identifiers_in(node) | set(fn.__code__.co_freevars))
    helper = namer.fresh("batching")
    slice_name = "slice" if "slice" not in namer.taken else namer.fresh("slice")
    helper_cells = {helper: types.CellType(batching_runtime)}
    if slice_name != "slice":
        helper_cells[slice_name] = types.CellType(slice)
    _bind_helper_names(node, namer, helper_cells)
    rewrite = _Rewrite(helper, slice_name, parsed, _local_names(node))
    rewrite.namer = namer
    body = []
    for stmt in node.body:
        new = rewrite.visit(stmt)
        body.extend(new if isinstance(new, list) else [new])
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring is replaced by ours
    comments = Comments()
    body = comments.annotate(body)
    args = _plain_arguments(node.args)
    name = namer.fresh(f"{parsed.name}_batched")
    doc = (f"{parsed.name} on a batch: every Batched value carries the batch on axis 0; calls and subscripts "
           "apply batching rules.")
    function = function_def(name, args, body, doc)
    factory = namer.fresh(f"make_{parsed.name}_batched")
    origin = node.origin
    where = f"{os.path.basename(origin.filename)}:{origin.lineno}"
    if parsed.filename.startswith("<autodiff_st"):  # a generated function: no counter, for stable text
        user = _user_origin(node)
        where = "generated code" if user is None else f"generated code for {os.path.basename(user.filename)}"
    header = (f"# Generated by autodiff_st from {parsed.name} ({where}): the batched version, for vmap.\n"
              "# Batched values (batching_runtime.Batched) carry the batch on axis 0; unbatched values are as in\n"
              f"# {parsed.name}. Each block of statements is headed by the line it comes from.\n")
    factory_params = sorted(helper_cells) + list(fn.__code__.co_freevars)
    source, line_map = module_source(header, factory, factory_params, [function], comments, origin)
    code, filename = compile_module(source, f"batched {parsed.name}", line_map)
    inner = inner_code_objects(code, factory)[name]
    return BatchedCode(source, filename, inner, helper_cells, name)


def _bind_helper_names(node, namer, helper_cells):
    """The run-time helpers that parsing's rewrites of the syntax call (``[*xs, y]`` is ``concatenated(list(xs),
    [y])``, starred_displays.py): each named by a fresh name bound to it, as the generated code binds its own."""
    names = {}
    for child in gast.walk(node):
        obj = getattr(child, "helper", None)
        if obj is None or not isinstance(child, gast.Name):
            continue
        if id(obj) not in names:
            names[id(obj)] = namer.fresh(child.id)
            helper_cells[names[id(obj)]] = types.CellType(obj)
        child.id = names[id(obj)]


def _user_origin(node):
    """The first user's line (not generated code) that a statement of ``node`` comes from, or None."""
    for child in gast.walk(node):
        origin = getattr(child, "origin", None)
        if origin is not None and not str(getattr(origin, "filename", "<")).startswith("<"):
            return origin
    return None


def _plain_arguments(args):
    args = copy.deepcopy(args)
    for a in args.posonlyargs + args.args + args.kwonlyargs:
        a.annotation = None
    args.defaults = []
    args.kw_defaults = [None] * len(args.kwonlyargs)
    return args


def batched_version(fn):
    """The batched function of ``fn``, bound to ``fn``'s globals, closure cells and defaults."""
    bound = _BOUND.get(fn)
    if bound is None:
        compiled = compiled_batched(fn)
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        bound = make_function(compiled.code, fn.__globals__, compiled.helper_cells, cells,
                              fn.__defaults__, fn.__kwdefaults__)
        try:
            _BOUND[fn] = bound
        except TypeError:
            pass
    return bound


_NO_SOURCE_ROOTS = {"numpy", "scipy", "builtins", "functools", "operator", "math"}


def has_source(fn):
    """Whether ``fn`` is a Python function this module can rewrite (numpy's own are not rewritten:
    they have rules, or run once per batch element)."""
    if not isinstance(fn, types.FunctionType):
        return False
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    return module not in _NO_SOURCE_ROOTS


def _pattern(args, kwargs):
    if not kwargs:
        return tuple(map(batching_runtime.is_batched, args)), ()
    return (tuple(map(batching_runtime.is_batched, args)),
            tuple(sorted((k, batching_runtime.is_batched(v)) for k, v in kwargs.items())))


def call_batched(fn, args, kwargs):
    """Call ``fn`` on batched arguments through its batched version, or, where that cannot run (a
    condition on a batched value, source that cannot be read), once per batch element."""
    code = fn.__code__
    key = (code, _pattern(args, kwargs))
    if key in _LOOPED:
        report(f"the whole of {_qualname(fn)} runs once per batch element", _definition_site(fn), quiet=True)
        return loop_call(fn, args, kwargs)
    try:
        batched = batched_version(fn)
    except Exception as exc:  # no readable source, or syntax the rewrite cannot take
        _LOOPED.add(key)
        report(f"{_qualname(fn)} cannot be batched ({type(exc).__name__}: {str(exc).splitlines()[0]}): "
               "it runs once per batch element", _definition_site(fn))
        return loop_call(fn, args, kwargs)
    journals = batching_runtime.PER_THREAD.journals
    checkpoints = [(journal, journal.checkpoint()) for journal in journals] if journals else ()
    try:
        return batched(*args, **kwargs)
    except NeedsLoop as exc:
        for journal, checkpoint in checkpoints:  # take back what the batched attempt collected
            journal.restore(checkpoint)
        _LOOPED.add(key)
        report(f"{exc.what}: the whole of {_qualname(fn)} runs once per batch element",
               _site_in_traceback(exc, compiled_batched(fn).filename) or _definition_site(fn))
        return loop_call(fn, args, kwargs)


def _qualname(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))


def _definition_site(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return "an unknown line"
    return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"


def _site_in_traceback(exc, filename):
    """The user's line behind the last line of ``filename`` (a batched module) in the traceback."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None:
        return None
    origin = origin_at(filename, line)
    return origin.short() if origin is not None else f"{filename}:{line}"


def source_of(fn):
    return compiled_batched(fn).source


# --------------------------------------------------------------------------------------------------
# The entry point for jacrev
# --------------------------------------------------------------------------------------------------

def batched_backward(backward):
    """A batched version of a generated vjp backward pass, for jacrev.

    ``backward(residuals, out_bar) -> tuple of gradients`` is the second function of
    ``cache.adjoint_functions(fn, positions, "vjp", kinds)`` (or any function of that signature). The
    result is ``run(residuals, out_bar_batch) -> tuple of gradients`` where ``out_bar_batch`` is an array
    whose axis 0 is the batch (a tuple of such arrays, one per output, when the function returns a
    tuple), ``residuals`` are the forward pass's, unbatched, and each gradient comes back with the same
    leading batch axis: ``run(res, V)[k][i] == backward(res, V[i])[k]``. Gradients that do not depend on
    the cotangent are repeated along the batch; ``None`` stays ``None``; tuple, list and dict gradients
    keep their structure, with the batch axis on each leaf. One batched pass runs where every operation
    has a batching rule; the rest runs once per row (see docs/vmap.md).
    """

    cached = _BATCHED_BACKWARDS.get(backward)
    if cached is not None:
        return cached
    direct = has_source(backward)  # a generated function: straight to its batched version

    def run(residuals, out_bar_batch):
        cotangent = _wrap_leaves(out_bar_batch)
        size = batch_size(cotangent)
        if size is None:
            raise ValueError("batched_backward needs a cotangent with a leading batch axis")
        if direct:
            grads = call_batched(backward, (residuals, cotangent), {})
        else:
            grads = call_batched_any(backward, (residuals, cotangent), {})
        return tuple(materialize(g, size) for g in grads)

    run.backward = backward
    try:
        _BATCHED_BACKWARDS[backward] = run
    except TypeError:  # not weakly referable
        pass
    return run


_BATCHED_BACKWARDS = weakref.WeakKeyDictionary()  # backward -> its batched runner, reused across calls


def call_batched_any(fn, args, kwargs):
    """``fn(*args, **kwargs)`` with batched arguments, whatever ``fn`` is (a generated function goes
    straight to its batched version)."""
    if type(fn) is types.FunctionType and fn.__code__.co_filename.startswith("<autodiff_st"):
        return call_batched(fn, args, kwargs)
    return batching_runtime.call(fn, *args, **kwargs)


def _wrap_leaves(tree):
    if isinstance(tree, (tuple, list)) and type(tree) is not Batched:
        items = [_wrap_leaves(t) for t in tree]
        return type(tree)(items) if type(tree) in (tuple, list) else tuple(items)
    if isinstance(tree, dict):
        return type(tree)({k: _wrap_leaves(v) for k, v in tree.items()})
    return Batched(np.asarray(tree))


def materialize(tree, size):
    """A result with the batch made explicit: a batched leaf gives its array, an unbatched number or
    array is repeated ``size`` times along a new axis 0, ``None`` stays ``None``."""
    if type(tree) is Batched:
        return tree.value
    if tree is None:
        return None
    if isinstance(tree, dict):
        return type(tree)({k: materialize(v, size) for k, v in tree.items()})
    if isinstance(tree, (tuple, list)):
        items = [materialize(t, size) for t in tree]
        if type(tree) is list:
            return items
        return type(tree)(items) if not hasattr(tree, "_fields") else type(tree)(*items)
    return np.array(np.broadcast_to(np.asarray(tree), (size,) + np.shape(tree)))


__all__ = ["batched_backward", "call_batched", "batched_version", "source_of", "slice_of"]
