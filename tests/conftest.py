"""Shared fixtures: a real DuckDB file per test, and the shared public data sets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from goldenloop.schema import open_store

# The app fixture (app_db) for every test that runs pages in-process.
pytest_plugins = ["app_support"]

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("unit", "app", "system", "browser")
# Some tests reuse another test module's seeding helpers across layers (to be moved into
# *_support modules): every layer folder is importable by module name.
for _layer in LAYERS:
    sys.path.insert(0, str(Path(__file__).resolve().parent / _layer))


def pytest_collection_modifyitems(items) -> None:
    """The folder a test sits in is its layer: `-m unit`, `-m "not browser"`, ..."""
    for item in items:
        layer = next((part for part in Path(str(item.fspath)).parts if part in LAYERS), None)
        if layer:
            item.add_marker(getattr(pytest.mark, layer))
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path: Path):
    """A fresh, migrated store in a real DuckDB file."""
    s = open_store(tmp_path / "goldenloop.duckdb")
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    """The shared public data sets; tests that need them skip, saying why, when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data sets not found: ../shared/data is not beside the project")
    return SHARED_DATA
