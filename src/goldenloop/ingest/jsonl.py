"""Reader for JSON Lines (and a file holding one JSON array of records): flat-ish objects
whose keys are span fields or are mapped to them; nested values stay JSON text.

A clean UTF-8 file is parsed by DuckDB's own parallel reader (the fast path), handed to the
loader in batches so that memory holds one batch rather than the file. A
file with a broken line, mixed types, blank lines (which would shift row numbers), keys
DuckDB cannot name (an empty key) or text that is not UTF-8 takes the careful path, block by
block, so each broken line is quarantined with its line number. Both paths give the same
values and row numbers for the same lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from goldenloop.errors import ImportFileError
from goldenloop.ingest.encoding import ERRORS, UNDECODED, UTF8, Encoding, bad_line_reason, escaped
from goldenloop.ingest.source import BadRow, SourceChunk
from goldenloop.ingest.tables import header_names
from goldenloop.ingest.validate import lit, q

FAST_JSONL_MAX_BYTES = 1 << 30
_SCALAR_TYPES = ("VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "DATE",
                 "TIMESTAMP WITH TIME ZONE", "UBIGINT", "HUGEINT")
_BLOCK = 64 << 20

Block = tuple[int, list[bytes], list[BadRow]]


class FastPathFailed(Exception):
    """The fast read met, after handing out some batches, what only the careful path reads
    (a blank line, a duplicate key): the loader rolls the import back and reads the file
    again with ``careful``."""


def read_jsonl(path: Path, cur, line_count: int | None = None, enc: Encoding = UTF8,
               careful: bool = False, batch_rows: int | None = None) -> Iterator[SourceChunk]:
    """Chunks of a JSON Lines file. ``batch_rows``: the fast read hands out that many rows at
    a time (may raise ``FastPathFailed`` after some); None: the whole file as one chunk.
    ``careful``: line by line from the start."""
    if _starts_with(path, b"["):
        yield _read_json_array(path, cur)
        return
    if enc.is_utf8 and path.stat().st_size <= FAST_JSONL_MAX_BYTES and not careful:
        fast = _read_fast(path, cur, line_count or _count_lines(path), batch_rows)
        if fast is not None:
            yield from fast
            return
    blocks = byte_blocks(path) if enc.is_utf8 else text_blocks(path, enc)
    yield from _read_lines(blocks, cur)


def _starts_with(path: Path, prefix: bytes) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf").startswith(prefix)


def _count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (0 if last == b"\n" else 1)


def _detect_types(cur, src: str) -> dict[str, str] | None:
    probe = cur.cursor()  # a failed read here must not abort the caller's transaction
    try:
        # Types are detected over the whole file (sample_size = -1), which also proves that
        # every line parses, and that no key or value seen only late in the file is dropped;
        # nested values stay JSON text.
        probe.execute(f"DESCRIBE SELECT * FROM {src}, maximum_depth = 2, sample_size = -1)")
        described = probe.fetchall()
    except duckdb.Error:
        return None
    finally:
        probe.close()
    # Keys DuckDB cannot make columns of (an empty key) turn the records into one MAP column.
    # Those, and keys named like the loader's own columns, are read by the careful path.
    if any(not name or name in ("_row", "_raw") or typ.startswith("MAP(")
           for name, typ, *_ in described):
        return None
    return {name: (typ if typ in _SCALAR_TYPES else "JSON") for name, typ, *_ in described}


def _load_typed(cur, src: str, types: dict[str, str]) -> pa.Table | None:
    """Rows as an Arrow table with ``_row`` numbered from 1, read in parallel and in file order;
    None when a line fails the typed read (a duplicate key): the careful path quarantines it.
    Read on a cursor of its own, so a failure does not abort the caller's transaction."""
    spec = "{" + ", ".join(f"{lit(k)}: {lit(t)}" for k, t in types.items()) + "}"
    probe = cur.cursor()
    # Row numbers are positions in the result: it must come in file order (the command line
    # lets inserts run out of order, a database-wide setting).
    ordered = probe.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    try:
        if not ordered:
            probe.execute("SET preserve_insertion_order = true")
        table = probe.sql(f"SELECT * FROM {src}, columns = {spec})").to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        if not ordered:
            probe.execute("SET preserve_insertion_order = false")
        probe.close()
    return table.append_column("_row", _row_numbers(1, table.num_rows))


