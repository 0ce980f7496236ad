"""The test suite's own layout: every test file sits in a layer folder, and no test module
imports another one (shared helpers live in tests/*_support.py), so any file runs alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
LAYERS = {"unit", "app", "system", "browser"}


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def test_every_test_file_sits_in_a_layer_folder() -> None:
    misplaced = [p.relative_to(TESTS).as_posix() for p in _test_files()
                 if p.parent.parent != TESTS or p.parent.name not in LAYERS]
    assert misplaced == []


def test_test_file_names_are_unique_across_layers() -> None:
    # The layer folders are not packages: pytest imports each test file by its bare name, so
    # two files of one name make the second an "import file mismatch" error.
    seen: dict[str, list[str]] = {}
    for p in _test_files():
        seen.setdefault(p.name, []).append(p.relative_to(TESTS).as_posix())
    assert [paths for paths in seen.values() if len(paths) > 1] == []


@pytest.mark.slow
def test_no_test_module_imports_another() -> None:
    names = {p.stem for p in _test_files()}
    found = []
    for path in _test_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                mods = [node.module]
            else:
                continue
            found += [f"{path.relative_to(TESTS).as_posix()}:{node.lineno} {m}"
                      for m in mods if m.split(".")[0] in names]
    assert found == [], "move the helpers into a tests/*_support.py module"
