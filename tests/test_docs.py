"""The documentation is current: docs/rules.md is generated from the registry, and the examples of
docs/jacobians.md and of the jacrev section of docs/api.md print what their `# ->` comments say."""

import importlib.util
import pathlib
import re
import runpy
import sys

import numpy as np
import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="docs/rules.md lists math.cbrt and math.exp2, which "
                                                        "exist from Python 3.11: it is generated there")
def test_rules_md_is_generated_from_the_current_registry():
    if not hasattr(np, "row_stack"):  # the registry differs by that one function
        pytest.skip("docs/rules.md is generated with a numpy that has np.row_stack (removed in numpy 2.5)")
    spec = importlib.util.spec_from_file_location("gen_rules", DOCS / "gen_rules.py")
    gen_rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_rules)
    assert (DOCS / "rules.md").read_text() == gen_rules.render(), (
        "docs/rules.md is out of date: run `python docs/gen_rules.py` and commit the result")


def _python_blocks(name):
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), re.S)


def _expected_output(block):
    """What a documented example says it prints: the text after each ``# -> ``, and the lines
    ``#     ...`` that continue it."""
    expected = []
    for line in block.splitlines():
        if "# -> " in line:
            expected.append(line.split("# -> ", 1)[1])
        elif line.startswith("#     ") and expected:
            expected.append(line[5:])
    return expected


# Examples whose every printed line is written out: all of jacobians.md, and api.md's jacrev section.
_CHECKED_EXAMPLES = [("jacobians.md", i, block) for i, block in enumerate(_python_blocks("jacobians.md"))] + [
    ("api.md", i, block) for i, block in enumerate(_python_blocks("api.md")) if "ad.jacrev(" in block]


@pytest.mark.parametrize("name, index, block", _CHECKED_EXAMPLES,
                         ids=[f"{name}-{index}" for name, index, _ in _CHECKED_EXAMPLES])
def test_examples_print_what_the_docs_say(name, index, block, tmp_path, capsys):
    path = tmp_path / f"{pathlib.Path(name).stem}_example_{index}.py"  # source on disk: it is differentiated
    path.write_text(block)
    runpy.run_path(str(path), run_name="__main__")
    printed = capsys.readouterr().out.splitlines()
    assert [" ".join(line.split()) for line in printed] == [" ".join(line.split()) for line in
                                                            _expected_output(block)]
