"""Calls and functions the normal form rewrites: ``f(*xs, **d)``, ``super()``, and nested functions and
lambdas that are not inlined.

- ``f(a, *xs, k=v, **d)`` becomes ``call_unpacked(f, "psd", a, xs, d, k=v)`` (runtime/callables.py),
  which the analysis treats as a call of the user's code: differentiated, it runs a generated function
  that passes each element of ``xs`` and ``d`` on its own, so their derivatives go back into them.
- ``super()`` becomes ``super(__class__, self)``: what Python's zero-argument form means, written out,
  so that it means the same in generated code, whose first parameter may be another.
- A nested ``def`` whose body is one ``return`` expression, and a lambda, with plain parameters, is
  inlined where it is called (``inline_call``). Any other nested function is *lifted*: compiled as a
  function of its own, made from its own lines (rewritten.py), whose first parameters are the names it
  reads from the enclosing function (``def energy(w, v):``). A call ``energy(x)`` becomes
  ``energy(w, x)`` with the value ``w`` has at the call, which is what Python's closure reads, and it is
  differentiated like a call of any function of the user's, so the derivative flows into ``w`` too.
- A nested function or lambda used as a value (passed to a helper, ``key=``) is
  ``make_closure(lifted, w)``: a partial of its lifted form. The values bound in it are constants, so
  the analysis refuses one whose captured values carry a derivative (activity.py).
- ``list(map(f, xs))`` (or ``sum(map(...))``) becomes ``[f(t) for t in xs]``, and
  ``sorted(xs, key=f, reverse=r)`` becomes ``[xs[i] for i in sorted_order(xs, r, f)]``: each element's
  derivative follows it to its place; the order carries none.
"""

import ast
import builtins
import copy
import inspect
import linecache

import gast
import numpy as np

from ..core.errors import UnsupportedSyntaxError
from ..runtime.callables import call_unpacked, make_closure, sorted_order
from ..runtime.closures import closure_caller, closure_for_transform, converted_transform
from ..runtime.vectorized import apply_along_axis_call, vectorized_call_1, vectorized_call_2, vectorized_call_3
from .ir import load
from .nonlocal_writes import NonlocalWriteError, check_calls, refuse_deeper_nonlocal, threaded_body, written_nonlocals
from .ops import call_text
from .parsing import origin_of
from .rewritten import body_lines, build_function
from .scope import helper_name

_LIFTED = {}  # (enclosing code, file, line, column) -> (lifted function, captured names)
_VECTORIZED = (vectorized_call_1, vectorized_call_2, vectorized_call_3)  # by number of arguments
_CONSUMERS = (list, sum)  # calls that consume a map at once: list(map(f, xs)) is a list comprehension


def has_unpacking(call):
    return any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


