"""Reading golden datasets and their versions, and the diff of two versions.

Versions are never changed once written; a version's rows are read by joining its
membership list (row key, row hash) with the row contents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from goldenloop.golden import sql as golden_sql
from goldenloop.golden.filters import GoldenError, GoldenFilter, check_name
from goldenloop.store import Store


class DatasetNotFound(GoldenError):
    """No golden dataset, or no such version of it."""


@dataclass(frozen=True)
class Version:
    version_id: int
    dataset: str
    description: str
    version: int
    content_hash: str
    author: str
    filter: GoldenFilter
    counts: dict[str, Any]
    label_balance: dict[str, int]
    rows: int
    created_at: datetime

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


_VERSION_SQL = """SELECT v.version_id, d.name, coalesce(d.description, ''), v.version,
                         v.content_hash, v.author, v.filter, v.counts, v.label_balance,
                         v.row_count, v.created_at
                  FROM golden_versions v JOIN golden_datasets d USING (dataset_id)"""


def _version(row: tuple) -> Version:
    (vid, name, desc, n, chash, author, filt, counts, balance, rows, created) = row
    return Version(int(vid), name, desc, int(n), chash, author,
                   GoldenFilter.from_dict(json.loads(filt)), json.loads(counts),
                   json.loads(balance or "{}"), int(rows), created)


def version_info(store: Store, version_id: int) -> Version:
    rows = store.rows(f"{_VERSION_SQL} WHERE v.version_id = ?", [version_id])
    if not rows:
        raise DatasetNotFound(f"no golden version with id {version_id}")
    return _version(rows[0])


def datasets(store: Store) -> pd.DataFrame:
    """Every dataset with its latest version, rows and when it changed."""
    return store.df(
        """SELECT d.name, d.description, count(v.version_id) AS versions,
                  max(v.version) AS latest_version,
                  arg_max(v.row_count, v.version) AS rows,
                  arg_max(v.content_hash, v.version)[:12] AS content_hash,
                  max(v.created_at) AS changed_at, d.created_by
           FROM golden_datasets d LEFT JOIN golden_versions v USING (dataset_id)
           GROUP BY ALL ORDER BY d.name""")


def versions(store: Store, name: str) -> list[Version]:
    """The versions of dataset ``name``, newest first."""
    name = check_name(name)
    rows = store.rows(f"{_VERSION_SQL} WHERE d.name = ? ORDER BY v.version DESC", [name])
    if not rows and not store.rows("SELECT 1 FROM golden_datasets WHERE name = ?", [name]):
        raise DatasetNotFound(f"no golden dataset named {name!r}")
    return [_version(r) for r in rows]


def latest_version(store: Store, name: str) -> Version | None:
    found = versions(store, name)
    return found[0] if found else None


def get_version(store: Store, name: str, version: int | None = None) -> Version:
    """Version ``version`` of dataset ``name`` (the latest when None)."""
    found = versions(store, name)
    if not found:
        raise DatasetNotFound(f"golden dataset {name!r} has no version yet: build it first")
    if version is None:
        return found[0]
    for v in found:
        if v.version == version:
            return v
    raise DatasetNotFound(f"golden dataset {name!r} has no version {version} "
                          f"(versions 1-{found[0].version})")


def rows_sql(version_id: int) -> str:
    """SQL of a version's rows, every stored column and the row's part of the split (train,
    validation, test; NULL when the version has no split), ordered by row key."""
    cols = ", ".join(f"r.{c}" for c in golden_sql.ROW_COLUMNS)
    return f"""SELECT r.row_hash, {cols}, p.split
               FROM golden_version_rows m JOIN golden_rows r USING (row_hash)
               LEFT JOIN golden_version_splits p
                      ON p.version_id = m.version_id AND p.row_key = m.row_key
               WHERE m.version_id = {int(version_id)} ORDER BY r.row_key"""


def rows(store: Store, version: Version, limit: int | None = None) -> pd.DataFrame:
    sql = rows_sql(version.version_id) + (f" LIMIT {int(limit)}" if limit else "")
    return store.df(sql)


# Columns a diff compares, in the order a reader cares about them.
DIFF_FIELDS = ("expected_output", "label", "correct", "expected_source", "output",
               "reviewers", "human_grades", "agreement_level", "judge_grades", "judge_agrees",
               "input", "messages", "inclusion_prob", "rubric_version")


@dataclass(frozen=True)
class Diff:
    old: Version
    new: Version
    added: pd.DataFrame       # row_key, label, expected_output
    removed: pd.DataFrame     # row_key, label, expected_output
    changed: pd.DataFrame     # row_key, fields (list), old_label, new_label, old/new expected

    @property
    def unchanged(self) -> int:
        return self.new.rows - len(self.added) - len(self.changed)

    def summary(self) -> str:
        return (f"{self.old.dataset} v{self.old.version} → v{self.new.version}: "
                f"{len(self.added):,} added, {len(self.removed):,} removed, "
                f"{len(self.changed):,} changed, {self.unchanged:,} unchanged")


def diff(store: Store, name: str, old: int, new: int | None = None) -> Diff:
    """Rows added, removed and changed (same key, other content) from ``old`` to ``new``
    (the latest when None); a changed row lists the fields that differ."""
    a, b = get_version(store, name, old), get_version(store, name, new)
    pair = [a.version_id, b.version_id]
    one_side = """SELECT r.row_key, r.label, r.expected_output
                  FROM golden_version_rows m JOIN golden_rows r USING (row_hash)
                  WHERE m.version_id = ? AND m.row_key NOT IN
                        (SELECT row_key FROM golden_version_rows WHERE version_id = ?)
                  ORDER BY r.row_key"""
    added = store.df(one_side, [b.version_id, a.version_id])
    removed = store.df(one_side, pair)
    differs = ", ".join(f"CASE WHEN o.{c} IS DISTINCT FROM n.{c} THEN '{c}' END"
                        for c in DIFF_FIELDS)
    changed = store.df(
        f"""SELECT n.row_key, list_filter([{differs}], lambda x: x IS NOT NULL) AS fields,
                   o.label AS old_label, n.label AS new_label,
                   o.expected_output AS old_expected, n.expected_output AS new_expected
            FROM golden_version_rows mo JOIN golden_rows o ON o.row_hash = mo.row_hash
            JOIN golden_version_rows mn ON mn.row_key = mo.row_key
            JOIN golden_rows n ON n.row_hash = mn.row_hash
            WHERE mo.version_id = ? AND mn.version_id = ? AND mo.row_hash <> mn.row_hash
            ORDER BY n.row_key""", pair)
    return Diff(a, b, added, removed, changed)


def counts(store: Store) -> tuple[int, int]:
    """How many golden datasets and versions the store holds (Home, ``goldenloop status``)."""
    return golden_sql.dataset_counts(store)
