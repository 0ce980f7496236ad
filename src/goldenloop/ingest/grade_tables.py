"""Import existing grades from a table: wide (one column per rater or judge) or long (target,
rater, criterion, value), described by a grade mapping (``ingest.grade_mapping``).

One file is one transaction: its values are unpivoted into one long relation, checked in SQL
(target, criterion, number, scale), bad values go to the quarantine with file, row, field and
reason, items or comparisons are added for targets that are not spans, the criteria are
defined, and the grades are inserted without repeating any already stored. The import log
keys the file by its content and its mapping, so importing the same file with the same
mapping again adds nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from goldenloop.access import roles
from goldenloop.errors import ImportFileError, MappingError
from goldenloop.ingest import detect, encoding
from goldenloop.ingest import grade_mapping as gm
from goldenloop.ingest.grade_values import mark_conflicts, value_sql
from goldenloop.ingest.outcome import ImportResult, scan_file
from goldenloop.ingest.source import SourceChunk
from goldenloop.ingest.validate import lit, q
from goldenloop.store import Store
from goldenloop.store import grades as grade_sql
from goldenloop.store import imports as import_sql
from goldenloop.store import spans as span_sql

_TEXT_TYPES = ("VARCHAR",)
GRADE_FORMATS = ("csv", "tsv", "parquet", "jsonl", "json")
# Control characters no id contains: they join the parts of a composite target id.
SEP, NULL_MARK = "chr(31)", "chr(30)"
_AUTHOR_FIELDS = ("rater", "author_kind", "author_id", "judge_name", "judge_model",
                  "judge_version", "shown_order")


def import_grades(store: Store, path: Path, opts, progress) -> object:
    """Import one grade file (``opts.mapping`` holds the grade mapping); an ImportResult."""
    roles.guard(store, roles.Action.IMPORT)
    mapping = gm.parse(opts.mapping, str(path))
    fmt = opts.format or grade_format(path)
    if fmt not in GRADE_FORMATS:
        raise ImportFileError(f"{path}: grades are read from {', '.join(GRADE_FORMATS)}, "
                              f"not {fmt}")
    t0 = time.perf_counter()
    facts = scan_file(path)
    file_digest = facts.digest
    # The same encoding rules as span files: detected, never replaced silently.
    read_as = _ReaderOpts(facts.lines, encoding.choose(path, facts.head, facts.utf8,
                                                       getattr(opts, "encoding", None)))
    # The mapping is part of what was imported: the same file read another way is new.
    digest = hashlib.sha256(f"{file_digest}:{gm.mapping_digest(opts.mapping)}".encode()
                            ).hexdigest()
    progress(0.0, f"reading {path.name} as {fmt} grades")
    try:
        with store.transaction() as cur:
            prior = import_sql.committed_hash(cur, digest)
            if prior is not None:
                return ImportResult(str(path), f"grades:{fmt}", prior, 0, 0, 0, 0, [],
                                    time.perf_counter() - t0, [], already_imported=True,
                                    details={"note": f"already imported (import {prior})"})
            import_id = import_sql.start(cur, str(path), digest, f"grades:{fmt}", opts.origin)
            counts = _load(cur, path, fmt, mapping, import_id, read_as)
            import_sql.finish(cur, import_id, counts, 0)
            bad = import_sql.first_bad_rows(cur, import_id)
    except (duckdb.IOException, duckdb.InvalidInputException, UnicodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportFileError(f"{path}: cannot read it as {fmt}: {first}") from exc
    progress(1.0, "done")
    details = {k: v for k, v in counts.items()
               if k not in ("rows_read", "imported", "duplicates", "quarantined")}
    return ImportResult(str(path), f"grades:{fmt}", import_id, counts["rows_read"],
                        counts["imported"], counts["duplicates"], counts["quarantined"], [],
                        time.perf_counter() - t0, bad, details=details)


def grade_format(path: Path) -> str:
    """csv, tsv, parquet, jsonl, or json (one JSON array of records)."""
    if path.suffix.lower() == ".json":
        with open(path, encoding="utf-8", errors="replace") as fh:
            if fh.read(4096).lstrip().startswith("["):
                return "json"
    fmt = detect.detect_format(path)
    if fmt not in ("csv", "tsv", "parquet", "jsonl"):
        raise ImportFileError(f"{path}: grades are read from CSV, TSV, Parquet, JSON Lines or a "
                              f"JSON array of records, not {fmt}")
    return fmt


def _chunks(path: Path, fmt: str, cur: duckdb.DuckDBPyConnection, read_as: _ReaderOpts
            ) -> Iterator[SourceChunk]:
    if fmt == "json":
        # Nested values (lists, objects) stay JSON, so a mapping's JSON path can reach in.
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _grade_json AS SELECT * FROM read_json("
                    f"{lit(str(path))}, format = 'array', maximum_depth = 2, sample_size = -1)")
        cur.execute("DESCRIBE _grade_json")
        cols = [r[0] for r in cur.fetchall()]
        rel = "(SELECT rowid + 1 AS _row, CAST(NULL AS VARCHAR) AS _raw, * FROM _grade_json)"
        yield SourceChunk(rel, cols, {}, [], -1)
        return
    yield from detect.READERS[fmt](path, cur, read_as)


class _ReaderOpts:
    def __init__(self, lines: int, text_encoding: encoding.Encoding):
        self.line_count = lines
        self.text_encoding = text_encoding


def _load(cur: duckdb.DuckDBPyConnection, path: Path, fmt: str, m: gm.GradeMapping,
          import_id: int, read_as: _ReaderOpts) -> dict:
    counts: dict = {"rows_read": 0, "imported": 0, "duplicates": 0, "quarantined": 0,
                    "values": 0, "empty": 0, "out_of_scale": {}, "items": 0,
                    "comparisons": 0, "criteria": 0, "out_of_scale_choice": m.out_of_scale}
    for chunk in _chunks(path, fmt, cur, read_as):
        for name, table in chunk.tables.items():
            cur.register(name, table)
        types = _column_types(cur, chunk.relation)
        _check_columns(m, types, str(path))
        authors = _authors(cur, m, chunk.relation, types, path)
        cur.register("_grade_authors", authors)
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _gl AS {_long_sql(m, chunk.relation, types)}")
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _gv AS {value_sql(m, '_gl')}")
        mark_conflicts(cur)  # one rater, one target, two values: quarantined, not guessed
        rows = chunk.rows if chunk.rows >= 0 else _count(cur, chunk.relation)
        bad = grade_sql.quarantine_grade_values(cur, chunk.relation, [c for c in types],
                                                import_id, str(path))
        bad += span_sql.quarantine_malformed(cur, chunk.malformed, import_id, str(path))
        for k, v in grade_sql.value_counts(cur).items():
            counts[k] += v
        for field, n in grade_sql.out_of_scale_counts(cur).items():
            counts["out_of_scale"][field] = counts["out_of_scale"].get(field, 0) + n
        counts["items"] += grade_sql.insert_target_items(cur, m.item) if m.item else 0
        counts["comparisons"] += (grade_sql.insert_target_comparisons(cur, m.comparison)
                                  if m.comparison else 0)
        counts["criteria"] += grade_sql.define_criteria(cur, m.rubric_name(), m.rubric_version(),
                                                        m.scale.model_dump())
        added, repeated = grade_sql.insert_imported_grades(cur, m.rubric_name(),
                                                           m.rubric_version())
        counts["imported"] += added
        counts["duplicates"] += repeated
        counts["quarantined"] += bad
        counts["rows_read"] += rows + len(chunk.malformed)
        cur.unregister("_grade_authors")
        for name in chunk.tables:
            cur.unregister(name)
    return counts


def _count(cur: duckdb.DuckDBPyConnection, relation: str) -> int:
    cur.execute(f"SELECT count(*) FROM {relation}")
    return int(cur.fetchone()[0])


def _column_types(cur: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    cur.execute(f"DESCRIBE SELECT * FROM {relation}")
    return {n: t for n, t, *_ in cur.fetchall() if n not in ("_row", "_raw")}


def _check_columns(m: gm.GradeMapping, types: dict[str, str], file: str) -> None:
    named = list(m.target.columns())
    for extra in (m.item, m.comparison):
        if extra is not None:
            named += [c for k, c in extra.model_dump().items()
                      if k not in ("dataset", "metadata") and c] + list(extra.metadata)
    named += [c for c in (m.criterion_column, m.rater_column, m.value_column,
                          m.comment_column, m.time_column) if c]
    for r in m.raters:
        named += [r.column] if r.column else []
        named += list(r.columns or [])
    missing = sorted({c for c in named if c not in types})
    if missing:
        raise MappingError(f"{file}: mapping names column(s) {', '.join(missing)} not in the "
                           f"file; its columns are: {', '.join(types)}")


def text_of(col: str, typ: str, path: str | None = None, alias: str = "s") -> str:
    """SQL giving a column's value (or the JSON ``path`` inside it) as text."""
    ref = f"{alias}.{q(col)}"
    if path is not None and typ.upper() in _TEXT_TYPES:  # JSON written as text (a CSV cell)
        return f"CASE WHEN json_valid({ref}) THEN json_extract_string({ref}, {lit(path)}) END"
    if path is not None:
        return f"json_extract_string(to_json({ref}), {lit(path)})"
    if typ.upper() in _TEXT_TYPES:
        return ref
    if typ.upper() == "JSON" or "[" in typ or typ.upper().startswith(("STRUCT", "MAP")):
        return f"json_extract_string(to_json({ref}), '$')"
    return f"CAST({ref} AS VARCHAR)"


