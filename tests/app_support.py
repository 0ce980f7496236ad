"""Running the app's pages in-process (Streamlit's AppTest) over a test's own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP_DIR = Path(__file__).resolve().parents[1] / "app"


def page_path(view: str) -> str:
    """The app-relative path of the page named ``view`` (``grade`` -> ``review/grade.py``).

    A page file is named after its URL: AppTest finds the page by that name before its first
    run (switching to it by path needs the navigation, which a run registers)."""
    found = sorted(APP_DIR.glob(f"*/{view}.py"))
    assert len(found) == 1, f"no single page file for {view!r}: {found}"
    return found[0].relative_to(APP_DIR).as_posix()


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A database path for the app (GOLDENLOOP_DB) and empty caches."""
    db = tmp_path / "goldenloop.duckdb"
    monkeypatch.setenv("GOLDENLOOP_DB", str(db))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()  # closes the app's store (on_release)


def app_page(view: str | None = None, *, params: dict | None = None, timeout: float = 60,
             check: bool = True) -> AppTest:
    """The app run once, on the page ``<feature>/<view>.py`` (the Home page when None), with
    query ``params``; with ``check``, it must have raised nothing."""
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=timeout)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if view:
        at.switch_page(page_path(view))
    at.run()
    if check:
        assert not at.exception, [e.value for e in at.exception]
    return at
