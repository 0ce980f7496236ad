"""Readers for tables: Parquet and CSV/TSV files whose columns are span fields or are
mapped to them (JSON Lines: ``jsonl``).

Parquet is read by DuckDB directly. CSV is read in chunks so that a line that cannot be
parsed, or decoded, is quarantined with its line number instead of stopping the file (a stray
quote costs its own line only: ``csv_records``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from goldenloop.ingest import csv_records
from goldenloop.ingest.encoding import ERRORS, UNDECODED, UTF8, Encoding, bad_line_reason, escaped
from goldenloop.ingest.source import BadRow, SourceChunk, batched
from goldenloop.ingest.validate import lit, q

CHUNK_ROWS = 200_000


def read_parquet(path: Path) -> Iterator[SourceChunk]:
    rel = (
        f"(SELECT file_row_number + 1 AS _row, CAST(NULL AS VARCHAR) AS _raw, * "
        f"EXCLUDE (file_row_number) FROM read_parquet({lit(str(path))}, file_row_number = true))"
    )
    yield SourceChunk(relation=rel, columns=[], rows=-1)


def read_csv(path: Path, *, delimiter: str = ",", enc: Encoding = UTF8) -> Iterator[SourceChunk]:
    """CSV with a header row; ``_row`` is the line number (the header is line 1)."""
    errors = ERRORS if enc.errors_possible else "strict"
    with open(path, newline="", encoding=enc.name, errors=errors) as fh:
        header, rows = csv_records.records(fh, delimiter, str(path))
        if not header:
            return
        if enc.errors_possible:  # a name must be text: undecodable bytes shown escaped
            header = [escaped(h) for h in header]
        header = header_names(header)
        for batch in batched(rows, CHUNK_ROWS):
            good = [r for r in batch if not isinstance(r, BadRow)]
            bad = [r for r in batch if isinstance(r, BadRow)]
            if enc.errors_possible:
                bad = [replace(b, raw=escaped(b.raw)) for b in bad]
                good = _decoded_only(good, bad, enc, delimiter)
            cols = {"_row": pa.array([ln for ln, _ in good], pa.int64())}
            for i, name in enumerate(header):
                cols[name] = pa.array([rec[i] for _, rec in good], pa.string())
            table = pa.table(cols)
            raw = "to_json(struct_pack(" + ", ".join(f"{q(h)} := {q(h)}" for h in header) + "))"
            name = f"_csv_{id(table)}"
            rel = f"(SELECT _row, {raw} AS _raw, * EXCLUDE (_row) FROM {name})"
            yield SourceChunk(rel, header, {name: table}, bad, len(good))


def header_names(header: list[str]) -> list[str]:
    """Column names from a header row: an empty cell (what pandas writes for the index) is
    named by its position, and a repeated name gets a suffix, so no column is dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(header, 1):
        base = h.strip() or f"column_{i}"
        name, n = base, 1
        while name in seen or name in ("_row", "_raw"):
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        out.append(name)
    return out


def _decoded_only(good: list, bad: list[BadRow], enc: Encoding, delimiter: str) -> list:
    """Records with a byte the encoding could not decode go to quarantine, escaped."""
    kept = []
    for line, rec in good:
        text = delimiter.join(rec)
        if UNDECODED.search(text):
            bad.append(BadRow(line, "<row>", bad_line_reason(enc, text),
                              escaped(_csv_line(rec, delimiter))))
        else:
            kept.append((line, rec))
    return kept


def _csv_line(rec: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerow(rec)
    return buf.getvalue().rstrip("\r\n")
