"""What a reader hands the loader: chunks of source rows, and rows it could not parse at all.

A chunk is a SQL relation yielding ``_row`` (1-based line number for text files, record
number for Parquet), ``_raw`` (the row as read, for quarantine; may be NULL when cheap to
rebuild) and the source columns, plus the Arrow tables it reads from.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from goldenloop.store.span_columns import FIELDS_BY_NAME


@dataclass(frozen=True)
class BadRow:
    row: int
    field: str
    reason: str
    raw: str


@dataclass
class SourceChunk:
    relation: str
    columns: list[str]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    malformed: list[BadRow] = field(default_factory=list)
    rows: int = 0  # rows in the relation (well-formed rows); malformed are counted apart


_chunk_ids = itertools.count()


def records_chunk(records: list[dict], *, malformed: list[BadRow] | None = None) -> SourceChunk:
    """A chunk from already-parsed span records (OTLP, OpenAI logs, SDK spool).

    Each record holds span field names, plus ``_row`` and optionally ``_raw``. JSON-valued
    fields may be Python objects; they are serialised here so the loader validates one shape.
    A column of only integers (or integers and floats) stays numeric; any other mix becomes
    text, since readers keep a broken raw value beside good ones so validation can quarantine
    it under its field name.
    """
    names = sorted({k for r in records for k in r} - {"_row", "_raw"})
    # Column by column: one list per field and one conversion rule per field, rather than a
    # rule looked up per cell (the receiver calls this for every span it accepts).
    arrays = {"_row": _column("_row", [r["_row"] for r in records]),
              "_raw": _column("_raw", [r.get("_raw") for r in records])}
    for n in names:
        arrays[n] = _column(n, _cells(n, [r.get(n) for r in records]))
    table = pa.table(arrays)
    name = f"_src_records_{next(_chunk_ids)}"
    return SourceChunk(
        relation=name, columns=names, tables={name: table},
        malformed=list(malformed or []), rows=len(records),
    )


def _cells(name: str, values: list) -> list:
    """A column's values as the loader validates them: JSON fields (and any dict or list) as
    JSON text, tags as a JSON list."""
    f = FIELDS_BY_NAME.get(name)
    kind = f.kind if f is not None else None
    if kind == "tags":
        return [None if v is None else json.dumps(list(v) if not isinstance(v, str) else [v])
                for v in values]
    if kind == "json":
        return [v if v is None or isinstance(v, str) else _to_json(v) for v in values]
    if any(issubclass(t, dict | list) for t in {v.__class__ for v in values}):
        return [_to_json(v) if isinstance(v, dict | list) else v for v in values]
    return values


def _to_json(value: object) -> str:
    return _ENCODER.encode(value)


# One encoder for every value: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _column(name: str, values: list) -> pa.Array:
    if name == "_row":
        return pa.array(values, type=pa.int64())
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int}:
        return pa.array(values, type=pa.int64())
    if kinds and kinds <= {int, float}:
        return pa.array(values, type=pa.float64())
    if kinds <= {str}:
        return pa.array(values, type=pa.string())
    return pa.array([_text(v) for v in values], type=pa.string())


def _text(value: object) -> str | None:
    """A value in a text column as its text (flags spelled as JSON spells them)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, n)):
        yield batch
