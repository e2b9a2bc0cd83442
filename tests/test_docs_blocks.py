"""Every ```python block of docs/*.md runs.

The blocks of one page run in order, in one namespace, as a reader pasting them one after another
would run them. Each block is written into its own temporary .py file and run with runpy, with the
namespace the earlier blocks of its page left (``init_globals``), so that the functions it defines
have a source file: autodiff_st reads it. Each page runs once; each block is its own test, named by
page, index and line. Blocks that are not Python to run (shell commands, excerpts of generated code,
signatures) use another fence language: ```text or ```bash.

A block whose first line is ``# file: NAME.py`` is a module that later blocks import: it is written
to NAME.py in the page's directory, which is on ``sys.path`` while the page runs.
"""

import os
import pathlib
import re
import runpy
import sys
import traceback

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_FILE = re.compile(r"# file: (\w+\.py)\n")


def _blocks(page):
    """(line number, source) of each ```python block of one page."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)]


_CASES = [(page.name, i, line) for page in sorted(DOCS.glob("*.md")) for i, (line, _) in enumerate(_blocks(page))]
_RESULTS = {}


def _run_page(name, directory):
    """Run every block of one page in order; return one entry per block: None, or the traceback."""
    results = []
    namespace = {}
    modules = []
    cwd = os.getcwd()
    os.chdir(directory)  # a block that writes a file writes it here
    sys.path.insert(0, str(directory))
    try:
        for i, (line, block) in enumerate(_blocks(DOCS / name)):
            module = _FILE.match(block)
            if module:
                (directory / module.group(1)).write_text(block)
                modules.append(module.group(1)[:-3])
                results.append(None)
                continue
            path = directory / f"docs_{pathlib.Path(name).stem}_block{i}_line{line}.py"
            path.write_text(block)
            try:
                namespace = runpy.run_path(str(path), init_globals=namespace, run_name="__main__")
            except BaseException:  # noqa: BLE001 - reported as this block's failure
                results.append(traceback.format_exc())
            else:
                results.append(None)
    finally:
        os.chdir(cwd)
        sys.path.remove(str(directory))
        for module in modules:  # another page may have a module of the same name
            sys.modules.pop(module, None)
    return results


@pytest.mark.parametrize("name, index, line", _CASES, ids=[f"{n}-{i}-line{ln}" for n, i, ln in _CASES])
def test_docs_python_block_runs(name, index, line, tmp_path_factory):
    if name not in _RESULTS:
        _RESULTS[name] = _run_page(name, tmp_path_factory.mktemp(pathlib.Path(name).stem))
    error = _RESULTS[name][index]
    assert error is None, f"docs/{name}, the block at line {line}, fails:\n{error}"


def test_the_pages_with_examples_are_found():
    assert {"api.md", "jacobians.md", "weights.md", "how-it-works.md"} <= {name for name, _, _ in _CASES}


def test_index_lists_every_page():
    index = (DOCS / "index.md").read_text()
    missing = [page.name for page in sorted(DOCS.glob("*.md")) if page.name != "index.md"
               and f"({page.name})" not in index]
    assert not missing, f"docs/index.md does not list {missing}"


def _anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation other than - and _ dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_api_contents_link_every_section():
    text = (DOCS / "api.md").read_text()
    sections = [h for h in re.findall(r"^## (.+)$", text, re.M) if h != "Contents"]
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"\]\(#([^)]+)\)", contents) == [_anchor(h) for h in sections]
