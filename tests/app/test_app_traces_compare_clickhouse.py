"""The Traces and Compare pages read spans from the configured span store: with
``GOLDENLOOP_SPANS`` naming ClickHouse (chdb) and no span in the database file, the Traces list,
a request's detail with its trace, a text search and a comparison of two versions all show
the ClickHouse spans."""

from __future__ import annotations

import pytest
from app_support import app_page
from spanstore_support import chdb_url, span_rows, write_jsonl

from goldenloop.spanstore import ENV_URL
from goldenloop_app import state


@pytest.fixture
def on_clickhouse(app_db, monkeypatch, tmp_path, tmp_path_factory):
    from goldenloop.spanstore.ingest import import_file_to_clickhouse

    monkeypatch.setenv(ENV_URL, chdb_url(tmp_path_factory))
    rows = span_rows(300, seed=21)
    for i, r in enumerate(rows):  # conversations of three traces
        r["session_id"] = f"c{i // 9}"
    import_file_to_clickhouse(state.get_store(), state.span_store(),
                              write_jsonl(tmp_path / "s.jsonl", rows))
    assert state.get_store().scalar("SELECT count(*) FROM spans") == 0
    return rows


def _texts(at) -> str:
    return "\n".join(str(e.value) for e in [*at.text, *at.code, *at.caption])


@pytest.mark.slow
def test_traces_page_lists_searches_and_opens_clickhouse_spans(on_clickhouse):
    rows = on_clickhouse
    at = app_page("trace")
    frames = [f.value for f in at.dataframe]
    assert frames and len(frames[0]) > 10, _texts(at)
    assert set(frames[0]["span_id"]) <= {r["span_id"] for r in rows}
    error = next(r for r in rows if r["status"] == "error" and r["kind"] == "llm"
                 and r["source"] != "judge")
    at = app_page("trace", params={"trace": error["trace_id"], "span": error["span_id"]})
    shown = _texts(at)
    assert "RateLimitError: 429 slow down" in shown
    assert f"Trace {error['trace_id']}:" in shown
    at = app_page("trace", params={"session": "c1", "trace": "t3-21"})
    shown = _texts(at)
    assert "Session c1: 3 turns" in shown
    assert any(f"question {i}\n" in shown + "\n" for i in range(9, 18))  # its users' words
    at = app_page("trace")
    at.text_input(key="ts_text").set_value("answer 12")
    next(b for b in at.button if b.label == "Search").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "requests match" in _texts(at)
    found = at.dataframe[0].value
    assert len(found) and found["output"].str.startswith("answer 12").all()


@pytest.mark.slow
def test_compare_page_compares_clickhouse_spans(on_clickhouse):
    at = app_page("compare", params={"app": "support-bot", "what": "model versions"})
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[-1].value
    assert len(table) > 5
