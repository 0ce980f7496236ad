"""The app shell and the Home page, run in-process with AppTest over real DuckDB files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app_support import APP_DIR, app_page
from home_support import HOSTILE_APP, T0, bad_spans, known_spans, seed_known_history, to_table
from streamlit.testing.v1 import AppTest

from goldenloop.ingest.loader import import_table
from goldenloop.overview import store_summary
from goldenloop.schema import open_store


def run_app() -> AppTest:
    return app_page()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def all_text(at: AppTest) -> str:
    parts = [e.value for kind in ("caption", "text", "info", "warning", "error", "code", "markdown")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_summary_counts_known_history(tmp_path: Path) -> None:
    exp = seed_known_history(tmp_path / "g.duckdb")
    with open_store(tmp_path / "g.duckdb") as store:
        s = store_summary(store)
    t = s.totals
    assert (t.spans, t.traces, t.sessions, t.apps, t.model_versions) == (
        exp.spans, exp.traces, exp.sessions, exp.apps, exp.model_versions)
    assert s.grades_total == exp.grades
    assert dict(zip(s.grades["source"], s.grades["grades"], strict=True)) == {
        "human": 2, "judge": 4, "canary": 1, "imported": 0}
    assert dict(zip(s.apps["app"].fillna("-"), s.apps["spans"], strict=True)) == {
        "support-bot": 6, "sql-agent": 2, HOSTILE_APP: 1, "-": 1}
    versions = s.model_versions.set_index(s.model_versions["model_version"].fillna("-"))
    assert versions.loc["gpt-4o-2024-08-06", "spans"] == 5
    assert versions.loc["gpt-4o-2024-08-06", "first_seen"] == T0
    assert versions.loc["gpt-4o-mini-2024-07-18", "models"] == "gpt-4o-mini"
    imp = s.imports
    assert (imp.imports, imp.committed, imp.rows_read) == (2, 2, 14)
    assert (imp.imported, imp.duplicates, imp.quarantined) == (
        exp.imported, exp.duplicates, exp.quarantined)
    assert list(s.jobs["status"]) == ["running"]


def test_empty_store_says_what_to_run(app_db: Path) -> None:
    at = run_app()
    assert at.title[0].value == "goldenloop"
    assert "no spans" in at.info[0].value
    commands = [c.value for c in at.code]
    assert "goldenloop demo" in commands
    assert "goldenloop import FILE" in commands
    assert str(app_db) in [t.value for t in at.text]
    assert not at.metric  # no tiles of zeros
    assert not at.dataframe


def test_empty_state_is_not_cached(app_db: Path) -> None:
    at = run_app()
    assert not at.metric
    # Same process, same configuration: DuckDB shares the app's open database.
    with open_store(app_db) as store:
        import_table(store, to_table(known_spans()), source="test", origin="test")
    at.run()  # "then reload this page" must show the spans at once, not after the TTL
    assert metrics(at)["Spans"] == "10"


def test_home_shows_known_numbers(app_db: Path) -> None:
    exp = seed_known_history(app_db)
    at = run_app()
    m = metrics(at)
    assert {k: m[k] for k in ("Spans", "Traces", "Sessions", "Apps", "Model versions", "Grades")} == {
        "Spans": f"{exp.spans}", "Traces": f"{exp.traces}", "Sessions": f"{exp.sessions}",
        "Apps": f"{exp.apps}", "Model versions": f"{exp.model_versions}", "Grades": f"{exp.grades}",
    }
    assert (m["Rows imported"], m["Duplicates skipped"], m["Rows quarantined"]) == (
        f"{exp.imported}", f"{exp.duplicates}", f"{exp.quarantined}")
    text = all_text(at)
    assert f"Spans from {exp.first} to {exp.last} (3 days)" in text
    assert "2 rows failed validation" in at.warning[0].value
    assert not at.info  # no empty state
    headers = [h.value for h in at.subheader]
    assert headers[:4] == ["Model versions", "Apps", "Grades by source", "Imports"]
    assert "Recent jobs" in headers


def test_home_tables(app_db: Path) -> None:
    seed_known_history(app_db)
    at = run_app()
    versions, apps, grades, jobs = (d.value for d in at.dataframe)
    assert list(apps["app"]) == ["support-bot", "sql-agent", HOSTILE_APP, "(not set)"]
    assert list(apps["spans"]) == [6, 2, 1, 1]
    assert versions["model_version"].iloc[0] == "(not recorded)"  # newest: last span of t5
    assert set(versions["model_version"]) >= {"gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022"}
    assert list(grades["source"]) == ["human", "judge", "canary", "imported"]
    assert list(jobs["message"]) == ["scoring 5 of 10 spans"]


def test_user_text_never_reaches_markdown(app_db: Path) -> None:
    seed_known_history(app_db)
    at = run_app()
    rendered = [e.value for kind in ("markdown", "caption", "title", "subheader", "info", "warning")
                for e in at.get(kind)]
    assert not any("example.invalid" in str(v) for v in rendered)
    assert not any("example.invalid" in m.label for m in at.metric)


def test_only_quarantined_rows_show_empty_state_and_imports(app_db: Path) -> None:
    with open_store(app_db) as store:
        import_table(store, to_table(bad_spans()), source="test", origin="test")
    at = run_app()
    assert "No spans yet: the 1 import so far added none" in at.info[0].value
    assert metrics(at)["Rows quarantined"] == "2"
    assert "2 rows failed validation" in at.warning[0].value


def test_cached_summary_is_per_database(app_db: Path, tmp_path: Path, monkeypatch) -> None:
    seed_known_history(app_db)
    assert metrics(run_app())["Spans"] == "10"
    monkeypatch.setenv("GOLDENLOOP_DB", str(tmp_path / "other.duckdb"))
    assert not run_app().metric  # another file: its own store and its own cached summary


def test_uses_the_owner_process_store(app_db: Path, tmp_path: Path, monkeypatch) -> None:
    owned_path = tmp_path / "owned.duckdb"
    seed_known_history(owned_path)
    with open_store(owned_path) as owned:
        monkeypatch.setattr("goldenloop.server.owned_store", lambda: owned)
        at = run_app()
    assert metrics(at)["Spans"] == "10"
    assert not app_db.exists()  # GOLDENLOOP_DB was never opened


def test_database_held_by_another_process_is_explained(app_db: Path) -> None:
    open_store(app_db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "sys.stdin.read()", str(app_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        at = run_app()
        assert "cannot be opened" in at.error[0].value
        assert "Only one process may open the database" in at.text[0].value
        assert not at.title  # the page did not run
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


NAV_WITH_MORE_PAGES = """
import streamlit as st

from goldenloop_app import state

def quarantine():
    st.title("Quarantine")

def traces():
    st.title("Traces")

pages = [
    st.Page({home!r}, title="Home", default=True),
    st.Page(traces, title="Traces", url_path="traces", help="Browse spans and conversations"),
    st.Page(quarantine, title="Quarantine", url_path="quarantine"),
]
current = st.navigation({{"Overview": pages[:1], "Operations": pages[1:]}})
state.remember_pages(pages)
current.run()
"""


def test_links_to_the_other_pages_in_the_navigation(app_db: Path) -> None:
    seed_known_history(app_db)
    script = NAV_WITH_MORE_PAGES.format(home=str(APP_DIR / "home" / "home.py"))
    at = AppTest.from_string(script, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    links = [(link.label, link.proto.page) for link in at.get("page_link")]
    assert links == [
        ("See the quarantined rows", "quarantine"),  # from the quarantine warning
        ("Traces", "traces"),
        ("Quarantine", "quarantine"),
    ]
    assert "Browse spans and conversations" in [c.value for c in at.caption]