def _wide_columns(m: gm.GradeMapping, types: dict[str, str]) -> list[tuple[gm.Rater, str, dict]]:
    """(rater, column, template fields) for every rater column of a wide table."""
    out = []
    for r in m.raters:
        if r.column:
            out.append((r, r.column, {}))
        elif r.columns:
            out += [(r, c, {}) for c in r.columns]
        else:
            rx = re.compile(r.pattern or "")
            hits = [(c, rx.fullmatch(c)) for c in types]
            hits = [(c, h) for c, h in hits if h]
            if not hits:
                raise MappingError(f"rater pattern {r.pattern!r} matches no column; columns: "
                                   f"{', '.join(types)}")
            out += [(r, c, {k: v or "" for k, v in h.groupdict().items()}) for c, h in hits]
    return out


def _author(r: gm.Rater, fields: dict[str, str], key: str) -> dict:
    judge = r.kind == "judge"
    source = fields.get("rater", fields.get("column"))  # the rater id, or the column's name
    name = gm.fill(r.name, fields, source)
    return {
        "rater": key, "author_kind": r.kind,
        "author_id": gm.fill(r.id, fields, name if judge else source),
        "judge_name": name if judge else None,
        "judge_model": gm.fill(r.model, fields, name) if judge else None,
        "judge_version": gm.fill(r.version, fields) if judge else None,
        "shown_order": r.shown_order,
    }


