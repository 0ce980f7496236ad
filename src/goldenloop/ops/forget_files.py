"""Erasure in the data folder's files: inbox, spool and uploaded files mentioning an erased id.

Files already imported or set aside (``inbox/done``, ``inbox/failed``, ``uploads``) are
deleted whole when they mention the id or one of its traces or sessions. Files still waiting
in the inbox are rewritten without the matching rows, so other users' rows still arrive:
Parquet spool files by the id columns' values, text files by dropping the lines that hold the
erased id.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from goldenloop.config import Paths

_ID_COLUMNS = ("user_id", "session_id", "trace_id")


def scrub(paths: Paths, selector: str, value: str, ids: dict[str, set[str]]) -> dict[str, int]:
    """Delete or rewrite the files mentioning the erased ids; return counts by kind."""
    out = {"files_deleted": 0, "files_rewritten": 0}
    needles = [i.encode() for group in ids.values() for i in group if i] or [value.encode()]
    for folder, pending in ((paths.inbox, True), (paths.inbox_done, False),
                            (paths.inbox_failed, False), (paths.uploads, False)):
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if not p.is_file() or (p.name.endswith(".job.json") and pending):
                continue  # a job file waiting: the owner reads it (the erasure's own, maybe)
            if pending:
                out["files_rewritten"] += _rewrite_pending(p, selector, value, ids)
            elif _mentions(p, needles, ids):
                p.unlink(missing_ok=True)
                out["files_deleted"] += 1
    return out


def _mentions(p: Path, needles: list[bytes], ids: dict[str, set[str]]) -> bool:
    if p.suffix == ".parquet":
        try:
            return _parquet_mask(pq.read_table(p), ids) is not None
        except (OSError, pa.ArrowException):
            pass  # not readable as Parquet: search its bytes
    try:
        data = p.read_bytes()
    except OSError:
        return False
    return any(n in data for n in needles)


def _parquet_mask(table: pa.Table, ids: dict[str, set[str]]) -> pa.ChunkedArray | None:
    """Rows whose id columns hold an erased id, or None when there are none."""
    mask = None
    for col in _ID_COLUMNS:
        values = sorted(ids.get(col) or ())
        if col not in table.column_names or not values:
            continue
        hit = pc.fill_null(pc.is_in(table[col].cast(pa.string()), value_set=pa.array(values)), False)
        mask = hit if mask is None else pc.or_(mask, hit)
    if mask is None or not pc.any(mask).as_py():
        return None
    return mask


def _rewrite_pending(p: Path, selector: str, value: str, ids: dict[str, set[str]]) -> int:
    tmp = p.with_name(f".{p.name}.erasing")
    if p.suffix == ".parquet":
        try:
            table = pq.read_table(p)
        except (OSError, pa.ArrowException):
            return 0
        mask = _parquet_mask(table, ids)
        if mask is None:
            return 0
        pq.write_table(table.filter(pc.invert(mask)), tmp)
    else:
        try:
            data = p.read_bytes()
        except OSError:
            return 0
        needle = value.encode()
        if needle not in data:
            return 0
        tmp.write_bytes(b"".join(line for line in data.splitlines(keepends=True)
                                 if needle not in line))
    os.replace(tmp, p)
    return 1
