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

import duckdb
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


def jsonl_blocks(path: Path, block_bytes: int = 64 << 20) -> Iterator[tuple[int, list[bytes]]]:
    """Lines in blocks of about ``block_bytes``, each with the 1-based number of its first
    line. Splitting bytes in C is far faster than iterating a text file line by line."""
    first, rest = 1, b""
    with open(path, "rb") as fh:
        while block := fh.read(block_bytes):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            if lines:
                yield first, lines
                first += len(lines)
        if rest:
            yield first, [rest]


FAST_JSONL_MAX_BYTES = 1 << 30
_SCALAR_TYPES = ("VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "DATE",
                 "TIMESTAMP WITH TIME ZONE", "UBIGINT", "HUGEINT")


def read_jsonl(path: Path, cur, line_count: int | None = None) -> Iterator[SourceChunk]:
    """JSON Lines of flat-ish objects; nested values stay JSON text.

    A clean file is parsed by DuckDB's own parallel reader in one pass. A file with a broken
    line, mixed types or blank lines (which would shift row numbers) takes the careful path,
    block by block, so each broken line is quarantined with its line number.
    """
    small = path.stat().st_size <= FAST_JSONL_MAX_BYTES
    fast = _read_jsonl_fast(path, cur, line_count or _count_lines(path)) if small else None
    if fast is not None:
        yield from fast
        return
    yield from _read_jsonl_lines(path, cur)


def _count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(64 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (0 if last == b"\n" else 1)


def _read_jsonl_fast(path: Path, cur, line_count: int) -> list[SourceChunk] | None:
    """All rows of a clean file as one chunk, or None when the careful path is needed."""
    probe = cur.cursor()  # a failed read here must not abort the caller's transaction
    src = f"read_json({lit(str(path))}, format = 'newline_delimited'"
    try:
        # Types are detected over the whole file (sample_size = -1), which also proves that
        # every line parses, and that no key or value seen only late in the file is dropped;
        # nested values stay JSON text.
        probe.execute(f"DESCRIBE SELECT * FROM {src}, maximum_depth = 2, sample_size = -1)")
        types = {name: (typ if typ in _SCALAR_TYPES else "JSON")
                 for name, typ, *_ in probe.fetchall()}
    except duckdb.Error:
        return None
    finally:
        probe.close()
    spec = "{" + ", ".join(f"{lit(k)}: {lit(t)}" for k, t in types.items()) + "}"
    # A native temp table, read in parallel and in file order, so rowid + 1 is the line.
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _jsonl_fast AS SELECT * FROM {src}, "
                f"columns = {spec})")
    if cur.execute("SELECT count(*) FROM _jsonl_fast").fetchall()[0][0] != line_count:
        cur.execute("DROP TABLE _jsonl_fast")
        return None  # blank lines: row numbers would not be line numbers
    rel = "(SELECT rowid + 1 AS _row, CAST(NULL AS VARCHAR) AS _raw, * FROM _jsonl_fast)"
    return [SourceChunk(rel, list(types), {}, [], line_count)]


def _read_jsonl_lines(path: Path, cur) -> Iterator[SourceChunk]:
    for first, lines in jsonl_blocks(path):
        arr = pa.array(lines, pa.binary()).cast(pa.string(), safe=False)
        lines_tbl = pa.table({"_row": pa.array(range(first, first + len(lines)), pa.int64()),
                              "line": arr})
        name = f"_jsonl_{id(lines_tbl)}"
        cur.register(name, lines_tbl)
        # Blank lines are not rows; a view, not a copy: these lines can be a gigabyte.
        cur.execute(
            f"""CREATE OR REPLACE TEMP VIEW _jsonl AS
                SELECT _row, line,
                       CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' END AS ok
                FROM {name}
                WHERE CASE WHEN length(line) < 8 THEN trim(line, ' \t\r') <> '' ELSE true END"""
        )
        cur.execute("SELECT _row, ok IS NOT NULL, left(line, 100000) FROM _jsonl WHERE NOT ok "
                    "OR ok IS NULL")
        bad = [BadRow(r, "<line>", "not a JSON object" if valid else "not valid JSON", raw)
               for r, valid, raw in cur.fetchall()]
        cur.execute("SELECT DISTINCT unnest(json_keys(line)) FROM _jsonl WHERE ok")
        keys = sorted(k for (k,) in cur.fetchall())
        # Extract every key once into an Arrow table: validation reads it several times.
        table = cur.sql(_jsonl_relation("_jsonl", keys, "ok")).to_arrow_table()
        cur.execute("DROP VIEW _jsonl")
        cur.unregister(name)
        name = f"_jsonl_rows_{id(table)}"
        yield SourceChunk(name, keys, {name: table}, bad, table.num_rows)


def _jsonl_relation(name: str, keys: list[str], ok: str) -> str:
    if not keys:
        return f"SELECT _row, line AS _raw FROM {name} WHERE {ok}"
    paths = "[" + ", ".join(lit("$." + json.dumps(k)) for k in keys) + "]"
    extract = ", ".join(f"_v[{i + 1}] AS {q(k)}" for i, k in enumerate(keys))
    return (
        f"SELECT _row, _raw, {extract} FROM "
        f"(SELECT _row, line AS _raw, json_extract_string(line, {paths}) AS _v "
        f"FROM {name} WHERE {ok})"
    )
