"""The pipeline: parse, fence, normalize, analyze, reverse or forward, optimize, emit, load.

``build`` runs the stages in order for one function, differentiated positions and mode, and returns a
``Compiled``: the generated source, its code objects, and the guards that say when it must be rebuilt.
The stages live in their own modules; this one only wires them together and assembles the generated
functions' bodies (the forward and backward passes of a vjp, the fused value-and-gradient function, the
tangent function of forward mode).
"""

import builtins
import copy
import dataclasses
import types

import gast

from ..core.checkpoint import split_mode
from ..core.errors import AuxError
from ..runtime.loader import compile_module, inner_code_objects, make_function
from .analyze import analyze
from .forward import Tangent
from .exact_fills import settle_exact_fills
from .filled_cotangent import fuse_filled_cotangents
from .float_results import float_results
from .inplace_accumulate import accumulate_in_place
from .ir import load, static_path_root, store, walk_loops, walk_ops, walk_tree
from .emit import Comments, arguments, function_def, header_lines, module_source, restore_guards, tuple_of
from .fence import check_function
from .local_classes import lower_local_classes
from .normalize import normalize
from .hoist_slices import hoist_invariant_slices
from .optimize import delete_dead_values, drop_dead_assignments, live_in, propagate_copies
from .naming import Namer, identifiers_in
from .parsing import parse_function
from .reverse import Reverse
from .scope import MISSING, resolve_name
from .templates import HelperNames

MODES = ("vjp", "vjp_aux", "grad", "grad_aux", "grad_only")

# Bumped by cache.clear(): a module compiled before is no longer valid, wherever a transform keeps it.
GENERATION = [0]


@dataclasses.dataclass
class Compiled:
    source: str
    filename: str
    codes: dict  # generated function name -> code object
    names: tuple  # the generated functions this mode returns, in order
    helper_cells: dict
    guards: tuple  # (name, object) pairs the classification depended on
    param_names: tuple
    user_locals: frozenset
    _guard_plan: tuple = None
    factory_name: str = None  # the function that binds the helpers, in ``source`` (for the disk cache)
    generation: int = dataclasses.field(default_factory=lambda: GENERATION[0])

    def still_valid(self, fn):
        """Whether every name the compilation depended on still refers to the same object.

        Runs on every call of a transform, so the lookups are planned once: a guard is a closure cell
        (by its index in the code's free variables) or a global or builtin name.
        """
        if self.generation != GENERATION[0]:
            return False
        plan = self._guard_plan
        if plan is None:
            plan = self.guard_plan(fn)
        if not plan:
            return True
        globals_ = fn.__globals__
        for name, obj, cell in plan:
            if cell is not None:
                try:
                    current = fn.__closure__[cell].cell_contents
                except ValueError:
                    return False
            else:
                current = globals_.get(name, _UNBOUND)
                if current is _UNBOUND:
                    current = _builtin(name)
            if current is not obj:
                return False
        return True

    def guard_plan(self, fn):
        """The guards ``still_valid`` reads, as ``(name, object, cell)``: ``cell`` the index of the name in
        ``fn``'s closure, or None for a global (or builtin) name."""
        plan = self._guard_plan
        if plan is None:
            freevars = fn.__code__.co_freevars
            plan = self._guard_plan = tuple(
                (name, obj, freevars.index(name) if name in freevars else None)
                for name, obj in self.guards if name not in self.user_locals)
        return plan

    def bind(self, fn):
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        out = []
        for i, name in enumerate(self.names):
            entry = i == 0  # the forward (or fused) function takes the user's arguments and defaults
            out.append(make_function(self.codes[name], fn.__globals__, self.helper_cells, cells,
                                     fn.__defaults__ if entry else None,
                                     fn.__kwdefaults__ if entry else None))
        return tuple(out)


_UNBOUND = object()


def _builtin(name):
    return getattr(builtins, name, None)


