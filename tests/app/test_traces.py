"""Drill-down library (``goldenloop.metrics.traces``) on real DuckDB files: the spans behind a
chart point against the chart's own numbers and an independent pandas filter, trace trees,
conversations with their feedback and grades, and id lookup."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from app_support import app_page
from metrics_support import END, T0, load_rows, seed

from goldenloop import metrics as M
from goldenloop.metrics import traces as T
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.feedback import insert_feedback
from goldenloop.store.grades import insert_grades


@pytest.fixture
def known(tmp_path: Path):
    db = tmp_path / "k.duckdb"
    df = seed(db)  # LLM calls of test_metrics.known_frame, with signals, grades and feedback
    with open_store(db) as store:
        yield store, df


def test_bucket_spans_match_an_independent_filter(known) -> None:
    store, df = known
    start, end = T0 + timedelta(hours=40), T0 + timedelta(hours=60)
    f = M.SpanFilter(start=start, end=end)
    got = T.bucket_spans(store, f, split="model_version", group="v2", condition="failed",
                         order="slowest", limit=5)
    inside = df[(df["start_time"] >= start) & (df["start_time"] < end)
                & (df["model_version"] == "v2") & (df["status"] != "ok")]
    assert got.total == len(inside) > 5
    expected = inside.sort_values("latency_ms", ascending=False)["trace_id"].head(5).tolist()
    assert got.spans["trace_id"].tolist() == expected
    everything = T.bucket_spans(store, f, limit=1000)
    assert everything.total == len(df[(df["start_time"] >= start) & (df["start_time"] < end)])
    assert everything.spans["start_time"].is_monotonic_decreasing  # most recent first


def test_a_chart_point_drills_to_as_many_requests_as_it_counts(known, monkeypatch) -> None:
    """The chart's own n for a bucket equals the number of spans the drill-down finds."""
    from goldenloop_app.monitor import charts as mc

    store, _ = known
    view = M.overview(store, M.SpanFilter(start=T0, end=END), "model_version")
    volume = view.requests.volume()
    point = volume[volume["value"] > 0].iloc[len(volume) // 3]
    picked = {"time": point["time"].timestamp() * 1000, "group": point["group"],
              "series": "requests"}
    d = mc.drill(view, "requests", None, picked)
    assert d.filter.start == point["time"] and d.filter.end - d.filter.start == view.bucket
    found = T.bucket_spans(store, d.filter, split="model_version", group=d.group)
    assert found.total == point["n"]
    # Failures, errors only: the rate times the requests is the count of errors listed.
    rates = view.requests.failures()
    err = rates[(rates["series"] == "error") & (rates["value"] > 0)].iloc[0]
    d = mc.drill(view, "failures", "errors",
                 {"time": err["time"].timestamp() * 1000, "group": err["group"], "series": "x"})
    assert d.condition == "error"
    found = T.bucket_spans(store, d.filter, split="model_version", group=d.group,
                           condition=d.condition)
    assert found.total == round(err["value"] * err["n"])
    assert set(found.spans["status"]) == {"error"}


def test_unknown_condition_or_order_is_refused(known) -> None:
    store, _ = known
    with pytest.raises(M.FilterError, match="unknown condition"):
        T.bucket_spans(store, M.SpanFilter(), condition="1=1; DROP TABLE spans")
    with pytest.raises(M.FilterError, match="unknown order"):
        T.bucket_spans(store, M.SpanFilter(), order="latency_ms")


def _span(trace, span, parent, kind, start_s, ms, **kw) -> dict:
    t = datetime(2026, 1, 5, 10) + timedelta(seconds=start_s)
    return {"trace_id": trace, "span_id": span, "parent_span_id": parent, "kind": kind,
            "name": f"{kind}-{span}", "start_time": t, "end_time": t + timedelta(milliseconds=ms),
            "latency_ms": float(ms), "status": kw.pop("status", "ok"), **kw}


def test_trace_tree_orders_parents_before_children(store: Store) -> None:
    load_rows(store, [
        _span("t1", "c2", "root", "llm", 0.5, 300),
        _span("t1", "root", None, "agent", 0.0, 1200),
        _span("t1", "c1", "root", "retrieval", 0.1, 200),
        _span("t1", "g1", "c1", "tool", 0.15, 50),
        _span("t1", "orphan", "gone", "tool", 0.9, 10),  # parent never arrived: a root
    ])
    tree = T.trace_tree(store, "t1")
    assert tree["span_id"].tolist() == ["root", "c1", "g1", "c2", "orphan"]
    assert tree["depth"].tolist() == [0, 1, 2, 1, 0]
    assert tree["offset_ms"].tolist() == pytest.approx([0, 100, 150, 500, 900])
    assert tree["end_ms"].tolist() == pytest.approx([1200, 300, 200, 800, 910])
    with pytest.raises(T.NotFound):
        T.trace_tree(store, "nope")


def test_a_cycle_in_bad_data_shows_each_span_once(store: Store) -> None:
    load_rows(store, [_span("t2", "a", "b", "llm", 0, 10), _span("t2", "b", "a", "llm", 1, 10),
                      _span("t2", "r", None, "agent", 0, 50)])
    tree = T.trace_tree(store, "t2")
    assert sorted(tree["span_id"]) == ["a", "b", "r"] and len(tree) == 3


def test_conversation_lists_every_turn_with_feedback_and_grades(store: Store) -> None:
    rows = []
    for i, start in enumerate([0, 60, 7200]):  # the third turn after two idle hours
        trace = f"turn{i}"
        rows += [_span(trace, f"a{i}", None, "agent", start, 2000, session_id="s1", turn_index=i),
                 _span(trace, f"l{i}", f"a{i}", "llm", start + 0.5, 1000, session_id="s1",
                       turn_index=i, last_user_message=f"question {i} **bold**",
                       output=f"answer {i}", model_version="m1",
                       status="error" if i == 1 else "ok")]
    rows.append(_span("other", "x", None, "llm", 10, 10, session_id="s2"))
    load_rows(store, rows)

    def annotate(cur) -> None:
        insert_feedback(cur, pa.table({"trace_id": ["turn0", "turn2"], "span_id": ["l0", "l2"],
                                       "kind": ["thumbs", "thumbs"], "value": [0.0, 1.0],
                                       "comment": ["wrong", None]}))
        insert_grades(cur, pa.table({"target_type": ["span"], "trace_id": ["turn2"],
                                     "span_id": ["l2"], "criterion": ["correctness"],
                                     "value_number": [4.0], "source": ["human"]}))
    store.write(annotate)
    conv = T.conversation(store, "s1")
    assert conv["trace_id"].tolist() == ["turn0", "turn1", "turn2"]
    assert conv["user_message"].tolist() == [f"question {i} **bold**" for i in range(3)]
    assert conv["status"].tolist() == ["ok", "error", "ok"]
    assert conv["span_id"].tolist() == ["l0", "l1", "l2"]
    assert conv["feedback"].tolist()[0] == "thumbs down: wrong"
    assert conv["feedback"].tolist()[2] == "thumbs up" and pd.isna(conv["feedback"].iloc[1])
    assert conv["grades"].iloc[2] == "correctness=4.0 (human)"
    assert conv["idle_min"].iloc[2] == pytest.approx((7200 - 62) / 60)
    fb, grades = T.span_annotations(store, "turn2", "l2")
    assert fb["kind"].tolist() == ["thumbs"] and grades["value"].tolist() == ["4.0"]


def test_find_tells_spans_traces_and_sessions_apart(store: Store) -> None:
    load_rows(store, [_span("tr", "sp", None, "llm", 0, 10, session_id="se")])
    assert T.find(store, "sp") == {"trace_id": "tr", "span_id": "sp"}
    assert T.find(store, " tr ") == {"trace_id": "tr"}
    assert T.find(store, "se") == {"session_id": "se"}
    with pytest.raises(T.NotFound, match="no span, trace or session"):
        T.find(store, "missing")
    detail = T.span_detail(store, "tr", "sp")
    assert detail["kind"] == "llm" and detail["session_id"] == "se"


# -- the Traces page, in-process (AppTest) ---------------------------------------------------
HOSTILE = "![x](https://example.invalid/pixel.png) <img src=https://example.invalid/a.png> **hi**"


def trace_page(params: dict | None = None):
    return app_page("trace", params=params)


def _seed_conversation(db: Path) -> None:
    with open_store(db) as store:
        load_rows(store, [
            _span("tA", "root", None, "agent", 0, 3000, session_id="sess-1"),
            _span("tA", "llm1", "root", "llm", 0.5, 2000, session_id="sess-1",
                  last_user_message=HOSTILE, output="Sure: <b>done</b>", model_version="m1"),
            _span("tB", "llm2", None, "llm", 120, 900, session_id="sess-1",
                  last_user_message="thanks", output="welcome", model_version="m1",
                  status="error", error_message="rate limited"),
        ])


def test_trace_page_shows_request_trace_and_conversation_as_plain_text(app_db: Path) -> None:
    _seed_conversation(app_db)
    at = trace_page({"trace": "tA", "span": "llm1"})
    assert [t.label for t in at.tabs] == ["Request", "Trace", "Conversation"]
    codes = [c.value for c in at.code]
    assert HOSTILE in codes and "Sure: <b>done</b>" in codes  # verbatim, in code blocks
    # the indented tree
    assert any(c.startswith("agent agent-root") and "\n  └ llm llm-llm1" in c for c in codes)
    assert "thanks" in codes and "welcome" in codes  # the other turn of the session
    rendered = [e.value for kind in ("markdown", "caption", "title", "subheader", "info")
                for e in at.get(kind)]
    assert not any("example.invalid" in str(v) or "<b>" in str(v) for v in rendered)
    texts = [t.value for t in at.text]
    assert any(v.startswith("Session sess-1: 2 turns") for v in texts)
    assert any(v.startswith("Turn 2 ") and "error" in v for v in texts)


def test_trace_page_search_by_session_id(app_db: Path) -> None:
    _seed_conversation(app_db)
    at = trace_page()
    assert at.dataframe  # the list of recent requests
    at.text_input[0].set_value("sess-1")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["session"] == ["sess-1"] or at.query_params["session"] == "sess-1"
    assert [t.label for t in at.tabs] == ["Conversation"]


def test_trace_page_unknown_id_says_so(app_db: Path) -> None:
    _seed_conversation(app_db)
    at = trace_page({"trace": "nope"})
    assert "no trace 'nope'" in at.warning[0].value
