"""A deliberately bad judge (a loopback endpoint answering at random) run on the demo queue
leaves every production figure unchanged: Monitor correctness and traffic, Compare versions,
the golden set's "judge agrees", PPI estimates and Home's traffic. Its calls show on the
Judges page, and the Agreement page marks it unfit."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pandas as pd
from app_support import app_page
from judge_support import (
    _random_judge,
    demo_template,  # noqa: F401 (fixtures)
)
from openai_loopback import openai_server

from goldenloop import golden as G
from goldenloop import judge
from goldenloop import metrics as M
from goldenloop import overview as summary
from goldenloop.agreement import fitness
from goldenloop.anomalies import series_sql
from goldenloop.demo.queue import NAME
from goldenloop.estimation import ppi
from goldenloop.judge import sql as judge_sql
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.span_columns import JUDGE_APP


def _figures(s: Store, qid: int, judges: str = "fit") -> dict:
    dims = M.dimensions(s)
    f = M.SpanFilter(start=dims.first, end=dims.last + timedelta(hours=1), judges=judges)
    view = M.overview(s, f)
    options = M.side_options(s, "support-bot", "model_version")
    a, b = M.default_pair(options)
    sides = M.version_sides("support-bot", "model_version", a, b, f.start, f.end)
    compared = M.compare(s, sides, n_boot=200, judges=judges).table
    gold = G.preview(s, G.GoldenFilter(source="human_judge", judges=judges), limit=0)
    out = {}
    if judges == "fit":  # detection reads correctness with the judges fit for use, always
        grades = series_sql.grade_buckets(s, f.start, f.end)  # grouping sets: any row order
        out["detection"] = grades.sort_values(["b", "app", "dimension", "value"]).reset_index(
            drop=True)
    return out | {
        "apps": dims.values["apps"], "totals": view.totals,
        "correctness": view.correctness.reset_index(drop=True),
        "compare": compared.reset_index(drop=True),
        "golden": (gold.counts, gold.judge_agreement),
        "ppi": ppi.queue_estimates(s, qid, judges=judges).reset_index(drop=True),
        "home": (summary.span_totals(s), summary.apps(s).reset_index(drop=True)),
    }


def _same(before: dict, after: dict) -> list[str]:
    """The names of the figures that differ."""
    out = []
    for k, v in before.items():
        w = after[k]
        if isinstance(v, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(v, w)
            except AssertionError:
                out.append(k)
        elif isinstance(v, tuple) and isinstance(v[1], pd.DataFrame):
            if v[0] != w[0] or not v[1].equals(w[1]):
                out.append(k)
        elif v != w:
            out.append(k)
    return out


def test_a_random_judge_changes_no_production_figure(demo_template: Path, tmp_path: Path,  # noqa: F811
                                                     app_db: Path, monkeypatch):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_template, path)
    with open_store(path) as s:
        qid = int(s.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))
        # The demo judge is fit: its grades count before and after.
        assert fitness.choose(s, "correctness").versions
        before, before_any = _figures(s, qid), _figures(s, qid, "any")
        with openai_server(_random_judge) as srv:
            monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
            j = judge.get(s, "correctness")
            r = judge.run(s, j, judge.from_queue(s, j, qid),
                          judge.RunOptions(concurrency=8, retry=judge.Retry(max_attempts=1)))
            calls = len(srv.requests)
        assert r.judged > 0 and calls == r.calls  # repeated answers are judged once (cache)
        after = _figures(s, qid)
        assert _same(before, after) == []
        # The same figures pooling every judge version do move: the check can fail.
        moved = _same(before_any, _figures(s, qid, "any"))
        assert {"correctness", "compare", "golden"} <= set(moved), moved
        # Judges page data: the run's calls, apart from production traffic.
        own = judge_sql.own_calls(s)
        mine = own[own["version"] == j.version]
        assert int(mine["calls"].sum()) == calls and set(mine["source"]) == {"judge"}
        assert JUDGE_APP not in M.dimensions(s).values["apps"]
        status = fitness.judge_status(s, "correctness").set_index("judge_version")
        assert status.loc[j.version, "status"] == fitness.NOT_FIT
        s.checkpoint()
    shutil.copy(path, app_db)

    at = app_page("judges")
    shown = [d.value for d in at.dataframe]
    calls_table = next(d for d in shown if "calls" in d.columns and "latency_p95_ms" in d.columns)
    assert j.version in calls_table["version"].tolist()
    fit_table = next(d for d in shown if "status" in d.columns and "criterion" in d.columns)
    row = fit_table[fit_table["judge_version"] == j.version]
    assert row["status"].tolist() == [fitness.NOT_FIT]

    at = app_page("agreement")  # correctness, both judge versions, the default gate
    assert [e.value for e in at.error] == ["**Not fit for use**"]
    assert [e.value for e in at.success] == ["**Fit for use**"]
    assert any(j.version in t.value for t in at.text)
