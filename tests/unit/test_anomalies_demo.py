"""Detection on a small demo history: every injected incident is found with example spans,
few anomalies match no incident, re-running adds nothing, and the CLI's JSON keys hold."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import pytest
from typer.testing import CliRunner

from goldenloop.anomalies import (
    AnomalyError,
    detect,
    example_spans,
    examples_to_queue,
    get_anomaly,
    list_anomalies,
    outlier_spans,
    window_series,
)
from goldenloop.anomalies.evaluate import against_incidents
from goldenloop.cli_anomalies import JSON_KEYS
from goldenloop.demo import generate
from goldenloop.metrics.filters import SpanFilter
from goldenloop.schema import open_store
from goldenloop.scorers.run import score_spans

# A 60,000-span demo scored and detected: slow, so tests/system/test_unit_slow.py runs it.
pytestmark = pytest.mark.slow

END = datetime(2026, 3, 2, 12)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("anomalies") / "demo.duckdb"
    s = open_store(path)
    generate(s, spans=60_000, seed=7, end=END, queue=False)
    score_spans(s)
    result = detect(s, now=END)
    yield s, result, path
    s.close()


def test_every_incident_is_found_with_examples(demo):
    s, _, _ = demo
    incidents, false = against_incidents(s)
    assert len(incidents) == 6
    missed = incidents[~incidents["found"]]["kind"].tolist()
    assert missed == []
    no_examples = [r.kind for r in incidents.itertuples() if not r.with_examples]
    assert no_examples == []
    # Anomalies matching no incident (version appearances aside: those are real events).
    other = false[false["kind"] != "new_version"]
    per_app = other.groupby("app").size().to_dict()
    assert all(n <= 3 for n in per_app.values()), other[["metric", "app", "kind",
                                                         "window_start"]].to_string()


def test_the_error_burst_has_its_failed_spans_as_examples(demo):
    s, _, _ = demo
    incidents, _ = against_incidents(s)
    burst = incidents.set_index("kind").loc["error_burst"]
    rates = [get_anomaly(s, i) for i in burst["anomalies"]]
    errors = [a for a in rates if a.metric == "error_rate" and a.kind == "spike"]
    assert errors, [(a.metric, a.kind) for a in rates]
    ex = example_spans(s, errors[0])
    assert len(ex) > 0 and set(ex["status"]) == {"error"}
    assert (ex["start_time"] >= errors[0].window_start).all()
    assert "RateLimitError" in set(ex["error_type"])
    assert (ex["why"] == "failed with an error").all()


def test_the_chart_window_shows_the_spike_above_its_band(demo):
    s, _, _ = demo
    incidents, _ = against_incidents(s)
    ids = incidents.set_index("kind").loc["latency_spike"]["anomalies"]
    a = next(get_anomaly(s, i) for i in ids if get_anomaly(s, i).metric.startswith("latency"))
    w = window_series(s, a)
    assert list(w.columns) == ["time", "observed", "baseline", "low", "high", "n"]
    inside = w[(w["time"] >= a.window_start) & (w["time"] < a.window_end)]
    outside = w[((w["time"] < a.window_start) | (w["time"] >= a.window_end))
                & w["high"].notna()]  # quiet hours with too few requests have no band
    assert (inside["observed"] > inside["high"]).all()
    assert len(outside) > 24 and (outside["observed"] <= outside["high"]).mean() > 0.9


def test_detecting_again_adds_nothing(demo):
    s, first, _ = demo
    before = list_anomalies(s, limit=10_000)
    again = detect(s, now=END)
    after = list_anomalies(s, limit=10_000)
    assert again.added == 0 and len(after) == len(before) == first.added
    assert sorted(after["fingerprint"]) == sorted(before["fingerprint"])


def test_examples_go_to_a_by_hand_queue(demo):
    s, _, _ = demo
    a = get_anomaly(s, int(list_anomalies(s)["anomaly_id"].iloc[0]))
    qid = examples_to_queue(s, a.anomaly_id, by="lead")
    design, n = s.rows("SELECT q.design, count(i.queue_item_id) FROM queues q "
                       "JOIN queue_items i USING (queue_id) WHERE q.queue_id = ? "
                       "GROUP BY q.design", [qid])[0]
    assert json.loads(design)["probability"] is False
    assert n == len(set(a.example_span_keys))


def test_outlier_spans_are_extreme_for_their_version(demo):
    s, _, _ = demo
    out = outlier_spans(s, SpanFilter(start=datetime(2026, 2, 1), end=END), limit=200)
    assert 0 < len(out) <= 200
    assert (out["robust_z"] >= 4).all()
    spikes = list_anomalies(s)
    spikes = spikes[spikes["kind"].isin(["spike", "dip"])]
    for o in out.itertuples():  # normal times: none inside a detected spike of its app
        assert not ((spikes["app"] == o.app) & (spikes["window_start"] <= o.start_time)
                    & (spikes["window_end"] > o.start_time)).any()


def test_cli_lists_json_lines_with_stable_keys(demo, tmp_path):
    from goldenloop.cli import app

    s, _, path = demo
    s.checkpoint()  # the CLI reads a copy: this process holds the file
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    res = CliRunner().invoke(app, ["anomalies", "list", "--json", "--db", str(copy)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.output.splitlines()]
    assert len(lines) == len(list_anomalies(s)) and all(tuple(d) == JSON_KEYS for d in lines)
    res = CliRunner().invoke(app, ["anomalies", "list", "--status", "open", "--json",
                                   "--db", str(copy)])
    assert {json.loads(x)["status"] for x in res.output.splitlines()} == {"open"}
    res = CliRunner().invoke(app, ["anomalies", "list", "--status", "closed", "--db",
                                   str(copy)])
    # A named error: the CLI's entry point turns it into a message, not a traceback.
    assert isinstance(res.exception, AnomalyError) and "unknown status" in str(res.exception)


def test_cli_detect_runs_here_when_no_server_owns_the_file(demo, tmp_path):
    from goldenloop.cli import app

    s, _, path = demo
    s.checkpoint()
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    res = CliRunner().invoke(app, ["anomalies", "detect", "--db", str(copy)])
    assert res.exit_code == 0, res.output
    assert "0 new" in res.output and "anomalies (" in res.output
    res = CliRunner().invoke(app, ["anomalies", "detect", "--sensitivity", "extreme", "--db",
                                   str(copy)])
    assert isinstance(res.exception, AnomalyError)
