"""The span store contract, run against both backends: DuckDB (the store's own file) and
ClickHouse through chdb behind the same clickhouse-connect client. Each backend must import
the same file to the same rows and quarantine, add nothing on a second import or a second
insert of a batch, fetch spans by key, and give the Monitor's main query the same answer
(percentiles exact on both: linear interpolation between order statistics)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spanstore_support import APPS, START, VERSIONS, chdb_url, span_rows, write_jsonl

from goldenloop.ingest import import_file
from goldenloop.metrics.filters import SpanFilter
from goldenloop.spanstore import DialectSQL, open_span_store
from goldenloop.spanstore import monitor as monitor_sql
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where
from goldenloop.store.span_filter import where as duckdb_where

HOUR_US = 3600 * 1_000_000
N = 3000


@pytest.fixture(params=["duckdb", "chdb"])
def spans(request, store, tmp_path_factory):
    url = "duckdb" if request.param == "duckdb" else chdb_url(tmp_path_factory)
    return open_span_store(url, store)


def load(spans, store, path):
    if spans.dialect == "duckdb":
        return import_file(store, path)
    from goldenloop.spanstore.ingest import import_file_to_clickhouse

    return import_file_to_clickhouse(store, spans, path, batch_rows=700)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same file imported into a DuckDB store and a chdb span store."""
    from goldenloop.schema import open_store

    folder = tmp_path_factory.mktemp("contract")
    rows = span_rows(N, seed=11)
    path = write_jsonl(folder / "spans.jsonl", rows, bad=4)
    duck_store = open_store(folder / "duck.duckdb")
    ch_workflow = open_store(folder / "workflow.duckdb")
    duck = open_span_store("duckdb", duck_store)
    ch = open_span_store(chdb_url(tmp_path_factory), ch_workflow)
    load(duck, duck_store, path)
    load(ch, ch_workflow, path)
    yield duck, ch, rows
    duck_store.close()
    ch_workflow.close()


@pytest.mark.slow
def test_import_quarantines_bad_rows_and_adds_nothing_twice(spans, store, tmp_path):
    path = write_jsonl(tmp_path / "spans.jsonl", span_rows(500, seed=3), bad=2)
    first = load(spans, store, path)
    assert (first.rows_read, first.imported, first.quarantined) == (502, 500, 2)
    assert spans.count("spans") == 500
    # the quarantine stays in the workflow store whatever holds the spans, naming row and field
    bad = store.rows("SELECT row_number, field, reason FROM quarantine ORDER BY row_number")
    assert [(r, f) for r, f, _ in bad] == [(2, "start_time"), (4, "start_time")]
    assert all("yesterday" in reason for _, _, reason in bad)
    again = load(spans, store, path)
    assert again.imported == 0
    assert spans.count("spans") == 500
    assert store.scalar("SELECT count(*) FROM quarantine") == 2


@pytest.mark.slow
def test_repeats_and_conflicts_within_a_file_count_alike(spans, store, tmp_path):
    rows = span_rows(50, seed=4)
    repeat = dict(rows[10])
    conflict = {**rows[20], "output": "another answer"}
    path = write_jsonl(tmp_path / "r.jsonl", [*rows, repeat, conflict])
    got = load(spans, store, path)
    assert (got.rows_read, got.imported, got.duplicates, got.conflicts) == (52, 50, 1, 1)
    assert spans.count("spans") == 50
    # the conflicting row is kept in the quarantine of the workflow store, whatever holds spans
    assert store.scalar("SELECT count(*) FROM quarantine") == 1


@pytest.mark.slow
def test_redacted_import_uses_the_workflow_stores_pseudonym_key(spans, store, tmp_path,
                                                                 monkeypatch):
    from goldenloop.ingest import ImportOptions
    from goldenloop.ingest.redact_import import KEY_ENV, pseudonym, redaction_key

    monkeypatch.delenv(KEY_ENV, raising=False)
    rows = [{**r, "user_id": f"user{i % 3}@example.com",
             "output": f"write to user{i}@example.com"} for i, r in enumerate(span_rows(30))]
    path = write_jsonl(tmp_path / "pii.jsonl", rows)
    if spans.dialect == "duckdb":
        import_file(store, path, ImportOptions(redact=True))
    else:
        from goldenloop.spanstore.ingest import import_file_to_clickhouse

        import_file_to_clickhouse(store, spans, path, ImportOptions(redact=True))
    got = spans.query(DialectSQL(duckdb="SELECT user_id, output FROM spans",
                                 clickhouse="SELECT user_id, output FROM spans"))
    key = redaction_key(store.path)
    assert set(got["user_id"]) == {pseudonym(f"user{i}@example.com", key) for i in range(3)}
    assert not got["output"].str.contains("@example.com").any()


def test_column_names_are_checked(spans):
    from goldenloop.errors import SpanStoreError

    with pytest.raises(SpanStoreError, match="not a column name"):
        spans.spans_by_key([1], ["span_key", "1; DROP TABLE spans"])


