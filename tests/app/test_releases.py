"""Redeploy and observe: the runs that tested a release before it reached production, from a
real DuckDB file with known production traffic (v2 and prompt p2 appear mid-range) and real
runs against a loopback endpoint; and the Compare versions page showing them beside the
before/after comparison (in-process, AppTest)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import openai_loopback
import pandas as pd
import pytest
from app_support import app_page
from metrics_support import T0, seed
from openai_loopback import Reply, openai_server

from goldenloop import experiments as ex
from goldenloop.errors import ExperimentError
from goldenloop.experiments import releases
from goldenloop.schema import open_store


def _reply(body):
    n = int(body["messages"][-1]["content"].split()[-1])
    return Reply(content="no idea" if n % 4 == 0 else f"answer {n}")   # exact: 15 of 20


def add_runs(db: Path, tmp_path: Path, monkeypatch) -> dict[str, int]:
    """Target ``support-next`` answered by v2 at T0+1d (before v2) and T0+3d (after); target
    ``other`` (declares prompt_version p2) answered by gpt-x at T0+12h (before p2)."""
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"i{i:02d}", "input": f"prompt {i}",
                                          "expected": f"answer {i}"}) for i in range(20)))
    ids = {}
    with open_store(db) as store, openai_server(_reply) as srv:
        ex.import_file(store, "set", path)
        folder = store.path.parent / "targets"
        folder.mkdir(exist_ok=True)
        for name, extra in (("support-next", ""), ("other", "prompt_version: p2\n")):
            (folder / f"{name}.yaml").write_text(
                f"name: {name}\nmodel: m\ntemplate: '{{{{ input }}}}'\n{extra}"
                f"endpoint:\n  base_url: {srv.base_url}\n")
        for key, target, version, at in (("before", "support-next", "v2", T0 + timedelta(days=1)),
                                         ("after", "support-next", "v2", T0 + timedelta(days=3)),
                                         ("prompt", "other", "gpt-x", T0 + timedelta(hours=12))):
            monkeypatch.setattr(openai_loopback, "VERSION", version)
            run = ex.run(store, ex.get_target(store, target), ex.resolve(store, "set"), ["exact"])
            store.write(lambda cur, r=run.run_id, t=at: cur.execute(
                "UPDATE experiment_runs SET started_at = ? WHERE run_id = ?", [t, r]))
            ids[key] = run.run_id
    return ids


def test_runs_before_a_model_or_prompt_release(app_db: Path, tmp_path: Path, monkeypatch) -> None:
    df = seed(app_db, quality=False)
    ids = add_runs(app_db, tmp_path, monkeypatch)
    prod = df[df["source"].fillna("") != "judge"] if "source" in df else df
    with open_store(app_db) as store:
        got = releases.preceding_runs(store, "model_version", "v2", "support")
        first_v2 = prod[(prod["model_version"] == "v2") & (prod["app"] == "support")]["start_time"].min()
        assert pd.Timestamp(got.released_at) == first_v2
        assert got.runs["run_id"].tolist() == [ids["before"]] and got.later == 1
        row = got.runs.iloc[0]
        assert row["model_versions"] == "v2" and row["mean exact"] == pytest.approx(15 / 20)

        p2 = releases.preceding_runs(store, "prompt_version", "p2")
        assert pd.Timestamp(p2.released_at) == prod[prod["prompt_version"] == "p2"]["start_time"].min()
        assert p2.runs["run_id"].tolist() == [ids["prompt"]] and p2.later == 0
        by_name = releases.preceding_runs(store, "prompt_version", "support-next")
        assert by_name.released_at is None                       # never in production
        assert sorted(by_name.runs["run_id"]) == sorted([ids["before"], ids["after"]])
        assert releases.preceding_runs(store, "model_version", "v1").runs.empty
        with pytest.raises(ExperimentError, match="not 'app'"):
            releases.preceding_runs(store, "app", "support")


def test_compare_page_lists_the_runs_before_release_b(app_db: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    seed(app_db, quality=False)
    ids = add_runs(app_db, tmp_path, monkeypatch)
    at = app_page("compare")
    assert "Experiments before this release" in [h.value for h in at.subheader]
    line = next(t.value for t in at.text if t.value.startswith("B, model version v2"))
    assert "1 run tested it before that, 1 after." in line
    frame = next(d.value for d in at.dataframe if "run_id" in d.value.columns)
    assert frame["run_id"].tolist() == [ids["before"]]
    assert frame["mean exact"].iloc[0] == pytest.approx(0.75)


def test_compare_page_without_runs_says_so(app_db: Path) -> None:
    seed(app_db, quality=False)
    at = app_page("compare")
    assert any("No experiment or canary run tested this version" in c.value for c in at.caption)
