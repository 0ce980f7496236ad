"""The Monitor page, run in-process with AppTest over real DuckDB files with known rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import altair as alt
import pyarrow as pa
import pytest
from app_support import app_page
from home_support import HOSTILE_APP
from metrics_support import seed
from streamlit.testing.v1 import AppTest

from goldenloop import metrics as M
from goldenloop.schema import open_store
from goldenloop.store.incidents import insert_incidents

ALL_CHARTS = 14
FIRST_TAB = 4  # requests, failures, latency, time to first token: the rest wait for a click


def monitor() -> AppTest:
    # The seeded judge never grades a span a reviewer graded (not yet checked): count it anyway.
    return app_page("monitor", params={"judges": "any version"})


def charts(at: AppTest) -> list[dict]:
    """Each chart's Vega-Lite spec, with its datasets as frames (named as the chart names
    them) and the selections that cover it. Two charts of a row are one view (an hconcat
    whose datasets and views carry the chart's name as a prefix), and the rows of a tab one
    view too (a vconcat of them): split apart here."""
    out = []
    for element in at.get("vega_lite_chart"):
        row = json.loads(element.proto.spec)
        frames = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas()
                  for d in element.proto.datasets}
        for view in [v for r in row.get("vconcat", [row]) for v in r.get("hconcat", [r])]:
            chart = next(n for n in data_names(view) if n.endswith("_main"))[:-len("_main")]
            spec = dict(view)
            spec["chart"] = chart
            spec["datasets"] = {n[len(chart) + 1:]: frames[n] for n in data_names(view)}
            spec["params"] = [p for p in row.get("params", [])
                              if any(v.startswith(f"{chart}_") for v in p.get("views", []))]
            out.append(spec)
    return out


def each_tab(at: AppTest) -> Iterator[AppTest]:
    """The page with each of its chart tabs open in turn (only the open tab runs and draws),
    as a user clicking through them."""
    for label in [t.label for t in at.tabs]:
        at.session_state["section"] = label
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        yield at


def every_chart(at: AppTest) -> list[dict]:
    return [c for opened in each_tab(at) for c in charts(opened)]


def data_names(node) -> set[str]:
    if isinstance(node, list):
        return set().union(*(data_names(v) for v in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    own = {node["data"]["name"]} if isinstance(node.get("data"), dict) else set()
    return own.union(*(data_names(v) for v in node.values()))


def mark_types(spec: dict) -> list[str]:
    if "layer" in spec:
        return [m for layer in spec["layer"] for m in mark_types(layer)]
    mark = spec.get("mark")
    return [mark["type"] if isinstance(mark, dict) else mark]


def selections(spec: dict) -> list[str]:
    """Names of the selection parameters anywhere in a spec (Altair may hoist them)."""
    found = [p["name"] for p in spec.get("params", []) if "select" in p]
    return found + [n for layer in spec.get("layer", []) for n in selections(layer)]


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_store_says_what_to_run(app_db: Path) -> None:
    at = monitor()
    assert at.title[0].value == "Monitor"
    assert "No LLM requests yet" in at.info[0].value
    assert [c.value for c in at.code] == ["goldenloop demo", "goldenloop import FILE"]
    assert not at.get("vega_lite_chart") and not at.metric


def test_every_chart_drawn_with_the_version_marker(app_db: Path) -> None:
    df = seed(app_db)
    at = monitor()
    assert len(charts(at)) == FIRST_TAB
    assert [t.label for t in at.tabs] == ["Traffic and latency", "Tokens and cost", "Signals",
                                          "Correctness", "Feedback"]  # no canary suites
    assert not at.info  # no empty states
    shown = every_chart(at)
    assert len(shown) == ALL_CHARTS
    first_v2 = df.loc[df["model_version"] == "v2", "start_time"].min()
    for spec in shown:
        markers = spec["datasets"]["markers"]  # on every time chart, as a labelled rule
        assert markers["model_version"].tolist() == ["v2"]
        assert markers["first_seen"].iloc[0] == first_v2
        marks = mark_types(spec)
        assert marks.count("rule") >= 1 and "text" in marks
        assert sum(len(d) for d in spec["datasets"].values()) <= M.MAX_POINTS
        assert selections(spec) == ["pick"]  # a click on a point opens the spans behind it
        # ... and names its chart: a column of the chart's data and a field of the pick
        assert set(spec["datasets"]["main"]["chart"]) == {spec["chart"]}
        assert spec["params"][0]["select"]["fields"][0] == "chart"
    assert tiles(at)["Requests"] == f"{len(df):,}"
    assert tiles(at)["Failure rate"] == f"{(df['status'] != 'ok').mean():.2%}"
    titles = [s["title"]["text"] for s in shown]  # 2,000 requests in 30 days: daily buckets
    assert titles[:3] == ["Requests per 1 day", "Failure rate by kind", "Latency p50 / p95 / p99"]


def test_split_by_model_version_and_pick_a_percentile(app_db: Path) -> None:
    seed(app_db)
    at = monitor()
    at.sidebar.radio[0].set_value("model version").run()
    latency = next(s for s in charts(at) if s["title"]["text"].startswith("Latency"))
    assert latency["title"]["text"] == "Latency p95"
    main = latency["datasets"]["main"]
    assert set(main["series"]) == {"p95"} and set(main["group"]) == {"mini", "v1", "v2"}
    pct = next(b for b in at.get("button_group") if b.key == "latency_pct")
    pct.set_value("p99").run()
    latency = next(s for s in charts(at) if s["title"]["text"].startswith("Latency"))
    assert set(latency["datasets"]["main"]["series"]) == {"p99"}
    assert len(every_chart(at)) == ALL_CHARTS


def test_filters_narrow_every_number(app_db: Path) -> None:
    df = seed(app_db)
    at = monitor()
    at.sidebar.multiselect(key="app").set_value(["sql"]).run()
    assert tiles(at)["Requests"] == f"{(df['app'] == 'sql').sum():,}"
    requests = charts(at)[0]["datasets"]["main"]
    assert requests["value"].sum() == (df["app"] == "sql").sum()
    # v2 answers only after day 1.5, prompt p1 only on day 0: nothing matches both.
    at.sidebar.multiselect(key="model").set_value(["v2"])
    at.sidebar.multiselect(key="prompt").set_value(["p1"]).run()
    assert "No requests match these filters" in at.info[0].value
    assert not at.get("vega_lite_chart")


def test_missing_signals_grades_and_feedback_say_so(app_db: Path) -> None:
    seed(app_db, quality=False)
    infos, shown = [], 0
    for at in each_tab(monitor()):
        infos += [i.value for i in at.info]
        shown += len(charts(at))
    infos = " ".join(infos)
    assert "No automatic signals" in infos
    assert "No human grades or judge scores" in infos
    assert "No end-user feedback" in infos
    assert shown == ALL_CHARTS - 6


def test_overview_is_computed_once_and_cached(app_db: Path, monkeypatch) -> None:
    seed(app_db)
    calls = []
    real = M.overview_in  # what the page calls, over the span store (DuckDB here)
    monkeypatch.setattr(M, "overview_in", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    at = monitor()
    at.run()
    assert len(calls) == 1
    at.sidebar.radio[0].set_value("prompt version").run()
    assert len(calls) == 2
    every_chart(at)  # opening the other tabs reads the same overview
    assert len(calls) == 2


def test_user_names_never_reach_markdown(app_db: Path) -> None:
    seed(app_db, apps=(HOSTILE_APP, "sql"))
    at = monitor()
    assert HOSTILE_APP in at.sidebar.multiselect(key="app").options
    rendered = [e.value for opened in each_tab(at)
                for kind in ("markdown", "caption", "title", "subheader", "info")
                for e in opened.get(kind)]
    assert not any("example.invalid" in str(v) for v in rendered)


@pytest.mark.parametrize("split", [None, "model_version"])
def test_every_chart_is_valid_vega_lite(tmp_path: Path, monkeypatch, split) -> None:
    from goldenloop_app.monitor import charts as monitor_charts

    db = tmp_path / "v.duckdb"
    seed(db)
    with open_store(db) as store:
        f = M.SpanFilter(start=datetime(2025, 3, 3), end=datetime(2025, 3, 6))
        view = M.overview(store, f, split)
    from goldenloop_app.common import charts as c

    built = {}
    for name in monitor_charts.CHARTS:
        chart = monitor_charts.build(view, name, None)
        built[name] = chart.vega_spec(validate=True)  # raises on any schema error
        assert chart.points <= M.MAX_POINTS
    names = list(built)
    rows = [[(n, built[n]) for n in row] for row in zip(names[::2], names[1::2], strict=True)]
    for row in rows:  # the page draws charts in pairs
        spec = c.side_by_side(row)
        spec["datasets"] = {k: json.loads(d.to_json(orient="records", date_format="iso"))
                            for k, d in spec["datasets"].items()}
        alt.HConcatChart.from_dict(spec, validate=True)  # raises on any schema error
        assert spec["params"][0]["views"]  # one pick over both charts' click targets
    for tab in (rows[0:2], rows[2:4]):  # and the first two tabs' rows as one view each
        spec = c.grid(tab)
        spec["datasets"] = {k: json.loads(d.to_json(orient="records", date_format="iso"))
                            for k, d in spec["datasets"].items()}
        alt.VConcatChart.from_dict(spec, validate=True)
        assert len(spec["params"]) == 1  # one pick over the four charts' click targets
        views = spec["params"][0]["views"]
        assert all(any(v.startswith(f"{n}_") for v in views) for r in tab for n, _ in r)


def test_demo_incidents_shade_the_charts_they_belong_to(app_db: Path) -> None:
    seed(app_db)
    with open_store(app_db) as store:
        store.write(lambda cur: insert_incidents(cur, [
            {"kind": "error_burst", "app": "sql", "starts_at": datetime(2025, 3, 4, 13),
             "ends_at": datetime(2025, 3, 4, 15), "description": "Rate limiting **here**"},
            {"kind": "correctness_drop", "app": None, "starts_at": datetime(2025, 3, 5, 8),
             "ends_at": None, "description": "Retriever change"}]))
    at = monitor()
    shaded = {s["title"]["text"]: s["datasets"]["incidents"]["kind"].tolist()
              for s in every_chart(at) if "incidents" in s["datasets"]}
    assert shaded == {"Failure rate by kind": ["error_burst"],
                      "Reviewers (human grades), mean per day": ["correctness_drop"],
                      "LLM judge scores, mean per day": ["correctness_drop"]}
    lines = [t.value for t in at.text]
    assert any(v.startswith("error burst (sql), from 2025-03-04 13:00 UTC until 2025-03-04 15:00")
               and v.endswith("Rate limiting **here**") for v in lines)  # plain text, as written
    assert any("correctness drop (all apps)" in v and "still in effect" in v for v in lines)


# 2,000 requests in three days: about 20 per bucket and line sets the width, not the range.
# The last day holds none of the graded or rated requests: no correctness or feedback charts.
@pytest.mark.parametrize(("label", "bucket", "phrase", "shown"), [
    ("Last 24 hours", "3 hours", "Last 24 hours: 2025-03-05 00:00 to 2025-03-06 00:00", 10),
    ("Last 7 days", "6 hours", "Last 7 days: 2025-02-27 00:00 to 2025-03-06 00:00", 14),
    ("All data", "3 hours", "All data: 2025-03-03 00:00 to 2025-03-06 00:00", 14),
    ("Custom", "3 hours", "2025-03-03 to 2025-03-05: 2025-03-03 00:00 to 2025-03-06 00:00", 14),
])
def test_time_ranges(app_db: Path, label: str, bucket: str, phrase: str, shown: int) -> None:
    seed(app_db)
    at = monitor()
    at.sidebar.selectbox(key="range").set_value(label).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.caption[0].value.startswith(f"{phrase} UTC, in buckets of {bucket}.")
    assert len(every_chart(at)) == shown


def test_estimates_of_all_traffic_from_the_demo_queue(app_db: Path) -> None:
    """The demo's review queue (judged by the demo judge, partly graded by reviewers) gives the
    Monitor page its correctness estimate of all traffic, with and without the judge."""
    from goldenloop import demo
    from goldenloop.estimation import ppi

    with open_store(app_db) as s:
        demo.generate(s, spans=4000)
        expected = ppi.traffic_estimates(s)
    assert len(expected) == 1 and expected["value"].notna().all()
    at = app_page("monitor", params={"judges": "any version", "section": "Correctness"})
    shown = next(d.value for d in at.dataframe if "judge" in d.value.columns)
    assert shown["queue"].tolist() == expected["queue"].tolist()
    row = expected.iloc[0]
    assert f"{row['value']:.1%}" in shown["judge"].iloc[0]
    assert f"{row['human_value']:.1%}" in shown["human"].iloc[0]
