"""Inline derivative rules into generated code.

A rule (see ``rules/__init__.py``) is a Python function. Its body becomes a template: the parameter
names are replaced by the names at the call site, its own local names get fresh names, and the modules
and helpers it refers to (``np``, ``unbroadcast``) are bound in the generated module under names that
cannot collide with the user's.
"""

import ast
import inspect
import textwrap

import gast

from ..core.errors import MissingRuleError
from .ir import load, store
from .optimize import fold_constants
from .scope import resolve_name


class HelperNames:
    """The names under which generated code refers to modules and runtime helpers.

    A helper takes its natural name (``np``, ``unbroadcast``) when the user's function does not use that
    name, or uses it for the very same object. Otherwise it gets a fresh name such as ``np_2``.
    """

    def __init__(self, namer, parsed, user_locals):
        self.namer = namer
        self.parsed = parsed
        self.user_locals = user_locals
        self.bound = {}  # name -> object, provided to the generated code as closure variables
        self._by_id = {}
        self.named = {}  # name -> object, for every name given so far (a user's global of that name too)

    def name_for(self, obj, preferred):
        key = id(obj)
        if key in self._by_id:
            return self._by_id[key]
        if preferred not in self.user_locals and preferred not in self.parsed.closure \
                and resolve_name(preferred, self.parsed) is obj:
            name = preferred  # the user's own global (or builtin) of that name is the same object
        else:
            name = self.namer.fresh(preferred)
            self.bound[name] = obj
        self._by_id[key] = name
        self.named[name] = obj
        return name

    def given_name(self, obj):
        """The name ``obj`` has in the generated code, or None where nothing refers to it yet."""
        return self._by_id.get(id(obj))


_TEMPLATES = {}


def template_of(rule_fn):
    """The parsed ``def`` of a rule, or None when its source cannot be read."""
    if rule_fn not in _TEMPLATES:
        try:
            source = textwrap.dedent(inspect.getsource(rule_fn))
            node = gast.parse(source).body[0]
            node.decorator_list = []
            # A rule is inlined only when its one return is its last statement: inlined, an earlier
            # return would return from the generated function. Other rules are called.
            ok = (isinstance(node, gast.FunctionDef) and isinstance(node.body[-1], gast.Return)
                  and sum(isinstance(n, gast.Return) for n in gast.walk(node)) == 1)
            _TEMPLATES[rule_fn] = node if ok else None
        except (OSError, TypeError, SyntaxError):
            _TEMPLATES[rule_fn] = None
    return _TEMPLATES[rule_fn]


def constant_node(value):
    try:
        node = gast.parse(repr(value)).body[0].value
    except SyntaxError:
        return None
    return node


_SIGNATURES = {}  # rule function -> its signature (inspect.signature is slow, and rules do not change)


def bind_arguments(rule, args, keywords, origin):
    """Map the call's atoms onto the rule's parameter names, filling defaults."""
    sig = _SIGNATURES.get(rule.vjp)
    if sig is None:
        sig = _SIGNATURES[rule.vjp] = inspect.signature(rule.vjp)
    bound = {}
    if rule.var_positional is not None:
        fixed = rule.params.index(rule.var_positional)
        args, rest = list(args[:fixed]), list(args[fixed:])
        bound[rule.var_positional] = gast.Tuple(elts=rest, ctx=gast.Load())
    if len(args) > len(rule.params):
        raise MissingRuleError(
            f"the derivative rule of {rule.name} takes at most {len(rule.params)} positional arguments "
            f"({', '.join(rule.params)}); this call passes {len(args)}.",
            origin=origin, hint="Pass the extra arguments by keyword, or register a rule that takes them.")
    for name, node in zip(rule.params, args):
        bound[name] = node
    for name, node in keywords.items():
        if name == rule.var_positional:
            raise MissingRuleError(f"{rule.name} takes `{name}` positionally.", origin=origin)
    for name, node in keywords.items():
        if name in rule.params:
            bound[name] = node
        elif not rule.has_var_keywords:
            raise MissingRuleError(
                f"the derivative rule of {rule.name} does not handle the keyword argument `{name}=`.",
                origin=origin,
                hint=f"Call {rule.name} without `{name}=`, or register a rule that takes it "
                     "with @ad.register_vjp.")
    out = bound.get("out")
    if out is not None and not (isinstance(out, gast.Constant) and out.value is None):
        raise MissingRuleError(
            f"autodiff_st cannot differentiate {rule.name} with `out=`: it writes into an existing array.",
            origin=origin, hint="Drop out= and assign the result to a new name.")
    for name in rule.params:
        if name not in bound and name != rule.var_positional:
            default = sig.parameters[name].default
            if default is inspect.Parameter.empty:
                raise MissingRuleError(f"{rule.name} is called without its argument `{name}`.", origin=origin)
            node = constant_node(default)
            if node is None:
                raise MissingRuleError(f"the rule of {rule.name} has a default for `{name}` that "
                                       "cannot be written into generated code.", origin=origin)
            bound[name] = node
    return bound


def copy_tree(node):
    """A deep copy of a gast tree (a node, a list of nodes, or a leaf value), as ``copy.deepcopy`` makes it
    but several times faster: every node and list is new, with all its attributes (fields, positions and
    any the compiler set), and leaf values (names, constants, the objects the compiler attached) are
    shared, as they are never changed in place."""
    kind = type(node)
    if kind is list:
        return [copy_tree(item) for item in node]
    if not isinstance(node, ast.AST):
        return node
    new = kind.__new__(kind)
    attributes = new.__dict__
    for key, value in node.__dict__.items():
        attributes[key] = copy_tree(value) if type(value) is list or isinstance(value, ast.AST) else value
    return new


