"""``enumerate(xs, start)`` with a constant ``start``, in a ``for`` loop or a comprehension, written with
the plain ``enumerate(xs)`` before the rest of the compiler reads the function.

``for k, v in enumerate(xs, 1): body`` counts ``k`` from 1; the rewrite walks ``enumerate(xs)`` into a
fresh counter and binds ``k = counter + 1`` first thing in the body, which is what Python binds on each
iteration. In a comprehension, ``for k, v in enumerate(xs, 1)`` becomes ``for counter, v in enumerate(xs)
for k in (counter + 1,)``. Only an int constant ``start`` (``1``, ``-1``, ``start=2``) is rewritten, and
only where ``enumerate`` is the builtin (the function binds no name ``enumerate``, and its module and
closure do not either); anything else keeps its refusal.
"""

import builtins

import gast


def lower_enumerate_start(node, fn_globals, closure, fresh):
    """Rewrite, in place, the loops and comprehensions under ``node`` that call ``enumerate`` with a
    constant start. ``fresh(base)`` gives a name no other part of the function uses."""
    if fn_globals.get("enumerate", builtins.enumerate) is not builtins.enumerate or "enumerate" in closure:
        return
    if any(isinstance(n, gast.Name) and n.id == "enumerate" and not isinstance(n.ctx, gast.Load)
           for n in gast.walk(node)):
        return
    for child in list(gast.walk(node)):
        if isinstance(child, gast.For):
            _loop(child, fresh)
        elif isinstance(child, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            child.generators = [g for generator in child.generators for g in _generator(generator, fresh)]


def _start(call):
    """The constant start of ``enumerate(xs, start)``, or None when the call is not one to rewrite."""
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name) and call.func.id == "enumerate"):
        return None
    args, keywords = call.args, call.keywords
    if len(args) == 2 and not keywords:
        value = args[1]
    elif len(args) == 1 and len(keywords) == 1 and keywords[0].arg == "start":
        value = keywords[0].value
    else:
        return None
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) and isinstance(value.operand, gast.Constant):
        value = gast.Constant(value=-value.operand.value, kind=None) if type(value.operand.value) is int else None
    if not isinstance(value, gast.Constant) or type(value.value) is not int:
        return None
    return value.value


def _split_target(target):
    if isinstance(target, gast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[0], gast.Name):
        return target.elts[0].id, target.elts[1]
    return None


def _plain(call):
    return gast.Call(func=call.func, args=call.args[:1], keywords=[])


def _counted(counter, start):
    return gast.BinOp(left=gast.Name(id=counter, ctx=gast.Load(), annotation=None, type_comment=None), op=gast.Add(),
                      right=gast.Constant(value=start, kind=None))


def _loop(loop, fresh):
    start = _start(loop.iter)
    split = _split_target(loop.target)
    if start is None or split is None:
        return
    name, rest = split
    counter = fresh(f"{name}_from_zero")
    bind = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                       value=_counted(counter, start), type_comment=None)
    gast.copy_location(bind, loop)
    loop.iter = _plain(loop.iter)
    loop.target = gast.Tuple(elts=[gast.Name(id=counter, ctx=gast.Store(), annotation=None, type_comment=None),
                                   rest], ctx=gast.Store())
    loop.body = [bind] + loop.body


def _generator(generator, fresh):
    start = _start(generator.iter)
    split = _split_target(generator.target)
    if start is None or split is None:
        return [generator]
    name, rest = split
    counter = fresh(f"{name}_from_zero")
    walked = gast.comprehension(
        target=gast.Tuple(elts=[gast.Name(id=counter, ctx=gast.Store(), annotation=None, type_comment=None), rest],
                          ctx=gast.Store()),
        iter=_plain(generator.iter), ifs=[], is_async=0)
    counted = gast.comprehension(
        target=gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None),
        iter=gast.Tuple(elts=[_counted(counter, start)], ctx=gast.Load()), ifs=generator.ifs, is_async=0)
    return [walked, counted]
