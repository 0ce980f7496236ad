"""Building golden datasets: a preview of what a filter gives, and saving it as a version.

A version is saved only when its content differs from the dataset's latest version (the
content hash is over every row's key and content hash), so building or exporting again
over unchanged grades makes no new version. Rows are stored once by content hash and shared
between versions.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from goldenloop.access import roles
from goldenloop.agreement import fitness
from goldenloop.errors import FilterError
from goldenloop.golden import curation
from goldenloop.golden import spans as golden_spans
from goldenloop.golden import sql as golden_sql
from goldenloop.golden.filters import GoldenFilter, check_name
from goldenloop.golden.versions import Version, latest_version, version_info
from goldenloop.spanstore.base import SpanStore
from goldenloop.store import Store, audit

NO_EXPECTED = "no acceptable expected output"
PREVIEW_COLUMNS = ["row_key", "app", "model_version", "label", "agreement_level", "reviewers",
                   "judge_agrees", "expected_source", "input", "expected_output"]


@dataclass(frozen=True)
class Preview:
    filter: GoldenFilter            # with the correctness rule filled in from the rubric
    counts: dict[str, Any]          # considered, included, left_out {reason: n}, expected_sources
    label_balance: pd.DataFrame     # label, rows, share
    agreement: pd.DataFrame         # agreement_level, rows, share; judge agreement below
    judge_agreement: float | None   # share of rows with a judge grade whose verdict matches
    rows: pd.DataFrame              # the first rows, PREVIEW_COLUMNS


@dataclass(frozen=True)
class BuildResult:
    version: Version
    created: bool                   # False: the content equals the latest version's
    counts: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def resolve(store: Store, f: GoldenFilter) -> GoldenFilter:
    """``f`` with the judge versions that count filled in (``fitness.choose``) and, when it
    has no correctness rule, one taken from the chosen rubric's criterion: the upper quarter
    of a numeric scale (4 and 5 on 1-5), the best of ordered labels, "yes" for a boolean.
    Nominal criteria get none: name the correct labels."""
    if f.judges in ("fit", "none"):
        choice = fitness.choose(store, f.criterion, f.judges)
        f = replace(f, judge_versions=tuple(choice.versions or ()))
    if f.has_correct_rule:
        return f
    row = _rubric_criterion(store, f)
    if row is None:
        return f
    value_type, lo, hi, n_labels, higher = row
    if higher is False:
        return f
    if value_type == "boolean":
        return replace(f, correct_at=1.0)
    if value_type in ("ordinal", "interval") and lo is not None and hi is not None:
        return replace(f, correct_at=float(lo + 0.75 * (hi - lo)))
    if value_type == "ordinal" and n_labels:
        return replace(f, correct_at=float(n_labels))  # ordered labels are stored as 1..n
    return f


def _rubric_criterion(store: Store, f: GoldenFilter) -> tuple | None:
    """The chosen rubric's definition of the criterion: that version when named, else the
    rubric's latest version. With no rubric named, the criterion must be defined by one
    rubric only: taking whichever rubric defined it last would set the threshold by accident."""
    rows = store.rows(
        """SELECT rubric_name, value_type, min_value, max_value, len(labels), higher_is_better
           FROM criteria WHERE name = $c AND ($n IS NULL OR rubric_name = $n)
             AND ($v IS NULL OR rubric_version = $v)
           ORDER BY created_at DESC, rubric_version DESC""",
        {"c": f.criterion, "n": f.rubric_name, "v": f.rubric_version})
    if not rows:
        if f.rubric_name:
            at = f"@{f.rubric_version}" if f.rubric_version else ""
            raise FilterError(f"rubric {f.rubric_name}{at} does not define {f.criterion!r}")
        return None
    names = sorted({str(r[0]) for r in rows})
    if len(names) > 1:
        raise FilterError(f"criterion {f.criterion!r} is defined by several rubrics "
                          f"({', '.join(names)}): choose one (--rubric NAME[@VERSION])")
    return rows[0][1:]


def _temp_name() -> str:
    return f"_golden_{uuid.uuid4().hex[:10]}"


def candidates(cur, f: GoldenFilter, dataset: str | None = None) -> tuple[str, dict[str, Any]]:
    """Materialise the candidate rows of ``f``, without their long texts, in a temporary
    table, with the curation steps applied (``dataset``'s exclusions when named); return its
    name and what the version's counts keep of the curation."""
    name = _temp_name()
    sql, params = golden_sql.candidates(f, texts=False)
    cur.execute(f"CREATE TEMP TABLE {name} AS {sql}", params)
    return name, curation.apply(cur, name, f, dataset)


def _candidates(cur, f: GoldenFilter) -> str:
    """``candidates`` without a dataset's exclusions: the table's name (golden.derive)."""
    return candidates(cur, f)[0]


def _hashes(cur, cand: str) -> str:
    """A temporary table of the kept rows' keys and content hashes: the texts are read and
    hashed here but not kept (only new rows are stored, and they are read again then)."""
    name = _temp_name()
    kept = golden_sql.with_texts_sql(f"(SELECT * FROM {cand} WHERE reason IS NULL)")
    cur.execute(f"""CREATE TEMP TABLE {name} AS
                    SELECT row_key, {golden_sql.row_hash_sql()} AS row_hash FROM ({kept})""")
    return name


def _counts(cur, table: str) -> dict[str, Any]:
    rows = cur.execute(f"SELECT reason, count(*) FROM {table} GROUP BY ALL").fetchall()
    left_out = {r: int(n) for r, n in rows if r is not None}
    included = sum(int(n) for r, n in rows if r is None)
    sources = cur.execute(f"""SELECT expected_source, count(*) FROM {table}
                              WHERE reason IS NULL GROUP BY ALL ORDER BY 1""").fetchall()
    return {"considered": included + sum(left_out.values()), "included": included,
            "left_out": dict(sorted(left_out.items())),
            "expected_sources": {s: int(n) for s, n in sources}}


def _shares(df: pd.DataFrame) -> pd.DataFrame:
    total = df["rows"].sum()
    return df.assign(share=df["rows"] / total if total else 0.0)


def _label_balance(cur, table: str) -> pd.DataFrame:
    df = cur.execute(f"""SELECT coalesce(label, '(none)') AS label, count(*) AS rows
                         FROM {table} WHERE reason IS NULL
                         GROUP BY ALL ORDER BY min(label_number) NULLS LAST, label""").df()
    return _shares(df)


def preview(store: Store, f: GoldenFilter, *, limit: int = 50,
            dataset: str | None = None, spans: SpanStore | None = None) -> Preview:
    """What ``f`` would give, without saving anything (works on a read-only snapshot);
    with ``dataset``, that dataset's exclusions apply. ``spans``: where the spans live
    (None: the store's own file)."""
    f = resolve(store, f)
    cur = store.cursor()
    with golden_spans.spans_here(cur, golden_spans.fetch(store, spans, f)):
        return _preview(cur, f, limit, dataset)


def _preview(cur, f: GoldenFilter, limit: int, dataset: str | None) -> Preview:
    table, extra = candidates(cur, f, check_name(dataset) if dataset else None)
    try:
        agreement = _shares(cur.execute(
            f"""SELECT agreement_level, count(*) AS rows FROM {table} WHERE reason IS NULL
                GROUP BY ALL ORDER BY rows DESC""").df())
        judge = cur.execute(f"""SELECT avg(CAST(judge_agrees AS DOUBLE)) FROM {table}
                                WHERE reason IS NULL""").fetchall()[0][0]
        order = "ORDER BY start_time DESC NULLS LAST, row_key"
        shown = golden_sql.with_texts_sql(
            f"(SELECT * FROM {table} WHERE reason IS NULL {order} LIMIT {int(limit)})")
        rows = cur.execute(f"SELECT {', '.join(PREVIEW_COLUMNS)} FROM ({shown}) {order}").df()
        return Preview(f, {**_counts(cur, table), **extra}, _label_balance(cur, table), agreement,
                       None if judge is None else float(judge), rows)
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def _dataset_id(cur, name: str, author: str, description: str, now: datetime) -> int:
    row = cur.execute("SELECT dataset_id FROM golden_datasets WHERE name = ?", [name]).fetchall()
    if row:
        if description:
            cur.execute("UPDATE golden_datasets SET description = ? WHERE dataset_id = ?",
                        [description, row[0][0]])
        return int(row[0][0])
    cur.execute("""INSERT INTO golden_datasets
                   VALUES (nextval('golden_dataset_seq'), ?, ?, ?, ?) RETURNING dataset_id""",
                [name, description, author, now])
    return int(cur.fetchall()[0][0])


def _assign_split(cur, f: GoldenFilter, cand: str, hashes: str) -> dict[str, Any]:
    """Add each kept row's part of the split to ``hashes`` (NULL without a split); returns
    the split's record for the version's counts: seed, shares, rows and sessions per part."""
    cur.execute(f"ALTER TABLE {hashes} ADD COLUMN split VARCHAR")
    if not f.split:
        return {}
    rows = f"(SELECT h.row_key, c.session_id, c.trace_id FROM {hashes} h JOIN {cand} c USING (row_key))"
    cur.execute(f"""UPDATE {hashes} AS h SET split = p.split
                    FROM ({curation.split_sql(f.split_seed, f.split, rows)}) p
                    WHERE p.row_key = h.row_key""")
    per = cur.execute(
        f"""SELECT h.split, count(*), count(DISTINCT coalesce(c.session_id, c.trace_id, h.row_key))
            FROM {hashes} h JOIN {cand} c USING (row_key) GROUP BY ALL""").fetchall()
    found = {p: (int(n), int(s)) for p, n, s in per}
    return {"split": {"seed": f.split_seed,
                      "shares": dict(zip(curation.SPLITS, f.split, strict=True)),
                      "rows": {p: found.get(p, (0, 0))[0] for p in curation.SPLITS},
                      "sessions": {p: found.get(p, (0, 0))[1] for p in curation.SPLITS}}}


def _save(cur, dataset_id: int, f: GoldenFilter, author: str, cand: str, now: datetime,
          extra: dict[str, Any] | None = None) -> tuple[int, bool, dict[str, Any]]:
    hashes = _hashes(cur, cand)
    split = _assign_split(cur, f, cand, hashes)
    content_hash = cur.execute(
        f"""SELECT sha256(coalesce(string_agg(row_key || ' ' || row_hash
                                              || coalesce(' ' || split, ''), chr(10)
                                              ORDER BY row_key), ''))
            FROM {hashes}""").fetchall()[0][0]
    counts = {**_counts(cur, cand), **(extra or {}), **split}
    last = cur.execute("""SELECT version_id, content_hash FROM golden_versions
                          WHERE dataset_id = ? ORDER BY version DESC LIMIT 1""",
                       [dataset_id]).fetchall()
    if last and last[0][1] == content_hash:
        cur.execute(f"DROP TABLE {hashes}")
        return int(last[0][0]), False, counts
    # Only rows no version holds yet are stored (no duplicates within one build: the hash
    # covers the row key, unique per target); their texts are read again for them alone.
    new = f"""(SELECT c.*, h.row_hash FROM {cand} c JOIN {hashes} h USING (row_key)
               WHERE NOT EXISTS (SELECT 1 FROM golden_rows r WHERE r.row_hash = h.row_hash))"""
    cols = ", ".join(golden_sql.ROW_COLUMNS)
    rows = golden_sql.with_texts_sql(new, also=("row_hash",))
    cur.execute(f"""INSERT INTO golden_rows (row_hash, {cols}, created_at)
                    SELECT row_hash, {cols}, ? FROM ({rows})""", [now])
    balance = _label_balance(cur, cand)
    cur.execute(
        """INSERT INTO golden_versions
           SELECT nextval('golden_version_seq'), ?,
                  coalesce((SELECT max(version) FROM golden_versions WHERE dataset_id = ?), 0) + 1,
                  ?, ?, ?, ?, ?, ?, ?
           RETURNING version_id""",
        [dataset_id, dataset_id, content_hash, author, _json(f.to_dict()), _json(counts),
         _json(dict(zip(balance["label"], balance["rows"].astype(int).tolist(), strict=True))),
         counts["included"], now])
    version_id = int(cur.fetchall()[0][0])
    cur.execute(f"INSERT INTO golden_version_rows SELECT ?, row_key, row_hash FROM {hashes}",
                [version_id])
    if split:
        cur.execute(f"""INSERT INTO golden_version_splits
                        SELECT ?, row_key, split FROM {hashes}""", [version_id])
    cur.execute(f"DROP TABLE {hashes}")
    return version_id, True, counts


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def build(store: Store, name: str, f: GoldenFilter, author: str, *,
          description: str = "", spans: SpanStore | None = None) -> BuildResult:
    """Save what ``f`` gives as a new version of dataset ``name`` unless it equals the latest
    version. Leads only (roles.yaml); recorded in the audit log. ``spans``: where the spans
    live (None: the store's own file); they are fetched before the write lock is taken."""
    name = check_name(name)
    who = roles.require(store, author, roles.Action.EXPORT)
    f = resolve(store, f)  # without a rule only corrections and comparisons give rows
    fetched = golden_spans.fetch(store, spans, f)

    def write(cur) -> tuple[int, bool, dict[str, Any]]:
        with golden_spans.spans_here(cur, fetched):
            return _write(cur)

    def _write(cur) -> tuple[int, bool, dict[str, Any]]:
        now = _now()
        dataset_id = _dataset_id(cur, name, who, description, now)
        cand, extra = candidates(cur, f, name)  # a failure rolls back temporary tables too
        version_id, created, counts = _save(cur, dataset_id, f, who, cand, now, extra)
        cur.execute(f"DROP TABLE {cand}")
        if created:
            v = cur.execute("SELECT version FROM golden_versions WHERE version_id = ?",
                            [version_id]).fetchall()[0][0]
            audit.record(cur, who, "golden.version", f"golden:{name}:v{v}",
                         {"filter": f.to_dict(), "counts": counts})
        return version_id, created, counts

    version_id, created, counts = store.write(write)
    return BuildResult(version_info(store, version_id), created, counts)


__all__ = ["NO_EXPECTED", "BuildResult", "FilterError", "Preview", "build", "latest_version",
           "preview", "resolve"]
