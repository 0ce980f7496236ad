"""The span store contract for the Monitor's panels, the Traces list and Compare versions: each
``*_in`` reader gives the same answer on DuckDB and on ClickHouse (chdb) for the same spans,
signals, feedback and grades, and where a DuckDB reader over the one file exists, the same as
it (so the split joins are checked against the unsplit query)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from spanstore_support import START, chdb_url, span_rows, write_jsonl

from goldenloop.metrics import sql as msql
from goldenloop.metrics import sql_in
from goldenloop.metrics.filters import SpanFilter
from goldenloop.spanstore import DialectSQL, open_span_store

HOUR_US = 3600 * 1_000_000
N = 1200


def _keys(spans) -> dict[str, int]:
    got = spans.query(DialectSQL(duckdb="SELECT span_id, span_key FROM spans",
                                 clickhouse="SELECT span_id, span_key FROM spans FINAL"))
    return dict(zip(got["span_id"], got["span_key"].astype("int64"), strict=True))


def _side_data(rows: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """Signals for most spans, feedback for some, grades for a few, keyed by span id, drawn
    once so both stores get the same."""
    rng = random.Random(5)
    signals, feedback, grades = [], [], []
    for r in rows:
        sid = r["span_id"]
        if rng.random() < 0.7:
            scored = rng.random() < 0.9
            signals.append({"span_id": sid,
                            "user_offensive": rng.random() if scored else None,
                            "output_offensive": rng.random(),
                            "user_sentiment": rng.uniform(-1, 1) if scored else None,
                            "output_sentiment": rng.uniform(-1, 1),
                            "output_chars": rng.randint(0, 400), "refusal": rng.random() < 0.1})
        for _ in range(rng.choice((0,) * 8 + (1, 2))):
            feedback.append({"span_id": sid, "trace_id": r["trace_id"],
                             "kind": rng.choice(("thumbs", "thumbs", "rating")),
                             "value": float(rng.randint(0, 1)), "comment": "meh",
                             "created_at": datetime.fromisoformat(r["start_time"])
                             + timedelta(minutes=5, seconds=len(feedback))})
        if rng.random() < 0.15:
            for source in ("human", "judge")[: rng.randint(1, 2)]:
                grades.append({"span_id": sid, "source": source, "value": rng.randint(1, 5),
                               "judge_version": "j1" if source == "judge" else None})
    return signals, feedback, grades


def _add_side(spans, store, rows) -> None:
    signals, feedback, grades = _side_data(rows)
    keys = _keys(spans)
    sig = pa.Table.from_pylist([{"span_key": keys[s["span_id"]],
                                 **{k: v for k, v in s.items() if k != "span_id"}}
                                for s in signals])
    spans.insert_rows("signals", [sig], batch_id="panels-signals")
    fb = pa.Table.from_pylist([{"feedback_id": i + 1, "span_key": keys[x["span_id"]], **x}
                               for i, x in enumerate(feedback)])
    spans.insert_rows("feedback", [fb], batch_id="panels-feedback")
    store.cursor().executemany(
        """INSERT INTO grades (grade_id, target_type, target_id, span_key, criterion,
                               value_number, source, judge_version, created_at)
           VALUES (?, 'span', ?, ?, 'correctness', ?, ?, ?, ?)""",
        [[i + 1, g["span_id"], keys[g["span_id"]], g["value"], g["source"], g["judge_version"],
          START + timedelta(seconds=i)] for i, g in enumerate(grades)])


@pytest.fixture(scope="module")
def panels(tmp_path_factory):
    """The same spans, signals, feedback and grades in a DuckDB store and in chdb (with its
    own workflow DuckDB file): (duck span store, chdb span store, duck store, chdb's
    workflow store, rows)."""
    from goldenloop.ingest import import_file
    from goldenloop.schema import open_store
    from goldenloop.spanstore.ingest import import_file_to_clickhouse

    folder = tmp_path_factory.mktemp("panels")
    rows = span_rows(N, seed=13)
    for i, r in enumerate(rows):  # conversations of three traces (the shared rows have none)
        r["session_id"] = f"u{i // 9}" if i % 50 else None
    path = write_jsonl(folder / "spans.jsonl", rows)
    duck_store = open_store(folder / "duck.duckdb")
    ch_workflow = open_store(folder / "workflow.duckdb")
    duck = open_span_store("duckdb", duck_store)
    ch = open_span_store(chdb_url(tmp_path_factory), ch_workflow)
    import_file(duck_store, path)
    import_file_to_clickhouse(ch_workflow, ch, path)
    _add_side(duck, duck_store, rows)
    _add_side(ch, ch_workflow, rows)
    yield duck, ch, duck_store, ch_workflow, rows
    duck_store.close()
    ch_workflow.close()


FILTERS = {
    "all": SpanFilter(start=START, end=START + timedelta(days=4)),
    "one_app": SpanFilter(start=START, end=START + timedelta(days=2), apps=("support-bot",)),
    "versions_env": SpanFilter(start=START + timedelta(hours=30), end=START + timedelta(days=3),
                               model_versions=("claude-3-5", "gpt-4o-2024-08-06"),
                               environments=("production",)),
    "tags_internal": SpanFilter(start=START, end=START + timedelta(days=4), tags=("vip", "eu"),
                                include_internal=True),
    "empty": SpanFilter(start=datetime(2020, 1, 1), end=datetime(2020, 1, 2)),
}
SPLITS = [None, "model_version", "app"]


def _same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], *, exact: tuple[str, ...] = ()):
    """Equal frames: keys and ``exact`` columns exactly, the rest to a relative 1e-12."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)
    for col in a.columns:
        x, y = a[col], b[col]
        if col == "time" or col in keys or col in exact:
            if col == "time":
                x, y = pd.to_datetime(x).astype("datetime64[us]"), pd.to_datetime(y).astype("datetime64[us]")
            assert x.tolist() == y.tolist(), col
        else:
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=1e-12, err_msg=col)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.slow
def test_signals_same_on_both(panels, name, split):
    duck, ch, *_ = panels
    a = sql_in.signals_in(duck, FILTERS[name], split, 6 * HOUR_US)
    b = sql_in.signals_in(ch, FILTERS[name], split, 6 * HOUR_US)
    counts = tuple(c for c in a.columns if c == "scored" or c.endswith("_n"))
    _same(a, b, ["time", "group"], exact=counts)
    assert name == "empty" or a["scored"].sum() > 20


