"""The workflow readers on both span stores: Conversations, sampling frames, judge targets,
golden builds, anomaly series and live ground truth give the same answers whether the spans,
signals and feedback are in the DuckDB file or in ClickHouse (chdb).

One demo history (sessions, feedback, stand-in signals, grades, a review queue) is made in
DuckDB and copied into chdb with ``migrate-spans`` (keys kept, so grades still point at their
spans). The ClickHouse side's workflow file is a copy of the demo with its spans, signals and
feedback deleted: a reader that read spans from the DuckDB file there would find none."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import pytest
from metrics_support import fill_stand_in_signals
from review_support import DEMO_END
from spanstore_support import chdb_url

from goldenloop.metrics.filters import SpanFilter
from goldenloop.schema import open_store
from goldenloop.spanstore import SpanStore, open_span_store
from goldenloop.spanstore.migrate import migrate_spans
from goldenloop.store import Store

pytestmark = pytest.mark.slow  # one demo and one copy into chdb for the module


@dataclass
class Side:
    spans: SpanStore  # where spans, signals and feedback are read
    store: Store  # the workflow file: grades, queues, golden sets


@pytest.fixture(scope="module")
def both(tmp_path_factory, demo_files):
    """(DuckDB side, ClickHouse side): the same demo in each."""
    folder = tmp_path_factory.mktemp("contract-workflow")
    template = demo_files.template(spans=5000, end=DEMO_END, then=(fill_stand_in_signals,))
    shutil.copy(template, folder / "duck.duckdb")
    shutil.copy(template, folder / "workflow.duckdb")
    duck_store = open_store(folder / "duck.duckdb")
    workflow = open_store(folder / "workflow.duckdb")
    ch = open_span_store(chdb_url(tmp_path_factory), workflow)
    migrate_spans(workflow, ch)
    workflow.write(lambda cur: cur.execute("DELETE FROM signals; DELETE FROM feedback; "
                                           "DELETE FROM spans"))
    assert workflow.scalar("SELECT count(*) FROM spans") == 0
    assert ch.count("spans") == duck_store.scalar("SELECT count(*) FROM spans") > 4000
    yield Side(open_span_store("duckdb", duck_store), duck_store), Side(ch, workflow)
    duck_store.close()
    workflow.close()


WEEK = SpanFilter(start=DEMO_END - timedelta(days=7), end=DEMO_END)
FILTERS = {
    "month": SpanFilter(start=DEMO_END - timedelta(days=31), end=DEMO_END),
    "week_one_app": SpanFilter(start=DEMO_END - timedelta(days=7), end=DEMO_END,
                               apps=("support-bot",)),
    "empty": SpanFilter(start=DEMO_END - timedelta(days=400), end=DEMO_END - timedelta(days=399)),
}


def _frame(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sorted, plain types: the two stores hand back ints and floats of other widths."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = pd.to_datetime(out[c]).dt.tz_localize(None).astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(bool)
        elif pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype("float64")
        else:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.sort_values(keys).reset_index(drop=True)


# -- Conversations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("idle", [5, 30])
@pytest.mark.parametrize("name", list(FILTERS))
def test_conversation_stats_same_on_both(both, name, idle):
    from goldenloop.metrics import conversations as C

    duck, ch = both
    a = C.conversation_stats_in(duck.spans, FILTERS[name], idle)
    b = C.conversation_stats_in(ch.spans, FILTERS[name], idle)
    if name == "empty":
        assert a.empty and b.empty
        return
    assert a.total_sessions > 50 and a.total_turns > a.total_sessions
    keys = ["model_version", "turns", "outcome", "feedback"]
    pd.testing.assert_frame_equal(_frame(a.sessions, keys), _frame(b.sessions, keys))
    assert a.depth["scored"].sum() > 0
    pd.testing.assert_frame_equal(_frame(a.depth, ["depth"]), _frame(b.depth, ["depth"]),
                                  check_exact=False, rtol=1e-9)
    for reader in ("dropoff", "turn_summary", "by_depth"):
        x, y = getattr(a, reader)(), getattr(b, reader)()
        pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-9, check_dtype=False)


@pytest.mark.parametrize("reason", ["any", "unanswered", "errored", "negative_feedback"])
def test_dropped_sessions_same_on_both(both, reason):
    from goldenloop.metrics import conversations as C

    duck, ch = both
    f = FILTERS["month"]
    a = C.dropped_sessions_in(duck.spans, f, 30, reason, None, 1000)
    b = C.dropped_sessions_in(ch.spans, f, 30, reason, None, 1000)
    assert len(a) > 0
    keys = ["trace_id", "span_id"]
    pd.testing.assert_frame_equal(_frame(a, keys), _frame(b, keys))
    version = a["model_version"].iloc[0]
    a1 = C.dropped_sessions_in(duck.spans, f, 30, reason, version, 5)
    b1 = C.dropped_sessions_in(ch.spans, f, 30, reason, version, 5)
    assert set(a1["model_version"]) == {version}
    assert a1["span_id"].tolist() == b1["span_id"].tolist()


def test_conversation_counts_match_an_independent_reading(both):
    """Sessions over the month from the raw spans in pandas (a turn is a trace with an LLM
    call; sessions split by a 30-minute gap), against both stores."""
    from goldenloop.metrics import conversations as C

    duck = both[0]
    f = FILTERS["month"]
    raw = duck.store.df("SELECT trace_id, session_id, user_id, start_time, end_time, latency_ms "
                        "FROM spans WHERE kind = 'llm' AND start_time >= ? AND start_time < ? "
                        "AND coalesce(source, '') NOT IN ('judge', 'experiment', 'canary')",
                        [f.start, f.end])
    raw["conv"] = ("s:" + raw["session_id"]).fillna("u:" + raw["user_id"]).fillna("t:" + raw["trace_id"])
    raw["end"] = raw["end_time"].fillna(raw["start_time"] + pd.to_timedelta(raw["latency_ms"].fillna(0),
                                                                          unit="ms"))
    turns = raw.groupby("trace_id").agg(conv=("conv", "min"), t0=("start_time", "min"),
                                        t1=("end", "max")).sort_values(["conv", "t0"])
    gap = turns["t0"] - turns.groupby("conv")["t1"].shift()
    want = int((gap.isna() | (gap > pd.Timedelta(minutes=30))).sum())
    for side in both:
        got = C.conversation_stats_in(side.spans, f, 30)
        assert got.total_sessions == want
        assert got.total_turns == len(turns)


# -- Sampling frames ----------------------------------------------------------------------------
def _designs():
    from goldenloop.sampling import RiskRaised, Stratified, Uniform

    return {"uniform": Uniform(40), "stratified": Stratified(60, by=("app", "environment")),
            "risk": RiskRaised(80, boost=8)}


@pytest.mark.parametrize("unit", ["span", "session"])
def test_frame_units_same_on_both(both, unit):
    """The units of a frame with their strata and every risk signal (feedback, signals and
    failures from the span store, judge signals from the workflow file)."""
    from goldenloop.sampling import make_frame, sql
    from goldenloop.sampling.sql_clickhouse import frame_span_part
    from goldenloop.store.span_filter import where as span_where

    duck, ch = both
    frame = make_frame(start=DEMO_END - timedelta(days=10), end=DEMO_END)
    where, params = span_where(frame, "s")
    strata = ("app", "model_version")
    a = sql.frame_units(duck.store.cursor(), unit, where, params, strata).to_pandas()
    b = sql.frame_units(ch.store.cursor(), unit, where, params, strata, None,
                        frame_span_part(ch.spans, frame)).to_pandas()
    assert len(a) > 100
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(_frame(a, ["target_id"]), _frame(b, ["target_id"]))
    for flag in ("negative_feedback", "offensive", "error", "judge_low"):
        assert a[flag].any(), flag  # every kind of signal is exercised


@pytest.mark.parametrize("design", ["uniform", "stratified", "risk"])
def test_queue_drawn_the_same_on_both(both, design):
    """A seeded queue from the same frame and design: the same population, probabilities and
    items, written to each side's workflow file."""
    from review_support import opts

    from goldenloop.sampling import create_queue, make_frame, preview_queue

    duck, ch = both
    frame = make_frame(start=DEMO_END - timedelta(days=10), end=DEMO_END)
    d = _designs()[design]
    pa_, pb = (preview_queue(s.store, frame, d, spans=s.spans) for s in both)
    assert pa_.population_size == pb.population_size > 100
    pd.testing.assert_frame_equal(pa_.strata, pb.strata)
    qa, qb = (create_queue(s.store, opts(f"contract {design}"), frame, d, seed=9, spans=s.spans)
              for s in both)
    assert (qa.population_size, qa.items) == (qb.population_size, qb.items)
    sel = ("SELECT target_id, span_key, inclusion_prob, stratum, risk_score, position "
           "FROM queue_items WHERE queue_id = ? ORDER BY target_id")
    a = duck.store.df(sel, [qa.queue_id])
    b = ch.store.df(sel, [qb.queue_id])
    assert len(a) > 10
    pd.testing.assert_frame_equal(a, b)


