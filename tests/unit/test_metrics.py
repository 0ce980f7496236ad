"""The metrics library against a real store holding known spans: every number is checked
against numpy or pandas computed from the same rows, never from the database."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from metrics_support import DAYS, END, T0, UPDATE, full_range, known_frame, load

from goldenloop import metrics as M
from goldenloop.metrics import buckets
from goldenloop.schema import open_store

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    df = known_frame()
    store = open_store(tmp_path_factory.mktemp("metrics") / "known.duckdb")
    load(store, df)
    yield store, df[df["kind"] == "llm"].copy()
    store.close()


def hourly(df: pd.DataFrame, by: str | None = None):
    keys = [df["start_time"].dt.floor("h")]
    if by:
        keys.append(df[by].fillna("(not set)"))
    return df.groupby(keys)


def test_latency_percentiles_are_exact(known) -> None:
    store, df = known
    stats = M.request_stats(store, full_range(), split="model_version", bucket=HOUR, ttft=True)
    got = stats.frame.set_index(["time", "group"])
    exp = hourly(df, "model_version")["latency_ms"]
    for q, col in ((50, "latency_p50"), (95, "latency_p95"), (99, "latency_p99")):
        want = exp.apply(lambda s, q=q: np.percentile(s, q))  # linear, as quantile_cont
        np.testing.assert_allclose(got[col].to_numpy(), want.to_numpy(), rtol=1e-9)
    ttft = hourly(df, "model_version")["ttft_ms"].apply(lambda s: np.nanpercentile(s, 95))
    np.testing.assert_allclose(got["ttft_p95"].to_numpy(), ttft.to_numpy(), rtol=1e-9)
    assert got.index.equals(exp.size().index.rename(["time", "group"]))
    plain = M.request_stats(store, full_range(), split="model_version", bucket=HOUR)
    assert "ttft_p50" not in plain.frame  # the main chart query skips the second sort
    with pytest.raises(ValueError, match="ttft=True"):
        plain.ttft()


def test_failure_rates_tokens_and_cost(known) -> None:
    store, df = known
    stats = M.request_stats(store, full_range(), bucket=HOUR)
    g = hourly(df)
    fail = stats.failures().pivot(index="time", columns="series", values="value")
    for status in ("error", "timeout", "empty"):
        want = g["status"].apply(lambda s, st=status: (s == st).mean())
        np.testing.assert_allclose(fail[status].to_numpy(), want.to_numpy())
    np.testing.assert_allclose(fail["all"].to_numpy(), g["status"].apply(lambda s: (s != "ok").mean()))

    tokens = stats.tokens().pivot(index="time", columns="series", values="value")
    answered = df[df["status"] == "ok"].groupby(df["start_time"].dt.floor("h"))
    np.testing.assert_allclose(tokens["output"].to_numpy(), answered["output_tokens"].mean().to_numpy())
    np.testing.assert_allclose(tokens["input"].to_numpy(), answered["input_tokens"].mean().to_numpy())

    cost = stats.cost().pivot(index="time", columns="series", values="value")
    np.testing.assert_allclose(cost["total"].to_numpy(), g["cost_usd"].sum().to_numpy())
    per_1k = 1000 * g["cost_usd"].sum() / g["cost_usd"].count()  # of the requests with a cost
    np.testing.assert_allclose(cost["per_1k_requests"].to_numpy(), per_1k.to_numpy())
    daily = stats.cost_per_day().set_index("time")["value"]
    want_daily = df.groupby(df["start_time"].dt.floor("D"))["cost_usd"].sum()
    np.testing.assert_allclose(daily.to_numpy(), want_daily.to_numpy())
    assert list(daily.index) == [pd.Timestamp(T0 + timedelta(days=d)) for d in range(DAYS)]


def test_only_llm_spans_are_requests(known) -> None:
    store, df = known
    t = M.totals(store, full_range())
    assert t.requests == len(df)  # the 300 tool spans are not requests
    assert t.failures == int((df["status"] != "ok").sum())
    assert t.latency_p95 == pytest.approx(np.percentile(df["latency_ms"], 95))
    assert t.latency_p95 < 99_999


@pytest.mark.parametrize(("kw", "mask"), [
    ({"apps": ("sql",)}, lambda d: d["app"] == "sql"),
    ({"environments": ("staging",)}, lambda d: d["environment"] == "staging"),
    ({"model_versions": ("v1", "mini")}, lambda d: d["model_version"].isin(["v1", "mini"])),
    ({"prompt_versions": ("p2",)}, lambda d: d["prompt_version"] == "p2"),
    ({"tags": ("refund",)}, lambda d: d["tags"].map(lambda t: t is not None and "refund" in t)),
    ({"apps": ("support",), "tags": ("refund", "shipping")},
     lambda d: (d["app"] == "support") & d["tags"].notna()),
])
def test_filters_select_what_pandas_selects(known, kw, mask) -> None:
    store, df = known
    sel = df[mask(df)]
    t = M.totals(store, full_range(**kw))
    assert t.requests == len(sel) > 0
    assert t.latency_p50 == pytest.approx(np.percentile(sel["latency_ms"], 50))
    vol = M.request_stats(store, full_range(**kw), bucket=HOUR).volume()
    assert vol["value"].sum() == len(sel)


def test_time_range_is_start_inclusive_end_exclusive(known) -> None:
    store, df = known
    a, b = df["start_time"].iloc[100], df["start_time"].iloc[900]
    t = M.totals(store, M.SpanFilter(start=a.to_pydatetime(), end=b.to_pydatetime()))
    assert t.requests == int(((df["start_time"] >= a) & (df["start_time"] < b)).sum()) == 800


def test_user_values_are_parameters_not_sql(known) -> None:
    store, _ = known
    hostile = "support' OR 1=1 --"
    assert M.totals(store, full_range(apps=(hostile,))).requests == 0
    assert M.totals(store, full_range(tags=("x'); DROP TABLE spans; --",))).requests == 0
    assert store.scalar("SELECT count(*) FROM spans") > 0


def test_split_by_prompt_version_and_unset_values(tmp_path) -> None:
    df = known_frame(600)
    df.loc[df.index[:50], "prompt_version"] = None
    with open_store(tmp_path / "s.duckdb") as store:
        load(store, df)
        stats = M.request_stats(store, full_range(), split="prompt_version", bucket=timedelta(days=1))
        llm = df[df["kind"] == "llm"]
        got = stats.frame.groupby("group")["requests"].sum().to_dict()
        assert got == llm["prompt_version"].fillna("(not set)").value_counts().to_dict()
        with pytest.raises(M.FilterError, match="cannot split by"):
            M.request_stats(store, full_range(), split="user_id")


def test_every_bucket_is_present_and_gaps_break_lines(tmp_path) -> None:
    df = known_frame(400)
    df = df[(df["start_time"] < pd.Timestamp(T0 + timedelta(hours=5)))
            | (df["start_time"] >= pd.Timestamp(T0 + timedelta(hours=8)))]
    with open_store(tmp_path / "g.duckdb") as store:
        load(store, df)
        stats = M.request_stats(store, full_range(), bucket=HOUR)
    vol = stats.volume().set_index("time")["value"]
    assert len(vol) == DAYS * 24  # every hour of the range, busy or not
    gap = [pd.Timestamp(T0 + timedelta(hours=h)) for h in (5, 6, 7)]
    assert (vol[gap] == 0).all()
    lat = stats.latency()
    assert lat[lat["time"].isin(gap)]["value"].isna().all()  # a line breaks, not bridges


def test_bucket_width_keeps_every_chart_under_5000_points() -> None:
    for days in (0.02, 1, 2, 7, 14, 30, 45, 90, 180, 365, 730, 3650, 20000):
        for lines in (1, 3, 5, 12, 40, 400):
            width = M.choose_bucket(timedelta(days=days), lines=lines)
            assert buckets.points(timedelta(days=days), width, lines) <= M.MAX_POINTS, (days, lines)
            assert width >= buckets.LADDER[0]
    # The finest width that fits: 30 days hourly unsplit, 15 minutes for a week.
    assert M.choose_bucket(timedelta(days=30), lines=3) == HOUR
    assert M.choose_bucket(timedelta(days=7), lines=3) == timedelta(minutes=15)
    assert M.choose_bucket(timedelta(days=1), lines=3) == timedelta(minutes=5)
    # More lines, sparse traffic or fewer pixels widen the buckets.
    assert M.choose_bucket(timedelta(days=30), lines=12) == timedelta(hours=2)
    assert M.choose_bucket(timedelta(days=30), lines=20) == timedelta(hours=3)
    assert M.choose_bucket(timedelta(days=30), lines=3, max_buckets=400) == timedelta(hours=2)
    assert M.choose_bucket(timedelta(days=30), lines=3, requests=2000) == timedelta(days=1)


def test_overview_of_a_long_sparse_range_stays_within_budget(tmp_path) -> None:
    rng = np.random.default_rng(5)
    df = known_frame(3000).assign(
        start_time=pd.Timestamp("2020-01-01") + pd.to_timedelta(
            np.sort(rng.uniform(0, 5 * 365, 3300)), unit="D"))
    with open_store(tmp_path / "long.duckdb") as store:
        load(store, df)
        f = M.SpanFilter(start=datetime(2020, 1, 1), end=datetime(2025, 1, 1))
        view = M.overview(store, f, split="model_version")
    for frame in (view.requests.latency(), view.requests.failures(), view.requests.volume()):
        per_series = frame.groupby("series").size()
        assert (per_series <= M.MAX_POINTS).all()
    assert view.bucket >= timedelta(days=1)
    assert view.correctness_bucket == max(view.bucket, timedelta(days=1))


def test_version_markers(known) -> None:
    store, df = known
    marks = M.version_markers(store, full_range())
    first_v2 = df.loc[df["model_version"] == "v2", "start_time"].min()
    assert marks["model_version"].tolist() == ["v2"]  # v1 and mini were there from the start
    assert marks["first_seen"].iloc[0] == first_v2
    assert first_v2 - pd.Timestamp(UPDATE) < timedelta(minutes=30)
    before = M.SpanFilter(start=T0, end=UPDATE)
    assert M.version_markers(store, before).empty  # outside the range: no marker
    after = M.SpanFilter(start=UPDATE + timedelta(hours=2), end=END)
    assert M.version_markers(store, after).empty  # first seen before this range began
    assert M.version_markers(store, full_range(model_versions=("v1",))).empty


def test_filter_round_trips_and_rejects_nonsense() -> None:
    f = M.SpanFilter(start=T0, end=END, apps=["b", "a", "a"], tags="refund")
    assert f.apps == ("a", "b") and f.tags == ("refund",)
    assert M.SpanFilter.from_dict(f.to_dict()) == f
    assert hash(f) == hash(M.SpanFilter.from_dict(f.to_dict()))
    assert M.SpanFilter().to_dict() == {}
    with pytest.raises(M.FilterError, match=r"ends .* before it starts"):
        M.SpanFilter(start=END, end=T0)
    with pytest.raises(M.FilterError, match="unknown filter fields: user"):
        M.SpanFilter.from_dict({"user": ["x"]})


def test_buckets_line_up_with_days_and_the_grid(tmp_path) -> None:
    # Imports accept 2000-2100 (ingest.limits): the year boundary tested is 2000/2001.
    times = pd.to_datetime(["2000-12-31 23:30", "2001-01-01 00:30", "2025-03-05 17:59:59.999999",
                            "2025-03-06 00:00"], format="ISO8601")
    df = known_frame(400).iloc[:4].assign(start_time=times)
    with open_store(tmp_path / "b.duckdb") as store:
        load(store, df)
        f = M.SpanFilter(start=datetime(2000, 12, 31), end=datetime(2025, 3, 7))
        for width in (HOUR, timedelta(hours=3), timedelta(days=1), timedelta(days=3)):
            got = M.request_stats(store, f, bucket=width).frame["time"]
            assert list(got) == sorted(set(buckets.floor(pd.Series(times), width))), width
    hourly = buckets.floor(pd.Series(times), HOUR)
    assert list(hourly.dt.strftime("%Y-%m-%d %H:%M")) == [
        "2000-12-31 23:00", "2001-01-01 00:00", "2025-03-05 17:00", "2025-03-06 00:00"]
    assert (buckets.floor(pd.Series(times), timedelta(days=7)).dt.day_of_week == 0).all()