def test_signals_match_the_rows(panels):
    """One bucket's figures from the test's own data, not from either database."""
    duck, ch, _, _, rows = panels
    signals = {s["span_id"]: s for s in _side_data(rows)[0]}
    day = datetime(2026, 3, 31)
    mine = [signals[r["span_id"]] for r in rows if r["span_id"] in signals
            and r["source"] != "judge" and r["start_time"][:10] == "2026-03-31"]
    offensive = [s["user_offensive"] >= 0.5 for s in mine if s["user_offensive"] is not None]
    sentiment = [s["output_sentiment"] for s in mine]
    for spans in (duck, ch):
        frame = sql_in.signals_in(spans, FILTERS["all"], None, 24 * HOUR_US)
        row = frame[pd.to_datetime(frame["time"]) == pd.Timestamp(day)].iloc[0]
        assert int(row["scored"]) == len(mine)
        assert row["user_offensive"] == pytest.approx(np.mean(offensive), rel=1e-12)
        assert row["output_sentiment"] == pytest.approx(np.mean(sentiment), rel=1e-12)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.slow
def test_feedback_same_on_both(panels, name, split):
    duck, ch, *_ = panels
    a = sql_in.feedback_in(duck, FILTERS[name], split, 6 * HOUR_US)
    b = sql_in.feedback_in(ch, FILTERS[name], split, 6 * HOUR_US)
    _same(a, b, ["time", "group"], exact=("requests", "with_feedback", "thumbs", "down"))
    assert name == "empty" or a["with_feedback"].sum() > 5


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.slow
def test_correctness_split_join_same_on_both_and_as_one_query(panels, name, split):
    """The split join (grades from the workflow store, spans from the span store) gives
    DuckDB's one-statement answer, on both backends."""
    duck, ch, duck_store, ch_workflow, _ = panels
    f, day = FILTERS[name], 24 * HOUR_US
    want = msql.correctness(duck_store, f, split, "correctness", ("human", "judge"),
                            "inclusion", day)
    got = []
    for spans, store in ((duck, duck_store), (ch, ch_workflow)):
        graded = sql_in.graded_spans(store, "correctness", ("human", "judge"), "inclusion")
        got.append(sql_in.correctness_in(spans, f, split, graded, day))
    for frame in got:
        _same(want, frame, ["time", "source", "group"], exact=("n",))
    assert name == "empty" or want["n"].sum() > 20