def test_hand_queue_checks_keys_in_the_span_store(both):
    from review_support import opts

    from goldenloop.sampling import SamplingError, create_hand_queue

    keys = [int(k) for k in both[0].store.df("SELECT span_key FROM spans ORDER BY span_key "
                                             "LIMIT 3")["span_key"]]
    for side in both:
        q = create_hand_queue(side.store, opts("contract hand"), span_keys=keys, spans=side.spans)
        assert q.items == 3
        with pytest.raises(SamplingError, match="no spans with keys"):
            create_hand_queue(side.store, opts("contract hand 2"), span_keys=[*keys, -5],
                              spans=side.spans)


# -- Judge targets -------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", [None, 50])
def test_judge_filter_targets_same_on_both(both, sample):
    """The spans a judge run over a filter (or a seeded sample of it) grades, with the texts
    its prompt reads: the same keys, inclusion probabilities and texts on both."""
    from goldenloop.judge import targets
    from goldenloop.sampling import make_frame

    frame = make_frame(start=DEMO_END - timedelta(days=5), end=DEMO_END)
    a, b = (targets.from_filter(s.store, frame, sample=sample, seed=4, spans=s.spans) for s in both)
    assert a.population == b.population > 100
    assert [t.span_key for t in a.targets] == [t.span_key for t in b.targets]
    assert [t.inclusion_prob for t in a.targets] == [t.inclusion_prob for t in b.targets]
    assert [t.variables for t in a.targets] == [t.variables for t in b.targets]
    assert all(t.variables["output"] for t in a.targets)


