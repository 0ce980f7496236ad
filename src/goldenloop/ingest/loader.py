"""Import one file: detect its format, read it in chunks, validate in SQL, quarantine bad
rows, insert new spans, log the import — all in one transaction.

Rows read always equal imported + duplicates + conflicts + quarantined.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa

from goldenloop.access import roles
from goldenloop.errors import ImportFileError
from goldenloop.ingest import detect, encoding, jsonl, mapping, validate
from goldenloop.ingest import redact_import as redaction
from goldenloop.ingest.outcome import ImportOptions, ImportResult, file_hash, scan_file
from goldenloop.ingest.source import SourceChunk
from goldenloop.pricing import price_records
from goldenloop.store import Store
from goldenloop.store import imports as import_sql
from goldenloop.store import spans as span_sql

# The options, result and file scan live in ``outcome`` (shared with the grade loader, which this
# module loads on use); they are named here too for callers that import them from the loader.
__all__ = ["ImportOptions", "ImportResult", "file_hash", "import_file", "import_table"]

Progress = Callable[[float, str], None]


def import_file(store: Store, path: str | Path, options: ImportOptions | None = None,
                progress: Progress | None = None) -> ImportResult:
    roles.guard(store, roles.Action.IMPORT)
    opts = options or ImportOptions()
    p = Path(path)
    if p.is_dir():
        raise ImportFileError(f"{p}: is a folder; name the files in it (e.g. {p}/*.jsonl)")
    if not p.is_file():
        raise ImportFileError(f"{p}: no such file")
    if mapping.is_grade_mapping(opts.mapping):
        # Existing grades, not spans: the mapping says so (CLI and import jobs alike). Loaded
        # on use: the grade mapping's pydantic models cost every command start-up time.
        from goldenloop.ingest import grade_tables

        return grade_tables.import_grades(store, p, opts, progress or (lambda _f, _m: None))
    fmt = opts.format or detect.detect_format(p)
    t0 = time.perf_counter()
    facts = scan_file(p)
    enc = encoding.choose(p, facts.head, facts.utf8, opts.encoding)
    opts = replace(opts, line_count=facts.lines, text_encoding=enc)
    note = progress or (lambda _f, _m: None)
    note(0.0, f"reading {p.name} as {fmt}")
    if opts.redact:  # the masking functions and this store's pseudonym key
        redaction.register(store)
    said = enc.note if fmt in ("csv", "tsv", "jsonl") else None
    try:
        try:
            import_id, counts, unknown = _import_rows(store, p, fmt, opts, facts.digest, said,
                                                      note)
        except jsonl.FastPathFailed:
            # The fast JSON Lines read stopped after some batches went in (a blank line, a
            # duplicate key): that transaction was rolled back; read the file line by line.
            opts = replace(opts, careful=True)
            import_id, counts, unknown = _import_rows(store, p, fmt, opts, facts.digest, said,
                                                      note)
    except (duckdb.IOException, duckdb.InvalidInputException, UnicodeError) as exc:
        # The file itself cannot be read (truncated Parquet, wrong format): say which.
        raise _unreadable(p, fmt, exc) from exc
    note(1.0, "done")
    return _result(str(p), fmt, import_id, counts, unknown, time.perf_counter() - t0)


def _import_rows(store: Store, p: Path, fmt: str, opts: ImportOptions, digest: str,
                 said: str | None, note: Progress) -> tuple[int, dict, list]:
    """The rows of one file imported and logged in one transaction; ``said``: a note on how
    the file was decoded, first in the import's notes."""
    with store.transaction() as cur:
        import_id = import_sql.start(cur, str(p), digest, fmt, opts.origin)
        counts = _load(cur, p, fmt, opts, import_id, note)
        if said:
            counts["notes"].insert(0, said)
        unknown = span_sql.unknown_price_models(cur, import_id)
        import_sql.finish(cur, import_id, counts, sum(n for _, n in unknown))
    return import_id, counts, unknown


def _result(file: str, fmt: str, import_id: int, counts: dict, unknown: list,
            seconds: float) -> ImportResult:
    return ImportResult(file, fmt, import_id, counts["rows_read"], counts["imported"],
                        counts["duplicates"], counts["quarantined"], unknown, seconds,
                        sorted(counts["bad_rows"])[:_FIRST_BAD], conflicts=counts["conflicts"],
                        notes=counts["notes"])


_FIRST_BAD = 10


