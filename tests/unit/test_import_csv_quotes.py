"""A stray quote in a CSV file (issue 13 leftovers): it costs its own line, never the lines after
it. Before, the quote made the parser read every later line into one cell: to the end of the
file (the good rows after it quarantined with it), or, when a later quote closed it, into one
row of the right width (the rows inside it imported as one cell: silent loss)."""

from __future__ import annotations

import json

import pytest

from goldenloop.errors import ImportFileError
from goldenloop.ingest import ImportOptions, import_file

HEAD = "start_time,output,input_tokens\n"


def _row(i: int, output: str, tokens: int | str) -> str:
    return f"2025-03-01T10:00:{i:02d}Z,{output},{tokens}\n"


def _import(store, tmp_path, text: str, name: str = "q.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return import_file(store, path, ImportOptions())


def _outputs(store) -> list[str]:
    return [r[0] for r in store.rows("SELECT output FROM spans ORDER BY start_time")]


def _quarantine(store) -> list[tuple[int, str, str, str]]:
    return [(n, json.loads(e)[0]["field"], json.loads(e)[0]["reason"], raw) for n, e, raw in
            store.rows("SELECT row_number, errors, raw FROM quarantine ORDER BY row_number")]


def test_a_quote_that_never_closes_costs_its_line_only(store, tmp_path):
    text = HEAD + _row(0, "hello", 5) + _row(1, '"broken', 6) + _row(2, "fine", 7) + \
        _row(3, "also fine", 8)
    r = _import(store, tmp_path, text)
    assert (r.rows_read, r.imported, r.quarantined) == (4, 3, 1)
    assert _outputs(store) == ["hello", "fine", "also fine"]
    [(row, field, reason, raw)] = _quarantine(store)
    assert (row, field) == (3, "output")  # the file's line 3, the column the quote opened
    assert "quote" in reason and "lines 4–5" in reason
    assert raw == _row(1, '"broken', 6).rstrip("\n")  # the line exactly as read
    assert r.bad_rows[0][:2] == (3, "output")


def test_a_quote_closed_by_a_later_quote_does_not_fold_rows_into_one_cell(store, tmp_path):
    # The stray quote on line 3 is closed on line 5: read plainly, lines 3-5 are one row of
    # the right width whose output holds two other rows (the silent case).
    text = (HEAD + _row(0, "hello", 5) + _row(1, '"broken', 6) + _row(2, "fine", 7)
            + _row(3, 'also fine"', 8) + _row(4, "last", 9))
    r = _import(store, tmp_path, text)
    assert r.rows_read == r.imported + r.duplicates + r.conflicts + r.quarantined
    assert (r.rows_read, r.imported, r.quarantined) == (5, 4, 1)
    # The closing quote is a stray too, but inside an unquoted cell it is text, as read.
    assert _outputs(store) == ["hello", "fine", 'also fine"', "last"]
    assert [q[:2] for q in _quarantine(store)] == [(3, "output")]


def test_a_quote_closed_by_the_next_quoted_cell(store, tmp_path):
    text = HEAD + _row(0, '"broken', 6) + _row(1, '"fine, quoted"', 7) + _row(2, "plain", 8)
    r = _import(store, tmp_path, text)
    assert (r.rows_read, r.imported, r.quarantined) == (3, 2, 1)
    assert _outputs(store) == ["fine, quoted", "plain"]


def test_real_multi_line_cells_are_still_one_row(store, tmp_path):
    # Line breaks inside a quoted cell are legitimate: the lines after the first do not read
    # as rows of three columns on their own, so the row stands.
    cell = '"Steps:\n1. open, then\n2. close, save, quit"'
    text = HEAD + _row(0, cell, 5) + _row(1, "after", 6)
    r = _import(store, tmp_path, text)
    assert (r.rows_read, r.imported, r.quarantined) == (2, 2, 0)
    assert _outputs(store) == ["Steps:\n1. open, then\n2. close, save, quit", "after"]


def test_a_quote_closed_mid_cell_is_quarantined_not_garbled(store, tmp_path):
    # '"x"y' was read as 'xy' before: the row is not the row as written.
    text = HEAD + _row(0, '"x"y', 5) + _row(1, "ok", 6)
    r = _import(store, tmp_path, text)
    assert (r.imported, r.quarantined) == (1, 1)
    [(row, _field, reason, raw)] = _quarantine(store)
    assert row == 2 and "CSV" in reason and raw == _row(0, '"x"y', 5).rstrip("\n")


@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t")])
def test_every_line_after_a_stray_quote_is_counted(store, tmp_path, suffix, delimiter):
    n = 50
    lines = [_row(i, "x" if i != 10 else '"stray', i) for i in range(n)]
    text = (HEAD + "".join(lines)).replace(",", delimiter)
    r = _import(store, tmp_path, text, name="many" + suffix)
    assert (r.rows_read, r.imported, r.quarantined) == (n, n - 1, 1)
    assert _quarantine(store)[0][:2] == (12, "output")


def test_a_header_whose_quote_never_closes_is_refused_with_a_message(store, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text('start_time,"output,input_tokens\n' + _row(0, "a", 1), encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"h\.csv: line 1: the header row"):
        import_file(store, path, ImportOptions())
    assert store.scalar("SELECT count(*) FROM spans") == 0


def test_a_one_column_file_keeps_its_multi_line_cells(store, tmp_path):
    # With one column every line reads as a whole row: nothing tells a stray quote from a cell
    # with line breaks, so the cell is taken as written.
    text = 'output\n"first\nsecond"\nthird\n'
    r = _import(store, tmp_path, text)
    assert r.rows_read == 2
    # No start time: both rows are quarantined, each whole (the quarantine keeps the row read).
    assert sorted(json.loads(q[3])["output"] for q in _quarantine(store)) == ["first\nsecond",
                                                                              "third"]