def build(fn, positions, mode, kinds=None, roots=None):
    """Run the whole pipeline: parse, fence, normalize, reverse, optimize, emit, load."""
    mode, checkpoint = split_mode(mode)  # a loop checkpointing policy rides on the mode (core/checkpoint.py)
    parsed = parse_function(fn)
    lower_local_classes(parsed)  # a class statement in the body: nested functions and dicts
    check_function(parsed.node)
    namer = Namer(identifiers_in(parsed.node))
    body = normalize(parsed, namer)
    args = parsed.node.args
    params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs + [args.kwarg] if a is not None]
    array_params = {p: kind for p, kind in zip(params, kinds or ()) if type(kind) is tuple}  # (ndim, dtype)
    body = hoist_invariant_slices(body, array_params)  # x[1:] of an array argument, once before its loop
    ops = list(walk_ops(body))
    user_locals = set(params) | {t for op in ops for t in ((op.target,) if isinstance(op.target, str)
                                                           else (op.target or ()))}
    for loop in walk_loops(body):
        user_locals.update(loop.targets + ([loop.index] if loop.index else []))
    helpers = HelperNames(namer, parsed, user_locals)
    for op in ops:  # run-time helpers the normal form calls (np.add.at's functional form): bind them
        for node in walk_tree(op.value):
            if getattr(node, "helper", None) is not None:
                node.id = helpers.name_for(node.helper, node.id)
    active_params = [params[p] for p in positions]
    scalar_params = {p for p, kind in zip(params, kinds or ()) if kind is True}
    if mode == "jvp":
        comments = Comments()
        functions, description = _tangent_functions(parsed, body, active_params, namer, helpers, scalar_params, args,
                                                    comments, array_params)
        return _finish(fn, parsed, ops, user_locals, namer, helpers, functions, comments, description,
                       active_params, mode, params)
    weight_params = None
    if roots is not None:  # weights=: arguments not differentiated that may hold Parameters
        weight_params = [p for i, p in enumerate(params) if i not in positions and (i >= len(roots) or roots[i])]
    facts = analyze(parsed, body, active_params, namer, seed_only_first=mode.endswith("_aux"),
                    scalar_params=scalar_params, array_params=array_params, weight_params=weight_params,
                    helpers=helpers)
    reverse = Reverse(facts, namer, helpers, value_needed=(mode != "grad_only"), checkpoint=checkpoint)
    adjoint = reverse.run()
    grads_live = {n.id for g in adjoint.grads for n in walk_tree(g) if isinstance(n, gast.Name)}
    backward = drop_dead_assignments(adjoint.backward, grads_live)
    # Copies only of adjoints (the backward pass's own names): forward values keep their names.
    forward_names = {n.id for stmt in adjoint.forward for n in walk_tree(stmt) if isinstance(n, gast.Name)}
    backward = propagate_copies(backward, protected=forward_names | grads_live | set(params))
    # the statements before the backward pass that bind the output's cotangent: read from the cotangent
    # parameter (vjp modes) or seeded (the fused modes)
    backward = accumulate_in_place(backward, facts, helpers,
                                   adjoint.intake if mode.startswith("vjp") else adjoint.seed, adjoint.forward)
    backward = fuse_filled_cotangents(backward, helpers, protected=grads_live)
    settle_exact_fills(adjoint.forward, backward, facts, helpers,
                       adjoint.intake if mode.startswith("vjp") else adjoint.seed)
    comments = Comments()
    user_args = _plain_arguments(args)
    returned = adjoint.returned
    name = parsed.name
    if mode.endswith("_aux") and not isinstance(adjoint.returned, gast.Tuple):
        raise AuxError(f"has_aux=True needs {name} to return at least two outputs, as `return out, aux`.",
                       origin=reverse.ops[-1].origin if reverse.ops else parsed.node.origin,
                       hint="Return a tuple whose first element is differentiated, or drop has_aux.")
    if mode.startswith("vjp"):
        residuals = _residuals(adjoint.intake + backward, adjoint, reverse)
        forward_name = namer.fresh(f"{name}_forward")
        backward_name = namer.fresh(f"{name}_backward")
        residual_param = namer.fresh("residuals")
        forward_body = comments.annotate(adjoint.forward) + [gast.Return(value=gast.Tuple(
            elts=[returned, tuple_of(residuals, gast.Load())], ctx=gast.Load()))]
        backward_body = []
        if residuals:
            backward_body.append(gast.Assign(targets=[tuple_of(residuals, gast.Store())],
                                             value=load(residual_param), type_comment=None))
        for tape in (reverse.tape, reverse.ranges):
            if tape in residuals:  # vjp_fn may run many times: pop from a copy of the tape
                backward_body.append(gast.Assign(targets=[store(tape)], value=gast.Call(
                    func=load(reverse.helper(list, "list").id), args=[load(tape)], keywords=[]),
                    type_comment=None))
        backward_body += comments.annotate(adjoint.intake + backward)
        backward_body.append(gast.Return(value=gast.Tuple(elts=adjoint.grads, ctx=gast.Load())))
        functions = [
            function_def(forward_name, user_args, forward_body,
                              f"Run {name} and keep the values the backward pass reads."),
            function_def(backward_name, arguments([residual_param, adjoint.cotangent_param]),
                              backward_body,
                              f"Map the cotangent of {name}'s result to the gradients of "
                              f"{', '.join(active_params) or 'nothing'}."),
        ]
        functions = float_results(functions, facts, helpers)
        description = "forward and backward passes"
    else:
        fused_name = namer.fresh(f"{name}_grad" if mode == "grad_only" else f"{name}_value_and_grad")
        seed = drop_dead_assignments(adjoint.seed, _loads(backward) | grads_live)
        # The backward pass restores overwritten names to their earlier values: keep the result first.
        value_name = namer.fresh("value")
        keep_value = gast.Assign(targets=[store(value_name)], value=returned, type_comment=None)
        keep_value.origin = adjoint.forward[-1].origin if adjoint.forward else parsed.node.origin
        result = gast.Return(value=gast.Tuple(elts=[load(value_name)] + adjoint.grads, ctx=gast.Load()))
        returned_names = {n.id for n in walk_tree(returned) if isinstance(n, gast.Name)}
        forward_part = adjoint.forward + [keep_value] if reverse.restores(returned_names) else adjoint.forward
        if forward_part is adjoint.forward:
            result = gast.Return(value=gast.Tuple(elts=[returned] + adjoint.grads, ctx=gast.Load()))
        if mode == "grad_only":
            # ad.grad returns no value: drop what only computes it (None stands in for the value).
            result = gast.Return(value=gast.Tuple(elts=[gast.Constant(value=None, kind=None)] + adjoint.grads,
                                                  ctx=gast.Load()))
            forward_part = drop_dead_assignments(adjoint.forward, live_in(seed + backward + [result]),
                                                          only_pure=True)
        statements = delete_dead_values(forward_part + seed + backward,
                                                 keep=set(params) | _loads([result]))
        body = comments.annotate(statements, seed_statements=seed) + [result]
        what = "the first output" if mode == "grad_aux" else "the output (non-scalar outputs are summed)"
        wrt = ", ".join(active_params)
        if mode == "grad_only":
            doc = (f"Return the gradients of {name}'s output (non-scalar outputs are summed) with respect to "
                   f"{wrt or 'nothing but Parameters'}. The value itself is not returned, and not computed where the gradient does not "
                   "need it and computing it cannot raise.")
            description = "gradient only"
        else:
            doc = f"Return {name}'s value and the gradients of {what} with respect to {wrt or 'nothing but Parameters'}."
            description = "value and gradient in one pass"
        functions = float_results([function_def(fused_name, user_args, body, doc)], facts, helpers)
    return _finish(fn, parsed, ops, user_locals, namer, helpers, functions, comments, description, active_params,
                   mode, params, roots, tuple(reverse.weight_guards))


