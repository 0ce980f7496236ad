"""Fuzzing the test set reader: whatever the bytes, every non-blank JSONL line becomes an item
or a quarantined row naming its row, field and reason (nothing lost, no traceback), and a CSV
either reads the same way or is refused with an ExperimentError naming the file."""

from __future__ import annotations

import json

from fuzz_support import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldenloop.errors import ExperimentError
from goldenloop.experiments.datasets import read_file

_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                       | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
_rows = st.dictionaries(st.sampled_from(["id", "input", "expected", "messages", "metadata", "x"]),
                        _values, max_size=5)
_line = st.one_of(_rows.map(lambda r: json.dumps(r).encode()), st.binary(max_size=40))
FUZZ = settings(max_examples=examples(150), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(lines=st.lists(_line, min_size=1, max_size=12))
def test_jsonl_rows_are_items_or_quarantined(tmp_path, lines):
    lines = [ln.replace(b"\n", b" ").replace(b"\r", b" ") for ln in lines]
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items, bad = read_file(path)
    # Python's bytes.splitlines-free count: the reader splits on b"\n" only.
    expected = sum(1 for ln in path.read_bytes().split(b"\n") if ln.strip())
    assert len(items) + len(bad) == expected
    assert len({i["item_key"] for i in items}) == len(items)
    for b in bad:
        assert b["row_number"] >= 1 and b["field"] and b["reason"]
    for i in items:
        assert isinstance(i["input"], str) and i["input"].strip()


@FUZZ
@given(cells=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=5), min_size=1,
                      max_size=8), header=st.sampled_from(["id,input,expected", "input", "a,b"]))
def test_csv_reads_or_is_refused_by_name(tmp_path, cells, header):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header.split(","))
    for row in cells:
        w.writerow(row)
    path = tmp_path / "fuzz.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        items, bad = read_file(path)
    except ExperimentError as exc:
        assert "fuzz.csv" in str(exc)
        return
    assert len(items) + len(bad) == len(cells)
