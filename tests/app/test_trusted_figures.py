"""Quality figures a lead can trust: the Agreement page works for any import (judges
without versions, a single reviewer, one time point), and grade imports are read as meant."""

from __future__ import annotations

from pathlib import Path

import pytest
import review_support as rs
from app_support import app_page
from import_support import _import, _rows

from goldenloop.ingest import ImportOptions, import_file
from goldenloop.schema import open_store

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures


SHAPES = {
    # Judges imported without a version: the over-time chart crashed on a NaN version.
    "judges without versions": (3, [{"columns": ["c0", "c1"], "kind": "reviewer"},
                                    {"columns": ["c2"], "kind": "judge", "name": "gpt"}]),
    "a single reviewer": (2, [{"columns": ["c0"], "kind": "reviewer"},
                              {"columns": ["c1"], "kind": "judge", "name": "j", "version": "v1"}]),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_agreement_page_opens_on_any_import(app_db: Path, tmp_path: Path, shape: str):
    cols, raters = SHAPES[shape]
    r = _import(app_db, tmp_path, _rows(60, cols), raters)
    assert r.imported > 0
    at = app_page("agreement")  # items have no time: every pair falls on one time point
    assert not at.exception
    assert at.get("vega_lite_chart") or at.dataframe, "the page drew nothing"


def test_two_values_from_one_rater_for_one_target_are_a_conflict(store, tmp_path: Path):
    text = ("id,q,a,ana,gpt\n"
            "x1,q,a,4,5\n"
            "x2,q,a,2,2\n"
            "x1,q,a,1,5\n"      # ana again on x1, another value: conflict; gpt repeats itself
            "x3,q,a,3,3\n")
    p = tmp_path / "conflict.csv"
    p.write_text(text)
    mapping = {"grades": {
        "layout": "wide", "target": {"type": "item", "column": "id", "prefix": "t:"},
        "rubric": {"name": "r", "version": "1"}, "criterion": "quality",
        "scale": {"type": "interval", "min": 1, "max": 5},
        "raters": [{"columns": ["ana"], "kind": "reviewer"},
                   {"columns": ["gpt"], "kind": "judge", "name": "gpt", "version": "v1"}]}}
    r = import_file(store, p, ImportOptions(mapping=mapping))
    got = store.rows("SELECT target_id, author_id, judge_name, value_number FROM grades "
                     "ORDER BY target_id, source, author_id")
    ana_x1 = [g for g in got if g[0] == "t:x1" and g[1] == "ana"]
    assert ana_x1 == []  # neither of ana's two values on x1 is guessed at
    assert [g[3] for g in got if g[0] == "t:x1" and g[2] == "gpt"] == [5.0]  # same value twice
    assert {g[0] for g in got if g[1] == "ana"} == {"t:x2", "t:x3"}
    q = store.rows("SELECT row_number, field, reason FROM quarantine ORDER BY row_number")
    assert [(row, field) for row, field, _ in q] == [(2, "ana"), (4, "ana")]  # CSV line numbers
    assert all("conflict" in reason and "2, 4" in reason for _, _, reason in q)
    assert r.quarantined == 2


@pytest.mark.parametrize("spelling", [("0", "1"), ("false", "true"), ("No", "Yes")])
def test_boolean_columns_are_read_without_a_warning(store, tmp_path: Path, spelling):
    no, yes = spelling
    p = tmp_path / "bool.csv"
    p.write_text(f"id,q,a,ana,gpt\nx1,q,a,{yes},{yes}\nx2,q,a,{no},{yes}\nx3,q,a,{no},{no}\n")
    mapping = {"grades": {
        "layout": "wide", "target": {"type": "item", "column": "id", "prefix": "t:"},
        "rubric": {"name": "r", "version": "1"}, "criterion": "ok",
        "scale": {"type": "boolean"},
        "raters": [{"columns": ["ana"], "kind": "reviewer"},
                   {"columns": ["gpt"], "kind": "judge", "name": "gpt", "version": "v1"}]}}
    r = import_file(store, p, ImportOptions(mapping=mapping))
    assert r.quarantined == 0 and r.imported == 6
    assert not (r.details or {}).get("out_of_scale"), r.details
    assert store.rows("SELECT target_id, value_label FROM grades WHERE author_id = 'ana' "
                      "ORDER BY target_id") == [("t:x1", "pass"), ("t:x2", "fail"), ("t:x3", "fail")]
    assert store.scalar("SELECT count(*) FROM grades WHERE raw ->> 'out_of_scale' = 'true'") == 0


def test_status_counts_grades_items_queues_judges_and_golden_sets(tmp_path: Path):
    from typer.testing import CliRunner

    from goldenloop.cli import app

    db = tmp_path / "s.duckdb"
    _import(db, tmp_path, _rows(40, 3), [{"columns": ["c0", "c1"], "kind": "reviewer"},
                                         {"columns": ["c2"], "kind": "judge", "name": "gpt",
                                          "version": "v7"}])
    out = CliRunner().invoke(app, ["status", "--db", str(db)])
    assert out.exit_code == 0, out.output
    lines = dict(line.split(": ", 1) for line in out.output.splitlines() if ": " in line)
    assert lines["grades"] == "120" and lines["grades, imported"] == "120"
    assert lines["items"] == "40" and lines["judge versions"] == "1"
    assert lines["review queues"] == "0" and lines["golden datasets"] == "0"
    assert lines["spans"] == "0"


def test_golden_correct_at_comes_from_the_chosen_rubric(store, tmp_path: Path):
    from goldenloop import golden as G

    # Two rubrics define "quality": r@1 on 1-5 (correct at 4), then r2@1 on 1-10 (at 7.75).
    for name, text, rubric, scale in (
            ("a.csv", _rows(20, 2), "r", {"type": "interval", "min": 1, "max": 5}),
            ("b.csv", _rows(20, 2, seed=2), "r2",
             {"type": "interval", "min": 1, "max": 10})):
        p = tmp_path / name
        p.write_text(text)
        mapping = {"grades": {
            "layout": "wide", "target": {"type": "item", "column": "id", "prefix": rubric + ":"},
            "rubric": {"name": rubric, "version": "1"}, "criterion": "quality", "scale": scale,
            "raters": [{"columns": ["c0", "c1"], "kind": "reviewer"}]}}
        import_file(store, p, ImportOptions(mapping=mapping))
    with pytest.raises(G.FilterError, match="several rubrics"):
        G.resolve(store, G.GoldenFilter(criterion="quality"))
    assert G.resolve(store, G.GoldenFilter(criterion="quality", rubric_name="r")).correct_at == 4
    assert G.resolve(store, G.GoldenFilter(criterion="quality", rubric_name="r2",
                                           rubric_version="1")).correct_at == 7.75
    with pytest.raises(G.FilterError, match="does not define"):
        G.resolve(store, G.GoldenFilter(criterion="quality", rubric_name="r", rubric_version="9"))
    # Only the chosen rubric's grades count.
    p = G.preview(store, G.GoldenFilter(criterion="quality", rubric_name="r"), limit=100)
    assert p.counts["considered"] == 20  # r's 20 items, not r2's
    assert set(p.rows["row_key"].str.split(":").str[1]) <= {"r"}


@pytest.mark.parametrize("scale", [
    {"type": "interval", "min": 1, "max": 5}, {"type": "ordinal", "min": 1, "max": 5},
    {"type": "nominal", "labels": ["1", "2", "3", "4", "5"]}, {"type": "boolean"}])
def test_agreement_report_for_every_value_type(tmp_path: Path, scale: dict):
    import json

    from typer.testing import CliRunner

    from goldenloop.cli import app

    db = tmp_path / "r.duckdb"
    text = _rows(60, 3)
    if scale["type"] == "boolean":  # 4 and 5 pass
        text = "\n".join(",".join(c if i < 3 or j == 0 else str(int(int(c) >= 4))
                                  for i, c in enumerate(line.split(",")))
                         for j, line in enumerate(text.splitlines())) + "\n"
    _import(db, tmp_path, text, [{"columns": ["c0", "c1"], "kind": "reviewer"},
                                 {"columns": ["c2"], "kind": "judge", "name": "gpt",
                                  "version": "v1"}], scale=scale)
    run = CliRunner().invoke(app, ["agreement", "report", "--criterion", "quality", "--db",
                                   str(db), "--json", "--resamples", "200", "--by", "reviewer"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.output)
    assert out["value_type"] == scale["type"]
    assert [v["judge_version"] for v in out["verdicts"]] == ["v1"]
    stats = {j["statistic"] for j in out["judges"]}
    assert "krippendorff_alpha" in stats and out["humans"]
    assert {s["slice_value"] for s in out["slices"]} == {"c0", "c1"}
    text_run = CliRunner().invoke(app, ["agreement", "report", "--criterion", "quality",
                                        "--db", str(db), "--resamples", "200"])
    assert text_run.exit_code == 0 and "gpt v1: " in text_run.output, text_run.output


def test_a_judge_version_no_reviewer_met_is_shown_apart(app_db: Path, tmp_path: Path):
    from goldenloop.agreement import fitness

    _import(app_db, tmp_path, _rows(60, 3), [{"columns": ["c0", "c1"], "kind": "reviewer"},
                                             {"columns": ["c2"], "kind": "judge", "name": "gpt",
                                              "version": "v1"}])
    other = _rows(30, 1).replace("\ni", "\nz")  # other items, graded by a judge only
    _import(app_db, tmp_path, other, [{"columns": ["c0"], "kind": "judge", "name": "gpt",
                                       "version": "v2"}], name="other.csv")
    with open_store(app_db) as s:
        status = fitness.judge_status(s, "quality").set_index("judge_version")["status"]
        assert status["v2"] == fitness.UNCHECKED and status["v1"] != fitness.UNCHECKED
        assert "v2" not in (fitness.choose(s, "quality").versions or ())
    at = app_page("agreement")
    assert any("Not yet checked" in t.value and "gpt v2" in t.value for t in at.text)


def test_item_metadata_is_an_agreement_slice(app_db: Path, tmp_path: Path):
    """A judge that fails on one answering model only: the slice by the items' metadata key
    shows it, on the page and in the API."""
    import numpy as np

    from goldenloop.agreement import criterion_agreement

    rng = np.random.default_rng(3)
    lines = ["id,q,a,gen,ana,gpt"]
    for i in range(120):
        gen = "m-bad" if i % 2 else "m-good"
        h = int(rng.integers(1, 6))
        j = h if gen == "m-good" else int(rng.integers(1, 6))  # random on m-bad only
        lines.append(f"i{i},q,a,{gen},{h},{j}")
    p = tmp_path / "meta.csv"
    p.write_text("\n".join(lines) + "\n")
    mapping = {"grades": {
        "layout": "wide", "target": {"type": "item", "column": "id", "prefix": "t:"},
        "item": {"dataset": "d", "input": "q", "output": "a", "metadata": ["gen"]},
        "rubric": {"name": "r", "version": "1"}, "criterion": "quality",
        "scale": {"type": "interval", "min": 1, "max": 5},
        "raters": [{"columns": ["ana"], "kind": "reviewer"},
                   {"columns": ["gpt"], "kind": "judge", "name": "gpt", "version": "v1"}]}}
    with open_store(app_db) as s:
        import_file(s, p, ImportOptions(mapping=mapping))
        res = criterion_agreement(s, "quality", n_resamples=200)
        by = res.slices("meta:gen")
    alpha = by[by["statistic"] == "krippendorff_alpha"].set_index("slice_value")["value"]
    assert alpha["m-good"] == pytest.approx(1.0) and alpha["m-bad"] < 0.5
    at = app_page("agreement")
    at.radio(key="slice_by").set_value("meta:gen").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "slice_value" in d.value.columns)
    assert {"m-good", "m-bad"} <= set(table["slice_value"])


def test_risk_raised_sampling_ignores_an_unfit_judge(demo_store):
    """A second judge version that calls every answer 1 is not fit: its low scores raise no
    span's risk unless a lead counts every version."""
    import json

    import pandas as pd
    import pyarrow as pa
    from review_support import opts

    from goldenloop.agreement import fitness
    from goldenloop.sampling import RiskRaised, create_queue, make_frame
    from goldenloop.store.grades import insert_grades

    g = demo_store.df("SELECT * EXCLUDE (grade_id) FROM grades WHERE source = 'judge' "
                      "AND criterion = 'correctness'")
    g = g.assign(judge_version="v-harsh", value_number=1.0)
    demo_store.write(insert_grades, pa.Table.from_pandas(g, preserve_index=False))
    status = fitness.judge_status(demo_store, "correctness").set_index("judge_version")
    assert status.loc["v-harsh", "status"] == fitness.NOT_FIT
    fit = [v for v in status.index if status.loc[v, "status"] == fitness.FIT]
    assert fit  # the demo's own judge
    only_harsh = set(demo_store.df(
        """SELECT span_key FROM grades WHERE source = 'judge' AND criterion = 'correctness'
           GROUP BY span_key HAVING min(value_number) FILTER (WHERE judge_version <> 'v-harsh')
               >= 3""").span_key)
    assert only_harsh

    def judge_low_spans(frame) -> set[int]:
        q = create_queue(demo_store, opts(f"q-{frame.judges}"), frame, RiskRaised(100_000),
                         seed=1)
        df = demo_store.df("SELECT span_key, risk_reasons FROM queue_items WHERE queue_id = ?",
                           [q.queue_id])
        design = json.loads(demo_store.scalar("SELECT design FROM queues WHERE queue_id = ?",
                                              [q.queue_id]))
        counted = design["judge_versions_counted"]  # the design names what it rested on
        assert counted is None if frame.judges == "any" else (
            f"correctness|{fit[0]}" in counted and "correctness|v-harsh" not in counted)
        return {k for k, r in zip(df.span_key, df.risk_reasons, strict=True)
                if not isinstance(r, type(pd.NA)) and r is not None and "judge_low" in list(r)}

    assert not judge_low_spans(make_frame()) & only_harsh
    assert judge_low_spans(make_frame(judges="any")) >= only_harsh


def test_goldenloop_traffic_is_kept_apart_unless_asked_for(store):
    """Spans goldenloop made itself (source judge) stay out of Monitor, Conversations, Home,
    the filters' choices and sampling frames; the explicit filter brings them back."""
    from datetime import datetime, timedelta

    import pyarrow as pa
    from review_support import opts

    from goldenloop import metrics as M
    from goldenloop import overview as summary
    from goldenloop.ingest.loader import import_table
    from goldenloop.metrics.conversations import conversation_stats
    from goldenloop.sampling import Uniform, create_queue, make_frame
    from goldenloop.store.span_columns import JUDGE_APP

    t0 = datetime(2026, 1, 5, 10)

    def spans(n: int, app: str, prefix: str) -> pa.Table:
        return pa.table({
            "trace_id": [f"{prefix}{i}" for i in range(n)], "span_id": ["s"] * n,
            "session_id": [f"{prefix}-sess{i % 3}" for i in range(n)], "app": [app] * n,
            "kind": ["llm"] * n, "model": ["m"] * n, "model_version": [f"{app}-v"] * n,
            "start_time": [t0 + timedelta(minutes=i) for i in range(n)],
            "latency_ms": [100.0] * n, "status": ["ok"] * n, "output": ["an answer"] * n,
            "last_user_message": ["q"] * n})

    import_table(store, spans(12, "shop", "p"), source="test", origin="test")
    import_table(store, spans(30, JUDGE_APP, "j"), source="judge", origin="test")
    dims = M.dimensions(store)
    assert dims.requests == 12 and JUDGE_APP not in dims.values["apps"]
    f = M.SpanFilter(start=t0, end=t0 + timedelta(hours=2))
    assert M.overview(store, f).totals.requests == 12
    both = M.SpanFilter(start=f.start, end=f.end, include_internal=True)
    assert M.overview(store, both).totals.requests == 42
    assert conversation_stats(store, f).sessions["sessions"].sum() == 3
    assert conversation_stats(store, both).sessions["sessions"].sum() == 6
    assert summary.span_totals(store).spans == 12
    assert summary.apps(store)["app"].tolist() == ["shop"]
    assert summary.store_counts(store)["goldenloop's own spans"] == 30
    q = create_queue(store, opts("frame"), make_frame(), Uniform(100), seed=1)
    assert q.population_size == 12
    q = create_queue(store, opts("all"), make_frame(include_internal=True), Uniform(100), seed=1)
    assert q.population_size == 42


def test_each_judge_is_checked_under_its_own_rubric(store, tmp_path: Path):
    """Two rubrics name a criterion alike: each judge version is measured under the rubric
    its grades were made under, not left unchecked because the name is ambiguous."""
    from goldenloop.agreement import fitness

    for name, rubric, judge_col in (("a.csv", "r", "c1"), ("b.csv", "r2", "c1")):
        p = tmp_path / name
        p.write_text(_rows(80, 2, seed=5))  # c1 is c0 give or take one level
        mapping = {"grades": {
            "layout": "wide", "target": {"type": "item", "column": "id", "prefix": rubric + ":"},
            "rubric": {"name": rubric, "version": "1"}, "criterion": "quality",
            "scale": {"type": "interval", "min": 1, "max": 5},
            "raters": [{"columns": ["c0"], "kind": "reviewer"},
                       {"columns": [judge_col], "kind": "judge", "name": "gpt",
                        "version": f"v-{rubric}"}]}}
        import_file(store, p, ImportOptions(mapping=mapping))
    status = fitness.judge_status(store, "quality").set_index("judge_version")
    assert set(status.index) == {"v-r", "v-r2"}
    assert (status["status"] != fitness.UNCHECKED).all(), status[["status", "reason"]]
    assert (status["n_items"] == 80).all()