class FunctionLowering:
    """Mixed into ``Normalizer``: reads ``parsed``, ``namer``, ``resolve_static`` and ``params``."""

    def rewritten_call(self, call, origin):
        """``call`` as the normal form writes it: unpacked arguments and ``super()`` made explicit, calls
        of lifted functions given the values they capture, ``map`` and ``sorted`` as comprehensions."""
        if has_unpacking(call):
            if isinstance(call.func, gast.Name) and call.func.id in self.nested_functions \
                    and written_nonlocals(self.nested_functions[call.func.id]):
                raise NonlocalWriteError(
                    f"autodiff_st cannot differentiate a call with `*` or `**` of `{call.func.id}`, which assigns a "
                    "variable of the enclosing function (`nonlocal`).", origin=origin,
                    hint="Pass the arguments one by one.")
            return self.unpacked_call(call, origin)
        converted = self.transform_of_closure(call, origin)
        if converted is not None:
            return converted
        vectorized = self.vectorized_call(call, origin)
        if vectorized is not None:
            return vectorized
        func = call.func
        if isinstance(func, gast.Lambda):  # (lambda t: ...)(x)
            name = self.namer.fresh("lambda_")
            self.define_function(name, func, origin)
            call = gast.Call(func=load(name), args=call.args, keywords=call.keywords)
            func = call.func
        if isinstance(func, gast.Name) and func.id in self.nested_functions and func.id not in self.inlined:
            lifted, captured = self.lifted(func.id, origin)
            if getattr(lifted, "nonlocal_writes", ()):
                return self.threaded_call(call, lifted, func.id, captured, origin)  # nonlocal_writes.py
            return gast.Call(func=helper_name(lifted, func.id),
                             args=[load(c) for c in captured] + call.args, keywords=call.keywords)
        if isinstance(func, gast.Name) and not self.is_local(func.id):
            fn = self.resolve_static(func)
            if fn is super:
                return self.explicit_super(call, origin)
            if fn is sorted and len(call.args) == 1 and all(k.arg in ("key", "reverse") for k in call.keywords):
                return self.sorted_call(call, origin)
            if any(fn is c for c in _CONSUMERS) and len(call.args) == 1 and isinstance(call.args[0], gast.Call) \
                    and isinstance(call.args[0].func, gast.Name) and not self.is_local(call.args[0].func.id) \
                    and self.resolve_static(call.args[0].func) is map and len(call.args[0].args) >= 2 \
                    and not call.args[0].keywords and not has_unpacking(call.args[0]):
                return gast.Call(func=call.func, args=[self.map_as_comprehension(call.args[0], origin)],
                                 keywords=call.keywords)
        return call

    def transform_of_closure(self, call, origin):
        """``G(inner, ...)(a, b)`` for a nested function or lambda ``inner`` that reads names of the
        enclosing function, as ``made = G(closure_for_transform(lifted, x), ...)`` and
        ``closure_caller(made, lifted, 1, 2)(converted_transform(made, lifted, 1), a, b, x)``
        (runtime/closures.py): when ``G`` makes a gradient, the captured values are arguments of the call,
        so the derivative flows into them. None for any other call."""
        maker = call.func
        if not (isinstance(maker, gast.Call) and maker.args and not call.keywords and not has_unpacking(maker)):
            return None
        if isinstance(maker.func, gast.Name) and (maker.func.id in self.nested_functions
                                                  or getattr(maker.func, "helper", None) is not None):
            return None
        inner = maker.args[0]
        if isinstance(inner, gast.Lambda):
            if inner.args.vararg or inner.args.kwarg or inner.args.defaults or inner.args.kwonlyargs \
                    or inner.args.posonlyargs:
                return None
            name = self.namer.fresh("lambda_")
            self.define_function(name, inner, origin)
        elif isinstance(inner, gast.Name) and inner.id in self.nested_functions:
            name = inner.id
        else:
            return None
        if isinstance(self.resolve_static(maker.func), np.vectorize) or self.resolve_static(maker.func) in (
                np.vectorize, np.frompyfunc):
            return None
        lifted, captured = self.lifted(name, origin)
        if not captured:
            return None
        placeholder = gast.Call(func=helper_name(closure_for_transform, "closure_for_transform"),
                                args=[helper_name(lifted, name)] + [load(c) for c in captured], keywords=[])
        made = load(self.into_temporary(self.expression(
            gast.Call(func=maker.func, args=[placeholder] + maker.args[1:], keywords=maker.keywords), origin,
            want_atom=False, hint="made"), origin))
        count = gast.Constant(value=len(captured), kind=None)
        converted = gast.Call(func=helper_name(converted_transform, "converted_transform"),
                              args=[made, helper_name(lifted, name), count], keywords=[])
        caller = gast.Call(func=helper_name(closure_caller, "closure_caller"),
                           args=[made, helper_name(lifted, name), count,
                                 gast.Constant(value=len(call.args), kind=None)], keywords=[])
        rewritten = gast.Call(func=caller, args=[converted] + list(call.args) + [load(c) for c in captured],
                              keywords=[])
        _set_origin(rewritten, origin)
        return rewritten

    def vectorized_call(self, call, origin):
        """``np.vectorize(f)(a, b)`` (or a call of a ``@np.vectorize`` function) as
        ``vectorized_call_2(f, a, b)``, and ``np.apply_along_axis(f, axis, arr)`` as
        ``apply_along_axis_call(f, axis, arr)``: loops over ``f`` (runtime/vectorized.py) that are
        differentiated through ``f``. None for any other call."""
        func = call.func
        pyfunc, what = None, None
        if isinstance(func, gast.Call):
            maker = self.resolve_static(func.func)
            if maker is np.frompyfunc:
                raise UnsupportedSyntaxError(
                    "autodiff_st cannot differentiate a call of np.frompyfunc(...): its results are arrays of "
                    "Python objects.", origin=origin,
                    hint="Use np.vectorize(f)(x), which autodiff_st differentiates through f, or call f in a loop.")
            if maker is np.vectorize:
                if len(func.args) != 1 or func.keywords or has_unpacking(func):
                    raise UnsupportedSyntaxError(
                        "autodiff_st differentiates np.vectorize(f) of a function alone, without otypes, "
                        "excluded, signature or other options.", origin=origin,
                        hint="Write np.vectorize(f)(x), or apply f in a loop.")
                pyfunc, what = func.args[0], "np.vectorize(f)"
        elif isinstance(func, (gast.Name, gast.Attribute)):
            obj = self.resolve_static(func)
            if isinstance(obj, np.vectorize):
                if obj.otypes or obj.excluded or obj.signature is not None or obj.cache:
                    raise UnsupportedSyntaxError(
                        f"autodiff_st differentiates a np.vectorize function without otypes, excluded, signature "
                        f"or cache; `{call_text(call)}` has some.", origin=origin,
                        hint="Use np.vectorize(f) with no options, or apply f in a loop.")
                pyfunc, what = helper_name(obj.pyfunc, getattr(obj.pyfunc, "__name__", "pyfunc")), "np.vectorize"
            elif obj is np.apply_along_axis:
                if len(call.args) != 3 or call.keywords or has_unpacking(call):
                    raise UnsupportedSyntaxError(
                        "autodiff_st differentiates np.apply_along_axis(f, axis, arr) with these three arguments "
                        "only.", origin=origin,
                        hint="Pass extra arguments through a lambda: np.apply_along_axis(lambda r: f(r, w), axis, "
                             "arr).")
                return gast.Call(func=helper_name(apply_along_axis_call, "apply_along_axis_call"),
                                 args=list(call.args), keywords=[])
        if pyfunc is None:
            return None
        if not 1 <= len(call.args) <= len(_VECTORIZED) or call.keywords or has_unpacking(call):
            raise UnsupportedSyntaxError(
                f"autodiff_st differentiates a call of {what} with one to {len(_VECTORIZED)} positional "
                "arguments.", origin=origin, hint="Call the function on each element in a loop.")
        helper = _VECTORIZED[len(call.args) - 1]
        return gast.Call(func=helper_name(helper, helper.__name__), args=[pyfunc] + list(call.args), keywords=[])

    def unpacked_call(self, call, origin):
        """``f(a, *xs, k=v, **d)`` as ``call_unpacked(f, "psd", a, xs, d, k=v)``."""
        layout, pieces = [], []
        for a in call.args:
            if isinstance(a, gast.Starred):
                layout.append("s")
                pieces.append(a.value)
            else:
                layout.append("p")
                pieces.append(a)
        plain = []
        for k in call.keywords:
            if k.arg is None:
                layout.append("d")
                pieces.append(k.value)
            else:
                plain.append(k)
        func = helper_name(call_unpacked, "call_unpacked")
        rewritten = gast.Call(func=func, args=[call.func, gast.Constant(value="".join(layout), kind=None)] + pieces,
                              keywords=plain)
        for n in gast.walk(rewritten):
            if not hasattr(n, "origin"):
                n.origin = origin
        return rewritten

    def explicit_super(self, call, origin):
        """``super()`` with no arguments as ``super(__class__, <first parameter>)``."""
        if call.args or call.keywords or self.resolve_static(call.func) is not super:
            return call
        first = self.parsed.node.args.posonlyargs + self.parsed.node.args.args
        if "__class__" not in self.parsed.closure or not first:
            raise UnsupportedSyntaxError(
                "autodiff_st cannot tell which class `super()` means here.", origin=origin,
                hint="Write `super(Class, self)`.")
        if first[0].id in self.env and self.env[first[0].id] != first[0].id:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate `super()` after `{first[0].id}` is assigned a new value.",
                origin=origin, hint=f"Write `super(Class, {first[0].id})`, or keep `{first[0].id}` unchanged.")
        rewritten = gast.Call(func=call.func, args=[load("__class__"), load(first[0].id)], keywords=[])
        for n in gast.walk(rewritten):
            n.origin = origin
        return rewritten

    # -- nested functions and lambdas -------------------------------------------------------------------

    def function_definition(self, stmt, origin):
        """``def g(...): ...`` or ``g = lambda ...: ...`` in the function's body."""
        if isinstance(stmt, gast.FunctionDef):
            self.define_function(stmt.name, stmt, origin)
        else:
            self.define_function(stmt.targets[0].id, stmt.value, origin)

    def define_function(self, name, node, origin):
        if name in self.env:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate this definition of `{name}`: the name also holds a value.",
                origin=origin, hint="Give the function a name of its own.")
        self.nested_functions[name] = node
        self.inlined.pop(name, None)
        if isinstance(node, gast.FunctionDef) and written_nonlocals(node):
            check_calls(self.parsed.node, name, origin_of)  # calls that are statements only (nonlocal_writes.py)
        body = node.body if isinstance(node, gast.FunctionDef) else [gast.Return(value=node.body)]
        body = [s for s in body if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
        args = node.args
        if len(body) == 1 and isinstance(body[0], gast.Return) and body[0].value is not None \
                and not (args.vararg or args.kwarg or args.defaults or args.kwonlyargs or args.posonlyargs) \
                and not getattr(node, "decorator_list", None) and name not in _loaded(body[0].value):
            self.inlined[name] = ([a.id for a in args.args], body[0].value)

    def function_value(self, name, origin, want_atom, hint):
        """A nested function used as a value: ``make_closure(lifted, *captured)``. Python's closure reads
        each captured name when it runs, which may be after this line: accepted only where the name has
        one value in the whole function (bound once, outside any loop)."""
        lifted, captured = self.lifted(name, origin)
        counts = _binding_counts(self.parsed.node, self.params)
        for c in captured:
            if counts.get(c, 0) > 1:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate this use of the nested function `{name}` as a value: it "
                    f"reads `{c}`, which is assigned more than once here, and Python's closure reads the value "
                    f"`{c}` has when the function runs, which the compiler cannot follow once the function is "
                    "passed on.", origin=origin,
                    hint=f"Pass `{c}` to the function as an argument, or give each value its own name.")
        value = gast.Call(func=helper_name(make_closure, "make_closure"),
                          args=[helper_name(lifted, name)] + [load(c) for c in captured],
                          keywords=[])
        _set_origin(value, origin)
        return self.expression(value, origin, want_atom, hint or name)

    def lambda_value(self, node, origin, want_atom, hint):
        """A lambda written where a value is expected (``key=lambda t: t[0]``, an argument)."""
        name = self.namer.fresh("lambda_")
        self.define_function(name, node, origin)
        return self.function_value(name, origin, want_atom, hint)

    def lifted(self, name, origin):
        """The lifted form of the nested function ``name`` and the names it captures, in order."""
        node = self.nested_functions[name]
        key = (self.parsed.fn.__code__, self.parsed.filename, origin_of(node).lineno, node.col_offset, name)
        found = _LIFTED.get(key)
        if found is None:
            found = _LIFTED[key] = self.lift(name, node)
        return found

    def lift(self, name, node):
        origin = origin_of(node)
        is_def = isinstance(node, gast.FunctionDef)
        if is_def and node.decorator_list:
            raise UnsupportedSyntaxError("autodiff_st cannot differentiate a decorated nested function.",
                                         origin=origin, hint="Define the function at module level.")
        written = written_nonlocals(node) if is_def else []
        if is_def:
            refuse_deeper_nonlocal(node, name, origin_of)
        outside = [w for w in written if w not in set(self.params) | _stored(self.parsed.node, skip=node)]
        if outside:
            raise NonlocalWriteError(
                f"autodiff_st cannot differentiate the nested function `{name}`: it assigns `{outside[0]}` "
                "(`nonlocal`), which is not a variable of the differentiated function, and a change outside it "
                "is not part of the derivative.", origin=origin,
                hint=f"Return the new value of `{outside[0]}` and assign it outside the differentiated function.")
        args = node.args
        own = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
        free = _loaded(node) - own - _stored(node)
        if name in free:
            raise UnsupportedSyntaxError(
                f"autodiff_st cannot differentiate the nested function `{name}`: it calls itself, and a nested "
                "function is compiled with the values it reads from the enclosing function passed in.",
                origin=origin, hint="Define the recursive function at module level; recursion works there.")
        enclosing = set(self.params) | _stored(self.parsed.node, skip=node) | set(self.nested_functions) | \
            set(self.parsed.closure)
        captured = sorted((free | set(written)) & enclosing)
        defaults = []
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            try:
                defaults.append(ast.literal_eval(gast.gast_to_ast(default)))
            except ValueError:
                raise UnsupportedSyntaxError(
                    f"autodiff_st cannot differentiate the nested function `{name}`: a default value that is "
                    "not a constant is computed when the function is defined.", origin=origin_of(default),
                    hint="Pass the value as an argument, or set it inside the function.") from None
        positional = args.posonlyargs + args.args
        first_default = len(positional) - len(args.defaults)
        params = list(captured)
        for i, a in enumerate(positional):
            params.append(a.id + ("=None" if i >= first_default else ""))
            if args.posonlyargs and i == len(args.posonlyargs) - 1:
                params.append("/")
        if args.vararg is not None:
            params.append("*" + args.vararg.id)
        elif args.kwonlyargs:
            params.append("*")
        params += [a.id + ("=None" if d is not None else "") for a, d in zip(args.kwonlyargs, args.kw_defaults)]
        if args.kwarg is not None:
            params.append("**" + args.kwarg.id)
        kwdefaults = {a.id: defaults[len(args.defaults) + i] for i, a in
                      enumerate(a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)}
        filename = self.parsed.filename
        lines, first = inspect.getsourcelines(self.parsed.fn.__code__)
        shift = len(lines[0]) - len(lines[0].lstrip())
        if is_def and getattr(node, "source_lines", None) is not None:  # a lowered method (local_classes.py)
            body, indent = node.source_lines
            lifted_name = name
        elif is_def:
            body, indent = body_lines(filename, node, first, shift)
            if written:  # threaded as state (nonlocal_writes.py)
                body = threaded_body(body, node, first, shift, written, indent, origin_of, name)
            lifted_name = name
        else:
            body = [("return " + ast.unparse(gast.gast_to_ast(copy.deepcopy(node.body))).replace("\n", " "),
                     first + node.lineno - 1)]
            indent = None
            lifted_name = "lambda_" if name.startswith("lambda_") else name
        header = origin if origin is not None else self.parsed.node.origin
        lifted = build_function(lifted_name, filename, header, ", ".join(params), [], body, indent,
                                f"{name} lifted out of {self.parsed.name}", self.parsed.globals, {},
                                tuple(defaults[:len(args.defaults)]) or None, kwdefaults or None)
        lifted.nonlocal_writes = tuple(written)
        if origin is not None:
            lifted.defined_at = origin.describe()  # for messages about the nested function (runtime/closures.py)
        return lifted, captured

    def map_as_comprehension(self, call, origin):
        """``map(f, a, b)`` as ``[f(t0, t1) for t0, t1 in zip(a, b)]``."""
        func, iterables = call.args[0], [load(self.into_temporary(self.expression(i, origin, want_atom=False), origin))
                                         if isinstance(i, (gast.List, gast.Tuple)) else i for i in call.args[1:]]
        names = [self.namer.fresh("item") for _ in iterables]
        target = load(names[0]) if len(names) == 1 else gast.Tuple(elts=[load(n) for n in names], ctx=gast.Load())
        for n in gast.walk(target):
            if isinstance(n, gast.Name):
                n.ctx = gast.Store()
        source = iterables[0] if len(iterables) == 1 else gast.Call(func=load(self.builtin_name("zip")),
                                                                     args=iterables, keywords=[])
        element = gast.Call(func=func, args=[load(n) for n in names], keywords=[])
        comprehension = gast.ListComp(elt=element, generators=[gast.comprehension(
            target=target, iter=source, ifs=[], is_async=0)])
        _set_origin(comprehension, origin)
        return comprehension

    def sorted_call(self, call, origin):
        """``sorted(xs, key=f, reverse=r)`` as ``[xs[i] for i in sorted_order(xs, r, f)]``."""
        items = self.atom(call.args[0], origin)
        keywords = {k.arg: k.value for k in call.keywords}
        reverse = keywords.get("reverse", gast.Constant(value=False, kind=None))
        key = keywords.get("key")
        extra = []
        if isinstance(key, gast.Lambda) or isinstance(key, gast.Name) and key.id in self.nested_functions:
            # The key only orders the items: the values it captures may carry a derivative.
            if isinstance(key, gast.Lambda):
                name = self.namer.fresh("lambda_")
                self.define_function(name, key, origin)
            else:
                name = key.id
            lifted, captured = self.lifted(name, origin)
            key = helper_name(lifted, name)
            extra = [load(c) for c in captured]
        elif key is None:
            key = gast.Constant(value=None, kind=None)
        order = gast.Call(func=helper_name(sorted_order, "sorted_order"),
                          args=[items, reverse, key] + extra, keywords=[])
        position = self.namer.fresh("position")
        comprehension = gast.ListComp(
            elt=gast.Subscript(value=items, slice=load(position), ctx=gast.Load()),
            generators=[gast.comprehension(target=gast.Name(id=position, ctx=gast.Store(), annotation=None,
                                                            type_comment=None),
                                           iter=order, ifs=[], is_async=0)])
        _set_origin(comprehension, origin)
        return comprehension

    def builtin_name(self, name):
        """A name for the builtin ``name`` in the user's function (``zip``), or a helper name bound to it."""
        if not self.is_local(name) and self.resolve_static(load(name)) is getattr(builtins, name):
            return name
        return helper_name(getattr(builtins, name), self.namer.fresh(name)).id


