"""Live ground truth: production spans whose input matches a test item (normalised exact match)
are scored against its expected output by model version; goldenloop's own spans and failed
requests are left out. Checked against counts computed by hand from the synthetic traffic."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from goldenloop.errors import ExperimentError
from goldenloop.experiments import datasets, live
from goldenloop.ingest.loader import import_table

T0 = datetime(2026, 3, 2, 9)


def _span(n, question, output, version, *, source="file", status="ok", day=0):
    return {"trace_id": f"t{n}", "span_id": "s", "app": "support", "kind": "llm",
            "model": "m", "model_version": version, "start_time": T0 + timedelta(days=day, minutes=n),
            "last_user_message": question, "output": output, "status": status, "source": source}


def test_matching_requests_are_scored_by_model_version(store, tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "ship", "input": "When does my order ship?", "expected": "It ships tomorrow."},
        {"id": "refund", "input": "How do I get a refund?", "expected": "Use the returns form."},
        {"id": "none", "input": "Unmatched question"}]))
    datasets.import_file(store, "faq", path)
    spans = [
        _span(1, "when does my order ship", "It ships tomorrow.", "v1"),          # match, right
        _span(2, "  WHEN does my order ship?! ", "It ships tomorrow", "v1"),     # match (norm.)
        _span(3, "How do I get a refund?", "No idea.", "v1"),                     # match, wrong
        _span(4, "When does my order ship?", "Next week.", "v2", day=1),          # match, wrong
        _span(5, "How do I get a refund?", "Use the returns form.", "v2", day=1),  # match, right
        _span(6, "When does my order ship?", "It ships tomorrow.", "v2", source="experiment"),
        _span(7, "When does my order ship?", None, "v2", status="error"),
        _span(8, "Where is my parcel?", "It ships tomorrow.", "v2"),              # no match
    ]
    import_table(store, pa.Table.from_pylist(spans), source="file", origin="test")
    ref, items = datasets.read_items(store, "faq")
    assert ref == "faq@1" and len(items) == 3
    m = live.matches(store, items)
    assert sorted(m["trace_id"]) == ["t1", "t2", "t3", "t4", "t5"]
    df = live.for_ref(store, "faq").set_index(["model_version", "scorer"])
    assert df.loc[("v1", "normalized"), "mean"] == pytest.approx(2 / 3)
    assert df.loc[("v1", "exact"), "mean"] == pytest.approx(1 / 3)
    assert df.loc[("v2", "normalized"), "mean"] == pytest.approx(1 / 2)
    assert df.loc[("v2", "normalized"), "spans"] == 2
    # v2 only: one row per scorer (semantic similarity too when the extra is installed)
    assert live.for_ref(store, "faq", since=T0 + timedelta(days=1)).index.size == len(
        live.live_scorers())
    with pytest.raises(ExperimentError, match="no test set named 'nope'"):
        datasets.read_items(store, "nope")
