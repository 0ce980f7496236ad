"""Version comparison against a real store holding known requests, signals, feedback and
grades: both sides' values recomputed in pandas from the same rows (never from the
database's aggregates), flags that need both significance and a practical difference, and
the errors a user can meet."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from metrics_support import END, T0, add_signals, grade_rows, known_frame, load

from goldenloop import metrics as M
from goldenloop.errors import GoldenloopError
from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.feedback import insert_feedback
from goldenloop.store.grades import insert_grades

APP = "support"


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """known_frame's requests in conversations of one to eight turns (a tenth without a
    session: they count alone, by trace), with signals, feedback and grades."""
    rng = np.random.default_rng(21)
    df = known_frame(3000, seed=5)
    df = df.assign(session_id=[f"sess{i // 5}" if i % 10 else None for i in range(len(df))])
    store = open_store(tmp_path_factory.mktemp("compare") / "known.duckdb")
    load(store, df)
    df = df.merge(store.df("SELECT trace_id, span_id, span_key FROM spans"),
                  on=["trace_id", "span_id"])
    df = df[df["kind"] == "llm"].reset_index(drop=True)
    n = len(df)
    sig = pd.DataFrame({
        "span_key": df["span_key"], "user_offensive": rng.random(n),
        "output_offensive": rng.random(n) * 0.7,
        "user_sentiment": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(-1, 1, n)),
        "output_sentiment": rng.uniform(-1, 1, n),
        "output_chars": np.where(df["status"] == "ok", rng.integers(20, 900, n), 0),
        "refusal": rng.random(n) < 0.05,
    }).iloc[rng.permutation(n)[: n - 200]]  # 200 requests not scored yet
    add_signals(store, sig)
    thumbs = rng.choice(n, 500)  # with repeats: a request can get two thumbs
    up = rng.random(500) < 0.7
    store.write(lambda cur: insert_feedback(cur, pa.table({
        "trace_id": df.loc[thumbs, "trace_id"].tolist(), "span_id": df.loc[thumbs, "span_id"].tolist(),
        "kind": ["thumbs"] * 500, "value": up.astype(float),
        "created_at": [datetime(2025, 3, 9)] * 500})))
    human = rng.choice(n, 150, replace=False)
    judge = rng.choice(n, 600, replace=False)
    for picks, source in ((human, "human"), (human[:30], "human"), (judge, "judge")):
        values = rng.integers(1, 6, len(picks))
        author = "h2" if source == "human" and len(picks) == 30 else f"{source}-a"
        table = grade_rows(df, picks, values, source, author_id=[author] * len(picks))
        store.write(lambda cur, t=table: insert_grades(cur, t))
    grades = store.df("SELECT span_key, source, value_number FROM grades")
    yield store, df.merge(sig, on="span_key", how="left"), \
        store.df("SELECT span_key, kind, value FROM feedback"), grades
    store.close()


def expected(df: pd.DataFrame, feedback: pd.DataFrame, grades: pd.DataFrame) -> dict[str, float]:
    """Every metric of one side, computed in pandas from the side's rows."""
    ok = df[df["status"] == "ok"]
    sess = df["session_id"].fillna("t:" + df["trace_id"])
    fb = feedback[feedback["span_key"].isin(df["span_key"])]
    thumbs = fb[fb["kind"] == "thumbs"]
    out = {
        "requests": len(df), "sessions": sess.nunique(),
        "requests_per_session": len(df) / sess.nunique(),
        "latency_p50": np.percentile(df["latency_ms"], 50),
        "latency_p95": np.percentile(df["latency_ms"], 95),
        "ttft_p50": np.nanpercentile(df["ttft_ms"], 50),
        "input_tokens": ok["input_tokens"].mean(), "output_tokens": ok["output_tokens"].mean(),
        "cost_per_1k": 1000 * df["cost_usd"].mean(),  # of the priced requests
        "failure_rate": (df["status"] != "ok").mean(), "error_rate": (df["status"] == "error").mean(),
        "timeout_rate": (df["status"] == "timeout").mean(),
        "empty_rate": (df["status"] == "empty").mean(),
        "output_chars": ok["output_chars"].mean(), "refusal_rate": df["refusal"].dropna().mean(),
        "output_offensive": (df["output_offensive"].dropna() >= 0.5).mean(),
        "user_offensive": (df["user_offensive"].dropna() >= 0.5).mean(),
        "output_sentiment": df["output_sentiment"].mean(),
        "user_sentiment": df["user_sentiment"].mean(),
        "feedback_rate": df["span_key"].isin(fb["span_key"]).mean(),
        "thumbs_down": (thumbs["value"] == 0).mean(),
    }
    for source in ("human", "judge"):  # a request graded twice counts once, with the mean
        g = grades[(grades["source"] == source) & grades["span_key"].isin(df["span_key"])]
        out[f"correctness_{source}"] = g.groupby("span_key")["value_number"].mean().mean()
    return out