def test_insert_rows_once_per_batch_id(spans):
    signals = pa.table({"span_key": pa.array([11, 12, 13], pa.int64()),
                        "user_sentiment": [0.5, -0.2, None], "output_chars": [10, 0, 3]})
    halves = [signals.slice(0, 2), signals.slice(2)]
    assert spans.insert_rows("signals", halves, batch_id="sig-1") == 3
    assert spans.done("sig-1")
    assert spans.insert_rows("signals", halves, batch_id="sig-1") == 0
    assert spans.count("signals") == 3
    assert not spans.done("sig-2")


@pytest.mark.slow
def test_spans_by_key(spans, store, tmp_path):
    load(spans, store, write_jsonl(tmp_path / "s.jsonl", span_rows(200, seed=5)))
    keys = spans.query(DialectSQL(
        duckdb="SELECT span_key FROM spans WHERE span_id IN ('s3', 's150') ORDER BY span_id",
        clickhouse="SELECT span_key FROM spans WHERE span_id IN ('s3', 's150') ORDER BY span_id",
    ))["span_key"].tolist()
    got = spans.spans_by_key(keys, ["span_key", "span_id", "trace_id"])
    assert sorted(got.column("span_id").to_pylist()) == ["s150", "s3"]
    assert spans.spans_by_key([]).num_rows == 0


FILTERS = {
    "all": SpanFilter(start=START, end=START + timedelta(days=4)),
    "one_app": SpanFilter(start=START, end=START + timedelta(days=2), apps=("support-bot",)),
    "versions_env": SpanFilter(start=START + timedelta(hours=30), end=START + timedelta(days=3),
                               model_versions=("claude-3-5", "gpt-4o-2024-08-06"),
                               environments=("production",)),
    "tags": SpanFilter(start=START, end=START + timedelta(days=4), tags=("vip", "eu")),
    "internal": SpanFilter(start=START, end=START + timedelta(days=4), include_internal=True),
    "empty": SpanFilter(start=datetime(2020, 1, 1), end=datetime(2020, 1, 2)),
}


@pytest.mark.parametrize("split", [None, "model_version", "app", "environment"])
@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.slow
def test_monitor_query_same_on_both(both, name, split):
    duck, ch, _ = both
    bucket = 6 * HOUR_US if split else HOUR_US
    a = monitor_sql.request_stats(duck, FILTERS[name], split, bucket, ttft=True)
    b = monitor_sql.request_stats(ch, FILTERS[name], split, bucket, ttft=True)
    if name == "empty":
        assert a.empty and b.empty
        return
    assert len(a) > 3
    pd.testing.assert_frame_equal(_normal(a), _normal(b), check_exact=False, rtol=1e-12)


def test_monitor_percentiles_match_an_independent_computation(both):
    """p50/p95/p99 of one bucket and version from the raw rows with numpy (method 'linear',
    the same definition), not from either database."""
    duck, ch, rows = both
    f = FILTERS["all"]
    day = 24 * HOUR_US
    lat = [r["latency_ms"] for r in rows
           if r["kind"] == "llm" and r["source"] != "judge" and r["model_version"] == "claude-3-5"
           and r["start_time"][:10] == "2026-03-31" and r["latency_ms"] is not None]
    want = np.percentile(lat, [50, 95, 99], method="linear")
    for store in (duck, ch):
        frame = monitor_sql.request_stats(store, f, "model_version", day)
        row = frame[(frame["group"] == "claude-3-5")
                    & (frame["time"] == pd.Timestamp("2026-03-31"))].iloc[0]
        got = [row["latency_p50"], row["latency_p95"], row["latency_p99"]]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["time"] = pd.to_datetime(out["time"]).astype("datetime64[us]")
    out["group"] = out["group"].astype(str)
    for col in out.columns:
        if col not in ("time", "group"):
            out[col] = out[col].astype("float64")
    return out.sort_values(["time", "group"]).reset_index(drop=True)


# The one span filter on both stores: any filter selects the same spans through DuckDB's
# dialect and ClickHouse's, and those are the spans a plain reading of the filter picks.
_hours = st.one_of(st.none(), st.integers(-3, 4 * 24 + 3).map(lambda h: START + timedelta(hours=h)))


def _names(values):  # a value no span has, too: a part may select nothing
    return st.lists(st.sampled_from((*[v for v in values if v], "zz")), max_size=3)


@st.composite
def _filters(draw) -> SpanFilter:
    start, end = draw(_hours), draw(_hours)
    if start is not None and end is not None and end <= start:
        start, end = end - timedelta(hours=1), start + timedelta(hours=1)
    return SpanFilter(start=start, end=end, apps=draw(_names(APPS)),
                      environments=draw(_names(("production", "staging"))),
                      model_versions=draw(_names(VERSIONS)), prompt_versions=draw(_names(("v1", "v2"))),
                      kinds=draw(_names(("llm", "tool", "retrieval"))),
                      statuses=draw(_names(("ok", "error", "timeout", "empty"))),
                      tags=draw(_names(("vip", "beta", "eu", "mobile"))),
                      include_internal=draw(st.booleans()))