def test_correctness_counts_only_the_chosen_judge_versions(panels):
    duck, ch, duck_store, ch_workflow, _ = panels
    for spans, store in ((duck, duck_store), (ch, ch_workflow)):
        graded = sql_in.graded_spans(store, "correctness", ("judge",), "equal", ["j2"])
        assert graded.empty
        assert sql_in.correctness_in(spans, FILTERS["all"], None, graded, HOUR_US).empty


def test_dimension_values_and_range_same_on_both(panels):
    duck, ch, _, _, rows = panels
    a, b = sql_in.dimension_values_in(duck, 3), sql_in.dimension_values_in(ch, 3)
    order = ["dimension", "value"]
    pd.testing.assert_frame_equal(a.sort_values(order).reset_index(drop=True),
                                  b.sort_values(order).reset_index(drop=True), check_dtype=False)
    assert set(b["dimension"]) == {"app", "environment", "model_version", "prompt_version", "tags"}
    llm = [r for r in rows if r["kind"] == "llm" and r["source"] != "judge"]
    assert dict(zip(b.loc[b["dimension"] == "environment", "value"],
                    b.loc[b["dimension"] == "environment", "requests"], strict=True)) == {
        env: sum(r["environment"] == env for r in llm) for env in ("production", "staging")}
    first, last, n = sql_in.request_range_in(ch)
    assert (first, last, n) == sql_in.request_range_in(duck)
    assert n == len(llm)
    assert first == min(datetime.fromisoformat(r["start_time"]) for r in llm)


@pytest.mark.parametrize("split", [None, "model_version"])
def test_overview_same_on_both(panels, split):
    """Everything the Monitor draws for one filter (``metrics.overview_in``: totals, request
    series, signals, correctness, feedback, version markers) is the same on both, and on
    DuckDB the same as ``metrics.overview`` of the one file."""
    from goldenloop import metrics

    duck, ch, duck_store, ch_workflow, _ = panels
    f = FILTERS["all"]
    want = metrics.overview(duck_store, f, split)
    for got in (metrics.overview_in(duck, duck_store, f, split),
                metrics.overview_in(ch, ch_workflow, f, split)):
        assert got.bucket == want.bucket
        for field in ("requests", "failures", "priced", "groups"):
            assert getattr(got.totals, field) == getattr(want.totals, field), field
        for field in ("latency_p50", "latency_p95", "output_tokens", "cost_usd"):
            assert getattr(got.totals, field) == pytest.approx(getattr(want.totals, field),
                                                               rel=1e-12), field
        _same(want.requests.frame, got.requests.frame, ["time", "group"],
              exact=("requests", "errors", "timeouts", "empty", "priced"))
        for part in ("signals", "feedback"):
            _same(getattr(want, part), getattr(got, part), ["time", "group", "series"],
                  exact=("n",))
        _same(want.correctness, got.correctness, ["time", "group", "series"], exact=("n",))
        assert want.markers["model_version"].tolist() == got.markers["model_version"].tolist()
    assert want.totals.requests > 500 and not want.signals.empty and not want.correctness.empty


def test_dimensions_same_on_both(panels):
    from goldenloop import metrics

    duck, ch, *_ = panels
    a, b = metrics.dimensions_in(duck), metrics.dimensions_in(ch)
    assert (a.first, a.last, a.requests) == (b.first, b.last, b.requests)
    assert {k: sorted(v) for k, v in a.values.items()} == {k: sorted(v) for k, v in b.values.items()}
    assert a.values["apps"] and a.values["tags"]