def test_judge_texts_with_trace_context_and_references_same_on_both(both):
    """Texts of spans whose trace holds retrieval or tool results before them, and of spans
    with a reviewer's correction (the reference, read from the workflow file)."""
    from goldenloop.judge import targets

    duck = both[0].store
    with_context = duck.df(
        "SELECT DISTINCT t.span_key FROM spans t JOIN spans x ON x.trace_id = t.trace_id "
        "AND x.span_key <> t.span_key AND x.start_time <= t.start_time "
        "AND (x.retrieved_context IS NOT NULL OR x.tool_calls IS NOT NULL) "
        "WHERE t.kind = 'llm' ORDER BY 1 LIMIT 40")["span_key"].tolist()
    corrected = duck.df("SELECT DISTINCT span_key FROM corrections WHERE span_key IS NOT NULL "
                        "ORDER BY 1 LIMIT 40")["span_key"].tolist()
    keys = [int(k) for k in with_context + corrected]
    assert len(with_context) > 5 and len(corrected) > 5
    a, b = (targets.span_inputs(s.store, keys, s.spans) for s in both)
    assert len(a) == len(set(keys))
    assert a == b
    assert sum(r["reference"] is not None for r in a) >= len(corrected)
    assert sum(r["retrieved_context"] is not None for r in a) >= len(with_context)


