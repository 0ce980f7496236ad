"""Erasure in Argilla: the records goldenloop pushed about an erased end user (``goldenloop
forget``) are deleted from the linked Argilla datasets; their responses go with them, on
Argilla's side as in goldenloop.

Two steps, so a server that cannot be reached loses nothing and stops nothing:
- ``collect`` runs inside the erasure's transaction: it lists the pushed records of the erased
  queue items and golden rows in ``argilla_erasures`` (dataset, the names of the URL and key
  variables, the record's external id, which names no person), and removes goldenloop's own
  links and pulled responses of them;
- ``erase_pending`` then deletes every listed record not yet deleted, dataset by dataset, and
  marks each one done; a dataset whose server is unreachable (or whose key is missing or
  refused) keeps its records listed with the reason, for the next try (``goldenloop forget
  --retry-argilla``, and every later erasure). Pulls skip listed records meanwhile, so an
  answer on one is never taken back in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from goldenloop.access import roles
from goldenloop.argilla_sync.connect import ArgillaSyncError, Endpoint, http, translated
from goldenloop.store import Store, audit

PAGE = 1000
CHUNK = 100  # record ids per delete request (they go in the query string)



@dataclass
class ArgillaErasure:
    """What one attempt did: records deleted (or found gone) per dataset, and what is left."""

    erased: dict[str, int] = field(default_factory=dict)
    pending: dict[str, tuple[int, str]] = field(default_factory=dict)  # dataset: (n, reason)

    def lines(self) -> list[str]:
        out = [f"  Argilla dataset {name}: {n:,} records erased" for name, n in
               sorted(self.erased.items())]
        out += [f"  Argilla dataset {name}: {n:,} records NOT erased yet ({why}); nothing is "
                "lost: run `goldenloop forget --retry-argilla` once it is reachable"
                for name, (n, why) in sorted(self.pending.items())]
        return out


def collect(cur: duckdb.DuckDBPyConnection, erasure_id: str) -> dict[str, int]:
    """Inside the erasure (needs ops.forget's ``_qi`` and ``_gk``, the erased golden rows'
    dataset and row key): list the pushed records to delete in Argilla and drop goldenloop's
    links and pulls of them. Counts by table."""
    cur.execute(
        """CREATE TEMP TABLE _ar AS
           SELECT r.link_id, r.external_id, d.argilla_dataset_id, d.dataset_name, d.url_env,
                  d.key_env
           FROM argilla_records r JOIN argilla_datasets d USING (link_id)
           WHERE r.queue_item_id IN (SELECT q FROM _qi)
              OR (r.row_key, d.golden_dataset_id) IN (SELECT (row_key, dataset_id) FROM _gk)""")
    cur.execute("""INSERT INTO argilla_erasures
                   SELECT ?, link_id, argilla_dataset_id, dataset_name, url_env, key_env,
                          external_id, NULL, NULL, NULL FROM _ar""", [erasure_id])
    counts = {}
    for table in ("argilla_pulls", "argilla_records"):
        counts[table] = int(cur.execute(
            f"""DELETE FROM {table} WHERE (link_id, external_id) IN
                (SELECT (link_id, external_id) FROM _ar)""").fetchall()[0][0])
    cur.execute("DROP TABLE _ar")
    return counts


def erased_ids(store: Store, link_id: int) -> set[str]:
    """External ids of a link's records erased in goldenloop (deleted in Argilla or not yet):
    a pull leaves them out."""
    return {r for (r,) in store.rows("SELECT external_id FROM argilla_erasures WHERE link_id = ?",
                                     [link_id])}


def pending(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM argilla_erasures WHERE erased_at IS NULL"))


def erase_pending(store: Store, by: str | None = None) -> ArgillaErasure:
    """Delete every listed record not yet deleted (see module); each dataset on its own."""
    by = roles.guard(store, roles.Action.OPERATE, by)
    result = ArgillaErasure()
    if not pending(store):
        return result
    groups = store.rows(
        """SELECT url_env, key_env, argilla_dataset_id, any_value(dataset_name),
                  list(DISTINCT external_id)
           FROM argilla_erasures WHERE erased_at IS NULL GROUP BY ALL ORDER BY 4""")
    for url_env, key_env, dataset_id, name, externals in groups:
        try:
            _delete(Endpoint(url_env, key_env), dataset_id, set(externals))
        except ArgillaSyncError as exc:
            result.pending[name] = (len(externals), str(exc))
            store.write(_mark, dataset_id, externals, None, str(exc))
        else:
            result.erased[name] = len(externals)
            store.write(_mark, dataset_id, externals, by, None)
    return result


def _delete(endpoint: Endpoint, dataset_id: str, externals: set[str]) -> None:
    """Delete the dataset's records with these external ids (gone already: nothing to do)."""
    url = endpoint.resolve()[0]
    with translated(url), http(endpoint) as h:
        ids, offset = [], 0
        while True:
            r = h.get(f"/api/v1/datasets/{dataset_id}/records",
                      params={"offset": offset, "limit": PAGE})
            if r.status_code == 404:  # the dataset was deleted in Argilla: its records too
                return
            r.raise_for_status()
            page = r.json()["items"]
            ids += [rec["id"] for rec in page if rec.get("external_id") in externals]
            if len(page) < PAGE:
                break
            offset += PAGE
        for i in range(0, len(ids), CHUNK):
            h.delete(f"/api/v1/datasets/{dataset_id}/records",
                     params={"ids": ",".join(ids[i:i + CHUNK])}).raise_for_status()


def _mark(cur: duckdb.DuckDBPyConnection, dataset_id: str, externals: list[str],
          by: str | None, error: str | None) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    cur.execute(
        """UPDATE argilla_erasures SET tried_at = ?, last_error = ?,
                  erased_at = CASE WHEN ? THEN ? ELSE erased_at END
           WHERE argilla_dataset_id = ? AND erased_at IS NULL
             AND external_id IN (SELECT unnest(?::VARCHAR[]))""",
        [now, error, error is None, now, dataset_id, externals])
    if error is None:
        audit.record(cur, by or "cli", "forget.argilla", f"argilla:{dataset_id}",
                     {"records": len(externals)})


def result_dict(r: ArgillaErasure) -> dict[str, Any]:
    return {"erased": r.erased, "pending": {k: list(v) for k, v in r.pending.items()}}


def from_dict(d: dict[str, Any] | None) -> ArgillaErasure:
    d = d or {}
    return ArgillaErasure(dict(d.get("erased") or {}),
                          {k: (int(v[0]), str(v[1])) for k, v in (d.get("pending") or {}).items()})
