"""Shared fixtures: a real DuckDB file per test, and the shared public data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenloop.store import Store

# The app fixture (app_db) for every test that runs pages in-process.
pytest_plugins = ["app_support"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path: Path):
    """A fresh, migrated store in a real DuckDB file."""
    s = Store(tmp_path / "goldenloop.duckdb")
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    """The shared public data sets; tests that need them skip, saying why, when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data sets not found: ../shared/data is not beside the project")
    return SHARED_DATA
