"""The Compare page, run in-process with AppTest over a real DuckDB file with known rows:
default sides, the table and chart drawn from the library's result, time windows, the
threshold editor's units, and user-named apps never reaching Markdown."""

from __future__ import annotations

from pathlib import Path

from app_support import app_page
from home_support import HOSTILE_APP
from metrics_support import seed
from streamlit.testing.v1 import AppTest

from goldenloop import metrics as M
from goldenloop.schema import open_store


def compare_page() -> AppTest:
    return app_page("compare", check=False)


def shown_table(at: AppTest):
    frames = [d.value for d in at.dataframe if "B − A" in d.value.columns]
    assert len(frames) == 1, [d.value.columns for d in at.dataframe]
    return frames[0].set_index("Metric")


def test_empty_store_says_what_to_run(app_db: Path) -> None:
    at = compare_page()
    assert not at.exception
    assert "nothing to compare" in at.info[0].value


def test_default_sides_are_the_two_newest_versions(app_db: Path) -> None:
    df = seed(app_db, apps=("support", HOSTILE_APP))
    at = compare_page()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="app").value == "support"  # the busiest app first
    assert (at.sidebar.selectbox(key="a").value, at.sidebar.selectbox(key="b").value) == ("v1", "v2")
    table = shown_table(at)
    with open_store(app_db) as store:
        want = M.compare(store, M.version_sides("support", "model_version", "v1", "v2",
                                                *_days(df))).table.set_index("metric")
    assert table.loc["Requests", "A"] == f"{int(want.loc['Requests', 'a']):,}"
    assert table.loc["Latency p95", "Threshold"] == "±10%"
    assert (table["Flag"] != "").sum() == int(want["flag"].sum())
    assert len(at.get("vega_lite_chart")) == 1
    for md in at.markdown:  # user-named apps only in widgets and tables
        assert "click" not in md.value


def test_time_windows(app_db: Path) -> None:
    seed(app_db)
    at = compare_page()
    at.sidebar.radio(key="what").set_value("time windows").run()
    assert not at.exception, at.exception
    table = shown_table(at)
    assert "Requests per day" in table.index
    assert not at.error


def test_threshold_editor_rows_in_percent_and_points(monkeypatch) -> None:
    from goldenloop_app.compare import charts as cc

    rows = cc.threshold_rows(M.thresholds_by_key()).set_index("key")
    assert (rows.loc["latency_p50", "Threshold"], rows.loc["latency_p50", "Unit"]) == (10, "% of A")
    assert rows.loc["failure_rate", "Unit"] == "percentage points"
    assert rows.loc["output_sentiment", "Threshold"] == 0.1
    rows.loc["latency_p50", "Threshold"] = 25  # a user types 25 (%)
    rows.loc["failure_rate", "Threshold"] = 2.5  # and 2.5 (points)
    got = {k: (kind, v) for k, kind, v in cc.thresholds_from_rows(rows.reset_index())}
    assert got["latency_p50"] == ("relative", 0.25)
    assert got["failure_rate"] == ("absolute", 0.025)
    assert got["output_sentiment"] == ("absolute", 0.1)
    assert M.thresholds_by_key(tuple((k, *v) for k, v in got.items()))["latency_p50"] == \
        M.Threshold("relative", 0.25)


def _days(df):
    from datetime import datetime, time, timedelta
    first, last = df["start_time"].min().date(), df["start_time"].max().date()
    return datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())