def _authors(cur: duckdb.DuckDBPyConnection, m: gm.GradeMapping, relation: str,
             types: dict[str, str], path: Path) -> pa.Table:
    """One row per rater key (a wide column plus its JSON path, or a long rater id) with the
    author fields its templates give."""
    base = gm.file_fields(path)
    rows = []
    if m.layout == "wide":
        for i, (r, col, groups) in enumerate(_wide_columns(m, types)):
            rows.append(_author(r, {**base, **groups, "column": col}, _wide_key(i, col)))
    else:
        cur.execute(f"SELECT DISTINCT {text_of(m.rater_column, types[m.rater_column])} "
                    f"FROM {relation} s WHERE s.{q(m.rater_column)} IS NOT NULL")
        for (rater,) in sorted(cur.fetchall()):
            rule = next((r for r in m.raters if r.match and re.search(r.match, rater)), None)
            rule = rule or gm.Rater(kind="reviewer")
            groups = re.search(rule.match, rater).groupdict() if rule.match else {}
            rows.append(_author(rule, {**base, **groups, "rater": rater}, rater))
    cols = {f: pa.array([r[f] for r in rows], pa.string()) for f in _AUTHOR_FIELDS}
    return pa.table(cols)


def _wide_key(i: int, col: str) -> str:
    return f"{i}:{col}"


