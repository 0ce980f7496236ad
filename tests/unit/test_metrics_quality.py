"""Signals, correctness and feedback series against known rows in a real store."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from metrics_support import DAYS, END, T0, add_signals, full_range, grade_rows, known_frame, load

from goldenloop import metrics as M
from goldenloop.metrics.quality import t_975
from goldenloop.schema import open_store
from goldenloop.store.feedback import insert_feedback
from goldenloop.store.grades import insert_grades

stats = pytest.importorskip("scipy.stats", reason="scipy checks the t quantiles")
DAY = timedelta(days=1)


@pytest.fixture
def loaded(tmp_path):
    df = known_frame(1500, seed=11)
    store = open_store(tmp_path / "q.duckdb")
    load(store, df)
    keys = store.df("SELECT trace_id, span_id, span_key FROM spans")
    df = df.merge(keys, on=["trace_id", "span_id"])
    yield store, df[df["kind"] == "llm"].reset_index(drop=True)
    store.close()


def test_signals_shares_and_means(loaded) -> None:
    store, df = loaded
    rng = np.random.default_rng(2)
    scored = df.sample(900, random_state=4)
    sig = pd.DataFrame({
        "span_key": scored["span_key"].to_numpy(),
        "user_offensive": rng.random(900), "output_offensive": rng.random(900) * 0.6,
        "user_sentiment": rng.uniform(-1, 1, 900),
        "output_sentiment": np.where(rng.random(900) < 0.1, np.nan, rng.uniform(-1, 1, 900)),
    })
    add_signals(store, sig)
    got = M.signals(store, full_range(), bucket=DAY)
    joined = sig.assign(day=scored["start_time"].dt.floor("D").to_numpy()).groupby("day")
    wide = got.pivot(index="time", columns="series", values="value")
    np.testing.assert_allclose(wide["user_offensive"], joined["user_offensive"].apply(
        lambda s: (s >= 0.5).mean()))
    np.testing.assert_allclose(wide["output_offensive"], joined["output_offensive"].apply(
        lambda s: (s >= 0.5).mean()))
    np.testing.assert_allclose(wide["output_sentiment"], joined["output_sentiment"].mean())
    n = got[got["series"] == "output_sentiment"].set_index("time")["n"]
    np.testing.assert_array_equal(n, joined["output_sentiment"].count())


def test_no_signals_is_an_empty_frame(loaded) -> None:
    store, _ = loaded
    assert M.signals(store, full_range()).empty


def test_correctness_daily_mean_and_t_interval(loaded) -> None:
    store, df = loaded
    rng = np.random.default_rng(8)
    human = rng.choice(len(df), 60, replace=False)
    judge = rng.choice(len(df), 400, replace=False)
    h_val, j_val = rng.integers(1, 6, 60), rng.integers(1, 6, 400)
    twice = human[:10]  # a second reviewer on ten spans: each span counts once, averaged
    t_val = rng.integers(1, 6, 10)
    store.write(lambda cur: insert_grades(cur, grade_rows(df, human, h_val, "human")))
    store.write(lambda cur: insert_grades(cur, grade_rows(df, judge, j_val, "judge")))
    store.write(lambda cur: insert_grades(cur, grade_rows(df, twice, t_val, "human",
                                                          author_id=["second"] * 10)))
    got = M.correctness(store, full_range())
    per_span = pd.DataFrame({"row": np.r_[human, twice], "v": np.r_[h_val, t_val]}) \
        .groupby("row")["v"].mean()
    day = df.loc[per_span.index, "start_time"].dt.floor("D").to_numpy()
    for d, vals in per_span.groupby(day):
        row = got[(got["series"] == "human") & (got["time"] == d)].iloc[0]
        assert row["n"] == len(vals)
        assert row["value"] == pytest.approx(vals.mean())
        lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=vals.mean(), scale=stats.sem(vals))
        assert row["ci_low"] == pytest.approx(lo, abs=0.01)
        assert row["ci_high"] == pytest.approx(hi, abs=0.01)
    judged = got[got["series"] == "judge"]
    assert judged["n"].sum() == 400
    assert set(got["series"]) == {"human", "judge"}
    assert len(judged) == DAYS


def test_correctness_counts_the_edit_not_the_edited_grade(loaded) -> None:
    store, df = loaded
    store.write(lambda cur: insert_grades(cur, grade_rows(df, np.array([0]), np.array([1]), "human")))
    old = int(store.scalar("SELECT grade_id FROM grades"))
    store.write(lambda cur: insert_grades(cur, grade_rows(
        df, np.array([0]), np.array([5]), "human", supersedes=pa.array([old], pa.int64()),
        created_at=[datetime(2025, 3, 11)])))
    assert store.scalar("SELECT count(*) FROM grades") == 2
    got = M.correctness(store, full_range())
    assert got["value"].tolist() == [5.0] and got["n"].tolist() == [1]
    assert got["ci_low"].isna().all()  # one grade: no interval


def test_inclusion_probabilities_weight_queue_grades(loaded) -> None:
    store, df = loaded
    day0 = df.index[df["start_time"] < pd.Timestamp(T0 + DAY)][:4]
    probs = [0.5, 0.5, 0.1, 0.1]
    store.write(lambda cur: cur.executemany(
        "INSERT INTO queue_items (queue_item_id, queue_id, span_key, inclusion_prob) "
        "VALUES (?, 1, ?, ?)",
        [[i + 1, int(df.loc[r, "span_key"]), p] for i, (r, p) in enumerate(zip(day0, probs, strict=True))]))
    values = np.array([5, 5, 1, 1])
    store.write(lambda cur: insert_grades(cur, grade_rows(
        df, day0, values, "human", queue_item_id=pa.array([1, 2, 3, 4], pa.int64()))))
    w = 1 / np.array(probs)
    hajek = (w * values).sum() / w.sum()  # rarely sampled spans stand for more traffic
    weighted = M.correctness(store, full_range()).iloc[0]
    assert weighted["value"] == pytest.approx(hajek)
    assert weighted["n_eff"] == pytest.approx(w.sum() ** 2 / (w ** 2).sum())
    assert M.correctness(store, full_range(), weights="equal").iloc[0]["value"] == 3.0
    with pytest.raises(M.FilterError):
        M.correctness(store, full_range(), weights="magic")


def test_feedback_rate_and_thumbs_down(loaded) -> None:
    store, df = loaded
    rng = np.random.default_rng(5)
    rows = rng.choice(len(df), 300, replace=False)
    up = rng.random(300) < 0.7
    table = pa.table({"trace_id": df.loc[rows, "trace_id"].tolist(),
                      "span_id": df.loc[rows, "span_id"].tolist(),
                      "kind": ["thumbs"] * 300, "value": up.astype(float),
                      "created_at": [datetime(2025, 3, 9)] * 300})
    store.write(lambda cur: insert_feedback(cur, table))
    got = M.feedback(store, full_range(), bucket=DAY)
    wide = got.pivot(index="time", columns="series", values="value")
    day = df["start_time"].dt.floor("D")
    has = pd.Series(False, index=df.index)
    has[rows] = True
    np.testing.assert_allclose(wide["feedback_rate"], has.groupby(day).mean())
    down = pd.Series(~up, index=rows).groupby(day[rows].to_numpy()).mean()
    np.testing.assert_allclose(wide["thumbs_down"], down)


def test_sparse_feedback_widens_its_buckets(loaded) -> None:
    store, df = loaded
    rows = np.arange(0, len(df), 40)  # about 37 answers over three days
    table = pa.table({"trace_id": df.loc[rows, "trace_id"].tolist(),
                      "span_id": df.loc[rows, "span_id"].tolist(),
                      "kind": ["thumbs"] * len(rows), "value": [1.0] * len(rows)})
    store.write(lambda cur: insert_feedback(cur, table))
    got = M.feedback(store, full_range(), bucket=timedelta(minutes=5))
    times = got["time"].drop_duplicates()
    assert len(times) <= DAYS  # widened to days: at least ~20 answers per bucket where possible
    rate = got[got["series"] == "feedback_rate"]
    assert (rate["n"].sum(), round((rate["value"] * rate["n"]).sum())) == (len(df), len(rows))


def test_no_feedback_or_grades_is_empty(loaded) -> None:
    store, _ = loaded
    assert M.feedback(store, full_range()).empty
    assert M.correctness(store, full_range()).empty
    assert M.graded_criteria(store).empty


def test_t_quantile_matches_scipy() -> None:
    for df in (2, 2.7, 3, 4, 7.3, 12, 30, 99, 1000, 1e6):
        assert t_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=0.002)
    for df in (1, 1.5, 1.9):  # the value for 1: never narrower than the true interval
        assert t_975(df) == pytest.approx(stats.t.ppf(0.975, 1))
        assert t_975(df) >= stats.t.ppf(0.975, df)
    assert np.isnan(t_975(0.5))
    got = t_975(pd.Series([0.0, 5.0], index=[7, 8]))
    assert list(got.index) == [7, 8] and np.isnan(got[7])
    assert END > T0
