"""The Anomalies page shows a canary anomaly like any other: listed with its suite, its
description as plain text, its chart one point per canary run with the usual level, from a
real DuckDB file whose canary runs dropped and which detection examined."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from app_support import app_page

from goldenloop import anomalies
from goldenloop.experiments.schema import ensure_tables
from goldenloop.schema import open_store


def _canary_history(store, passes: np.ndarray, start: datetime) -> None:
    ensure_tables(store)
    r, i = np.nonzero(np.ones_like(passes))

    def write(cur):
        cur.execute("""INSERT INTO experiment_runs (run_id, source, suite, status, started_at)
                       SELECT 1 + r, 'canary', 'nightly', 'done', $start + INTERVAL 1 HOUR * r
                       FROM range($runs) t(r)""", {"start": start, "runs": len(passes)})
        cur.execute("""INSERT INTO experiment_scores (run_id, item_key, scorer, value, passed)
                       SELECT 1 + unnest($r), 'i' || unnest($i), 'exact', unnest($v)::DOUBLE,
                              unnest($v) = 1""",
                    {"r": r.tolist(), "i": i.tolist(), "v": passes[r, i].astype(int).tolist()})
    store.write(write)


def test_a_canary_anomaly_on_the_page(app_db: Path) -> None:
    passes = np.ones((12, 20), dtype=int)
    passes[10:, :5] = 0  # five of twenty items stop passing at run 10
    with open_store(app_db) as store:
        _canary_history(store, passes, datetime.utcnow() - timedelta(hours=12))
        assert anomalies.detect(store).found == 1
        (aid,) = anomalies.list_anomalies(store)["anomaly_id"]
    at = app_page("anomalies", params={"reviewer": "lead", "anomaly": str(int(aid))})
    assert not at.exception
    texts = [t.value for t in at.text]
    assert any("Canary score (exact) fell for suite nightly: 0.75 against a usual 1.00" in t
               for t in texts)
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Observed"], shown["Baseline"], shown["Status"]) == ("0.75", "1", "open")
    assert any("canary:nightly · scorer = exact · shift (down)" in t
               and "20 items paired run to run" in t for t in texts)
    assert "each canary run's mean score" in " ".join(c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 1  # the runs around the drop, with the usual level