# -- Traces ------------------------------------------------------------------------------------
def _cells(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain values: numbers as floats, missing as None, times as Timestamps."""
    def cell(v):
        if v is None or (not isinstance(v, str | list | np.ndarray) and pd.isna(v)):
            return None
        if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
            return float(v)
        return pd.Timestamp(v) if isinstance(v, datetime | pd.Timestamp | np.datetime64) else v
    return [tuple(cell(v) for v in row) for row in frame.itertuples(index=False)]


LISTS = [  # filter, split and group, condition, order, limit
    ("all", None, None, None, "recent", 25),
    ("all", None, None, "failed", "slowest", 30),
    ("one_app", "model_version", "claude-3-5", None, "costliest", 10),
    ("all", "app", "(not set)", "error", "recent", 1000),
    ("all", None, None, "user_offensive", "most_offensive_user", 15),
    ("versions_env", None, None, "thumbs_down", "recent", 1000),
    ("all", None, None, "feedback", "most_negative_output", 12),
    ("all", None, None, "graded", "recent", 1000),
    ("tags_internal", None, None, "timeout", "most_output_tokens", 8),
    ("empty", None, None, None, "recent", 10),
]


@pytest.mark.parametrize("name, split, group, condition, order, limit", LISTS)
@pytest.mark.slow
def test_bucket_spans_same_on_both(panels, name, split, group, condition, order, limit):
    """The Traces list and the Monitor's drill-down: the same spans in the same order with the
    same cells (the error column too), and the same total beyond the limit."""
    from goldenloop.metrics import traces, traces_in

    duck, ch, duck_store, ch_workflow, _ = panels
    args = dict(split=split, group=group, condition=condition, order=order, limit=limit)
    want = traces.bucket_spans(duck_store, FILTERS[name], **args)
    a = traces_in.bucket_spans_in(duck, FILTERS[name], **args)
    b = traces_in.bucket_spans_in(ch, FILTERS[name], **args,
                                  graded=traces_in.graded_keys(ch_workflow))
    assert want.total == a.total == b.total
    assert list(b.spans.columns) == traces.LIST_COLUMNS
    assert _cells(want.spans) == _cells(a.spans) == _cells(b.spans)
    if name != "empty":
        assert len(b.spans) > 2
    if limit < 1000 and name != "empty":
        assert b.total > limit  # the count query ran
    if condition == "error":
        assert (b.spans["error"] == "RateLimitError: 429 slow down").all()


def test_bucket_spans_graded_without_grades_is_empty_on_clickhouse(panels):
    from goldenloop.metrics import traces_in

    _, ch, *_ = panels
    got = traces_in.bucket_spans_in(ch, FILTERS["all"], condition="graded", graded=())
    assert got.total == 0 and got.spans.empty


def test_span_detail_find_and_feedback_same_on_both(panels):
    from goldenloop.metrics import traces, traces_in

    duck, ch, _, ch_workflow, rows = panels
    feedback = {x["span_id"] for x in _side_data(rows)[1]}
    row = next(r for r in rows if r["span_id"] in feedback and r["status"] == "error")
    a = traces_in.span_detail_in(duck, row["trace_id"], row["span_id"])
    b = traces_in.span_detail_in(ch, row["trace_id"], row["span_id"])
    skip = {"span_key", "import_id", "ingested_at", "tags", "cost_estimated"}
    common = [k for k in a if k not in skip]
    assert set(common) <= set(b)
    assert _cells(pd.DataFrame([[a[k] for k in common]])) == \
        _cells(pd.DataFrame([[b[k] for k in common]]))
    assert b["error_message"] == "429 slow down" and list(b["tags"]) == row["tags"]
    for ident in (row["span_id"], row["trace_id"]):
        assert traces_in.find_in(duck, ident) == traces_in.find_in(ch, ident)
    assert traces_in.find_in(ch, row["span_id"]) == {"trace_id": row["trace_id"],
                                                      "span_id": row["span_id"]}
    for spans in (duck, ch):
        with pytest.raises(traces.NotFound):
            traces_in.find_in(spans, "nobody")
        with pytest.raises(traces.NotFound):
            traces_in.span_detail_in(spans, row["trace_id"], "nobody")
    fa = traces_in.span_feedback_in(duck, row["trace_id"], row["span_id"])
    fb = traces_in.span_feedback_in(ch, row["trace_id"], row["span_id"])
    assert len(fa) >= 1 and _cells(fa) == _cells(fb)
    graded = next(k for k in traces_in.graded_keys(ch_workflow))
    assert not traces_in.span_grades(ch_workflow, graded).empty


# -- text search -------------------------------------------------------------------------------
SEARCHES = [  # text, regex, case sensitive, fields, limit
    ("ANSWER 1", False, False, ("answer",), 1000),
    ("answer 1", False, True, ("answer", "user message"), 7),
    ('question 1[0-9]"', True, False, ("input messages", "answer"), 1000),
    (r'"content": "question 2\d\d"', True, True, ("input messages",), 1000),
    ("429", False, False, ("error",), 5),
    ("^answer 3.*x{150}", True, False, ("answer",), 1000),
    ("nothing says this", False, False, ("answer", "error"), 10),
]


@pytest.mark.parametrize("text, regex, case, fields, limit", SEARCHES)
@pytest.mark.slow
def test_text_search_same_on_both(panels, text, regex, case, fields, limit):
    """The same matches in the same order, with the same snippets, counts read and
    completeness; and the matches are the ones Python's ``re`` finds in the rows."""
    import re

    from goldenloop.metrics import text_search

    duck, ch, _, _, rows = panels
    f = FILTERS["one_app"]
    a, b = (text_search.search_spans_in(s, f, text, regex=regex, case_sensitive=case,
                                        fields=fields, limit=limit) for s in (duck, ch))
    assert (a.total, a.scanned, a.complete) == (b.total, b.scanned, b.complete)
    assert _cells(a.spans) == _cells(b.spans)
    texts = {"answer": "output", "error": "error_message", "input messages": "messages"}
    for r in rows:  # the last user message, as import derives it
        r.setdefault("user message", json.loads(r["messages"])[-1]["content"])
    pattern = re.compile(text if regex else re.escape(text), 0 if case else re.IGNORECASE)
    want = {r["span_id"] for r in rows
            if r["kind"] == "llm" and r["source"] != "judge" and r["app"] == "support-bot"
            and f.start <= datetime.fromisoformat(r["start_time"]) < f.end
            and any(pattern.search(r.get(texts.get(x, x)) or "") for x in fields)}
    if len(want) <= limit:
        assert set(b.spans["span_id"]) == want
    else:
        assert len(b.spans) == limit and set(b.spans["span_id"]) < want
    assert text == "nothing says this" or len(want) > 0


def test_text_search_refuses_a_bad_pattern_on_both(panels):
    from goldenloop.metrics import text_search

    for spans in panels[:2]:
        with pytest.raises(text_search.SearchError, match="not a valid regular expression"):
            text_search.search_spans_in(spans, FILTERS["all"], "(unclosed", regex=True)


# -- Compare versions --------------------------------------------------------------------------
COMPARE_FILTERS = {
    "version": SpanFilter(start=START, end=START + timedelta(days=4), apps=("support-bot",),
                          model_versions=("claude-3-5",)),
    "prompt_env": SpanFilter(start=START + timedelta(days=1), end=START + timedelta(days=3),
                             prompt_versions=("v2",), environments=("production",)),
    "empty": FILTERS["empty"],
}


@pytest.mark.parametrize("name", list(COMPARE_FILTERS))
def test_compare_sums_and_latencies_same_on_both(panels, name):
    """Per-session sums (grades joined in ClickHouse from the workflow store's side) and the
    latencies with their session numbers: the same on both, and on ClickHouse the same as
    DuckDB's one statement."""
    from goldenloop.metrics import sql_compare

    duck, ch, duck_store, ch_workflow, _ = panels
    f = COMPARE_FILTERS[name]
    graded = sql_in.graded_spans(ch_workflow, "correctness", ("human", "judge"), "inclusion")
    a = sql_compare.session_sums(duck_store, f, "correctness")
    b = sql_compare.session_sums_in(ch, f, "correctness", graded)
    assert list(a) == list(b) == list(sql_compare.SUMS)
    same = sql_compare.session_sums_in(duck, f, "correctness", graded)
    assert all(np.array_equal(a[c], same[c]) for c in a)
    for col in a:
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12, err_msg=col)
    for column in ("latency_ms", "ttft_ms"):
        va, ia = sql_compare.request_latencies(duck_store, f, column)
        vb, ib = sql_compare.request_latencies_in(ch, f, column)
        np.testing.assert_array_equal(va, vb)
        np.testing.assert_array_equal(ia, ib)
    if name != "empty":
        assert a["requests"].sum() > 20 and a["human_n"].sum() > 0 and a["thumbs"].sum() > 0


