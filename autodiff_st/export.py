"""``ad.export(transform, path)``: a generated adjoint as a self-contained, importable module.

The module holds a header (the source function, the transform and its options, the library's version),
the imports the generated code needs (the user's globals it reads, such as ``np``, and the helpers from
``autodiff_st.runtime``), the generated source exactly as ``ad.source`` shows it, and one function named
after the transform (``loss_grad``) that returns exactly what the transform returns. The helpers stay in
autodiff_st.runtime: the exported file needs autodiff_st installed, but none of its compiler.

``grad`` and ``value_and_grad`` (without ``has_aux`` or ``weights=``) are exported; other transforms are
refused with an ``OptionValueError`` that says so.
"""

import ast
import datetime
import inspect
import types
from os import PathLike
from pathlib import Path
from typing import Any, Union

import autodiff_st.runtime as runtime
from .compiler.cache import compiled_adjoint
from .core.errors import OptionValueError, SourceUnavailableError
from .core.version import __version__
from .transforms.checks import as_tuple, target_of
from .transforms.grad import Grad, WeightsGrad


def _import_line(name, obj, user_module):
    """How the exported module gets ``name``, which the generated code reads as ``obj``."""
    if isinstance(obj, types.ModuleType):
        return f"import {obj.__name__}" if obj.__name__ == name else f"import {obj.__name__} as {name}"
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module and qualname and "." not in qualname and "<" not in qualname:
        if module.startswith("autodiff_st.runtime.") and getattr(runtime, qualname, None) is obj:
            module = "autodiff_st.runtime"  # re-exported there
        return f"from {module} import {qualname}" + (f" as {name}" if qualname != name else "")
    if user_module is None:
        raise OptionValueError(f"ad.export cannot tell where the generated code's `{name}` comes from.")
    return f"from {user_module} import {name}"


def _factory(source):
    """The name and parameters of the generated ``make_..._adjoint`` factory."""
    tree = ast.parse(source)
    factory = next(node for node in tree.body if isinstance(node, ast.FunctionDef))
    return factory.name, [a.arg for a in factory.args.args]


def export(transform: Any, path: Union[str, "PathLike[str]"]) -> Path:
    """Write ``transform``'s generated code to ``path`` as a module that runs without compiling anything:
    ``from path_stem import <fn>_grad``. Returns the path written."""
    if not isinstance(transform, Grad) or isinstance(transform, WeightsGrad) or transform.has_aux \
            or isinstance(transform.fn, Grad) or transform.mode not in ("grad", "grad_only"):
        raise OptionValueError(
            "ad.export writes grad and value_and_grad transforms (without has_aux or weights=) of a "
            "function; for other transforms, read ad.source.")
    target, prefix = target_of(transform.fn)
    if prefix or target.__code__.co_freevars:
        raise OptionValueError(
            "ad.export needs a function defined at module level: a method, a partial or a closure reads "
            "values the exported module could not import.")
    positions = tuple(as_tuple(transform.positions))
    compiled = compiled_adjoint(target, positions, transform.mode)
    user_module = getattr(target, "__module__", None)
    if user_module in (None, "__main__"):
        user_module = None
    imports = sorted({_import_line(name, obj, user_module) for name, obj in compiled.guards}
                     | {_import_line(name, cell.cell_contents, user_module)
                        for name, cell in compiled.helper_cells.items()})
    if "np." in compiled.source and "np" not in {name for name, _ in compiled.guards}:
        imports.insert(0, "import numpy as np")  # generated code names numpy `np` (np.index_exp)
    factory, params = _factory(compiled.source)
    (entry,) = compiled.names
    try:
        where = f"{Path(inspect.getsourcefile(target)).name}:{target.__code__.co_firstlineno}"
    except TypeError as exc:
        raise SourceUnavailableError(f"cannot find the file of {target.__qualname__}") from exc
    kind = "value_and_grad" if transform.value_and_grad or transform.return_value else "grad"
    single = isinstance(transform.positions, int)
    name = f"{target.__name__}_{kind}"
    signature = ", ".join(compiled.param_names)
    # Gradients take the type of their input (a float for a float), as the transform's do.
    matched = ", ".join(f"match_input(grads[{i}], {compiled.param_names[p]})" for i, p in enumerate(positions))
    grads = matched if single else f"({matched},)"
    if kind == "value_and_grad":
        body = [f"    out, *grads = _{entry}({signature})", f"    return out, {grads}"]
    else:
        body = [f"    _, *grads = _{entry}({signature})", f"    return {grads}"]
    imports.append("from autodiff_st.transforms.checks import match_input")
    text = "\n".join([
        f'"""{kind} of {target.__qualname__} ({where}) with respect to argument position(s) '
        f'{transform.positions}.',
        "",
        f"Exported by autodiff_st {__version__} on {datetime.date.today().isoformat()}: ad.export(ad.{kind}("
        f"{target.__name__}, grad_position={transform.positions!r}), ...). The helpers come from",
        "autodiff_st.runtime; nothing is compiled when this module is imported.",
        '"""',
        "",
        *imports,
        "",
        "",
        compiled.source.rstrip(),
        "",
        "",
        f"_{entry} = {factory}({', '.join(params)})",
        "",
        "",
        f"def {name}({signature}):",
        f'    """What ad.{kind}({target.__name__}, grad_position={transform.positions!r}) returns."""',
        *body,
        "",
    ])
    path = Path(path)
    path.write_text(text)
    return path
