"""The documentation generated from the code is current."""

import importlib.util
import pathlib
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="docs/rules.md lists math.cbrt and math.exp2, which "
                                                        "exist from Python 3.11: it is generated there")
def test_rules_md_is_generated_from_the_current_registry():
    spec = importlib.util.spec_from_file_location("gen_rules", DOCS / "gen_rules.py")
    gen_rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_rules)
    assert (DOCS / "rules.md").read_text() == gen_rules.render(), (
        "docs/rules.md is out of date: run `python docs/gen_rules.py` and commit the result")
