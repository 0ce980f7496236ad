"""The Traces page's text search in-process (AppTest over a real DuckDB file): a substring
lists exactly the matching requests with where they matched, a regular expression searches
the answers, a bad pattern is named in a warning, and failed requests show their error."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
from app_support import app_page

from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store

T0 = datetime(2026, 2, 1)


def _seed(db: Path, n: int = 120) -> None:
    t = [T0 + timedelta(minutes=i) for i in range(n)]
    with open_store(db) as store:
        import_table(store, pa.table({
            "trace_id": [f"t{i}" for i in range(n)], "span_id": [f"s{i}" for i in range(n)],
            "kind": ["llm"] * n, "app": ["shop"] * n, "model_version": ["m1"] * n,
            "start_time": pa.array(t, pa.timestamp("us")),
            "status": ["error" if i % 10 == 3 else "ok" for i in range(n)],
            "error_type": ["Timeout" if i % 10 == 3 else None for i in range(n)],
            "error_message": ["upstream took 30 s" if i % 10 == 3 else None for i in range(n)],
            "last_user_message": [("where is my parcel" if i % 4 == 0 else f"hello {i}")
                                  for i in range(n)],
            "output": [f"tracking code ZX{i:04d}" for i in range(n)],
        }), source="test", origin="test", label="<search>")


def _search(at, text: str, regex: bool = False):
    at.text_input(key="ts_text").set_value(text)
    at.checkbox(key="ts_regex").set_value(regex)
    next(b for b in at.button if b.label == "Search").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_text_search_lists_the_matching_requests(app_db: Path) -> None:
    _seed(app_db)
    at = app_page("trace", params={"range": "All data"})
    _search(at, "PARCEL")
    shown = next(d.value for d in at.dataframe if "match" in d.value.columns)
    assert sorted(shown["span_id"]) == sorted(f"s{i}" for i in range(0, 120, 4))
    assert (shown["match"] == "where is my parcel").all()
    assert any("30 requests match" in c.value and "of 120" in c.value for c in at.caption)
    # The answers, by a regular expression: codes ending in 7.
    _search(at, r"ZX\d{3}7$", regex=True)
    shown = next(d.value for d in at.dataframe if "match" in d.value.columns)
    assert sorted(shown["span_id"]) == sorted(f"s{i}" for i in range(120) if i % 10 == 7)
    # Failed requests say why; the other rows have an empty cell, not None.
    errors = dict(zip(shown["span_id"], shown["error"], strict=True))
    assert all(v == "" for v in errors.values())  # 7 mod 10 never failed
    _search(at, "hello 13")
    shown = next(d.value for d in at.dataframe if "match" in d.value.columns)
    assert list(shown["error"]) == ["Timeout: upstream took 30 s"]
    # A bad pattern is named, not a traceback.
    _search(at, "(unclosed", regex=True)
    assert any("not a valid regular expression" in w.value for w in at.warning)


def test_recent_requests_show_the_error_of_failed_ones(app_db: Path) -> None:
    _seed(app_db)
    at = app_page("trace", params={"range": "All data"})
    shown = at.dataframe[0].value
    failed = shown[shown["status"] == "error"]
    assert len(failed) == 12 and (failed["error"] == "Timeout: upstream took 30 s").all()
    assert (shown.loc[shown["status"] == "ok", "error"] == "").all()
