"""Issue 13: file imports never lose data or crash. One test per class of bad input, each on a
real file and a real DuckDB store: encodings, values out of range, headers, JSON shapes,
row numbers, the quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goldenloop.errors import ImportFileError
from goldenloop.ingest import ImportOptions, import_file, limits

T0 = "2025-03-01T10:00:00Z"


def _balanced(r) -> bool:
    return r.rows_read == r.imported + r.duplicates + r.conflicts + r.quarantined


def _bad(r) -> dict[int, tuple[str, str]]:
    return {row: (field, reason) for row, field, reason in r.bad_rows}


# -- 1: encodings ------------------------------------------------------------------------------
def test_latin1_csv_is_detected_and_read_without_replacement(store, tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("timestamp,response\n2025-03-01T10:00:00Z,café crème\n".encode("latin-1"))
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (1, 0)
    assert store.scalar("SELECT output FROM spans") == "café crème"
    assert any("cp1252" in n for n in r.notes)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_mixed_encoding_file_quarantines_the_undecodable_line_escaped(store, tmp_path, suffix):
    if suffix == "csv":
        lines = ["timestamp,response", f"{T0},naïve", f"{T0.replace('10:', '11:')},café"]
    else:
        lines = [json.dumps({"start_time": T0, "output": "naïve"}, ensure_ascii=False),
                 json.dumps({"start_time": T0.replace("10:", "11:"), "output": "café"},
                            ensure_ascii=False)]
    data = "\n".join(lines[:-1]).encode("utf-8") + b"\n" + lines[-1].encode("latin-1") + b"\n"
    p = tmp_path / f"mixed.{suffix}"
    p.write_bytes(data)
    r = import_file(store, p)
    assert _balanced(r) and (r.imported, r.quarantined) == (1, 1)
    assert store.scalar("SELECT output FROM spans") == "naïve"
    raw, reason = store.rows("SELECT raw, reason FROM quarantine")[0]
    assert "caf\\xe9" in raw and "not valid utf-8" in reason
    assert "\ufffd" not in (store.scalar("SELECT string_agg(output, '') FROM spans") or "")


def test_undecodable_bytes_in_a_short_row_or_the_header_are_kept_escaped(store, tmp_path):
    p = tmp_path / "short.csv"
    p.write_bytes(f"timestamp,response,naïve\n{T0},a,b\n".encode() + "café,1\n".encode("latin-1"))
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (1, 1)
    assert store.scalar("SELECT raw FROM quarantine") == "caf\\xe9,1"
    h = tmp_path / "header.csv"
    h.write_bytes("timestamp,résumé\n".encode("latin-1") + f"{T0},x\n".encode() + "€\n".encode())
    r = import_file(store, h)
    assert r.imported == 1 and json.loads(store.scalar(
        "SELECT metadata FROM spans WHERE import_id = ?", [r.import_id])) == {"r\\xe9sum\\xe9": "x"}


def test_encoding_option_and_utf16_with_bom(store, tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes("timestamp,response\n2025-03-01T10:00:00Z,größe\n".encode("utf-16"))
    r = import_file(store, p)
    assert r.imported == 1 and store.scalar("SELECT output FROM spans") == "größe"
    q = tmp_path / "cyr.jsonl"
    q.write_bytes(json.dumps({"start_time": T0, "output": "привет"}, ensure_ascii=False)
                  .encode("cp1251") + b"\n")
    r = import_file(store, q, ImportOptions(encoding="cp1251"))
    assert r.imported == 1
    assert store.scalar("SELECT count(*) FROM spans WHERE output = 'привет'") == 1
    with pytest.raises(ImportFileError, match="not a known text encoding"):
        import_file(store, q, ImportOptions(encoding="no-such-codec"))


# -- 2: a JSON value where text is expected ----------------------------------------------------
def test_one_object_output_leaves_other_strings_unquoted(store, tmp_path):
    p = tmp_path / "obj.jsonl"
    rows = [{"start_time": T0, "span_id": "a", "output": 'plain "quoted" text'},
            {"start_time": T0, "span_id": "b", "output": {"answer": 42}}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = import_file(store, p)
    assert r.imported == 2
    got = dict(store.rows("SELECT span_id, output FROM spans"))
    assert got["a"] == 'plain "quoted" text'
    assert json.loads(got["b"]) == {"answer": 42}


# -- 3: ids from content only ------------------------------------------------------------------
def _noid_rows(n: int, offset: int = 0) -> list[dict]:
    return [{"start_time": f"2025-03-01T10:{(i + offset) % 60:02d}:00Z", "model": "m",
             "output": f"answer {i + offset}", "input_tokens": i} for i in range(n)]


def test_rows_without_ids_are_not_duplicated_when_the_file_grows(store, tmp_path):
    p = tmp_path / "grow.jsonl"
    rows = _noid_rows(7)
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert import_file(store, p).imported == 7
    # One more row on top, and a blank line: the careful path, other line numbers.
    p.write_text("".join(json.dumps(r) + "\n" for r in [_noid_rows(1, 50)[0], *rows]) + "\n")
    r = import_file(store, p)
    assert (r.imported, r.duplicates, r.conflicts) == (1, 7, 0)
    # The same rows as CSV are the same spans.
    c = tmp_path / "grow.csv"
    c.write_text("start_time,model,output,input_tokens\n" + "".join(
        f"{x['start_time']},{x['model']},{x['output']},{x['input_tokens']}\n" for x in rows[::-1]))
    r = import_file(store, c)
    assert (r.imported, r.duplicates) == (0, 7)
    assert store.scalar("SELECT count(*) FROM spans") == 8


# -- 5: unmapped columns -----------------------------------------------------------------------
@pytest.mark.parametrize("blank_line", [False, True])
def test_unmapped_columns_are_kept_in_metadata_and_named(store, tmp_path, blank_line):
    p = tmp_path / "extra.jsonl"
    rows = [{"start_time": T0, "output": "x", "customer_tier": "gold", "retries": 2,
             "usage": {"total": 9}, "metadata": {"k": 1}}]
    p.write_text(json.dumps(rows[0]) + "\n" + ("\n" if blank_line else ""))
    r = import_file(store, p)
    assert r.imported == 1
    assert json.loads(store.scalar("SELECT metadata FROM spans")) == {
        "k": 1, "customer_tier": "gold", "retries": 2, "usage": {"total": 9}}
    assert any("customer_tier, retries, usage" in n for n in r.notes)


def test_both_jsonl_paths_give_the_same_span(store, tmp_path):
    row = {"start_time": T0, "output": "x", "tier": "gold", "n": 3, "messages": [
        {"role": "user", "content": "hi"}], "latency_ms": 12.5}
    fast, careful = tmp_path / "fast.jsonl", tmp_path / "careful.jsonl"
    fast.write_text(json.dumps(row) + "\n")
    careful.write_text("\n" + json.dumps(row) + "\n")
    assert import_file(store, fast).imported == 1
    r = import_file(store, careful)
    assert (r.imported, r.duplicates, r.conflicts) == (0, 1, 0)


# -- 6: conflicting duplicates -----------------------------------------------------------------
def test_conflicting_duplicates_are_counted_apart_and_kept(store, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text(f"trace_id,span_id,timestamp,response\nt,s1,{T0},original\n"
                     f"t,s2,{T0},same\n")
    assert import_file(store, first).imported == 2
    second = tmp_path / "second.csv"
    second.write_text(f"trace_id,span_id,timestamp,response\nt,s1,{T0},changed\n"
                      f"t,s2,{T0},same\nt,s3,{T0},a\nt,s3,{T0},b\nt,s3,{T0},a\n")
    r = import_file(store, second)
    assert _balanced(r)
    assert (r.imported, r.duplicates, r.conflicts, r.quarantined) == (1, 2, 2, 0)
    assert not r.ok
    reasons = dict(store.rows("SELECT row_number, reason FROM quarantine"))
    assert set(reasons) == {2, 5}
    assert "stored span" in reasons[2] and "output" in reasons[2]
    assert "earlier row of this file" in reasons[5]
    assert store.scalar("SELECT output FROM spans WHERE span_id = 's1'") == "original"
    # Importing it again adds nothing, to the spans or to the quarantine.
    r = import_file(store, second)
    assert (r.imported, r.conflicts) == (0, 2)
    assert store.scalar("SELECT count(*) FROM quarantine") == 2


# -- 10 and 13: values out of range ------------------------------------------------------------
BAD_VALUES = [
    ("input_tokens", "2147483648", "above 2,147,483,647"),
    ("input_tokens", "99999999999", "above"),
    ("input_tokens", "1.5", "not an integer"),
    ("input_tokens", "-3", "negative"),
    ("start_time", "1e30", "not a time"),
    ("start_time", "1e309", "not a time"),
    ("start_time", "nan", "not a time"),
    ("start_time", "inf", "not a time"),
    ("start_time", "-5", f"outside {limits.EARLIEST:%Y}–{limits.LATEST:%Y}"),
    ("latency_ms", "nan", "not a finite number"),
    ("latency_ms", "inf", "not a finite number"),
    ("latency_ms", "1e20", "above"),
    ("cost_usd", "nan", "not a finite number"),
    ("cost_usd", "inf", "not a finite number"),
    ("ttft_ms", "nan", "not a finite number"),
    ("ttft_ms", "-inf", "not a finite number"),
]


def _value_rows(field: str, value) -> list[dict]:
    good = {"span_id": "good", "start_time": T0, "output": "ok", "latency_ms": 5}
    bad = {**good, "span_id": "bad", field: value}
    if field == "latency_ms":  # derives the start time: make it the only way to get one
        bad = {**bad, "start_time": None, "end_time": T0}
    return [good, bad]


@pytest.mark.parametrize(("field", "value", "reason"), BAD_VALUES)
def test_one_bad_value_is_quarantined_and_the_rest_imports_csv(store, tmp_path, field, value,
                                                               reason):
    rows = _value_rows(field, value)
    cols = sorted({k for r in rows for k in r})
    p = tmp_path / "v.csv"
    p.write_text(",".join(cols) + "\n" + "".join(
        ",".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + "\n" for r in rows))
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (1, 1), r.bad_rows
    assert _bad(r)[3][0] == field and reason in _bad(r)[3][1]


JSON_BAD = [("input_tokens", 2**31), ("input_tokens", 99999999999), ("input_tokens", 1.5),
            ("start_time", 1e30), ("start_time", 10**30), ("latency_ms", 1e20),
            ("cost_usd", 1e300), ("turn_index", -1)]


@pytest.mark.parametrize(("field", "value"), JSON_BAD)
def test_one_bad_value_is_quarantined_jsonl_and_parquet(store, tmp_path, field, value):
    rows = _value_rows(field, value)
    p = tmp_path / "v.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (1, 1), r.bad_rows
    assert _bad(r)[2][0] == field
    if isinstance(value, int) and value > 2**63:
        return  # Parquet has no integer that wide
    q = tmp_path / "v.parquet"
    rows = [{**x, "span_id": x["span_id"] + "p"} for x in rows]
    if field == "start_time":  # one type per Parquet column: the good time as epoch seconds
        rows[0]["start_time"] = 1740823200.0
    pq.write_table(pa.table({k: [x.get(k) for x in rows] for k in rows[1]}), q)
    r = import_file(store, q)
    assert (r.imported, r.quarantined) == (1, 1), r.bad_rows
    assert _bad(r)[2][0] == field


def test_nan_and_infinity_in_jsonl_numbers(store, tmp_path):
    # Python's json writes NaN and Infinity; JSON does not allow them: the lines are kept.
    p = tmp_path / "nan.jsonl"
    p.write_text(json.dumps({"start_time": T0, "output": "a"}) + "\n"
                 + json.dumps({"start_time": T0, "output": "b", "cost_usd": float("nan")}) + "\n"
                 + json.dumps({"start_time": float("inf"), "output": "c"}) + "\n")
    r = import_file(store, p)
    assert _balanced(r) and r.imported == 1 and r.quarantined == 2
    assert store.scalar("SELECT count(*) FROM quarantine WHERE raw LIKE '%NaN%'") == 1


# -- 11: headers -------------------------------------------------------------------------------
def test_empty_and_duplicate_header_cells(store, tmp_path):
    p = tmp_path / "pandas.csv"
    p.write_text(f",timestamp,response,response\n0,{T0},first,second\n")
    r = import_file(store, p)
    assert r.imported == 1
    assert store.scalar("SELECT output FROM spans") == "first"
    assert json.loads(store.scalar("SELECT metadata FROM spans")) == {
        "column_1": 0, "response_2": "second"}


# -- 20: smaller --------------------------------------------------------------------------------
def test_fast_jsonl_reports_line_numbers(store, tmp_path):
    p = tmp_path / "fast.jsonl"
    rows = [{"start_time": T0, "span_id": str(i), "input_tokens": 5} for i in range(5)]
    rows[3]["input_tokens"] = -1
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with store.transaction() as cur:  # inside a transaction temp row ids start high
        cur.execute("SELECT 1")
    r = import_file(store, p)
    assert list(_bad(r)) == [4]
    assert store.scalar("SELECT row_number FROM quarantine") == 4


@pytest.mark.slow
def test_fast_jsonl_line_numbers_hold_when_inserts_run_out_of_order(store, tmp_path):
    # The command line lets DuckDB insert out of file order; the fast reader's row numbers
    # are positions in its result, so that read must still come in file order.
    cur = store.cursor()
    cur.execute("SET preserve_insertion_order = false")
    p = tmp_path / "order.jsonl"
    rows = [{"start_time": T0, "span_id": str(i), "output": "x" * 50} for i in range(20_000)]
    rows[17_345]["input_tokens"] = -1
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = import_file(store, p)
    assert list(_bad(r)) == [17_346]
    assert json.loads(store.scalar("SELECT raw FROM quarantine"))["span_id"] == "17345"
    assert cur.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(False,)]


def test_an_empty_key_is_kept_not_misread(store, tmp_path):
    p = tmp_path / "empty_key.jsonl"
    p.write_text(json.dumps({"": 1, "start_time": T0, "output": "x"}) + "\n")
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (1, 0), r.bad_rows
    assert json.loads(store.scalar("SELECT metadata FROM spans")) == {"column_1": 1}


def test_a_json_array_of_records_is_read_as_records(store, tmp_path):
    p = tmp_path / "array.json"
    p.write_text(json.dumps([{"start_time": T0, "output": "a"},
                             {"start_time": "soon", "output": "b"}]))
    r = import_file(store, p)
    assert _balanced(r) and (r.rows_read, r.imported, r.quarantined) == (2, 1, 1)
    assert list(_bad(r)) == [2]
    broken = tmp_path / "broken.json"
    broken.write_text('[{"start_time": 1}, {"output": ')
    with pytest.raises(ImportFileError, match="not a JSON array"):
        import_file(store, broken)


def test_a_line_the_fast_reader_rejects_does_not_reject_the_file(store, tmp_path):
    # DuckDB's typed read fails the whole file on a duplicate key; the careful path reads it.
    p = tmp_path / "dup_key.jsonl"
    p.write_text(json.dumps({"start_time": T0, "output": "a"}) + "\n"
                 + f'{{"start_time": "{T0}", "output": "b", "output": "c"}}\n')
    r = import_file(store, p)
    assert _balanced(r) and r.rows_read == 2 and r.imported == 2


def test_an_array_of_non_objects_is_refused_with_a_message(store, tmp_path):
    p = tmp_path / "numbers.json"
    p.write_text("[1, 2, 3]")
    with pytest.raises(ImportFileError, match="not a JSON array of objects"):
        import_file(store, p)


def test_a_folder_is_named_as_a_folder(store, tmp_path):
    with pytest.raises(ImportFileError, match="is a folder"):
        import_file(store, tmp_path)


# -- 21: the quarantine keeps whole rows, once ----------------------------------------------------
def test_long_bad_line_is_kept_whole_and_reimport_adds_nothing(store, tmp_path):
    p = tmp_path / "long.jsonl"
    long_line = '{"start_time": "' + "x" * 250_000 + '", "broken": '
    p.write_text(json.dumps({"start_time": T0, "output": "ok"}) + "\n" + long_line + "\n"
                 + json.dumps({"start_time": "never"}) + "\n")
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (1, 2)
    assert store.scalar("SELECT raw FROM quarantine WHERE row_number = 2") == long_line
    r = import_file(store, p)
    assert (r.imported, r.duplicates, r.quarantined) == (0, 1, 2)
    assert len(r.bad_rows) == 2  # still named in the summary
    assert store.scalar("SELECT count(*) FROM quarantine") == 2


# -- 4: uploads ----------------------------------------------------------------------------------
def test_same_name_uploads_are_kept_apart(tmp_path: Path):
    from goldenloop.ingest.uploads import save_upload

    a = save_upload(tmp_path, "traces.csv", b"first")
    b = save_upload(tmp_path, "traces.csv", b"second")
    assert a != b and a.read_bytes() == b"first" and b.read_bytes() == b"second"


def test_grade_files_follow_the_same_encoding_rules(store, tmp_path):
    from import_support import WIDE_CSV, WIDE_MAPPING

    p = tmp_path / "grades.csv"
    p.write_bytes(WIDE_CSV.replace("q1", "qué").encode("latin-1"))
    r = import_file(store, p, ImportOptions(mapping=WIDE_MAPPING))
    assert r.rows_read == 5
    assert store.scalar("SELECT count(*) FROM items WHERE input = 'qué'") == 1
