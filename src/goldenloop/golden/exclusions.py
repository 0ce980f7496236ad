"""Rows a curator excludes from a golden dataset, and restores, each with a reason.

Versions are immutable: excluding a row changes no version; the next build of the dataset
leaves the row out and keeps the exclusions it applied (row, reason, who, when) in its counts,
the version's provenance. The log is append-only: a restore is a new entry, the latest entry
on a row counts.
"""

from __future__ import annotations

import pandas as pd

from goldenloop.access import roles
from goldenloop.golden.build import _now
from goldenloop.golden.curation import current_sql
from goldenloop.golden.filters import GoldenError, check_name
from goldenloop.store import Store, audit


def _check(row_key: str, reason: str) -> tuple[str, str]:
    row_key, reason = (row_key or "").strip(), (reason or "").strip()
    if not row_key:
        raise GoldenError("row: name the row key (for example span:123)")
    if not reason:
        raise GoldenError(f"row {row_key}: give a reason (it is kept with the next version)")
    return row_key, reason[:2000]


def _record(store: Store, dataset: str, row_key: str, action: str, reason: str,
            author: str) -> None:
    name = check_name(dataset)
    row_key, reason = _check(row_key, reason)
    who = roles.require(store, author, roles.Action.EXPORT)

    def write(cur) -> None:
        now = _now()
        excluded = cur.execute(f"""SELECT count(*) FROM ({current_sql()})
                                   WHERE dataset = ? AND row_key = ?""",
                               [name, row_key]).fetchall()[0][0] > 0
        if action == "restore" and not excluded:
            raise GoldenError(f"row {row_key} is not excluded from {name}")
        if action == "exclude" and excluded:
            raise GoldenError(f"row {row_key} is already excluded from {name}")
        cur.execute("""INSERT INTO golden_exclusions
                       (dataset, row_key, action, reason, author, created_at)
                       VALUES (?, ?, ?, ?, ?, ?)""", [name, row_key, action, reason, who, now])
        audit.record(cur, who, f"golden.{action}", f"golden:{name}:{row_key}",
                     {"reason": reason})

    store.write(write)


def exclude(store: Store, dataset: str, row_key: str, reason: str, author: str) -> None:
    """Leave row ``row_key`` out of the next builds of ``dataset``. Leads only."""
    _record(store, dataset, row_key, "exclude", reason, author)


def restore(store: Store, dataset: str, row_key: str, reason: str, author: str) -> None:
    """Take row ``row_key`` back into the next builds of ``dataset``. Leads only."""
    _record(store, dataset, row_key, "restore", reason, author)


def excluded(store: Store, dataset: str) -> pd.DataFrame:
    """The rows excluded from ``dataset`` now: row_key, reason, author, created_at."""
    return store.df(f"""SELECT row_key, reason, author, created_at FROM ({current_sql()})
                        WHERE dataset = ? ORDER BY row_key""", [check_name(dataset)])


def history(store: Store, dataset: str) -> pd.DataFrame:
    """Every exclude and restore on ``dataset``, oldest first."""
    return store.df("""SELECT row_key, action, reason, author, created_at
                       FROM golden_exclusions WHERE dataset = ? ORDER BY created_at, seq""",
                    [check_name(dataset)])
