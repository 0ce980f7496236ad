"""Every incident injected into the demo history stands out in the Monitor's series, found
through the metrics library alone (no searching): the bucket holding the incident is far off
the baseline of the same series."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from metrics_support import fill_stand_in_signals

from goldenloop import metrics as M
from goldenloop.demo.incidents import NEW_4O
from goldenloop.schema import open_store

END = datetime(2026, 3, 2, 12)
N = 60_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_files):
    store = open_store(demo_files.copy(tmp_path_factory.mktemp("demo-metrics") / "demo.duckdb",
                                       spans=N, seed=7, end=END, then=(fill_stand_in_signals,)))
    incidents = M.incidents(store, M.SpanFilter())
    yield store, {r.kind: (r.starts_at, r.ends_at if pd.notna(r.ends_at) else END)
                  for r in incidents.itertuples()}
    store.close()


def month(**kw) -> M.SpanFilter:
    return M.SpanFilter(start=END - timedelta(days=30), end=END, **kw)


def peak_vs_baseline(series: pd.DataFrame, window: tuple[datetime, datetime]) -> tuple[float, float]:
    """The highest value in buckets overlapping the window, and the median outside it."""
    start, end = window
    inside = (series["time"] < end) & (series["time"] + timedelta(hours=1) > start)
    return float(series.loc[inside, "value"].max()), float(series.loc[~inside, "value"].median())


@pytest.mark.slow
def test_all_six_incidents_are_recorded(demo) -> None:
    _, windows = demo
    assert set(windows) == {"latency_spike", "error_burst", "token_drift", "timeout_storm",
                            "offensive_rise", "correctness_drop"}


def test_latency_spike_p95(demo) -> None:
    store, w = demo
    stats = M.request_stats(store, month(apps=("support-bot",)), bucket=timedelta(hours=1))
    lat = stats.latency()
    peak, base = peak_vs_baseline(lat[lat["series"] == "p95"], w["latency_spike"])
    assert peak > 3 * base, (peak, base)


def test_error_burst_and_timeout_storm(demo) -> None:
    store, w = demo
    fails = M.request_stats(store, month(), bucket=timedelta(hours=1)).failures()
    peak, base = peak_vs_baseline(fails[fails["series"] == "error"], w["error_burst"])
    assert peak > 0.05 and peak > 10 * max(base, 0.002), (peak, base)
    peak, base = peak_vs_baseline(fails[fails["series"] == "timeout"], w["timeout_storm"])
    assert peak > 0.15 and peak > 10 * max(base, 0.002), (peak, base)


def test_token_drift_of_the_silent_update(demo) -> None:
    store, w = demo
    start = w["token_drift"][0]
    stats = M.request_stats(store, month(), split="model_version", bucket=timedelta(days=1))
    out = stats.tokens()
    out = out[(out["series"] == "output") & out["value"].notna()]
    new = out[out["group"] == NEW_4O]["value"].mean()
    old = out[(out["group"] == "gpt-4o-2024-08-06") & (out["time"] < start)]["value"].mean()
    assert new > 1.3 * old, (new, old)
    marks = M.version_markers(store, month())
    assert marks["model_version"].tolist() == [NEW_4O]  # the one version that appeared
    assert abs(marks["first_seen"].iloc[0] - start) < timedelta(hours=6)


def test_offensive_rise(demo) -> None:
    store, w = demo
    sig = M.signals(store, month(apps=("support-bot",)), bucket=timedelta(hours=6))
    peak, base = peak_vs_baseline(sig[sig["series"] == "user_offensive"], w["offensive_rise"])
    assert peak > 3 * base, (peak, base)


def test_correctness_drop(demo) -> None:
    store, w = demo
    start = w["correctness_drop"][0]
    c = M.correctness(store, month(apps=("support-bot",)))
    judge = c[c["series"] == "judge"]
    before = judge[judge["time"] < start - timedelta(days=1)]
    after = judge[judge["time"] > start]
    assert after["value"].mean() < before["value"].mean() - 0.4
    # Pooled over the days since the change (one bucket wider than the history), the
    # interval says so too.
    since = M.correctness(store, M.SpanFilter(start=start, end=END, apps=("support-bot",)),
                          bucket=timedelta(days=36500))
    pooled = since[since["series"] == "judge"]
    assert len(pooled) == 1 and pooled["ci_high"].iloc[0] < before["value"].mean()
    humans = c[c["series"] == "human"]
    assert humans["n"].sum() > 50 and np.isfinite(humans["ci_low"]).any()


def test_overview_of_the_month_is_hourly_and_carries_the_markers(demo) -> None:
    store, _ = demo
    view = M.overview(store, month(), split="model_version")
    # About 25k requests in 30 days over three lines: 2-hour buckets keep 20 per bucket.
    assert view.bucket == M.choose_bucket(timedelta(days=30), lines=3,
                                          requests=view.totals.requests) == timedelta(hours=2)
    assert view.totals.groups == 3
    assert view.markers["model_version"].tolist() == [NEW_4O]
    assert len(view.incidents) == 6
    assert view.correctness_scale == (1.0, 5.0)
