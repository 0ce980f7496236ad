"""The Monitor page's canary section, in-process (AppTest) over a real DuckDB file: two canary
runs against a loopback endpoint whose answers and model version change between them, drawn
by model version; a suite that did not run in the range is named; no suites, no section."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import openai_loopback
import pytest
from app_support import app_page
from canary_support import add_suite, add_target, answer
from metrics_support import T0, seed
from openai_loopback import openai_server

from goldenloop.experiments import canaries
from goldenloop.schema import open_store

HOSTILE_VERSION = "**v3** <b>x</b> [l](http://evil.example)"


def add_canary_runs(db: Path, tmp_path: Path, monkeypatch) -> None:
    """Suite ``nightly`` run twice (model-a: all right; then the hostile version: 15 of 20),
    placed inside the seeded traffic's range; suite ``weekly`` never runs."""
    with open_store(db) as store, openai_server() as srv:
        add_target(store, tmp_path, srv.base_url)
        for name in ("nightly", "weekly"):
            add_suite(store, name)
        for day, version in ((1, "model-a"), (2, HOSTILE_VERSION)):
            monkeypatch.setattr(openai_loopback, "VERSION", version)
            srv.script = lambda body, v=version: answer(body, regressed=v != "model-a")
            run = canaries.run_suite(store, "nightly")
            store.write(lambda cur, r=run.run_id, d=day: cur.execute(
                "UPDATE experiment_runs SET started_at = ? WHERE run_id = ?",
                [T0 + timedelta(days=d), r]))


def canary_chart(at) -> tuple[dict, list[dict]]:
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        if "facet" in spec:
            import pyarrow as pa

            rows = [r for d in element.proto.datasets
                    for r in pa.ipc.open_stream(d.data.data).read_all().to_pylist()]
            return spec, rows
    raise AssertionError("no canary chart")


def test_canary_series_drawn_by_model_version(app_db: Path, tmp_path: Path, monkeypatch) -> None:
    seed(app_db)
    add_canary_runs(app_db, tmp_path, monkeypatch)
    at = app_page("monitor", params={"judges": "any version"})
    assert "Canaries" in [t.label for t in at.tabs]
    with pytest.raises(AssertionError, match="no canary chart"):
        canary_chart(at)  # drawn only when its tab is opened
    at = app_page("monitor", params={"judges": "any version", "section": "Canaries"})
    spec, rows = canary_chart(at)
    assert spec["spec"]["encoding"]["color"]["field"] == "model_version"
    means = {r["model_version"]: r["mean"] for r in rows}
    assert means["model-a"] == 1.0 and means[HOSTILE_VERSION] == pytest.approx(15 / 20)
    assert {r["series"] for r in rows} == {"nightly · exact"}
    assert "No runs in this range: weekly" in [t.value for t in at.text]
    # The hostile version reached the page only as chart data, never as markdown.
    assert not any("evil.example" in m.value for m in [*at.markdown, *at.caption])


def test_no_suites_no_canary_section(app_db: Path) -> None:
    seed(app_db, quality=False)
    at = app_page("monitor", params={"judges": "any version"})
    assert at.tabs and "Canaries" not in [t.label for t in at.tabs]
