"""Import one file: detect its format, read it in chunks, validate in SQL, quarantine bad
rows, insert new spans, log the import — all in one transaction.

Rows read always equal imported + duplicates + quarantined.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from goldenloop.errors import ImportFileError
from goldenloop.ingest import detect, grade_mapping, grade_tables, mapping, validate
from goldenloop.ingest.redact import redaction_templates
from goldenloop.ingest.source import SourceChunk
from goldenloop.pricing import price_table
from goldenloop.store import Store
from goldenloop.store import imports as import_sql
from goldenloop.store import spans as span_sql

Progress = Callable[[float, str], None]


@dataclass
class ImportOptions:
    format: str | None = None  # auto-detected when None
    mapping: dict = field(default_factory=dict)  # span field -> column, or {"grades": ...}
    redact: bool = False
    batch_input: Path | None = None  # OpenAI Batch API input file, for the messages
    origin: str = "cli"
    prices: str | None = None  # extra price table
    line_count: int | None = None  # set by the loader from its one read of the file


@dataclass
class ImportResult:
    file: str
    format: str
    import_id: int
    rows_read: int
    imported: int
    duplicates: int
    quarantined: int
    unknown_price: list[tuple[str, int]]
    seconds: float
    bad_rows: list[tuple[int, str, str]]  # first few (row, field, reason)
    already_imported: bool = False
    details: dict = field(default_factory=dict)  # grade imports: items, out-of-scale, ...

    @property
    def ok(self) -> bool:
        return self.quarantined == 0


def file_hash(path: Path) -> str:
    return file_facts(path)[0]


def file_facts(path: Path) -> tuple[str, int]:
    """Content hash and number of lines, in one read of the file."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(16 << 20):
            digest.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return digest.hexdigest(), lines + (0 if last == b"\n" else 1)


def import_file(store: Store, path: str | Path, options: ImportOptions | None = None,
                progress: Progress | None = None) -> ImportResult:
    opts = options or ImportOptions()
    p = Path(path)
    if not p.is_file():
        raise ImportFileError(f"{p}: no such file")
    if grade_mapping.is_grade_mapping(opts.mapping):
        # Existing grades, not spans: the mapping says so (CLI and import jobs alike).
        return grade_tables.import_grades(store, p, opts, progress or (lambda _f, _m: None))
    fmt = opts.format or detect.detect_format(p)
    t0 = time.perf_counter()
    digest, lines = file_facts(p)
    opts = replace(opts, line_count=lines)
    note = progress or (lambda _f, _m: None)
    note(0.0, f"reading {p.name} as {fmt}")
    try:
        with store.transaction() as cur:
            import_id = import_sql.start(cur, str(p), digest, fmt, opts.origin)
            counts = _load(cur, p, fmt, opts, import_id, note)
            unknown = span_sql.unknown_price_models(cur, import_id)
            import_sql.finish(cur, import_id, counts, sum(n for _, n in unknown))
            bad = import_sql.first_bad_rows(cur, import_id)
    except (duckdb.IOException, duckdb.InvalidInputException, UnicodeError) as exc:
        # The file itself cannot be read (truncated Parquet, wrong format): say which.
        raise _unreadable(p, fmt, exc) from exc
    note(1.0, "done")
    return ImportResult(str(p), fmt, import_id, counts["rows_read"], counts["imported"],
                        counts["duplicates"], counts["quarantined"], unknown,
                        time.perf_counter() - t0, bad)


def _load(cur: duckdb.DuckDBPyConnection, p: Path, fmt: str, opts: ImportOptions,
          import_id: int, note: Progress) -> dict[str, int]:
    chunks = _chunks(p, fmt, opts, cur)
    return _load_chunks(cur, chunks, str(p), f"file:{fmt}", opts, import_id, note,
                        max(p.stat().st_size, 1))