def _instantiate(node, mapping):
    """A copy of the template tree ``node`` with each name in ``mapping`` replaced: by a new name (a str)
    or by a copy of a node (an atom at the call site). One pass, in place of a deep copy followed by a
    ``NodeTransformer``; the result is the same tree."""
    kind = type(node)
    if kind is list:
        return [_instantiate(item, mapping) for item in node]
    if not isinstance(node, ast.AST):
        return node
    if kind is gast.Name and node.id in mapping:
        replacement = mapping[node.id]
        if isinstance(replacement, str):
            return gast.Name(id=replacement, ctx=copy_tree(node.ctx), annotation=None, type_comment=None)
        return copy_tree(replacement)
    new = kind.__new__(kind)
    attributes = new.__dict__
    for key, value in node.__dict__.items():
        attributes[key] = _instantiate(value, mapping) if type(value) is list or isinstance(value, ast.AST) \
            else value
    return new


class _Plan:
    """What instantiating a template needs that does not depend on the call: the names of its two leading
    parameters, all its parameters, and the names its body stores and loads, in the order a walk of the
    body meets them (the order fresh names are made in)."""

    def __init__(self, template):
        self.first, self.second = (a.id for a in template.args.args[:2])
        params = {a.id for a in template.args.args + template.args.kwonlyargs}
        if template.args.vararg is not None:
            params.add(template.args.vararg.id)
        if template.args.kwarg is not None:
            params.add(template.args.kwarg.id)
        self.params = params
        stores, loads = [], []
        for stmt in template.body:
            for node in gast.walk(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and node.id not in stores:
                    stores.append(node.id)
        for stmt in template.body:
            for node in gast.walk(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id not in loads:
                    loads.append(node.id)
        self.stores, self.loads = stores, loads


_PLANS = {}


def _plan_of(rule_fn, template):
    plan = _PLANS.get(rule_fn)
    if plan is None or plan[0] is not template:
        plan = _PLANS[rule_fn] = (template, _Plan(template))
    return plan[1]


def inline_vjp(rule, bound, g, ans, wanted, namer, helpers):
    """Instantiate ``rule`` for one call.

    bound: parameter name -> atom node at the call site. g, ans: the result's cotangent and the
    result, as names or (for a primitive returning a tuple) tuple displays of names.
    wanted: the differentiable parameters whose cotangents are needed.
    Returns (statements to run first, {parameter: cotangent expression}).
    """
    g = load(g) if isinstance(g, str) else g
    ans = load(ans) if isinstance(ans, str) else ans
    template = template_of(rule.vjp)
    if template is None:
        return _call_rule(rule, bound, g, ans, wanted, namer, helpers)
    plan = _plan_of(rule.vjp, template)  # g and ans first; a forward rule names its tangent t
    mapping = {plan.first: g, plan.second: ans}
    mapping.update(bound)
    for name in plan.stores:  # the rule's own locals, comprehension variables included, get fresh names
        if name not in mapping:
            mapping[name] = namer.fresh(name)
    for name in plan.loads:
        if name not in mapping and name not in plan.params:
            mapping[name] = helpers.name_for(_rule_global(rule.vjp, name), name)
    body = [fold_constants(_instantiate(stmt, mapping)) for stmt in template.body]
    result = body[-1].value
    if len(rule.diff) == 1:
        exprs = {rule.diff[0]: result}
    else:
        exprs = dict(zip(rule.diff, result.elts))
    return body[:-1], {p: exprs[p] for p in wanted}


def _rule_global(rule_fn, name):
    """What a free name in a rule's body refers to: a closure variable, a global or a builtin."""
    closure = dict(zip(rule_fn.__code__.co_freevars, rule_fn.__closure__ or ()))
    if name in closure:
        return closure[name].cell_contents
    if name in rule_fn.__globals__:
        return rule_fn.__globals__[name]
    import builtins
    return getattr(builtins, name)


def _call_rule(rule, bound, g, ans, wanted, namer, helpers):
    """For a rule without readable source: call it, and pick out the cotangents needed."""
    rule_name = helpers.name_for(rule.vjp, rule.vjp.__name__)
    positional = [copy_tree(g), copy_tree(ans)]
    keywords = []
    for k, v in bound.items():
        if k == rule.var_positional:
            positional += [bound[p] for p in rule.params[:rule.params.index(k)]]
            positional.append(gast.Starred(value=v, ctx=gast.Load()))
            keywords = [kw for kw in keywords if kw.arg not in rule.params[:rule.params.index(k)]]
        else:
            keywords.append(gast.keyword(arg=k, value=v))
    call = gast.Call(func=load(rule_name), args=positional, keywords=keywords)
    if len(rule.diff) == 1:
        return [], {rule.diff[0]: call}
    result = namer.fresh("cotangents")
    prelude = [gast.Assign(targets=[store(result)], value=call, type_comment=None)]
    exprs = {p: gast.Subscript(value=load(result), slice=gast.Constant(value=i, kind=None), ctx=gast.Load())
             for i, p in enumerate(rule.diff)}
    return prelude, {p: exprs[p] for p in wanted}
