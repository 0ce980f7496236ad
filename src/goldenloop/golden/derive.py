"""A new golden version derived from an earlier one after its rows were reviewed again (for
instance by Argilla annotators): the same row keys, each recomputed under the earlier
version's own filter from the grades and corrections live now, with the provenance kept in
the new version's counts (``derived_from``). Versions stay immutable: a review never edits
the version it started from, and no new traffic enters a derived version."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from goldenloop.golden.build import _candidates, _now, _save
from goldenloop.golden.versions import Version
from goldenloop.store import audit


def derive_in(cur, base: Version, author: str, provenance: dict[str, Any],
              now: datetime | None = None) -> tuple[int, bool, dict[str, Any]]:
    """Inside a write transaction: save ``base``'s rows as they stand now as the dataset's
    next version unless that equals its latest version. Returns (version id, created,
    counts). A row whose target has no live grade left is counted as ``without_grades``."""
    now = now or _now()
    cand = _candidates(cur, base.filter)
    cur.execute(f"""DELETE FROM {cand} WHERE row_key NOT IN
                    (SELECT row_key FROM golden_version_rows WHERE version_id = ?)""",
                [base.version_id])
    # A verdict now given by a grade made outside a queue has no queue item to name the
    # sampling design: keep the one the row had, so weighted uses of the set still work.
    cur.execute(f"""UPDATE {cand} AS c
                    SET inclusion_prob = coalesce(c.inclusion_prob, r.inclusion_prob),
                        queue_id = coalesce(c.queue_id, r.queue_id)
                    FROM golden_version_rows m JOIN golden_rows r USING (row_hash)
                    WHERE m.version_id = ? AND r.row_key = c.row_key""", [base.version_id])
    gone = cur.execute(f"""SELECT count(*) FROM golden_version_rows
                           WHERE version_id = ? AND row_key NOT IN (SELECT row_key FROM {cand})""",
                       [base.version_id]).fetchall()[0][0]
    dataset_id = cur.execute("SELECT dataset_id FROM golden_versions WHERE version_id = ?",
                             [base.version_id]).fetchall()[0][0]
    version_id, created, counts = _save(cur, int(dataset_id), base.filter, author, cand, now)
    cur.execute(f"DROP TABLE {cand}")
    if created:
        counts = {**counts, "derived_from": {"version": base.version,
                                             "content_hash": base.content_hash,
                                             "without_grades": int(gone), **provenance}}
        cur.execute("UPDATE golden_versions SET counts = ? WHERE version_id = ?",
                    [json.dumps(counts, default=str, sort_keys=True), version_id])
        v = cur.execute("SELECT version FROM golden_versions WHERE version_id = ?",
                        [version_id]).fetchall()[0][0]
        audit.record(cur, author, "golden.version", f"golden:{base.dataset}:v{v}",
                     {"derived_from": base.version, **provenance, "counts": counts})
    return version_id, created, counts
