"""Imports of existing grades on real files and a real DuckDB store: wide and long tables,
items, spans and comparisons as targets, out-of-scale values kept or treated as missing,
bad values quarantined with file, row, field and reason, re-imports that add nothing, the
command line and the import job."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from import_support import WIDE_CSV, WIDE_MAPPING

from goldenloop.agreement import criterion_agreement
from goldenloop.errors import MappingError
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.ingest.loader import import_table
from goldenloop.workers.handlers import import_files


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def grades(store, where: str = "true") -> list[tuple]:
    return store.rows(
        f"""SELECT target_type, target_id, criterion, value_number, value_label, source,
                   author_kind, author_id, judge_name, judge_version
            FROM grades WHERE {where} ORDER BY target_id, author_id, judge_version""")


def test_wide_table_of_items_with_reviewers_and_judges(store, tmp_path):
    path = write(tmp_path, "wide.csv", WIDE_CSV)
    r = import_file(store, path, ImportOptions(mapping=WIDE_MAPPING))
    assert r.format == "grades:csv" and r.rows_read == 5
    # 4 raters x 4 rows with a target; s5's empty ben is no grade, s3's "abc" is kept aside.
    assert r.details["values"] == 14 and r.details["empty"] == 1
    assert (r.imported, r.duplicates, r.quarantined) == (14, 0, 2)
    bad = {(row, field): reason for row, field, reason in r.bad_rows}
    assert bad == {(4, "ben"): "not a number: abc", (5, "story"): "no target id"}
    q = store.rows("SELECT file, row_number, field, raw FROM quarantine ORDER BY row_number")
    assert q[0][:3] == (str(path), 4, "ben") and json.loads(q[0][3])["ben"] == "abc"
    # The good values of the row with a bad value land.
    assert ("item", "demo:s3", "quality", 3.0, None, "imported", "reviewer", "ana", None,
            None) in grades(store)
    judged = grades(store, "author_kind = 'judge' AND target_id = 'demo:s1'")
    assert [(g[7], g[8], g[9], g[3]) for g in judged] == [
        ("gpt-judge", "gpt-judge", "v1", 4.0), ("gpt-judge", "gpt-judge", "v2", 4.5)]
    items = store.rows("SELECT item_id, dataset, input, output, reference, metadata FROM items "
                       "ORDER BY item_id")
    assert [i[0] for i in items] == ["demo:s1", "demo:s2", "demo:s3", "demo:s5"]
    assert items[0][1:5] == ("stories", "q1", "a1", "r1")
    assert json.loads(items[0][5]) == {"gen": "A"}
    crit = store.rows("SELECT rubric_name, rubric_version, name, value_type, min_value, "
                      "max_value FROM criteria")
    assert crit == [("stories", "1", "quality", "interval", 1.0, 5.0)]


def test_out_of_scale_values_are_counted_and_kept_or_treated_as_missing(store, tmp_path):
    path = write(tmp_path, "wide.csv", WIDE_CSV)
    r = import_file(store, path, ImportOptions(mapping=WIDE_MAPPING))
    assert r.details["out_of_scale"] == {"gpt_v1": 2}  # 0.5 and 6
    assert r.details["out_of_scale_choice"] == "keep"
    kept = dict(store.rows("SELECT target_id, value_number FROM grades "
                           "WHERE judge_version = 'v1'"))
    assert kept["demo:s2"] == 0.5 and kept["demo:s5"] == 6.0

    missing = {"grades": {**WIDE_MAPPING["grades"], "out_of_scale": "missing"}}
    r2 = import_file(store, path, ImportOptions(mapping=missing))
    # The same file read another way is a new import; only the changed values are new.
    assert not r2.already_imported and r2.imported == 2 and r2.duplicates == 12
    rows = store.rows("""SELECT value_number, raw ->> 'value', raw ->> 'treated_as'
                         FROM grades WHERE judge_version = 'v1' AND target_id = 'demo:s2'
                         ORDER BY grade_id""")
    assert rows == [(0.5, "0.5", "kept"), (None, "0.5", "missing")]


def test_reimport_adds_nothing_and_repeated_values_are_not_added_twice(store, tmp_path):
    path = write(tmp_path, "wide.csv", WIDE_CSV)
    first = import_file(store, path, ImportOptions(mapping=WIDE_MAPPING))
    again = import_file(store, path, ImportOptions(mapping=WIDE_MAPPING))
    assert again.already_imported and again.import_id == first.import_id
    assert store.scalar("SELECT count(*) FROM grades") == first.imported
    # Another file with the same grades plus one new row: only the new row's values are added.
    more = write(tmp_path, "more.csv", WIDE_CSV + "s6,A,q6,a6,r6,2,3,2,2\n")
    r = import_file(store, more, ImportOptions(mapping=WIDE_MAPPING))
    assert (r.imported, r.duplicates) == (4, 14)
    assert store.scalar("SELECT count(*) FROM items") == 5


def test_long_table_of_span_grades(store, tmp_path):
    spans = pa.table({"trace_id": ["t1", "t2"], "span_id": ["s1", "s2"], "kind": ["llm"] * 2,
                      "start_time": pa.array([datetime(2026, 3, 1, 9), datetime(2026, 3, 1, 10)],
                                             pa.timestamp("us")),
                      "output": ["x", "y"]})
    import_table(store, spans, source="test", origin="test")
    keys = dict(store.rows("SELECT span_id, span_key FROM spans"))
    text = ("trace,span,who,crit,score,when\n"
            "t1,s1,ana,correct,pass,2026-03-02T10:00:00\n"
            "t1,s1,judge-x,correct,fail,2026-03-02T11:00:00\n"
            "t2,s2,ana,correct,maybe,2026-03-02T10:00:00\n"
            "t9,s9,ana,correct,pass,2026-03-02T10:00:00\n"
            "t2,s2,judge-x,,pass,2026-03-02T10:00:00\n")
    path = write(tmp_path, "long.csv", text)
    mapping = {"grades": {
        "layout": "long", "target": {"type": "span", "trace_id": "trace", "span_id": "span"},
        "rubric": {"name": "ops"}, "criterion_column": "crit", "rater_column": "who",
        "value_column": "score", "time_column": "when",
        "scale": {"type": "boolean"}, "out_of_scale": "missing",
        "raters": [{"match": "^judge-(?P<v>.+)$", "kind": "judge", "name": "judge",
                    "version": "{v}"}],
    }}
    r = import_file(store, path, ImportOptions(mapping=mapping))
    assert (r.rows_read, r.imported, r.quarantined) == (5, 3, 2)
    bad = {(row, field): reason for row, field, reason in r.bad_rows}
    assert bad == {(5, "trace+span"): "no such span: t9 / s9", (6, "score"): "no criterion"}
    assert r.details["out_of_scale"] == {"score": 1}  # "maybe" is not pass or fail
    got = store.rows("""SELECT target_id, span_key, author_kind, author_id, judge_version,
                               value_label, created_at
                        FROM grades ORDER BY created_at, author_id""")
    assert got[0][:6] == (str(keys["s1"]), keys["s1"], "reviewer", "ana", None, "pass")
    assert got[0][6] == datetime(2026, 3, 2, 10)
    assert ("reviewer", "ana", None, None) in [g[2:6] for g in got]  # "maybe" as missing
    assert (str(keys["s1"]), keys["s1"], "judge", "judge", "x", "fail") in [g[:6] for g in got]


def test_pairwise_verdicts_from_nested_json_become_comparisons(store, tmp_path):
    records = [
        {"input": "q1", "output_1": "a", "output_2": "b", "label": 1,
         "results": [["stage one"], {"swap = False": {"winner": "1"},
                                     "swap = True": {"winner": "2"}}]},
        {"input": "q2", "output_1": "c", "output_2": "d", "label": 2,
         "results": [{"swap = False": {"winner": None}, "swap = True": {"winner": "2"}}]},
    ]
    folder = tmp_path / "JudgeX" / "PromptY"
    folder.mkdir(parents=True)
    path = folder / "result.json"
    path.write_text(json.dumps(records))
    mapping = yaml.safe_load(Path(__file__).parents[2].joinpath(
        "examples", "llmbar_judges.yaml").read_text())
    r = import_file(store, path, ImportOptions(mapping=mapping))
    assert (r.rows_read, r.imported, r.quarantined) == (2, 4, 0)
    assert r.details["comparisons"] == 2
    cmp = store.rows("SELECT input, a_type, a_output, b_output, shown_order, metadata "
                     "FROM comparisons ORDER BY input")
    assert cmp[0][:5] == ("q1", "text", "a", "b", "AB")
    assert json.loads(cmp[0][5]) == {"dataset": "llmbar-mtbench"}
    got = store.rows("""SELECT c.input, g.judge_name, g.judge_version, g.value_label,
                               g.raw ->> 'shown_order'
                        FROM grades g JOIN comparisons c ON c.comparison_id = g.target_id
                        ORDER BY c.input, g.judge_version""")
    assert got == [("q1", "JudgeX", "PromptY/AB", "A better", "AB"),
                   ("q1", "JudgeX", "PromptY/BA", "B better", "BA"),
                   ("q2", "JudgeX", "PromptY/AB", "no verdict", "AB"),
                   ("q2", "JudgeX", "PromptY/BA", "B better", "BA")]


def test_imported_grades_feed_agreement(store, tmp_path):
    path = write(tmp_path, "wide.csv", WIDE_CSV)
    import_file(store, path, ImportOptions(mapping=WIDE_MAPPING))
    res = criterion_agreement(store, "quality", rubric_name="stories", n_resamples=0)
    versions = set(res.judges["judge_version"])
    assert versions == {"v1", "v2"}
    mae = res.judges.set_index(["judge_version", "comparison", "statistic"])["value"]
    # v2 against each human grade: s1 (4.5 vs 4, 5), s2 (2 vs 2, 2), s3 (3 vs 3), s5 (5 vs 5)
    assert mae[("v2", "each human", "mae")] == pytest.approx((0.5 + 0.5 + 0 + 0 + 0 + 0) / 6)


def test_mapping_errors_name_the_problem(store, tmp_path):
    path = write(tmp_path, "wide.csv", WIDE_CSV)
    wrong = {"grades": {**WIDE_MAPPING["grades"], "criterion_column": "crit"}}
    with pytest.raises(MappingError, match="criterion"):
        import_file(store, path, ImportOptions(mapping=wrong))
    absent = {"grades": {**WIDE_MAPPING["grades"],
                         "raters": [{"column": "carol", "kind": "reviewer"}]}}
    with pytest.raises(MappingError, match=r"carol.*its columns are: story"):
        import_file(store, path, ImportOptions(mapping=absent))
    assert store.scalar("SELECT count(*) FROM grades") == 0


def test_command_line_and_import_job(tmp_path):
    path = write(tmp_path, "wide.csv", WIDE_CSV)
    mapping = write(tmp_path, "grades.yaml", yaml.safe_dump(WIDE_MAPPING))
    db = tmp_path / "cli.duckdb"
    cmd = [sys.executable, "-m", "goldenloop.cli", "import", str(path), "--mapping",
           str(mapping), "--out-of-scale", "missing", "--db", str(db)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr  # something was quarantined
    assert "14 grades imported" in out.stdout and "2 kept aside" in out.stdout
    assert "2 values outside the declared scale, treated as missing" in out.stdout
    assert "gpt_v1: 2" in out.stdout and "row 4: ben: not a number: abc" in out.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "already imported" in again.stdout and again.returncode == 0

    from goldenloop.schema import open_store

    with open_store(tmp_path / "job.duckdb") as store:
        params = {"files": [str(path)], "mapping": WIDE_MAPPING, "origin": "job"}
        result = import_files(store, params, lambda _f, _m: None)
        assert result["imported"] == 14 and result["quarantined"] == 2


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_long_table_of_item_grades_from_jsonl_and_parquet(store, tmp_path, fmt):
    rows = [{"id": "e1", "prompt": "2+2?", "answer": "4", "rater": "ana", "metric": "level",
             "score": "good"},
            {"id": "e1", "prompt": "2+2?", "answer": "4", "rater": "gpt-4o", "metric": "level",
             "score": "great"},
            {"id": "e2", "prompt": "3+3?", "answer": "7", "rater": "ana", "metric": "level",
             "score": "bad"},
            {"id": "e2", "prompt": "3+3?", "answer": "7", "rater": "gpt-4o", "metric": "level",
             "score": None}]
    path = tmp_path / f"long.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    mapping = {"grades": {
        "layout": "long", "target": {"type": "item", "column": "id"},
        "item": {"dataset": "evals", "input": "prompt", "output": "answer"},
        "criterion_column": "metric", "rater_column": "rater", "value_column": "score",
        "scale": {"type": "ordinal", "labels": ["bad", "ok", "good"]},
        "raters": [{"match": "^gpt", "kind": "judge", "version": "2024-08"}],
    }}
    r = import_file(store, path, ImportOptions(mapping=mapping))
    assert (r.rows_read, r.imported, r.quarantined) == (4, 3, 0)
    assert r.details["empty"] == 1 and r.details["out_of_scale"] == {"score": 1}  # "great"
    got = grades(store)
    assert ("item", "e1", "level", None, "great", "imported", "judge", "gpt-4o", "gpt-4o",
            "2024-08") in got
    assert ("item", "e2", "level", None, "bad", "imported", "reviewer", "ana", None, None) in got
    assert store.rows("SELECT item_id, input, output FROM items ORDER BY 1") == [
        ("e1", "2+2?", "4"), ("e2", "3+3?", "7")]
    labels = store.scalar("SELECT labels FROM criteria WHERE name = 'level'")
    assert list(labels) == ["bad", "ok", "good"]


def test_json_path_into_text_cells_and_text_that_is_not_json(store, tmp_path):
    path = write(tmp_path, "nested.csv", 'id,res\na,"{""v"": 3}"\nb,notjson\nc,"{""w"": 1}"\n')
    mapping = {"grades": {"target": {"column": "id"}, "criterion": "c",
                          "scale": {"type": "interval", "min": 1, "max": 5},
                          "raters": [{"column": "res", "path": "$.v"}]}}
    r = import_file(store, path, ImportOptions(mapping=mapping))
    assert (r.imported, r.quarantined, r.details["empty"]) == (1, 1, 1)
    assert r.bad_rows == [(3, "res.v", "not JSON")]
    assert store.rows("SELECT target_id, value_number FROM grades") == [("a", 3.0)]


def test_trace_and_session_targets_must_exist(store, tmp_path):
    spans = pa.table({"trace_id": ["t1"], "span_id": ["s1"], "session_id": ["c1"],
                      "kind": ["llm"], "start_time": pa.array([datetime(2026, 3, 1, 9)],
                                                              pa.timestamp("us"))})
    import_table(store, spans, source="test", origin="test")
    path = write(tmp_path, "t.csv", "trace,sess,ana\nt1,c1,4\nt2,c2,3\n")
    for kind, col, absent in (("trace", "trace", "t2"), ("session", "sess", "c2")):
        mapping = {"grades": {"target": {"type": kind, "column": col}, "criterion": kind,
                              "scale": {"type": "interval", "min": 1, "max": 5},
                              "raters": [{"column": "ana"}]}}
        r = import_file(store, path, ImportOptions(mapping=mapping))
        assert r.imported == 1 and r.bad_rows == [(3, col, f"no such {kind}: {absent}")]
    assert store.rows("SELECT target_type, target_id FROM grades ORDER BY 1") == [
        ("session", "c1"), ("trace", "t1")]
    bad = {"grades": {"target": {"type": "trace", "column": "trace", "prefix": "x:"},
                      "criterion": "c", "scale": {"type": "interval"},
                      "raters": [{"column": "ana"}]}}
    with pytest.raises(MappingError, match="prefix applies to item and comparison"):
        import_file(store, path, ImportOptions(mapping=bad))