def test_compare_side_options_same_on_both(panels):
    from goldenloop import metrics

    duck, ch, *_ = panels
    for by in ("model_version", "prompt_version"):
        a = metrics.side_options_in(duck, "support-bot", by)
        b = metrics.side_options_in(ch, "support-bot", by)
        assert _cells(a) == _cells(b)
        assert len(a) >= 2


@pytest.mark.slow
def test_compare_same_on_both(panels):
    """The whole comparison (every metric, interval and flag, same seed) on both."""
    from goldenloop import metrics

    _, ch, duck_store, ch_workflow, _ = panels
    sides = metrics.version_sides("support-bot", "model_version", "gpt-4o-2024-08-06",
                                  "claude-3-5", START, START + timedelta(days=4))
    want = metrics.compare(duck_store, sides, n_boot=200, judges="any")
    got = metrics.compare_in(ch, sides, n_boot=200,
                             grades=metrics.compare_grades(ch_workflow, sides, judges="any"))
    assert got.requests == want.requests and got.sessions == want.sessions
    assert got.table["key"].tolist() == want.table["key"].tolist()
    for col in ("a", "b", "diff", "ci_low", "ci_high"):
        np.testing.assert_allclose(got.table[col].astype(float), want.table[col].astype(float),
                                   rtol=1e-9, err_msg=col)
    assert got.table["flag"].tolist() == want.table["flag"].tolist()
    assert {"correctness_human", "correctness_judge"} <= set(want.table["key"])


