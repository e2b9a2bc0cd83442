"""The documentation generated from the code is current."""

import importlib.util
import pathlib

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def test_rules_md_is_generated_from_the_current_registry():
    spec = importlib.util.spec_from_file_location("gen_rules", DOCS / "gen_rules.py")
    gen_rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_rules)
    assert (DOCS / "rules.md").read_text() == gen_rules.render(), (
        "docs/rules.md is out of date: run `python docs/gen_rules.py` and commit the result")
