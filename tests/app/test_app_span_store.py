"""The app's span store (``state.span_store``): the database file itself by default, the one
``GOLDENLOOP_SPANS`` names otherwise, opened once per process; ``state.span_aggregate`` runs a
``*_in(spans, ...)`` reader on either and caches its answer per span store."""

from __future__ import annotations

import pytest
from spanstore_support import chdb_url, span_rows, write_jsonl

from goldenloop.errors import SpanStoreError
from goldenloop.ingest import import_file
from goldenloop.metrics.filters import SpanFilter
from goldenloop.metrics.sql import version_first_seen_in
from goldenloop.spanstore import CLICKHOUSE, DUCKDB, ENV_URL
from goldenloop_app import state


def requests(rows: list[dict]) -> int:
    """Requests with a model version, goldenloop's own judge spans left out."""
    return sum(1 for r in rows if r["kind"] == "llm" and r["model_version"]
               and r["source"] != "judge")


def test_default_is_the_database_file(app_db, monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_URL, raising=False)
    spans = state.span_store()
    assert spans.dialect == DUCKDB
    assert spans.store is state.get_store()  # the file itself, not a second connection
    assert state.span_store() is spans  # once per process
    rows = span_rows(40, seed=3)
    import_file(state.get_store(), write_jsonl(tmp_path / "s.jsonl", rows))
    seen = state.span_aggregate(spans, version_first_seen_in, SpanFilter())
    assert seen["requests"].sum() == requests(rows)


def test_clickhouse_when_configured(app_db, monkeypatch, tmp_path, tmp_path_factory):
    monkeypatch.setenv(ENV_URL, chdb_url(tmp_path_factory))
    spans = state.span_store()
    assert spans.dialect == CLICKHOUSE
    assert state.span_store() is spans
    from goldenloop.spanstore.ingest import import_file_to_clickhouse

    rows = span_rows(40, seed=4)
    import_file_to_clickhouse(state.get_store(), spans, write_jsonl(tmp_path / "s.jsonl", rows))
    seen = state.span_aggregate(spans, version_first_seen_in, SpanFilter())
    assert seen["requests"].sum() == requests(rows)
    assert state.get_store().scalar("SELECT count(*) FROM spans") == 0  # not in the file


def test_a_bad_url_is_a_named_error(app_db, monkeypatch):
    monkeypatch.setenv(ENV_URL, "clickhouse://me:secret@db.example:8123/x")
    with pytest.raises(SpanStoreError, match="password"):
        state.span_store()
