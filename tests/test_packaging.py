"""Packaging: the version lives in one place, the license is declared as an SPDX expression with its file,
and the package is marked as typed."""

import sys
from importlib import metadata
from pathlib import Path

import pytest

import autodiff_st as ad

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from 3.11")
def test_pyproject_takes_the_version_from_the_package_and_declares_the_license():
    import tomllib  # noqa: PLC0415 (3.11 and later only)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()


def test_the_installed_version_is_the_packages():
    assert metadata.version("autodiff_st") == ad.__version__


def test_the_package_is_marked_as_typed():
    assert (Path(ad.__file__).parent / "py.typed").is_file()