def _finish(fn, parsed, ops, user_locals, namer, helpers, functions, comments, description, active_params, mode,
            params, roots=None, extra_guards=()):
    """Wrap the generated functions in a factory that binds the helpers, compile it, and keep the guards."""
    name = parsed.name
    factory_name = namer.fresh(f"make_{name}_adjoint" if mode != "jvp" else f"make_{name}_tangent")
    functions = [restore_guards(f) for f in functions]
    read = {n.id for f in functions for n in walk_tree(f) if isinstance(n, gast.Name)}
    bound = {n: obj for n, obj in helpers.bound.items() if n in read}  # rules dropped by optimize need none
    user_freevars = [v for v in fn.__code__.co_freevars]
    factory_params = sorted(bound) + user_freevars
    if roots is not None:
        description += ", collecting the gradients of the Parameters it reads"
    header = header_lines(parsed, description, active_params,
                               "nothing" if roots is None else "no argument: Parameters only")
    source, line_map = module_source(header, factory_name, factory_params, functions, comments,
                                     parsed.node.origin)
    code, filename = compile_module(source, f"{mode} of {name}", line_map)
    codes = inner_code_objects(code, factory_name)
    helper_cells = {n: types.CellType(obj) for n, obj in bound.items()}
    guards = tuple(_guards(parsed, ops, user_locals)) + extra_guards
    return Compiled(source, filename, codes, tuple(f.name for f in functions), helper_cells, guards,
                    tuple(params), frozenset(user_locals), factory_name=factory_name)