# -- Live ground truth (experiments) ---------------------------------------------------------------
def test_live_ground_truth_same_on_both(both):
    """Test set items matched to production requests by normalised input (case, punctuation,
    articles and spaces aside): the same matches and scores on both stores. The items'
    inputs are demo questions rewritten so that only the normalisation makes them match."""
    from goldenloop.experiments import live

    duck = both[0].store
    asked = duck.df("SELECT last_user_message AS q, any_value(span_key) AS k, count(*) AS n "
                    "FROM spans WHERE kind = 'llm' AND status = 'ok' AND output IS NOT NULL "
                    "AND last_user_message IS NOT NULL GROUP BY 1 ORDER BY n DESC, q LIMIT 12")
    items = [{"item_key": f"i{n}", "input": ("The " + q.upper() + " !?").replace(" ", "  "),
              "expected": f"expected {n}", "span_key": int(k) if n == 0 else None}
             for n, (q, k) in enumerate(zip(asked["q"], asked["k"], strict=True))]
    items.append({"item_key": "café", "input": "Café ünïcode?", "expected": "x", "span_key": None})
    a, b = (live.matches(s.store, items, spans=s.spans) for s in both)
    assert len(a) >= asked["n"].sum() - 1 - 3  # repeats of one question, its own span left out
    assert int(asked["k"].iloc[0]) not in set(a.loc[a["item_key"] == "i0", "span_key"])
    keys = ["span_key", "item_key"]
    pd.testing.assert_frame_equal(_frame(a, keys), _frame(b, keys))
    x, y = (live.by_model_version(s.store, items, ("exact", "token_f1"), spans=s.spans)
            for s in both)
    pd.testing.assert_frame_equal(_frame(x, ["period", "model_version", "scorer"]),
                                  _frame(y, ["period", "model_version", "scorer"]))


# -- Anomaly detection series ----------------------------------------------------------------------
_SERIES_KEYS = ["b", "app", "dimension", "value"]


@pytest.mark.parametrize("reader", ["request", "tool", "session", "grade", "failures", "versions"])
def test_detection_series_same_on_both(both, reader):
    """Each series detection reads: the same buckets, groups, counts and quantiles (exact on
    both), means and variances to rounding."""
    from goldenloop.anomalies import series_sql as sql

    start, end = DEMO_END - timedelta(days=21), DEMO_END
    read = {
        "request": lambda s: sql.request_buckets(s.store, start, end, spans=s.spans),
        "tool": lambda s: sql.tool_buckets(s.store, start, end, spans=s.spans),
        "session": lambda s: sql.session_buckets(s.store, start, end, end - timedelta(minutes=30),
                                                 spans=s.spans),
        "grade": lambda s: sql.grade_buckets(s.store, start, end, spans=s.spans),
        "failures": lambda s: sql.failure_kinds(s.store, start + timedelta(days=14), end, s.spans),
        "versions": lambda s: sql.version_first_seen(s.store, end, s.spans),
    }[reader]
    a, b = (read(s) for s in both)
    keys = {"failures": ["app", "component", "error_kind", "failure"],
            "versions": ["app", "dimension", "value"]}.get(reader, _SERIES_KEYS)
    assert len(a) > 5
    assert sorted(a.columns) == sorted(b.columns)
    b = b[list(a.columns)]
    if reader == "failures":  # the latest failures' keys: ties in time may come in either order
        for frame in (a, b):
            frame["recent_keys"] = frame["recent_keys"].map(lambda k: tuple(sorted(k)))
    pd.testing.assert_frame_equal(_frame(a, keys), _frame(b, keys), check_exact=False, rtol=1e-9)


def test_detection_finds_the_same_anomalies_on_both(both):
    """A whole detection run over the demo (series, new versions, new failure kinds): the same
    anomalies, with the same kinds, metrics, groups, times and scores."""
    from goldenloop.anomalies import detect

    got = []
    for side in both:
        r = detect(side.store, since=DEMO_END - timedelta(days=21), until=DEMO_END,
                   now=DEMO_END, sensitivity=0.2, spans=side.spans)
        got.append((r, side.store.df(
            "SELECT kind, metric, app, dimension, value, window_start, window_end, baseline, "
            "observed, n, severity, score, description "
            "FROM anomalies ORDER BY ALL")))
    (ra, a), (rb, b) = got
    assert (ra.series, ra.tests, ra.found) == (rb.series, rb.tests, rb.found)
    assert ra.found > 0
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    # the example spans of each (by the metric's rule), but where the rule picks at random
    ex = ("SELECT metric, example_span_keys FROM anomalies WHERE metric NOT IN "
          "('requests', 'turns_per_session') ORDER BY kind, metric, app, dimension, value, "
          "window_start")
    ea, eb = (side.store.df(ex) for side in both)
    assert sum(len(k) for k in ea["example_span_keys"]) > 0
    assert [len(k) for k in ea["example_span_keys"]] == [len(k) for k in eb["example_span_keys"]]
    from goldenloop.anomalies import example_spans

    one = [int(side.store.scalar("SELECT min(anomaly_id) FROM anomalies WHERE metric NOT IN "
                                 "('requests', 'turns_per_session')")) for side in both]
    xa, xb = (example_spans(s.store, i, spans=s.spans) for s, i in zip(both, one, strict=True))
    assert len(xa) == len(xb) > 0
    assert list(xa.columns) == list(xb.columns) and (xb["app"] == xa["app"].iloc[0]).all()


