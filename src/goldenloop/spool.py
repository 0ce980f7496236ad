"""Spool files: how producers outside the owner (the SDK, the OTLP/HTTP receiver) hand rows to
the store (DESIGN.md, "How processes share the database").

A spool file is a Parquet file in the inbox whose columns are span fields, so the owner's inbox
imports it like any table, with no mapping. Feedback spool files end in ``.feedback.parquet``
and hold the feedback table's columns. Each file is written under a temporary dot-name,
fsynced, renamed into place and the folder fsynced: a file the owner sees is whole, and a file
a producer reported as written survives a power cut.

This module owns the file format and the durable write; it never opens the database.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from goldenloop.store.span_columns import SPAN_FIELDS

__all__ = ["FEEDBACK_SUFFIX", "SPAN_SCHEMA", "SPOOL_SUFFIX", "feedback_table", "fsync_dir",
           "fsync_file", "is_feedback", "span_table", "write_durably", "write_span_spool",
           "write_spool"]

SPOOL_SUFFIX = ".parquet"
FEEDBACK_SUFFIX = ".feedback.parquet"
_ARROW_TYPES = {"text": pa.string(), "int": pa.int64(), "float": pa.float64(),
                "time": pa.timestamp("us"), "json": pa.string(), "tags": pa.list_(pa.string())}
SPAN_SCHEMA = pa.schema([(f.name, _ARROW_TYPES[f.kind]) for f in SPAN_FIELDS])
FEEDBACK_SCHEMA = pa.schema([
    ("trace_id", pa.string()), ("span_id", pa.string()), ("session_id", pa.string()),
    ("user_id", pa.string()), ("kind", pa.string()), ("value", pa.float64()),
    ("comment", pa.string()), ("created_at", pa.timestamp("us")), ("source", pa.string()),
])
_seq = itertools.count()


def is_feedback(path: Path) -> bool:
    return path.name.endswith(FEEDBACK_SUFFIX)


def span_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows of span fields (times as Unix microseconds, JSON fields as JSON text, tags as lists)
    → a table with every span column, typed as the store types them."""
    return _typed(rows, SPAN_SCHEMA)


def feedback_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    return _typed(rows, FEEDBACK_SCHEMA)


def _typed(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    # Arrow converts the dicts in C++, several times faster than a Python list per column.
    return pa.Table.from_pylist(list(rows), schema=schema)


def write_spool(inbox: Path, table: pa.Table, *, prefix: str, feedback: bool = False) -> Path:
    """Write ``table`` durably as a new spool file in ``inbox``; return its final path.

    The name sorts by creation time within a producer (``prefix-<ns>-<pid>-<seq>``), so the
    owner, which takes files oldest first, imports a producer's spans before feedback written
    after them.
    """
    suffix = FEEDBACK_SUFFIX if feedback else SPOOL_SUFFIX
    return write_durably(Path(inbox), _name(prefix, suffix),
                         lambda fh: pq.write_table(table, fh, compression="zstd"))


def write_span_spool(inbox: Path, tables: Iterable[pa.Table], *, prefix: str) -> Path:
    """Like ``write_spool`` for span tables of ``SPAN_SCHEMA`` given in slices, each written
    as a row group as it comes: a large batch never needs one large table in memory."""
    def write(fh: BinaryIO) -> None:
        with pq.ParquetWriter(fh, SPAN_SCHEMA, compression="zstd") as writer:
            for table in tables:
                writer.write_table(table)

    return write_durably(Path(inbox), _name(prefix, SPOOL_SUFFIX), write)


def _name(prefix: str, suffix: str) -> str:
    return f"{prefix}-{time.time_ns():020d}-{os.getpid()}-{next(_seq):06d}{suffix}"


def write_durably(folder: Path, name: str, write: Callable[[BinaryIO], object]) -> Path:
    """Create ``folder/name`` whole or not at all, and so that it survives a crash once this
    returns: written under a temporary dot-name, fsynced, renamed, the folder fsynced."""
    folder.mkdir(parents=True, exist_ok=True)
    final, tmp = folder / name, folder / f".{name}.tmp"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)  # the rename itself must survive a crash, not only the bytes
    return final


def fsync_file(path: Path) -> None:
    """Flush a closed file's bytes to the disk (the receiver writes, then fsyncs later)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
