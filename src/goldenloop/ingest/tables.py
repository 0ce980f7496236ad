"""Readers for tables: Parquet, CSV and JSONL files whose columns are span fields or are
mapped to them.

Parquet is read by DuckDB directly. CSV and JSONL are read in chunks so that a line that
cannot be parsed is quarantined with its line number instead of stopping the file.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from goldenloop.ingest.source import BadRow, SourceChunk, batched
from goldenloop.ingest.validate import lit, q

CHUNK_ROWS = 200_000
csv.field_size_limit(sys.maxsize)


def read_parquet(path: Path) -> Iterator[SourceChunk]:
    rel = (
        f"(SELECT file_row_number + 1 AS _row, CAST(NULL AS VARCHAR) AS _raw, * "
        f"EXCLUDE (file_row_number) FROM read_parquet({lit(str(path))}, file_row_number = true))"
    )
    yield SourceChunk(relation=rel, columns=[], rows=-1)


def read_csv(path: Path, *, delimiter: str = ",") -> Iterator[SourceChunk]:
    """CSV with a header row; ``_row`` is the line number (the header is line 1)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            return
        header = [h.strip() for h in header]
        width = len(header)
        rows = ((reader.line_num, rec) for rec in reader)
        for batch in batched(rows, CHUNK_ROWS):
            good, bad = [], []
            for line, rec in batch:
                if len(rec) == width:
                    good.append((line, rec))
                elif rec:  # blank lines are not rows
                    bad.append(BadRow(line, "<row>", f"expected {width} fields, found {len(rec)}",
                                      _csv_line(rec, delimiter)))
            cols = {"_row": pa.array([ln for ln, _ in good], pa.int64())}
            for i, name in enumerate(header):
                cols[name] = pa.array([rec[i] for _, rec in good], pa.string())
            table = pa.table(cols)
            raw = "to_json(struct_pack(" + ", ".join(f"{q(h)} := {q(h)}" for h in header) + "))"
            name = f"_csv_{id(table)}"
            rel = f"(SELECT _row, {raw} AS _raw, * EXCLUDE (_row) FROM {name})"
            yield SourceChunk(rel, header, {name: table}, bad, len(good))


def _csv_line(rec: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerow(rec)
    return buf.getvalue().rstrip("\r\n")


def jsonl_lines(path: Path) -> Iterator[list[tuple[int, str]]]:
    """Non-blank lines with their 1-based line numbers, in chunks."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        numbered = ((i, ln) for i, ln in enumerate(fh, start=1) if ln.strip())
        yield from batched(numbered, CHUNK_ROWS)


def read_jsonl(path: Path, cur) -> Iterator[SourceChunk]:
    """JSON Lines of flat-ish objects; nested values stay JSON text.

    Parsing happens in DuckDB: each chunk of lines becomes an Arrow column, broken lines are
    found with ``json_valid`` and every key is extracted in one pass.
    """
    for batch in jsonl_lines(path):
        lines = pa.table({
            "_row": pa.array([i for i, _ in batch], pa.int64()),
            "line": pa.array([ln.rstrip("\r\n") for _, ln in batch], pa.string()),
        })
        name = f"_jsonl_{id(lines)}"
        cur.register(name, lines)
        ok = "CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END"
        cur.execute(
            f"SELECT _row, json_valid(line), left(line, 100000) FROM {name} WHERE NOT ({ok})"
        )
        bad = [BadRow(r, "<line>", "not valid JSON" if not valid else "not a JSON object", raw)
               for r, valid, raw in cur.fetchall()]
        cur.execute(
            f"SELECT DISTINCT unnest(json_keys(line)) FROM {name} WHERE {ok}"
        )
        keys = sorted(k for (k,) in cur.fetchall())
        cur.unregister(name)
        rel = _jsonl_relation(name, keys, ok)
        yield SourceChunk(rel, keys, {name: lines}, bad, len(batch) - len(bad))


def _jsonl_relation(name: str, keys: list[str], ok: str) -> str:
    if not keys:
        return f"(SELECT _row, line AS _raw FROM {name} WHERE {ok})"
    paths = "[" + ", ".join(lit("$." + json.dumps(k)) for k in keys) + "]"
    extract = ", ".join(f"_v[{i + 1}] AS {q(k)}" for i, k in enumerate(keys))
    return (
        f"(SELECT _row, _raw, {extract} FROM "
        f"(SELECT _row, line AS _raw, json_extract_string(line, {paths}) AS _v "
        f"FROM {name} WHERE {ok}))"
    )