def _row_numbers(first: int, n: int) -> pa.Array:
    """``first, first + 1, ...`` as int64, made from the buffer: ``pa.array`` of Python or
    NumPy values loads pandas (a quarter of a second of an import's start-up)."""
    numbers = np.arange(first, first + n, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(numbers)])


def _typed_chunk(table: pa.Table, types: dict[str, str]) -> SourceChunk:
    name = f"_jsonl_fast_{id(table)}"
    # Arrow carries JSON values as plain text: say again which columns hold JSON, so that
    # validation reads a JSON string as its text and keeps objects as JSON.
    json_cols = [q(k) for k, t in types.items() if t == "JSON"]
    replace = f" REPLACE ({', '.join(f'CAST({c} AS JSON) AS {c}' for c in json_cols)})" \
        if json_cols else ""
    rel = f"(SELECT _row, CAST(NULL AS VARCHAR) AS _raw, * EXCLUDE (_row){replace} FROM {name})"
    return SourceChunk(rel, list(types), {name: table}, [], table.num_rows)


def _read_fast(path: Path, cur, line_count: int, batch_rows: int | None
               ) -> Iterator[SourceChunk] | None:
    """The rows of a clean file, or None when the careful path is needed."""
    if line_count == 0:
        return None
    src = f"read_json({lit(str(path))}, format = 'newline_delimited', records = 'true'"
    types = _detect_types(cur, src)
    if types is None:
        return None
    if batch_rows:
        return _stream_typed(cur, src, types, line_count, batch_rows)
    table = _load_typed(cur, src, types)  # one chunk, checked before it is handed out
    if table is None or table.num_rows != line_count:
        return None  # blank lines: row numbers would not be line numbers
    return iter([_typed_chunk(table, types)])


def _stream_typed(cur, src: str, types: dict[str, str], line_count: int, batch_rows: int
                  ) -> Iterator[SourceChunk]:
    """Batches of ``batch_rows`` rows in file order, ``_row`` numbered from 1: memory holds
    one batch, not the file (a whole 1M-span file as Arrow was about 0.8 GB). Read on a
    cursor of its own, whose failure does not abort the caller's transaction; a line the
    typed read refuses, or blank lines (row numbers would not be line numbers, seen only
    at the end), raise ``FastPathFailed``."""
    spec = "{" + ", ".join(f"{lit(k)}: {lit(t)}" for k, t in types.items()) + "}"
    probe = cur.cursor()
    # Row numbers are positions in the result: it must come in file order (the command line
    # lets inserts run out of order, a database-wide setting, restored when the read ends).
    ordered = probe.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    try:
        if not ordered:
            probe.execute("SET preserve_insertion_order = true")
        first = 1
        for table in _batches(probe, f"SELECT * FROM {src}, columns = {spec})", batch_rows):
            table = table.append_column("_row", _row_numbers(first, table.num_rows))
            first += table.num_rows
            yield _typed_chunk(table, types)
        if first - 1 != line_count:
            raise FastPathFailed(f"{first - 1} rows in {line_count} lines")
    finally:
        if not ordered:
            probe.execute("SET preserve_insertion_order = false")
        probe.close()


def _batches(probe, sql: str, batch_rows: int) -> Iterator[pa.Table]:
    """The result in tables of ``batch_rows`` rows (the last may hold fewer): the reader hands
    out far smaller batches, and each chunk costs the loader a dozen statements."""
    try:
        reader = probe.sql(sql).to_arrow_reader(batch_rows)
        held: list[pa.RecordBatch] = []
        while True:
            try:
                held.append(reader.read_next_batch())
            except StopIteration:
                break
            while sum(b.num_rows for b in held) >= batch_rows:
                table = pa.Table.from_batches(held)
                yield table.slice(0, batch_rows)
                held = table.slice(batch_rows).to_batches()
        if sum(b.num_rows for b in held):
            yield pa.Table.from_batches(held)
    except (duckdb.Error, pa.ArrowException) as exc:
        raise FastPathFailed(str(exc)) from exc