# -- the Traces page's conversation tab --------------------------------------------------------
def test_conversation_same_on_both_and_as_one_query(panels):
    """Turns, signals and feedback from the span store, grades from the workflow store by
    span key: the frame ``traces.conversation`` gives over one DuckDB file, on both."""
    from goldenloop.metrics import conversation_in as conv
    from goldenloop.metrics import traces

    duck, ch, duck_store, ch_workflow, _ = panels
    sessions = duck_store.df(
        "SELECT session_id, count(DISTINCT trace_id) AS n FROM spans WHERE session_id IS NOT NULL "
        "GROUP BY ALL ORDER BY n DESC, session_id LIMIT 12")["session_id"].tolist()
    assert len(sessions) == 12
    seen = {"feedback": 0, "grades": 0}
    for sid in sessions:
        want = traces.conversation(duck_store, sid)
        seen = {k: v + int(want[k].notna().sum()) for k, v in seen.items()}
        for spans, store in ((duck, duck_store), (ch, ch_workflow)):
            turns = conv.conversation_in(spans, sid)
            keys = tuple(k for ks in turns["span_keys"] for k in ks)
            got = conv.with_grades(turns, conv.grade_lines(store, keys))
            assert list(got.columns) == list(want.columns)
            for col in want.columns:  # sums of floats in another order: to rounding
                if col in ("llm_ms", "idle_min"):
                    np.testing.assert_allclose(got[col].astype(float), want[col].astype(float),
                                               rtol=1e-12, err_msg=col)
                else:
                    assert _cells(got[[col]]) == _cells(want[[col]]), (spans.dialect, col)
    assert min(seen.values()) > 0  # feedback and grades were compared, not only NULLs
    for spans in (duck, ch):
        with pytest.raises(traces.NotFound):
            conv.conversation_in(spans, "no-such-session")


@pytest.mark.slow
def test_long_lists_of_graded_keys_go_in_chunks(panels, monkeypatch):
    """Graded span keys reach ClickHouse in the query's text, which ClickHouse caps at 256 KiB
    (about 13,000 keys): 30,000 keys (most graded nowhere) give the answer the real ones do,
    and so do chunks of 7 keys."""
    from goldenloop.metrics import sql_clickhouse, traces_in

    _, ch, _, ch_workflow, _ = panels
    f, day = FILTERS["all"], 24 * HOUR_US
    real = traces_in.graded_keys(ch_workflow)
    many = real + tuple(range(1, 30_001))  # keys no span in ClickHouse has (those are >= 2^62)
    grades = sql_in.graded_spans(ch_workflow, "correctness", ("human", "judge"), "inclusion")
    extra = pd.DataFrame({"span_key": range(1, 30_001), "source": "human", "value": 1.0, "w": 1.0})
    want = [traces_in.bucket_spans_in(ch, f, condition="graded", order="slowest", limit=15,
                                      graded=real),
            sql_in.correctness_in(ch, f, "app", grades, day)]
    assert want[0].total > 15 and len(real) > 30
    for chunk, keys, graded in ((sql_clickhouse.KEY_CHUNK, many,
                                 pd.concat([grades, extra], ignore_index=True)), (7, real, grades)):
        monkeypatch.setattr(sql_clickhouse, "KEY_CHUNK", chunk)
        got = traces_in.bucket_spans_in(ch, f, condition="graded", order="slowest", limit=15,
                                        graded=keys)
        assert got.total == want[0].total
        assert _cells(got.spans) == _cells(want[0].spans)
        _same(want[1], sql_in.correctness_in(ch, f, "app", graded, day),
              ["time", "source", "group"], exact=("n",))
