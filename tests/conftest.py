"""Shared fixtures: a real DuckDB file per test, and the shared public data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from goldenloop.schema import open_store

# The app fixture (app_db) for every test that runs pages in-process, and demo_files: demo
# histories generated once per session (tests/demo_support.py).
pytest_plugins = ["app_support", "demo_support"]

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("unit", "app", "system", "browser")
# Helpers shared between test modules live in tests/*_support.py (tests/ is on the path as
# the root conftest's folder); no test module imports another, so each file runs alone.


# `pytest tests/unit` is the fast subset: its tests marked slow run only with GOLDENLOOP_SLOW=1,
# which tests/system/test_unit_slow.py sets (so the full suite still runs them).
SLOW_UNIT = os.environ.get("GOLDENLOOP_SLOW") == "1"
# Commands that write act as a named user (goldenloop.cli_identity): the tests' commands act as
# "lead", the name their library calls use for a lead's work, unless a test names someone
# (--by) or clears it (tests/system/test_cli_identity.py tests the login-name fallback).
os.environ.setdefault("GOLDENLOOP_USER", "lead")


def pytest_collection_modifyitems(items) -> None:
    """The folder a test sits in is its layer: `-m unit`, `-m "not browser"`, ..."""
    for item in items:
        layer = next((part for part in Path(str(item.fspath)).parts if part in LAYERS), None)
        if layer:
            item.add_marker(getattr(pytest.mark, layer))
        if layer == "unit" and item.get_closest_marker("slow") and not SLOW_UNIT:
            item.add_marker(pytest.mark.skip(
                reason="slow: run by tests/system/test_unit_slow.py (or set GOLDENLOOP_SLOW=1)"))
        item.add_marker(pytest.mark.xdist_group(_worker_group(item)))


# Servers started once per session: the tests that use one share a worker, so a parallel run
# (scripts/test runs pytest-xdist with --dist loadgroup) starts each server once.
SESSION_SERVERS = ("argilla_server", "oidc_provider")


def _worker_group(item) -> str:
    """The tests one pytest-xdist worker takes together: those of a session server, else
    those of one module (module fixtures are built once, as in a serial run)."""
    return next((f for f in SESSION_SERVERS if f in item.fixturenames), item.module.__name__)
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