def _reads(f: SpanFilter, r: dict) -> bool:
    """The filter read plainly, on one row as the test wrote it."""
    t = datetime.fromisoformat(r["start_time"])
    if not f.include_internal and r["source"] == "judge":
        return False
    if (f.start is not None and t < f.start) or (f.end is not None and t >= f.end):
        return False
    for part, column in (("apps", "app"), ("environments", "environment"),
                         ("model_versions", "model_version"), ("prompt_versions", "prompt_version"),
                         ("kinds", "kind"), ("statuses", "status")):
        if getattr(f, part) and r[column] not in getattr(f, part):
            return False
    return not f.tags or bool(set(r["tags"]) & set(f.tags))


def _selected(spans, f: SpanFilter) -> set[str]:
    d_where, d_params = duckdb_where(f, "s")
    c_where, c_params = clickhouse_where(f, "s")
    # each store runs its own text: the other's parameters would not bind
    params = d_params if spans.dialect == "duckdb" else c_params
    got = spans.query(DialectSQL(duckdb=f"SELECT s.span_id FROM spans s WHERE {d_where}",
                                 clickhouse=f"SELECT s.span_id FROM spans AS s FINAL WHERE {c_where}"),
                      params)
    return set(got["span_id"]) if len(got) else set()  # chdb's empty frame has no columns


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(f=_filters())
@pytest.mark.slow
def test_span_filter_selects_the_same_spans_on_both(both, f):
    duck, ch, rows = both
    want = {r["span_id"] for r in rows if _reads(f, r)}
    assert _selected(duck, f) == want
    assert _selected(ch, f) == want


@pytest.mark.parametrize("trace", ["t0-11", "t17-11", "t999-11"])
def test_trace_tree_same_on_both(both, trace):
    """The drill-down by trace id: the same spans in the same tree order with the same
    timings; the spans are the ones the file gave that trace."""
    from goldenloop.metrics import traces

    duck, ch, rows = both
    a, b = traces.trace_tree_in(duck, trace), traces.trace_tree_in(ch, trace)
    assert sorted(a["span_id"]) == sorted(r["span_id"] for r in rows if r["trace_id"] == trace)
    assert list(a["span_id"]) == list(b["span_id"])
    for col in ("start_time", "offset_ms", "end_ms", "latency_ms", "input_tokens", "depth"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)
    for col in ("kind", "status", "model_version", "error_type"):
        assert a[col].fillna("").tolist() == b[col].fillna("").tolist(), col


def test_trace_tree_of_no_trace_is_not_found_on_both(both):
    from goldenloop.metrics import traces

    for spans in both[:2]:
        with pytest.raises(traces.NotFound):
            traces.trace_tree_in(spans, "no-such-trace")


@pytest.mark.parametrize("name", list(FILTERS))
def test_version_first_seen_same_on_both(both, name):
    """Each version's first and last request and count (the time range aside), on both, and
    equal to the rows the file gave."""
    from goldenloop.metrics import sql as msql

    duck, ch, rows = both
    f = FILTERS[name]
    a, b = msql.version_first_seen_in(duck, f), msql.version_first_seen_in(ch, f)
    assert a["model_version"].tolist() == b["model_version"].tolist()
    for col in ("first_seen", "last_seen", "data_start"):
        got = pd.to_datetime(b[col]).dt.tz_localize(None) if len(b) else b[col]
        assert [pd.Timestamp(x) for x in a[col]] == [pd.Timestamp(x) for x in got], col
    assert a["requests"].tolist() == b["requests"].tolist()
    internal = f.include_internal
    want = {}
    for r in rows:
        if r["kind"] == "llm" and r["model_version"] and (internal or r["source"] != "judge") \
                and (not f.apps or r["app"] in f.apps) and (not f.tags or set(r["tags"]) & set(f.tags)) \
                and (not f.model_versions or r["model_version"] in f.model_versions) \
                and (not f.environments or r["environment"] in f.environments):
            want[r["model_version"]] = want.get(r["model_version"], 0) + 1
    assert dict(zip(a["model_version"], a["requests"], strict=True)) == want


@pytest.mark.parametrize("split", [None, "model_version", "app"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_request_totals_same_on_both(both, name, split):
    """The Monitor's headline row: counts exact, percentiles and sums to rounding."""
    from goldenloop.metrics import sql as msql

    duck, ch, _ = both
    a = msql.request_totals_in(duck, FILTERS[name], split).iloc[0]
    b = msql.request_totals_in(ch, FILTERS[name], split).iloc[0]
    for col in ("requests", "errors", "timeouts", "empty", "priced", "groups"):
        assert int(a[col]) == int(b[col]), col
    for col in ("latency_p50", "latency_p95", "output_tokens", "cost_usd"):
        if pd.isna(a[col]):
            assert pd.isna(b[col]), col
        else:
            assert float(b[col]) == pytest.approx(float(a[col]), rel=1e-12), col
    for col in ("first_start", "last_start"):
        if pd.isna(a[col]):
            assert pd.isna(b[col]), col
        else:
            assert pd.Timestamp(a[col]) == pd.Timestamp(b[col]).tz_localize(None), col
    if name != "empty":
        assert int(a["requests"]) > 100
