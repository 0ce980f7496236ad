"""File import of tables (CSV, JSONL, Parquet): mapping, validation, quarantine, duplicates,
cost and redaction — on real files and a real DuckDB store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from import_support import MESSY_CSV

from goldenloop.errors import ImportFileError, MappingError
from goldenloop.ingest import ImportOptions, import_file


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_messy_csv_keeps_good_rows_and_explains_bad_ones(store, tmp_path):
    path = _write(tmp_path, "messy.csv", MESSY_CSV)
    r = import_file(store, path, ImportOptions(mapping={"end_time": "end"}))
    assert r.rows_read == 10
    assert r.rows_read == r.imported + r.duplicates + r.quarantined
    assert (r.imported, r.duplicates, r.quarantined) == (3, 1, 6)
    bad = {row: (field, reason) for row, field, reason in r.bad_rows}
    assert bad[3] == ("input_tokens", "negative: -5")
    assert bad[4][0] == "input_tokens" and "not an integer" in bad[4][1]
    assert bad[5][0] == "start_time" and "not a time" in bad[5][1]
    assert bad[6] == ("<row>", "expected 11 fields, found 4")
    assert bad[9][0] == "status" and "weird" in bad[9][1]
    assert bad[10][0] == "end_time" and "ends before it starts" in bad[10][1]
    # Quarantine keeps the whole row as read, with the file name.
    raw, file = store.rows("SELECT raw, file FROM quarantine WHERE row_number = 9")[0]
    assert json.loads(raw)["status"] == "weird" and file == str(path)
    # The multi-line quoted record is one row; its offset time is converted to UTC.
    out, start, _end, latency, status = store.rows(
        "SELECT output, start_time, end_time, latency_ms, status FROM spans WHERE trace_id = 't8'"
    )[0]
    assert out == "multi\nline, with comma" and status == "error"
    assert str(start) == "2025-03-01 08:07:00" and latency == 1000.0


def test_reimport_adds_nothing(store, tmp_path):
    path = _write(tmp_path, "messy.csv", MESSY_CSV)
    import_file(store, path, ImportOptions(mapping={"end_time": "end"}))
    before = store.scalar("SELECT count(*) FROM spans")
    r = import_file(store, path, ImportOptions(mapping={"end_time": "end"}))
    assert r.imported == 0 and r.duplicates == 4 and r.quarantined == 6
    assert store.scalar("SELECT count(*) FROM spans") == before


def test_derived_fields_cost_and_unknown_prices(store, tmp_path):
    path = _write(tmp_path, "messy.csv", MESSY_CSV)
    r = import_file(store, path, ImportOptions(mapping={"end_time": "end"}))
    cost, estimated, end, last_user = store.rows(
        "SELECT cost_usd, cost_estimated, end_time, last_user_message FROM spans "
        "WHERE trace_id = 't1'")[0]
    # gpt-4o-mini on 2025-03-01: $0.15 in and $0.60 out per million tokens.
    assert cost == pytest.approx((100 * 0.15 + 20 * 0.60) / 1e6)
    assert estimated is True
    assert str(end) == "2025-03-01 10:00:00.350000" and last_user == "Hi"
    assert r.unknown_price == [("mystery-model", 1)]
    assert store.scalar("SELECT status FROM spans WHERE trace_id = 't5'") == "empty"
    assert store.scalar("SELECT cost_usd FROM spans WHERE trace_id = 't5'") is None


def test_price_table_is_dated(store, tmp_path):
    rows = [{"start_time": t, "model": "gpt-4o", "input_tokens": 1_000_000,
             "output_tokens": 0, "output": "x"} for t in ("2024-06-01", "2024-11-01")]
    path = tmp_path / "dated.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    import_file(store, path)
    costs = [c for (c,) in store.rows("SELECT cost_usd FROM spans ORDER BY start_time")]
    assert costs == [pytest.approx(5.0), pytest.approx(2.5)]  # gpt-4o price cut of 2024-10-01


def test_user_price_file_extends_the_table(store, tmp_path, monkeypatch):
    prices = _write(tmp_path, "prices.csv",
                    "model,valid_from,input_per_mtok,output_per_mtok\nmy-model,2020-01-01,1,2\n")
    monkeypatch.setenv("GOLDENLOOP_PRICES", str(prices))
    path = _write(tmp_path, "a.csv", "timestamp,model,prompt_tokens,completion_tokens,response\n"
                  "2025-01-01T00:00:00,my-model,1000,1000,ok\n")
    r = import_file(store, path)
    assert r.unknown_price == []
    assert store.scalar("SELECT cost_usd FROM spans") == pytest.approx(0.003)


def test_parquet_with_mapping_flags_and_epoch_times(store, tmp_path):
    table = pa.table({
        "ts_ms": pa.array([1_740_000_000_000, 1_740_000_060_000, 1_740_000_120_000], pa.int64()),
        "llm": ["gpt-4o-mini"] * 3,
        "in_tok": pa.array([10, 20, -1], pa.int64()),
        "answer": ["a", "b", "c"],
        "labels": [["x", "y"], [], None],
    })
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    mapping = {"start_time": "ts_ms", "model": "llm", "input_tokens": "in_tok", "output": "answer",
               "tags": "labels"}
    r = import_file(store, path, ImportOptions(mapping=mapping))
    assert (r.rows_read, r.imported, r.quarantined) == (3, 2, 1)
    assert r.bad_rows == [(3, "input_tokens", "negative: -1")]
    start, tags = store.rows("SELECT start_time, tags FROM spans ORDER BY start_time")[0]
    assert str(start) == "2025-02-19 21:20:00" and tags == ["x", "y"]


def test_jsonl_malformed_lines_are_quarantined_with_line_numbers(store, tmp_path):
    lines = [
        json.dumps({"start_time": "2025-01-01T00:00:00Z", "output": "one", "trace_id": "a",
                    "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Q?"}]}),
        "{not json",
        "",
        json.dumps(["an", "array"]),
        json.dumps({"start_time": "2025-01-01T00:01:00Z", "output": "two", "trace_id": "b",
                    "tags": "red, blue", "metadata": {"k": 1}, "input_tokens": "12"}),
        json.dumps({"output": "no time"}),
    ]
    path = _write(tmp_path, "s.jsonl", "\n".join(lines) + "\n")
    r = import_file(store, path)
    assert r.rows_read == 5 == r.imported + r.duplicates + r.quarantined
    assert r.imported == 2
    assert [(row, f) for row, f, _ in r.bad_rows] == [(2, "<line>"), (4, "<line>"),
                                                      (6, "start_time")]
    system, user = store.rows("SELECT system_prompt, last_user_message FROM spans "
                              "WHERE trace_id = 'a'")[0]
    assert (system, user) == ("Be brief.", "Q?")
    tags, meta, tokens = store.rows(
        "SELECT tags, metadata, input_tokens FROM spans WHERE trace_id = 'b'")[0]
    assert tags == ["red", "blue"] and json.loads(meta) == {"k": 1} and tokens == 12


def test_ids_are_derived_from_content_when_absent(store, tmp_path):
    path = _write(tmp_path, "noid.csv", "timestamp,response\n2025-01-01T00:00:00,a\n"
                  "2025-01-01T00:00:01,b\n")
    assert import_file(store, path).imported == 2
    assert import_file(store, path).duplicates == 2
    assert store.scalar("SELECT count(DISTINCT trace_id) FROM spans") == 2


def test_mapping_errors_name_the_file_and_the_choices(store, tmp_path):
    path = _write(tmp_path, "a.csv", "timestamp,response\n2025-01-01T00:00:00,a\n")
    with pytest.raises(MappingError, match=r"a\.csv.*no_such_column"):
        import_file(store, path, ImportOptions(mapping={"output": "no_such_column"}))
    with pytest.raises(MappingError, match="unknown span field"):
        import_file(store, path, ImportOptions(mapping={"outptu": "response"}))
    assert store.scalar("SELECT count(*) FROM spans") == 0


def test_unknown_format_and_missing_file(store, tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(store, tmp_path / "nope.csv")
    odd = _write(tmp_path, "x.xlsx", "?")
    with pytest.raises(ImportFileError, match="--format"):
        import_file(store, odd)


def test_redaction_at_import(store, tmp_path):
    text = ("mail me at jane.doe@example.com or call +1 415-555-0199, "
            "key sk-abcdefghijklmnopqrstuvwx")
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"start_time": "2025-01-01T00:00:00Z", "output": text,
                                "messages": [{"role": "user", "content": text}]}) + "\n")
    import_file(store, path, ImportOptions(redact=True))
    out, msgs, user = store.rows("SELECT output, messages, last_user_message FROM spans")[0]
    for value in (out, msgs, user):
        assert "example.com" not in value and "555" not in value and "sk-abc" not in value
    assert "[EMAIL]" in out and "[PHONE]" in out and "[API_KEY]" in out


def test_cli_exits_nonzero_and_names_rows_when_quarantining(tmp_path):
    path = _write(tmp_path, "messy.csv", MESSY_CSV)
    db = tmp_path / "cli.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "goldenloop.cli", "import", str(path), "--db", str(db),
         "--map", "end_time=end"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "10 rows read: 3 imported, 1 duplicates, 6 quarantined" in proc.stdout
    assert f"{path}: row 3: input_tokens: negative: -5" in proc.stdout
    assert "no price for 'mystery-model'" in proc.stdout