def _tangent_functions(parsed, body, active_params, namer, helpers, scalar_params, args, comments, array_params):
    """Forward mode: one function ``<name>_jvp(tangents, *args)`` returning ``(out, out_tangent)``."""
    tangent = Tangent(analyze(parsed, body, active_params, namer, scalar_params=scalar_params,
                               array_params=array_params, helpers=helpers), namer, helpers)
    statements, returned, out_tangent = tangent.run()
    tangents_param = namer.fresh("tangents")
    result = gast.Return(value=gast.Tuple(elts=[returned, out_tangent], ctx=gast.Load()))
    statements = drop_dead_assignments(statements, live_in([result]), only_pure=True)
    intake = gast.Assign(targets=[tuple_of([tangent.tangent(p) for p in active_params], gast.Store())],
                         value=load(tangents_param), type_comment=None)
    intake.origin = parsed.node.origin
    user_args = _plain_arguments(args)
    user_args.args.insert(0, gast.Name(id=tangents_param, ctx=gast.Param(), annotation=None, type_comment=None))
    if user_args.posonlyargs:
        user_args.posonlyargs, user_args.args = [], user_args.posonlyargs + user_args.args
    body = [intake] + comments.annotate(statements) + [result]
    name = parsed.name
    doc = (f"Run {name} and push the tangents of {', '.join(active_params)} through it: "
           "return its value and the value's tangent.")
    function = function_def(namer.fresh(f"{name}_jvp"), user_args, body, doc)
    return float_results([function], tangent.facts, helpers), "forward mode (tangents)"


def _loads(statements):
    return {n.id for s in statements for n in walk_tree(s) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _residuals(backward, adjoint, reverse):
    read = _loads(backward) | {n.id for g in adjoint.grads for n in walk_tree(g) if isinstance(n, gast.Name)}
    forward_names = reverse.facts.liveness.bound_names() + [reverse.tape, reverse.ranges]
    seen = []
    for n in forward_names:
        if n in read and n not in seen:
            seen.append(n)
    return seen


def _plain_arguments(args):
    args = copy.deepcopy(args)
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None:
            a.annotation = None
    return args


def _guards(parsed, ops, user_locals):
    """The free names whose values decided how calls were compiled."""
    seen = set()
    for op in ops:
        for root in getattr(op, "inlined_from", ()):  # a helper inlined here (inline_helpers.py)
            if root not in user_locals and root not in seen:
                seen.add(root)
                obj = resolve_name(root, parsed)
                yield root, (None if obj is MISSING else obj)
        for node in walk_tree(op.value):
            if isinstance(node, gast.Call):  # a call specialized on numbers keeps the guard of the user's name
                root = static_path_root(getattr(node.func, "specialized_from", node.func))
                if root is not None and root not in user_locals and root not in seen:
                    seen.add(root)
                    obj = resolve_name(root, parsed)
                    yield root, (None if obj is MISSING else obj)