def _read_json_array(path: Path, cur) -> SourceChunk:
    """A file holding one JSON array of records: rows are numbered by their place in it."""
    src = f"read_json({lit(str(path))}, format = 'array', records = 'true'"
    types = _detect_types(cur, src)
    table = _load_typed(cur, src, types) if types is not None else None
    if table is None:
        raise ImportFileError(f"{path}: starts with '[' but is not a JSON array of objects "
                              "with named keys; write one JSON object per line (JSON Lines)")
    return _typed_chunk(table, types)


def byte_blocks(path: Path) -> Iterator[Block]:
    """Lines in blocks of about 64 MiB, each with the 1-based number of its first line.
    Splitting bytes in C is far faster than iterating a text file line by line."""
    first, rest = 1, b""
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            if lines:
                yield first, lines, []
                first += len(lines)
        if rest:
            yield first, [rest], []


def text_blocks(path: Path, enc: Encoding) -> Iterator[Block]:
    """Like ``byte_blocks`` for a file in another encoding, re-encoded as UTF-8. A line with
    bytes the encoding cannot decode is quarantined (escaped) and left blank here."""
    first, rest = 1, ""
    with open(path, encoding=enc.name, errors=ERRORS, newline="") as fh:
        while (block := fh.read(_BLOCK)) or rest:
            lines = (rest + block).split("\n")
            rest = lines.pop() if block else ""
            if not lines:
                continue
            bad: list[BadRow] = []
            if enc.errors_possible and UNDECODED.search("\n".join(lines)):
                for i, line in enumerate(lines):
                    if UNDECODED.search(line):
                        bad.append(BadRow(first + i, "<line>", bad_line_reason(enc, line),
                                          escaped(line)))
                        lines[i] = ""
            yield first, [ln.encode("utf-8") for ln in lines], bad
            first += len(lines)


def _read_lines(blocks: Iterator[Block], cur) -> Iterator[SourceChunk]:
    for first, lines, undecodable in blocks:
        arr = pa.array(lines, pa.binary()).cast(pa.string())
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
        cur.execute("SELECT _row, ok IS NOT NULL, line FROM _jsonl WHERE NOT ok OR ok IS NULL")
        bad = [BadRow(r, "<line>", "not a JSON object" if valid else "not valid JSON", raw)
               for r, valid, raw in cur.fetchall()]
        cur.execute("SELECT DISTINCT unnest(json_keys(line)) FROM _jsonl WHERE ok")
        keys = sorted(k for (k,) in cur.fetchall())
        names = header_names(keys)  # an empty key, or "_row", gets a column name of its own
        # Extract every key once into an Arrow table: validation reads it several times.
        table = cur.sql(_lines_relation("_jsonl", keys, names, "ok")).to_arrow_table()
        cur.execute("DROP VIEW _jsonl")
        cur.unregister(name)
        name = f"_jsonl_rows_{id(table)}"
        yield SourceChunk(name, names, {name: table}, undecodable + bad, table.num_rows)


def _pointer(key: str) -> str:
    """A JSON pointer to a top-level key: works for any key, the empty one included."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _lines_relation(name: str, keys: list[str], names: list[str], ok: str) -> str:
    if not keys:
        return f"SELECT _row, line AS _raw FROM {name} WHERE {ok}"
    paths = "[" + ", ".join(lit(_pointer(k)) for k in keys) + "]"
    extract = ", ".join(f"_v[{i + 1}] AS {q(n)}" for i, n in enumerate(names))
    return (
        f"SELECT _row, _raw, {extract} FROM "
        f"(SELECT _row, line AS _raw, json_extract_string(line, {paths}) AS _v "
        f"FROM {name} WHERE {ok})"
    )
