"""Searching requests by their words, on a real store: substrings without regard to case,
regular expressions, the fields chosen, the time range, the limit (newest first, stopping
early), progress in slices, a bad pattern named, and failed requests' error messages in the
request lists. Every expectation is recomputed here from the rows written."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from goldenloop.ingest.loader import import_table
from goldenloop.metrics import SpanFilter, text_search, traces
from goldenloop.metrics.text_search import SearchError, search_spans

T0 = datetime(2026, 2, 1)
WORDS = ["refund", "invoice", "Password reset", "shipping", "REFUND policy"]


def _spans(store, n: int = 600) -> pa.Table:
    rng = np.random.default_rng(4)
    t = [T0 + timedelta(minutes=int(i)) for i in range(n)]
    status = np.where(rng.random(n) < 0.1, "error", "ok")
    table = pa.table({
        "trace_id": [f"t{i}" for i in range(n)], "span_id": [f"s{i}" for i in range(n)],
        "kind": ["llm"] * n, "app": ["a"] * n, "model_version": ["m"] * n,
        "start_time": pa.array(t, pa.timestamp("us")),
        "status": status.tolist(),
        "error_type": [("RateLimit" if s == "error" else None) for s in status],
        "error_message": [(f"quota exceeded #{i}" if s == "error" else None)
                          for i, s in enumerate(status)],
        "last_user_message": [f"about my {WORDS[i % 5]} number {i}" for i in range(n)],
        "output": [f"answer {i}: order {1000 + i}" if i % 7 else None for i in range(n)],
    })
    import_table(store, table, source="test", origin="test", label="<search>")
    return table


def test_substring_regex_fields_range_and_limit(store):
    table = _spans(store)
    rows = table.to_pandas()
    f = SpanFilter()
    got = search_spans(store, f, "refund", limit=1000)
    want = rows[rows.last_user_message.str.lower().str.contains("refund")]
    assert got.complete and got.total == got.scanned == len(rows)
    assert sorted(got.spans.span_id) == sorted(want.span_id)
    assert got.spans.start_time.is_monotonic_decreasing  # newest first
    assert (got.spans["match"].str.lower().str.contains("refund")).all()
    # Case: only the capitalised phrase.
    exact = search_spans(store, f, "REFUND", case_sensitive=True, limit=1000)
    assert sorted(exact.spans.span_id) == sorted(rows[rows.last_user_message.str.contains("REFUND")].span_id)
    # A regular expression over the answer only: order numbers ending in 7 of 4 digits.
    rx = search_spans(store, f, r"order \d{3}7$", regex=True, fields=("answer",), limit=1000)
    expect = rows[rows.output.fillna("").map(lambda s: re.search(r"order \d{3}7$", s) is not None)]
    assert sorted(rx.spans.span_id) == sorted(expect.span_id) and len(expect) > 10
    # The time range: the last 100 minutes only.
    late = SpanFilter(start=T0 + timedelta(minutes=500))
    part = search_spans(store, late, "refund", limit=1000)
    assert sorted(part.spans.span_id) == sorted(
        want[want.start_time >= T0 + timedelta(minutes=500)].span_id)
    # The limit: the newest matches, and the search says it stopped.
    top = search_spans(store, f, "refund", limit=5)
    assert list(top.spans.span_id) == list(want.sort_values("start_time", ascending=False).span_id[:5])
    # Errors searched by their message; the error column reads "type: message".
    err = search_spans(store, f, "quota exceeded #1", fields=("error",), limit=1000)
    failed = rows[rows.error_message.fillna("").str.contains("quota exceeded #1")]
    assert sorted(err.spans.span_id) == sorted(failed.span_id)
    assert err.spans["error"].str.startswith("RateLimit: quota exceeded #1").all()
    # No missing cells: empty texts, not None.
    assert not got.spans[["error", "match"]].isna().any().any()


def test_big_range_is_read_in_slices_with_progress(store, monkeypatch):
    _spans(store)
    monkeypatch.setattr(text_search, "SLICE_ROWS", 50)  # 600 spans: 12 slices
    seen: list[float] = []
    full = search_spans(store, SpanFilter(), "invoice", limit=1000, progress=seen.append)
    assert len(seen) == 12 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert len(full.spans) == 120
    seen.clear()
    early = search_spans(store, SpanFilter(), "invoice", limit=3, progress=seen.append)
    assert len(seen) < 3 and not early.complete and early.scanned < early.total
    assert list(early.spans.span_id) == list(full.spans.span_id[:3])


def test_bad_input_is_named(store):
    _spans(store, 20)
    with pytest.raises(SearchError, match="not a valid regular expression"):
        search_spans(store, SpanFilter(), "(unclosed", regex=True)
    with pytest.raises(SearchError, match="type a word"):
        search_spans(store, SpanFilter(), "  ")
    with pytest.raises(SearchError, match="search one or more of"):
        search_spans(store, SpanFilter(), "x", fields=("nowhere",))
    assert search_spans(store, SpanFilter(), "no such words").spans.empty


def test_request_lists_show_why_a_request_failed(store):
    table = _spans(store, 200).to_pandas()
    got = traces.bucket_spans(store, SpanFilter(), condition="failed", limit=1000).spans
    failed = table[table.status == "error"]
    assert sorted(got.span_id) == sorted(failed.span_id) and len(failed) > 5
    by_id = failed.set_index("span_id")
    for sid, err in zip(got.span_id, got["error"], strict=True):
        assert err == f"RateLimit: {by_id.loc[sid, 'error_message']}"
    ok = traces.bucket_spans(store, SpanFilter(), limit=1000).spans
    assert (ok.loc[ok.status == "ok", "error"] == "").all()
