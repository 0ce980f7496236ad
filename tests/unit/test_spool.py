"""Spool files: written whole or not at all, read by the inbox with no mapping, feedback routed
to its table, and a producer's files taken in the order it wrote them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from goldenloop.collector import records_table
from goldenloop.config import resolve_paths
from goldenloop.spool import feedback_table, span_table, write_spool
from goldenloop.workers.inbox import pending_files, process_file

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in Unix microseconds
ROW = {
    "trace_id": "a" * 32, "span_id": "b" * 16, "session_id": "conv-1", "turn_index": 2,
    "user_id": "u-1", "app": "bot", "kind": "llm", "name": "chat", "provider": "openai",
    "model": "gpt-4o-mini", "model_version": "gpt-4o-mini-2024-07-18", "start_time": T0,
    "end_time": T0 + 1_250_000, "latency_ms": 1250.0, "ttft_ms": 310.5, "input_tokens": 100,
    "output_tokens": 20, "cached_input_tokens": 64, "reasoning_tokens": 4,
    "finish_reason": "stop", "messages": json.dumps([{"role": "user", "content": "hi"}]),
    "output": "hello", "tags": ["beta", "eu"], "metadata": json.dumps({"k": 1}), "source": "sdk",
}


def test_a_spool_file_appears_whole_under_its_final_name(tmp_path):
    first = write_spool(tmp_path, span_table([ROW]), prefix="sdk")
    second = write_spool(tmp_path, span_table([ROW]), prefix="sdk")
    assert [p.name for p in sorted(tmp_path.iterdir())] == [first.name, second.name]
    assert pq.read_table(first).num_rows == 1
    with pytest.raises(AttributeError):
        write_spool(tmp_path, None, prefix="sdk")  # a write that fails half-way
    assert sorted(tmp_path.iterdir()) == [first, second]  # and leaves nothing behind


def test_the_inbox_imports_a_spool_file_with_every_field_typed(store):
    paths = resolve_paths(store.path).ensure()
    write_spool(paths.inbox, span_table([ROW]), prefix="sdk")
    assert [process_file(store, paths, p) for p in pending_files(paths.inbox)] == ["done"]
    cur = store.cursor().execute("SELECT * FROM spans")
    got = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    for field in ("trace_id", "turn_index", "model_version", "ttft_ms", "input_tokens",
                  "cached_input_tokens", "reasoning_tokens", "output", "tags", "source"):
        assert got[field] == ROW[field], field
    assert got["start_time"].isoformat() == "2026-01-01T00:00:00"
    assert got["last_user_message"] == "hi" and got["status"] == "ok"
    assert store.scalar("SELECT quarantined FROM import_log") == 0


def test_a_producers_spans_are_imported_before_its_feedback(store):
    paths = resolve_paths(store.path).ensure()
    spans = write_spool(paths.inbox, span_table([ROW]), prefix="sdk")
    fb = write_spool(paths.inbox, feedback_table([{"trace_id": ROW["trace_id"],
                                                   "span_id": ROW["span_id"], "kind": "thumbs",
                                                   "value": 1.0, "created_at": T0}]),
                     prefix="sdk", feedback=True)
    assert pending_files(paths.inbox) == [spans, fb]
    assert [process_file(store, paths, p) for p in pending_files(paths.inbox)] == ["done"] * 2
    assert store.scalar("SELECT count(*) FROM feedback f JOIN spans s USING (span_key)") == 1
    # The same feedback file again adds nothing (its hash is in the import log).
    again = write_spool(paths.inbox, pq.read_table(paths.inbox_done / fb.name), prefix="x",
                        feedback=True)
    assert process_file(store, paths, again) == "skipped"
    assert store.scalar("SELECT count(*) FROM feedback") == 1


def test_a_bad_value_sent_to_the_receiver_is_quarantined_by_the_import(store):
    paths = resolve_paths(store.path).ensure()
    good = {"trace_id": "c" * 32, "span_id": "d" * 16, "start_time": T0, "input_tokens": 5}
    bad = {**good, "span_id": "e" * 16, "input_tokens": "lots"}
    write_spool(paths.inbox, records_table([{**good, "_row": 1}, {**bad, "_row": 2}]),
                prefix="otlp")
    process_file(store, paths, pending_files(paths.inbox)[0])
    assert store.scalar("SELECT count(*) FROM spans") == 1
    assert store.rows("SELECT field, reason FROM quarantine") == [
        ("input_tokens", 'not an integer: "lots"')]
