"""The house in layers (docs/how-it-works.md): each module imports only its own layer and those below.

    core  <  runtime  <  rules  <  compiler  <  transforms  <  nn, testing, the package itself

Read from the source, not by importing, so an import hidden inside a function counts as well. The same
walk finds import cycles within a layer, and checks the sizes the project keeps to: no module over 800
lines, no class over 500.
"""

import ast
import graphlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "autodiff_st"
LAYERS = ["core", "runtime", "rules", "compiler", "transforms", "top"]
MAX_MODULE_LINES = 800
MAX_CLASS_LINES = 500
MAX_FUNCTION_IMPORTS = 5


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module):
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return LAYERS.index("top")


def imported_modules(module, path):
    """(line, imported module of the package, inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    inside = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn) if node is not fn}
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]
        else:
            continue
        found = set()
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            found.add(name)
        for name in sorted(found - {"", module}):
            yield node.lineno, name, id(node) in inside


def test_the_layers_were_found():
    assert {layer_of(m) for m in MODULES} == set(range(len(LAYERS)))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_no_layer_above_its_own(module):
    own = layer_of(module)
    above = [f"line {line}: {target} ({LAYERS[layer_of(target)]})"
             for line, target, _ in imported_modules(module, MODULES[module])
             if layer_of(target) > own and target != "autodiff_st"]
    assert not above, f"{module} ({LAYERS[own]}) imports from a layer above its own: " + "; ".join(above)


def test_no_module_imports_the_package_root_from_inside():
    found = [f"{m} line {line}" for m, p in MODULES.items() if m != "autodiff_st"
             for line, target, _ in imported_modules(m, p) if target == "autodiff_st"]
    assert not found, "importing the package root from inside it ties every module into one circle: " + ", ".join(found)


def test_no_import_cycle():
    graph = {m: {target for _, target, _ in imported_modules(m, p)} for m, p in MODULES.items()}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the modules of a cycle


def test_imports_inside_functions_are_few_and_explained():
    found = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for line, target, inside in imported_modules(module, path):
            if inside:
                found.append((module, line))
                assert "#" in lines[line - 1] or lines[line - 2].strip().startswith("#"), \
                    f"{module} line {line} imports {target} inside a function without a comment saying why"
    assert len(found) <= MAX_FUNCTION_IMPORTS, found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_sizes(module):
    path = MODULES[module]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} has {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"class {node.name} in {path.name} has {size} lines"