@pytest.mark.parametrize("metric", ["latency_p95", "error_rate", "correctness", "output_sentiment"])
def test_anomaly_examples_by_rule_same_on_both(both, metric):
    """The spans that show a change of a metric (its rule's join, condition and order), on a
    week of one app: the same spans in the same order where the order has no ties (latency,
    time of failure), else as many, each meeting the rule."""
    from goldenloop.anomalies.examples import find_examples

    start = DEMO_END - timedelta(days=7)
    a, b = (find_examples(s.store, metric, "support-bot", None, None, "spike", "up", start,
                          DEMO_END, spans=s.spans) for s in both)
    assert len(a) == len(b) > 0
    if metric in ("latency_p95", "error_rate"):
        assert a == b
    else:
        assert len(set(b)) == len(b)
    # the chart of each series anomaly: the same window, observed values and baseline band
    from goldenloop.anomalies import window_series

    ids = "SELECT anomaly_id FROM anomalies WHERE kind IN ('spike', 'dip', 'shift') ORDER BY ALL"
    pairs = zip(*(side.store.df(ids)["anomaly_id"].tolist() for side in both), strict=True)
    for ia, ib in list(pairs)[:3]:
        wa = window_series(both[0].store, int(ia), spans=both[0].spans)
        wb = window_series(both[1].store, int(ib), spans=both[1].spans)
        assert len(wa) >= 3
        pd.testing.assert_frame_equal(wa, wb, check_exact=False, rtol=1e-9)


# -- Golden builds -------------------------------------------------------------------------------
SOURCE = "human_judge"


@pytest.mark.parametrize("rule", ["correct_at", "any_judge_span_filter"])
def test_golden_build_same_on_both(both, rule):
    """A golden set built from the demo's grades, the graded answers and their context read
    from the span store: the same counts, rows, texts and content hash on both."""
    from goldenloop import golden as G

    f = {"correct_at": G.GoldenFilter(correct_at=4),
         "any_judge_span_filter": G.GoldenFilter(correct_at=4, judges="any", source=SOURCE,
                                                 apps=("support-bot",),
                                                 start=DEMO_END - timedelta(days=20))}[rule]
    pa_, pb = (G.preview(s.store, f, limit=1000, spans=s.spans) for s in both)
    assert pa_.counts == pb.counts
    assert len(pa_.rows) > 10
    keys = ["row_key"] if "row_key" in pa_.rows.columns else list(pa_.rows.columns[:2])
    pd.testing.assert_frame_equal(_frame(pa_.rows, keys), _frame(pb.rows, keys))
    ba, bb = (G.build(s.store, f"contract-{rule.replace('_', '-')}", f, "lead", spans=s.spans)
              for s in both)
    assert ba.version.rows == bb.version.rows > 10
    ra, rb = (G.rows(s.store, b.version) for s, b in zip(both, (ba, bb), strict=True))
    pd.testing.assert_frame_equal(ra, rb)
    assert ba.version.content_hash == bb.version.content_hash
    assert ra["output"].notna().all() and ra["input"].notna().any()