def _set_origin(tree, origin):
    for n in gast.walk(tree):
        if not hasattr(n, "origin"):
            n.origin = origin


def _scopes(node, skip=None):
    """The nodes of ``node``'s own scope and of the scopes nested in it, except ``skip``'s."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current is skip:
            continue
        yield current
        stack.extend(gast.iter_child_nodes(current))


def _loaded(node):
    return {n.id for n in _scopes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _stored(node, skip=None):
    """The names ``node`` (a function) binds: assigned, loop targets, nested functions' names. With
    ``skip``, the names bound outside that nested function."""
    names = set()
    for n in _scopes(node, skip):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            names.add(n.id)
        elif isinstance(n, gast.FunctionDef) and n is not node:
            names.add(n.name)
    return names


def _binding_counts(function, params):
    """How many times each name is bound in ``function`` (outside its nested functions): a binding inside
    a loop counts twice, as it may run several times."""
    counts = {p: 1 for p in params}

    def visit(node, weight):
        for child in gast.iter_child_nodes(node):
            if isinstance(child, (gast.FunctionDef, gast.Lambda)):
                if isinstance(child, gast.FunctionDef):
                    counts[child.name] = counts.get(child.name, 0) + weight
                continue
            if isinstance(child, gast.Name) and isinstance(child.ctx, (gast.Store, gast.Del)):
                counts[child.id] = counts.get(child.id, 0) + weight
            visit(child, 2 if isinstance(child, (gast.For, gast.While, gast.comprehension)) else weight)

    visit(function, 1)
    return counts
