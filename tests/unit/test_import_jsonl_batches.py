"""JSON Lines in batches (issue 13, memory): the fast read hands the loader a few rows at a time,
and the import answers exactly as reading the file whole: the same rows, row numbers that are
line numbers, and rows read = imported + duplicates + conflicts + quarantined. When the fast
read stops after some batches went in (a blank line, a duplicate key), the import is rolled
back and read line by line: nothing is imported twice and nothing is lost."""

from __future__ import annotations

import json

import pytest

from goldenloop.ingest import ImportOptions, import_file

BATCH = 3  # rows per batch here, so that a 10-line file takes four


def _line(i: int, **over) -> str:
    row = {"trace_id": f"t{i}", "span_id": "s", "start_time": f"2025-03-01T10:00:{i:02d}Z",
           "model": "gpt-4o", "input_tokens": 10 + i, "output": f"answer {i}"}
    return json.dumps({**row, **over})


def _import(store, path, batch_rows=BATCH, seen: list | None = None):
    notes = seen if seen is not None else []
    r = import_file(store, path, ImportOptions(batch_rows=batch_rows),
                    progress=lambda _f, message: notes.append(message))
    assert r.rows_read == r.imported + r.duplicates + r.conflicts + r.quarantined
    return r


def _stored(store) -> list[tuple]:
    return store.rows("SELECT trace_id, input_tokens, output FROM spans ORDER BY trace_id")


def _imports(store) -> list[tuple]:
    return store.rows("SELECT status, rows_read, imported FROM import_log ORDER BY import_id")


def test_batches_give_the_same_rows_and_line_numbers_as_one_chunk(store, tmp_path):
    lines = [_line(i) for i in range(1, 11)]
    lines[7] = _line(8, input_tokens=-5)  # line 8, in the third batch: quarantined as line 8
    p = tmp_path / "spans.jsonl"
    p.write_text("\n".join(lines) + "\n")
    seen: list[str] = []
    r = _import(store, p, seen=seen)
    assert [m for m in seen if m.endswith("rows read")] == [  # one note per batch
        "3 rows read", "6 rows read", "9 rows read", "10 rows read"]
    assert (r.rows_read, r.imported, r.quarantined) == (10, 9, 1)
    assert [(row, field) for row, field, _ in r.bad_rows] == [(8, "input_tokens")]
    batched = _stored(store)
    assert len(batched) == 9 and ("t8", -5, "answer 8") not in batched

    whole = tmp_path / "whole.duckdb"
    from goldenloop.schema import open_store

    with open_store(whole) as other:
        w = _import(other, p, batch_rows=None)
        assert (w.rows_read, w.imported, w.quarantined, w.bad_rows) == (
            r.rows_read, r.imported, r.quarantined, r.bad_rows)
        assert _stored(other) == batched


@pytest.mark.parametrize("breaks", ["blank line", "duplicate key"])
def test_a_line_only_the_careful_path_reads_late_in_the_file_rolls_back_and_reads_again(
        store, tmp_path, breaks):
    lines = [_line(i) for i in range(1, 11)]
    if breaks == "blank line":
        lines.insert(8, "")  # after two batches went in; rows below it move down a line
    else:
        lines[8] = lines[8][:-1] + ', "model": "again"}'
    p = tmp_path / "late.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = _import(store, p)
    assert r.rows_read == 10 and r.imported + r.quarantined == 10
    assert _imports(store) == [("committed", 10, r.imported)]  # one import, no half of one
    assert store.scalar("SELECT count(*) FROM spans") == r.imported
    if breaks == "blank line":
        assert r.imported == 10
        # the row after the blank line is numbered by its line
        assert store.scalar("SELECT count(*) FROM quarantine") == 0
        assert _stored(store) == sorted(
            (f"t{i}", 10 + i, f"answer {i}") for i in range(1, 11))
    assert _import(store, p).imported == 0  # again: nothing added


def test_a_repeat_of_an_earlier_batch_is_a_duplicate_or_a_conflict(store, tmp_path):
    lines = [_line(i) for i in range(1, 8)]
    lines.append(_line(1))  # line 8: the same span as line 1, same content
    lines.append(_line(2, output="another answer"))  # line 9: line 2's ids, other content
    p = tmp_path / "repeats.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = _import(store, p)
    assert (r.rows_read, r.imported, r.duplicates, r.conflicts) == (9, 7, 1, 1)
    assert store.rows("SELECT row_number FROM quarantine") == [(9,)]
    assert store.scalar("SELECT output FROM spans WHERE trace_id = 't2'") == "answer 2"