def _load_chunks(cur: duckdb.DuckDBPyConnection, chunks: Iterator[SourceChunk], file: str,
                 source: str, opts: ImportOptions, import_id: int, note: Progress,
                 size: int) -> dict[str, int]:
    span_sql.register_prices(cur, price_table(opts.prices))
    redact = redaction_templates() if opts.redact else None
    counts = dict(rows_read=0, imported=0, duplicates=0, quarantined=0)
    for chunk in chunks:
        for name, table in chunk.tables.items():
            cur.register(name, table)
        good_rows = chunk.rows if chunk.rows >= 0 else _count(cur, chunk.relation)
        v, columns = _validation(cur, chunk, opts.mapping, file)
        invalid = span_sql.find_bad_rows(cur, v.checked)
        if invalid:
            span_sql.quarantine_rows(cur, chunk.relation, columns, import_id, file)
        bad = invalid + span_sql.quarantine_malformed(cur, chunk.malformed, import_id, file)
        new = span_sql.insert_spans(cur, v.values, import_id, source, has_bad=invalid > 0,
                                    redact=redact)
        for name in chunk.tables:  # on failure the transaction's cursor is dropped instead
            cur.unregister(name)
        read = good_rows + len(chunk.malformed)
        counts["rows_read"] += read
        counts["quarantined"] += bad
        counts["imported"] += new
        counts["duplicates"] += read - bad - new
        note(min(0.99, counts["rows_read"] * 300 / size), f"{counts['rows_read']:,} rows read")
    return counts


def _count(cur: duckdb.DuckDBPyConnection, relation: str) -> int:
    cur.execute(f"SELECT count(*) FROM {relation}")
    return int(cur.fetchone()[0])


def _validation(cur: duckdb.DuckDBPyConnection, chunk: SourceChunk, explicit: dict[str, str],
                file: str) -> tuple[validate.Validation, list[str]]:
    cur.execute(f"DESCRIBE SELECT * FROM {chunk.relation}")
    types = {name: typ for name, typ, *_ in cur.fetchall() if name not in ("_row", "_raw")}
    mapped = mapping.resolve(list(types), explicit, file)
    return validate.build(chunk.relation, mapped, types), list(types)


def _chunks(p: Path, fmt: str, opts: ImportOptions,
            cur: duckdb.DuckDBPyConnection) -> Iterator[SourceChunk]:
    reader = detect.READERS.get(fmt)
    if reader is None:
        raise ImportFileError(f"{p}: unknown format {fmt!r}; known: {', '.join(detect.READERS)}")
    yield from reader(p, cur, opts)


def _unreadable(p: Path, fmt: str, exc: Exception) -> ImportFileError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ImportFileError(f"{p}: cannot read it as {fmt}: {first}")


def import_table(store: Store, table: pa.Table, *, source: str, origin: str,
                 label: str | None = None) -> ImportResult:
    """Import an in-memory Arrow table whose columns are span fields (demo, SDK spool, tests).

    Goes through the same validation, quarantine and duplicate check as a file.
    """
    label = label or f"<{source}>"
    if "_row" not in table.column_names:
        table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    if "_raw" not in table.column_names:
        table = table.append_column("_raw", pa.nulls(table.num_rows, pa.string()))
    name = f"_table_{id(table)}"
    cols = [c for c in table.column_names if c not in ("_row", "_raw")]
    chunk = SourceChunk(name, cols, {name: table}, [], table.num_rows)
    t0 = time.perf_counter()
    with store.transaction() as cur:
        import_id = import_sql.start(cur, label, None, "arrow", origin)
        counts = _load_chunks(cur, iter([chunk]), label, source, ImportOptions(origin=origin),
                              import_id, lambda _f, _m: None, 1)
        unknown = span_sql.unknown_price_models(cur, import_id)
        import_sql.finish(cur, import_id, counts, sum(n for _, n in unknown))
        bad = import_sql.first_bad_rows(cur, import_id)
    return ImportResult(label, "arrow", import_id, counts["rows_read"], counts["imported"],
                        counts["duplicates"], counts["quarantined"], unknown,
                        time.perf_counter() - t0, bad)