def _load(cur: duckdb.DuckDBPyConnection, p: Path, fmt: str, opts: ImportOptions,
          import_id: int, note: Progress) -> dict:
    chunks = _chunks(p, fmt, opts, cur)
    return _load_chunks(cur, chunks, str(p), f"file:{fmt}", opts, import_id, note,
                        max(p.stat().st_size, 1))


def _load_chunks(cur: duckdb.DuckDBPyConnection, chunks: Iterator[SourceChunk], file: str,
                 source: str, opts: ImportOptions, import_id: int, note: Progress,
                 size: int) -> dict:
    """Every chunk validated, quarantined and inserted; counts with rows read = imported +
    duplicates + conflicts + quarantined, the first bad rows and notes for the summary."""
    span_sql.register_prices(cur, price_records(opts.prices))
    redact = redaction.redaction_templates() if opts.redact else None
    raw = redaction.RAW_TEMPLATE if opts.redact else None
    counts: dict = dict(rows_read=0, imported=0, duplicates=0, quarantined=0, conflicts=0,
                        bad_rows=[], notes=[])
    kept: set[str] = set()
    for chunk in chunks:
        for name, table in chunk.tables.items():
            cur.register(name, table)
        good_rows = chunk.rows if chunk.rows >= 0 else _count(cur, chunk.relation)
        v, columns, extra = _validation(cur, chunk, opts.mapping, file)
        kept.update(extra)
        invalid = span_sql.find_bad_rows(cur, v.checked)
        if invalid:
            span_sql.quarantine_rows(cur, chunk.relation, columns, import_id, file, redact=raw)
        bad = invalid + span_sql.quarantine_malformed(cur, chunk.malformed, import_id, file,
                                                      redact=raw)
        new, conflicts = span_sql.insert_spans(cur, v.values, import_id, source,
                                               has_bad=invalid > 0,
                                               candidates=good_rows - invalid, redact=redact)
        if conflicts:
            span_sql.quarantine_rows(cur, chunk.relation, columns, import_id, file, "_conflicts",
                                     redact=raw)
        if len(counts["bad_rows"]) < _FIRST_BAD:
            counts["bad_rows"] += _first_bad(cur, chunk, invalid, conflicts)
        for name in chunk.tables:  # on failure the transaction's cursor is dropped instead
            cur.unregister(name)
        read = good_rows + len(chunk.malformed)
        counts["rows_read"] += read
        counts["quarantined"] += bad
        counts["imported"] += new
        counts["conflicts"] += conflicts
        counts["duplicates"] += read - bad - new - conflicts
        note(min(0.99, counts["rows_read"] * 300 / size), f"{counts['rows_read']:,} rows read")
    if kept:
        counts["notes"].append(f"columns no span field is read from, kept in metadata: "
                               f"{', '.join(sorted(kept))}")
    return counts


def _first_bad(cur: duckdb.DuckDBPyConnection, chunk: SourceChunk, invalid: int,
               conflicts: int) -> list[tuple[int, str, str]]:
    """The first bad rows of a chunk, for the summary (the quarantine holds them all, but a
    re-import finds its rows already there)."""
    out = [(b.row, b.field, b.reason) for b in chunk.malformed[:_FIRST_BAD]]
    for table, n in (("_bad", invalid), ("_conflicts", conflicts)):
        if n:
            cur.execute(f"SELECT _row, _errors[1].field, _errors[1].reason FROM {table} "
                        f"ORDER BY _row LIMIT {_FIRST_BAD}")
            out += [(int(r), f, m) for r, f, m in cur.fetchall()]
    return out


def _count(cur: duckdb.DuckDBPyConnection, relation: str) -> int:
    cur.execute(f"SELECT count(*) FROM {relation}")
    return int(cur.fetchone()[0])


def _validation(cur: duckdb.DuckDBPyConnection, chunk: SourceChunk, explicit: dict[str, str],
                file: str) -> tuple[validate.Validation, list[str], list[str]]:
    """The chunk's validation SQL, its source columns, and those kept in metadata."""
    cur.execute(f"DESCRIBE SELECT * FROM {chunk.relation}")
    types = {name: typ for name, typ, *_ in cur.fetchall() if name not in ("_row", "_raw")}
    mapped = mapping.resolve(list(types), explicit, file)
    return (validate.build(chunk.relation, mapped, types), list(types),
            validate.unmapped(mapped, types))


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
    roles.guard(store, roles.Action.IMPORT)
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
    return _result(label, "arrow", import_id, counts, unknown, time.perf_counter() - t0)
