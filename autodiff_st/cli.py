"""The command line: ``python -m autodiff_st show|export|check MODULE:FUNCTION``.

``show`` prints the generated source of a transform of the function (highlighted on a terminal when
pygments is installed); ``export`` writes the grad or value_and_grad of the function as a module that
runs without compiling anything (``ad.export``); ``check`` runs ``ad.testing.check_grads`` at a point given as JSON or as ``.npy``
files. MODULE is an importable module name or a path to a ``.py`` file.

Exit codes: 0 success; 1 a check found a derivative that disagrees with finite differences; 2 a usage
error (argparse's own); 3 autodiff_st refused the function (an ``AutodiffError``, printed with the line);
4 the module or function could not be found.
"""

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from .core.errors import AutodiffError
from .export import export
from .testing import check_grads
from .transforms.grad import grad, source, value_and_grad
from .transforms.jacobians import jacfwd, jacrev
from .transforms.second_order import hessian

try:  # optional: colours for terminal output
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers import PythonLexer
except ImportError:
    highlight = None

TRANSFORMS = ("grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian")


class NotFound(Exception):
    """The module or the function named on the command line does not exist."""


def load_function(spec):
    """``MODULE:FUNCTION`` (``pkg.mod:f`` or ``path/to/file.py:f``) as the function object."""
    module_name, sep, function_name = spec.rpartition(":")
    if not sep or not module_name or not function_name:
        raise NotFound(f"expected MODULE:FUNCTION, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            if not path.is_file():
                raise NotFound(f"no file {module_name}")
            sys.path.insert(0, str(path.parent))
            import_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(import_spec)
            sys.modules[path.stem] = module
            import_spec.loader.exec_module(module)
        else:
            sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotFound(f"cannot import {module_name}: {exc}") from exc
    fn = module
    for part in function_name.split("."):
        if not hasattr(fn, part):
            raise NotFound(f"{module_name} has no {function_name}")
        fn = getattr(fn, part)
    return fn


def positions(text):
    """``--wrt 0,1`` as an int or a tuple of ints."""
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--wrt takes argument positions such as 0 or 0,1, not {text!r}") from None
    return values[0] if len(values) == 1 else values


def transform_of(fn, name, wrt):
    """The transform of ``fn`` whose source ``show`` prints: vjp and jvp show the generated functions
    jacrev and jacfwd run (the same backward and tangent code)."""
    if name == "grad":
        return grad(fn, grad_position=wrt)
    if name == "value_and_grad":
        return value_and_grad(fn, grad_position=wrt)
    if name in ("vjp", "jacrev"):
        return jacrev(fn, grad_position=wrt)
    if name in ("jvp", "jacfwd"):
        return jacfwd(fn, grad_position=wrt)
    return hessian(fn, grad_position=wrt)


def highlighted(source, stream):
    """``source`` with terminal colours when ``stream`` is a terminal and pygments is installed."""
    if highlight is None or not getattr(stream, "isatty", lambda: False)():
        return source
    return highlight(source, PythonLexer(), TerminalFormatter())


def point_from(options):
    """The arguments ``check`` differentiates at: a JSON list (lists become float arrays) or .npy files."""
    if options.npy:
        return tuple(np.load(path) for path in options.npy)
    values = json.loads(options.point)
    if not isinstance(values, list):
        raise ValueError("--point takes a JSON list with one entry per argument, such as '[[1, 2], 0.5]'")
    return tuple(np.asarray(v, dtype=float) if isinstance(v, list) else float(v) if isinstance(v, int) else v
                 for v in values)


def parser():
    top = argparse.ArgumentParser(prog="python -m autodiff_st", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the generated source of a transform of a function")
    show.add_argument("function", help="MODULE:FUNCTION, MODULE a module name or a path to a .py file")
    show.add_argument("--transform", choices=TRANSFORMS, default="grad")
    show.add_argument("--wrt", type=positions, default=0, help="argument positions, such as 0 or 0,1")
    export_command = commands.add_parser("export", help="write the grad or value_and_grad of a function as a module")
    export_command.add_argument("function", help="MODULE:FUNCTION")
    export_command.add_argument("output", help="the .py file to write")
    export_command.add_argument("--transform", choices=("grad", "value_and_grad"), default="grad")
    export_command.add_argument("--wrt", type=positions, default=0, help="argument positions, such as 0 or 0,1")
    check = commands.add_parser("check", help="check the derivatives of a function against finite differences")
    check.add_argument("function", help="MODULE:FUNCTION")
    where = check.add_mutually_exclusive_group(required=True)
    where.add_argument("--point", help="the arguments as a JSON list, such as '[[0.1, 0.2], 0.5]'")
    where.add_argument("--npy", nargs="+", metavar="FILE", help="one .npy file per argument")
    check.add_argument("--order", type=int, choices=(1, 2), default=2)
    return top


def main(argv=None):
    options = parser().parse_args(argv)
    try:
        fn = load_function(options.function)
        if options.command == "show":
            source_text = source(transform_of(fn, options.transform, options.wrt))
            sys.stdout.write(highlighted(source_text, sys.stdout))
            return 0
        if options.command == "export":
            written = export(transform_of(fn, options.transform, options.wrt), options.output)
            print(f"wrote {written}")
            return 0
        args = point_from(options)
        check_grads(fn, args, order=options.order)
        print(f"check_grads: the derivatives of {options.function} up to order {options.order} agree with "
              "finite differences, and every transform's value with the function's.")
        return 0
    except NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    except AutodiffError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    except AssertionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:  # an unreadable point
        print(f"error: {exc}", file=sys.stderr)
        return 2
