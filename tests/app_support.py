"""Running the app's pages in-process (Streamlit's AppTest) over a test's own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP_DIR = Path(__file__).resolve().parents[1] / "app"


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A database path for the app (GOLDENLOOP_DB), the app folder importable, empty caches."""
    db = tmp_path / "goldenloop.duckdb"
    monkeypatch.setenv("GOLDENLOOP_DB", str(db))
    monkeypatch.syspath_prepend(str(APP_DIR))  # `streamlit run` does this for the entry's folder
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()  # closes the app's store (on_release)


def app_page(view: str | None = None, *, params: dict | None = None, timeout: float = 60,
             check: bool = True) -> AppTest:
    """The app run once, on ``views/<view>.py`` (the Home page when None), with query
    ``params``; with ``check``, it must have raised nothing."""
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=timeout)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if view:
        at.switch_page(f"views/{view}.py")
    at.run()
    if check:
        assert not at.exception, [e.value for e in at.exception]
    return at
