"""Property-based fuzzing of the file importers (issue 13): small generated CSV, TSV and JSON
Lines files, from clean to hostile (values out of range, NaN, nested objects where text is
expected, odd keys, broken lines, blank lines, other encodings, byte-order marks), each
imported into a real DuckDB store twice.

Invariants, for every generated file:
- never an uncaught exception: the importer answers with counts, or a GoldenloopError whose
  message names the file;
- rows read = imported + duplicates + conflicts + quarantined;
- every span counted as imported is stored, and every quarantined row is in the quarantine;
- importing the same file again adds nothing, to the spans or to the quarantine.

CI cost: the "ci" profile runs 150 examples in the full suite (one to three minutes on 2 shared
cores; tests/system/test_unit_slow.py) and 25 in a plain `pytest tests/unit`
(tests/fuzz_support.py); set GOLDENLOOP_FUZZ_EXAMPLES for a longer run. The number of generated
inputs is printed at the end of the test.

OTLP JSON is read by the receiver's reader: add a serializer to ``SERIALIZERS`` (records →
bytes of an OTLP JSON document, suffix ".json") to fuzz it with the same invariants.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import hostile_data
import pytest
from fuzz_support import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldenloop.errors import GoldenloopError
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.schema import open_store
from goldenloop.store import Store

settings.register_profile(
    "ci", max_examples=examples(150), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FIELDS = ["trace_id", "span_id", "start_time", "end_time", "latency_ms", "ttft_ms",
          "input_tokens", "output_tokens", "turn_index", "cost_usd", "status", "model",
          "output", "messages", "metadata", "tags", "session_id"]
ODD_KEYS = ["", "_row", "_raw", "extra", "a/b", "x.y", "q\"uote", "Ünï", "timestamp",
            "response", "start_time "]

texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
good_times = st.sampled_from(["2025-03-01T10:00:00Z", "2025-03-01 10:00:01", "1740823200",
                              "1740823200123", "2025-03-01T12:00:00+02:00"])
bad_numbers = st.sampled_from([math.nan, math.inf, -math.inf, 1e30, 1e309, 1e20, 2**31,
                               99999999999, 10**30, -5, 1.5, -1, 0])
values = st.one_of(
    st.none(), texts, good_times, bad_numbers,
    st.integers(min_value=-2**40, max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-5", "1.5", "1e309", "ok", "error", "weird", "", " ",
                     "null", "true", "[1, 2]", '{"k": 1}', "a,b;c"]),
    st.dictionaries(texts, texts, max_size=2),
    st.lists(texts, max_size=3),
    # What hostile or broken cells hold: quotes in every position, delimiters, line breaks,
    # NUL, a byte-order mark inside a cell, markup and bidi overrides (tests/hostile_data.py).
    st.sampled_from(['"', '""', 'a"b', '"a', 'a"', '"a"b', '\'', "a\tb", "a\nb", "a\r\nb", "\r",
                     "\x00", "\ufeffx", "=1+1", hostile_data.hostile("cell"), hostile_data.BIDI]),
)
keys = st.one_of(st.sampled_from(FIELDS), st.sampled_from(ODD_KEYS))
# Mostly good spans with a few changed or added keys, so the importer's every branch (good,
# bad, duplicate, conflicting) is reached; ids from a small pool make repeats and conflicts.
good = st.fixed_dictionaries(
    {"start_time": good_times, "output": texts},
    optional={"trace_id": st.sampled_from(["t1", "t2"]), "span_id": st.sampled_from(["a", "b"]),
              "model": st.sampled_from(["gpt-4o", "m"]), "input_tokens": st.integers(0, 500)})
record = st.builds(lambda base, changes: {**base, **changes}, good,
                   st.dictionaries(keys, values, max_size=3))
records = st.lists(record, min_size=0, max_size=6)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _table(rows: list[dict], delimiter: str) -> str:
    names = sorted({k for r in rows for k in r}) or ["start_time"]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(names)
    for r in rows:
        w.writerow([_cell(r.get(k)) for k in names])
    return buf.getvalue()


def _jsonl(rows: list[dict]) -> str:
    # Python writes NaN and Infinity, which JSON does not allow: those lines are bad lines.
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


SERIALIZERS: dict[str, tuple[str, Callable[[list[dict]], str]]] = {
    "csv": (".csv", lambda rows: _table(rows, ",")),
    "tsv": (".tsv", lambda rows: _table(rows, "\t")),
    "jsonl": (".jsonl", _jsonl),
}

# Damage applied to the serialized text: none, or what real files come with.
DAMAGE = ["none", "latin-1", "mixed-bytes", "utf-16", "utf-8-bom", "blank-lines", "broken-line",
          "truncated", "crlf", "stray-quote"]


def _damaged(text: str, damage: str, cut: int) -> bytes:
    if damage == "latin-1":
        return text.encode("latin-1", "replace")
    if damage == "utf-16":
        return text.encode("utf-16")
    if damage == "utf-8-bom":
        return b"\xef\xbb\xbf" + text.encode()
    if damage == "mixed-bytes":
        return text.encode() + "mixed café,1\n".encode("latin-1")
    if damage == "blank-lines":
        return text.replace("\n", "\n\n", 2).encode()
    if damage == "broken-line":
        return text.encode() + b'{"start_time": "2025-03-01T10:00:00Z", "output": \n'
    if damage == "truncated":
        data = text.encode()
        return data[: max(1, len(data) - cut)]
    if damage == "crlf":
        return text.replace("\n", "\r\n").encode()
    if damage == "stray-quote":  # one quote that never closes where it should
        at = (cut * 7919) % (len(text) + 1)
        return (text[:at] + '"' + text[at:]).encode()
    return text.encode()


def _data_lines(data: bytes) -> int:
    """Lines after the header, not blank: when no cell holds a line break, each must come out
    as one row, imported or quarantined, whatever its quotes."""
    lines = re.split(r"\r\n|\r|\n", data.decode("utf-8"))
    return sum(1 for line in lines[1:] if line)


def _line_breaks(rows: list[dict]) -> bool:
    cells = [_cell(v) for r in rows for v in r.values()] + [k for r in rows for k in r]
    return any("\n" in c or "\r" in c for c in cells)


def _counts(store: Store) -> tuple[int, int]:
    return (store.scalar("SELECT count(*) FROM spans"),
            store.scalar("SELECT count(*) FROM quarantine"))


GENERATED = {"inputs": 0, "refused": 0, "imported": 0, "quarantined": 0, "conflicts": 0}


def _check_one(store: Store, folder: Path, rows: list[dict], fmt: str, damage: str,
               cut: int) -> None:
    """One generated file through the importer, twice, against the invariants. The store is
    shared by all examples (a fresh one each would cost most of the run): counts are
    compared before and after."""
    GENERATED["inputs"] += 1
    suffix, serialize = SERIALIZERS[fmt]
    path = folder / f"fuzz{GENERATED['inputs']}{suffix}"
    path.write_bytes(_damaged(serialize(rows), damage, cut))
    spans0, quarantined0 = _counts(store)
    try:
        r = import_file(store, path, ImportOptions(format=fmt))
    except GoldenloopError as exc:  # a message for the user, naming the file
        assert str(path) in str(exc)
        assert _counts(store) == (spans0, quarantined0)
        GENERATED["refused"] += 1
        return
    assert r.rows_read == r.imported + r.duplicates + r.conflicts + r.quarantined
    if fmt != "jsonl" and damage == "stray-quote" and not _line_breaks(rows):
        # A stray quote costs its own line, never the lines after it.
        assert r.rows_read == _data_lines(path.read_bytes())
    for k in ("imported", "quarantined", "conflicts"):
        GENERATED[k] += getattr(r, k) > 0
    spans, quarantined = _counts(store)
    assert spans - spans0 == r.imported  # every accepted span is stored
    # every quarantined or conflicting row is kept, with its file
    assert store.scalar("SELECT count(*) FROM quarantine WHERE file = ?",
                        [str(path)]) == r.quarantined + r.conflicts == quarantined - quarantined0
    again = import_file(store, path, ImportOptions(format=fmt))
    assert again.imported == 0 and again.rows_read == r.rows_read
    assert _counts(store) == (spans, quarantined)  # re-import adds nothing


@pytest.mark.slow
def test_fuzz_import_invariants(capsys, tmp_path):
    GENERATED.update(dict.fromkeys(GENERATED, 0))
    with open_store(tmp_path / "g.duckdb") as store:
        @settings(settings.get_profile("ci"))
        @given(rows=records, fmt=st.sampled_from(sorted(SERIALIZERS)),
               damage=st.sampled_from(DAMAGE), cut=st.integers(min_value=1, max_value=40))
        def run(rows: list[dict], fmt: str, damage: str, cut: int) -> None:
            _check_one(store, tmp_path, rows, fmt, damage, cut)

        run()
    with capsys.disabled():
        g = GENERATED
        print(f"\nfuzz import: {g['inputs']} generated inputs: {g['refused']} refused with a "
              f"message, {g['imported']} with spans imported, {g['quarantined']} with rows "
              f"quarantined, {g['conflicts']} with conflicts")
    assert GENERATED["inputs"] >= 1