def test_server_jobs_read_the_span_store(both):
    """The server's golden, judge and detect jobs are bound to its span store: on the
    ClickHouse side (whose database file holds no spans) they find what DuckDB's find."""
    from goldenloop.golden import GoldenFilter
    from goldenloop.workers.handlers import handlers_for

    params = {"name": "contract-job", "filter": GoldenFilter(correct_at=4).to_dict(),
              "author": "lead", "build_only": True}
    got = [handlers_for(s.spans)["golden"](s.store, params, lambda *_: None) for s in both]
    rows = [s.store.scalar("SELECT row_count FROM golden_versions v JOIN golden_datasets d "
                           "USING (dataset_id) WHERE d.name = 'contract-job'") for s in both]
    assert got[0]["summary"] == got[1]["summary"]
    assert rows[0] == rows[1] > 10
    found = [handlers_for(s.spans)["detect"](
        s.store, {"since": (DEMO_END - timedelta(days=21)).isoformat(),
                  "until": DEMO_END.isoformat(), "sensitivity": 0.2}, lambda *_: None)["found"]
        for s in both]
    assert found[0] == found[1] > 0


def test_version_comparison_queue_same_on_both(both):
    """Pairs of answers to the same input by two versions: the same candidates, the same
    seeded draw and the same comparisons (inputs and both outputs) on both."""
    from review_support import opts

    from goldenloop.sampling import create_version_comparison, make_frame

    duck = both[0].store
    va, vb = duck.df(
        "WITH k AS (SELECT model_version AS v, app || md5(coalesce(messages::VARCHAR, "
        "last_user_message)) AS k FROM spans WHERE output IS NOT NULL AND model_version IS NOT NULL) "
        "SELECT a.v AS va, b.v AS vb, count(DISTINCT a.k) AS n FROM k a JOIN k b ON a.k = b.k "
        "AND a.v < b.v GROUP BY ALL ORDER BY n DESC LIMIT 1").iloc[0][["va", "vb"]]
    frame = make_frame(start=DEMO_END - timedelta(days=30), end=DEMO_END)
    qa, qb = (create_version_comparison(s.store, opts("contract pairs"), frame, va, vb, 15, seed=3,
                                        spans=s.spans) for s in both)
    assert qa.population_size == qb.population_size > 15
    assert qa.items == qb.items > 0
    sel = ("SELECT c.comparison_id, c.input, c.a_id, c.b_id, c.a_output, c.b_output, i.inclusion_prob "
           "FROM queue_items i JOIN comparisons c ON c.comparison_id = i.target_id "
           "WHERE i.queue_id = ? ORDER BY c.comparison_id")
    pd.testing.assert_frame_equal(duck.df(sel, [qa.queue_id]), both[1].store.df(sel, [qb.queue_id]))


def test_outlier_spans_same_on_both(both):
    """Spans with extreme latency or output tokens for their version (robust z of at least 4)
    outside the detected spikes and dips: the same spans, scores and reasons on both."""
    from goldenloop.anomalies import outlier_spans

    f = SpanFilter(start=DEMO_END - timedelta(days=30), end=DEMO_END)
    a, b = (outlier_spans(s.store, f, 200, spans=s.spans) for s in both)
    assert len(a) > 0
    keys = ["span_key", "measure"]
    pd.testing.assert_frame_equal(_frame(a, keys), _frame(b[list(a.columns)], keys),
                                  check_exact=False, rtol=1e-9)


def test_golden_filter_options_same_on_both(both):
    """The golden page's choices (apps, versions and tags of graded spans) read from the span
    store: the same on both, and not empty."""
    from goldenloop import golden as G

    a, b = (G.options(s.store, s.spans) for s in both)
    assert a == b
    assert a.apps and a.model_versions


@pytest.mark.parametrize("by", ["model_version", "prompt_version"])
def test_release_start_same_on_both(both, by):
    """A version's first production request (what an experiment run must precede), read
    where the spans live: the same time on both, equal to the file's first span of it."""
    from goldenloop.experiments import releases

    duck = both[0].store
    version = duck.scalar(f"SELECT {by} FROM spans WHERE kind = 'llm' AND {by} IS NOT NULL "
                          "GROUP BY 1 ORDER BY min(start_time) DESC LIMIT 1")
    a, b = (releases.preceding_runs(s.store, by, version, spans=s.spans) for s in both)
    want = duck.scalar(f"SELECT min(start_time) FROM spans WHERE kind = 'llm' AND {by} = ? "
                       "AND coalesce(source, '') NOT IN ('judge', 'experiment', 'canary')", [version])
    assert a.released_at == b.released_at == want
    assert len(a.runs) == len(b.runs)
