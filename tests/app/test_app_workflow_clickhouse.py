"""The Conversations page reads the configured span store: with ``GOLDENLOOP_SPANS`` naming
ClickHouse (chdb) and no span in the database file, its sessions, turns and dropped sessions
are the ClickHouse spans'."""

from __future__ import annotations

import pytest
from app_support import app_page
from spanstore_support import chdb_url, span_rows, write_jsonl

from goldenloop.spanstore import ENV_URL
from goldenloop_app import state


@pytest.mark.slow
def test_conversations_page_reads_clickhouse(app_db, monkeypatch, tmp_path, tmp_path_factory):
    from goldenloop.spanstore.ingest import import_file_to_clickhouse

    monkeypatch.setenv(ENV_URL, chdb_url(tmp_path_factory))
    rows = [{**r, "session_id": f"c{i // 6}", "last_user_message": f"question {i}"}
            for i, r in enumerate(span_rows(300, seed=23))]
    import_file_to_clickhouse(state.get_store(), state.span_store(),
                              write_jsonl(tmp_path / "s.jsonl", rows))
    assert state.get_store().scalar("SELECT count(*) FROM spans") == 0
    at = app_page("conversations")
    assert not at.error, [e.value for e in at.error]
    tiles = {m.label: m.value for m in at.metric}
    assert int(tiles["Sessions"].replace(",", "")) > 10
    assert int(tiles["Turns"].replace(",", "")) >= int(tiles["Sessions"].replace(",", ""))
    dropped = next(f.value for f in at.dataframe if "session_id" in f.value.columns)
    assert len(dropped) and set(dropped["session_id"]) <= {r["session_id"] for r in rows}