def _target_sql(m: gm.GradeMapping, types: dict[str, str]) -> tuple[str, str]:
    """(SQL of the target id as text before the prefix, the column named in its errors)."""
    t = m.target
    if t.hash:
        parts = ", ".join(f"coalesce({text_of(c, types[c])}, {NULL_MARK})" for c in t.hash)
        anyset = " OR ".join(f"s.{q(c)} IS NOT NULL" for c in t.hash)
        return (f"CASE WHEN {anyset} THEN left(sha256(concat_ws({SEP}, {parts})), 16) END",
                "+".join(t.hash))
    if t.trace_id:
        return (f"concat_ws({SEP}, {text_of(t.trace_id, types[t.trace_id])}, "
                f"{text_of(t.span_id, types[t.span_id])})", f"{t.trace_id}+{t.span_id}")
    return text_of(t.column, types[t.column]), t.column


def _read_error(col: str, typ: str, path: str | None) -> str:
    """Why a value could not be read at all: a JSON path into text that is not JSON."""
    if path is None or typ.upper() not in _TEXT_TYPES:
        return "CAST(NULL AS VARCHAR)"
    return f"CASE WHEN s.{q(col)} IS NOT NULL AND NOT json_valid(s.{q(col)}) THEN 'not JSON' END"


def _long_sql(m: gm.GradeMapping, relation: str, types: dict[str, str]) -> str:
    """One row per (source row, rater): target, criterion, field and the value as text."""
    target, target_field = _target_sql(m, types)
    crit = lit(m.criterion) if m.criterion else text_of(m.criterion_column,
                                                       types[m.criterion_column])
    extras = [
        f"{text_of(m.comment_column, types[m.comment_column]) if m.comment_column else 'NULL'}"
        " AS comment",
        f"TRY_CAST({text_of(m.time_column, types[m.time_column])} AS TIMESTAMP) AS graded_at"
        if m.time_column else "CAST(NULL AS TIMESTAMP) AS graded_at",
    ]
    for spec in (m.item, m.comparison):
        if spec is None:
            continue
        for k, c in spec.model_dump().items():
            if k not in ("dataset", "metadata"):
                extras.append(f"{text_of(c, types[c]) if c else 'NULL'} AS t_{k}")
        meta = ", ".join(f"{q(c)} := s.{q(c)}" for c in spec.metadata)
        extras.append(f"to_json(struct_pack({meta})) AS t_metadata" if meta
                      else "CAST(NULL AS JSON) AS t_metadata")
    common = (f"s._row, {target} AS target_raw, {lit(target_field)} AS target_field, "
              f"{crit} AS criterion, " + ", ".join(extras))
    if m.layout == "long":
        rater = text_of(m.rater_column, types[m.rater_column])
        value = text_of(m.value_column, types[m.value_column])
        return (f"SELECT {common}, {rater} AS rater, {lit(m.value_column)} AS field, "
                f"{value} AS raw_value, CAST(NULL AS VARCHAR) AS read_error FROM {relation} s")
    parts = []
    for i, (r, col, _groups) in enumerate(_wide_columns(m, types)):
        field = col if r.path is None else f"{col}{r.path.removeprefix('$')}"
        parts.append(f"SELECT {common}, {lit(_wide_key(i, col))} AS rater, {lit(field)} AS field, "
                     f"{text_of(col, types[col], r.path)} AS raw_value, "
                     f"{_read_error(col, types[col], r.path)} AS read_error FROM {relation} s")
    return " UNION ALL ".join(parts)