@pytest.mark.slow
def test_both_sides_match_pandas(known) -> None:
    store, df, feedback, grades = known
    sides = M.version_sides(APP, "model_version", "v1", "v2", T0, END)
    result = M.compare(store, sides, n_boot=200, judges="any")  # the test's judge is unrated
    table = result.table.set_index("key")
    app = df[df["app"] == APP]
    for col, version in (("a", "v1"), ("b", "v2")):
        want = expected(app[app["model_version"] == version], feedback, grades)
        for key, value in want.items():
            assert table.loc[key, col] == pytest.approx(value, rel=1e-9), (key, col)
        share = (app["model_version"] == version).mean()
        assert table.loc["traffic_share", col] == pytest.approx(share)
    assert set(table.index) == {m.key for m in M.METRICS} | {"requests", "sessions", "traffic_share"}
    np.testing.assert_allclose(table["diff"], table["b"] - table["a"])
    assert result.requests == (int(table.loc["requests", "a"]), int(table.loc["requests", "b"]))


def test_intervals_are_reproducible_and_hold_the_difference(known) -> None:
    store, *_ = known
    sides = M.version_sides(APP, "model_version", "v1", "v2", T0, END)
    one, two = (M.compare(store, sides, n_boot=300, seed=4, judges="any").table
                for _ in range(2))
    pd.testing.assert_frame_equal(one, two)
    rows = one[one["ci_low"].notna()]
    assert len(rows) == len(M.METRICS)
    assert (rows["ci_low"] < rows["ci_high"]).all()
    ratios = rows[~rows["key"].str.startswith(("latency", "ttft"))]  # not quantiles
    assert ((ratios["ci_low"] <= ratios["diff"]) & (ratios["diff"] <= ratios["ci_high"])).all()


def big_versions(store: Store, n: int = 40_000) -> None:
    """Two versions in 8,000 sessions each: v2's input tokens 1.5% higher (significant at
    this size, too small to matter), its output tokens 25% higher (a change that matters)."""
    rng = np.random.default_rng(9)
    v2 = np.arange(n) % 2 == 1
    t0 = pd.Timestamp(T0) + pd.to_timedelta(rng.uniform(0, 86_400, n), unit="s").floor("us")
    table = pa.table({
        "trace_id": [f"b{i}" for i in range(n)], "span_id": ["llm"] * n, "kind": ["llm"] * n,
        "app": ["big"] * n, "session_id": [f"s{i % 16_000}" for i in range(n)],
        "model_version": np.where(v2, "v2", "v1").tolist(),
        "start_time": pa.array(t0.to_pydatetime(), pa.timestamp("us")),
        "latency_ms": rng.lognormal(np.log(900), 0.3, n), "status": ["ok"] * n,
        "input_tokens": np.round(rng.normal(np.where(v2, 1015, 1000), 20)).astype(int),
        "output_tokens": np.round(rng.normal(np.where(v2, 250, 200), 30)).astype(int),
    })
    assert import_table(store, table, source="test", origin="test").imported == n


@pytest.mark.slow
def test_flags_need_a_practical_difference_not_only_significance(store) -> None:
    big_versions(store)
    sides = M.version_sides("big", "model_version", "v1", "v2")
    table = M.compare(store, sides, n_boot=200).table.set_index("key")
    assert table.loc["input_tokens", "significant"] and not table.loc["input_tokens", "flag"]
    assert table.loc["input_tokens", "rel_diff"] == pytest.approx(0.015, abs=0.002)
    assert table.loc["output_tokens", "flag"]
    assert table.loc["output_tokens", "verdict"] == "higher in B"
    assert table["flag"].sum() == 1  # same latency, no failures, no signals: nothing else
    strict = M.compare(store, sides, (("input_tokens", "relative", 0.01),), n_boot=200)
    assert strict.table.set_index("key").loc["input_tokens", "flag"]
    absolute = M.compare(store, sides, (("output_tokens", "absolute", 60),), n_boot=200)
    assert not absolute.table.set_index("key").loc["output_tokens", "flag"]  # 50 < 60 tokens


def test_time_windows(known) -> None:
    store, df, feedback, grades = known
    day = timedelta(days=1)
    sides = M.window_sides(APP, (T0, T0 + day), (T0 + 2 * day, END))
    assert (sides.a_label, sides.b_label) == ("2025-03-03", "2025-03-05")
    table = M.compare(store, sides, n_boot=100).table.set_index("key")
    app = df[df["app"] == APP]
    first = app[app["start_time"] < pd.Timestamp(T0 + day)]
    assert table.loc["requests_per_day", "a"] == len(first)
    assert table.loc["latency_p95", "a"] == pytest.approx(expected(first, feedback, grades)["latency_p95"])


def test_a_side_without_requests_is_empty_not_an_error(known) -> None:
    store, *_ = known
    result = M.compare(store, M.version_sides(APP, "model_version", "v1", "nope"), n_boot=50)
    assert result.empty and result.requests[1] == 0
    assert not result.table["flag"].any()


def test_bad_requests_say_what_is_wrong() -> None:
    with pytest.raises(M.CompareError, match="choose two"):
        M.version_sides(APP, "model_version", "v1", "v1")
    with pytest.raises(M.CompareError, match="cannot compare by"):
        M.version_sides(APP, "app", "a", "b")
    with pytest.raises(M.CompareError, match="no metric 'speed'"):
        M.thresholds_by_key((("speed", "relative", 0.1),))
    with pytest.raises(GoldenloopError, match="relative or absolute"):
        M.Threshold("percent", 0.1)
