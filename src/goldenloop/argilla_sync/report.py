"""Where each pushed queue or golden set stands: records in Argilla, responses submitted,
discarded and in draft, records still pending, what was pulled and when (for a golden set,
also the reviewed version made and the responses no version holds yet). Reads only; an
unreachable server is reported per dataset in plain words and the other datasets are still
shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from goldenloop.argilla_sync import sql, sql_golden
from goldenloop.argilla_sync.connect import ArgillaSyncError
from goldenloop.argilla_sync.pulling import fetch
from goldenloop.store import Store


@dataclass(frozen=True)
class Status:
    queue_id: int | None               # None for a golden set's dataset (see golden)
    dataset: str
    workspace: str
    pushed_at: datetime | None
    last_pull_at: datetime | None
    pulled_graded: int
    pulled_discarded: int
    set_aside: int
    records: int | None = None        # None: the server could not be read (see error)
    submitted: int | None = None
    discarded: int | None = None
    drafts: int | None = None
    pending: int | None = None        # records not yet completed by enough annotators
    error: str | None = None
    golden: str | None = None         # NAME@VERSION pushed, for a golden set's dataset
    reviewed_version: int | None = None   # the latest golden version made from its responses
    waiting: int = 0                  # responses taken in that no golden version holds yet


def _golden(store: Store, link: dict) -> dict:
    if link["source_kind"] != "golden":
        return {}
    made = sql_golden.last_version(store, link["link_id"])
    return {"golden": f"{link['golden_name']}@{link['golden_version']}",
            "reviewed_version": made["version"] if made else None,
            "waiting": sql_golden.undrafted(store.cursor(), link["link_id"])[0]}


def status(store: Store, queue_id: int | None = None, golden: str | None = None
           ) -> list[Status]:
    """Per linked dataset (of one queue, one golden dataset, or all)."""
    out = []
    for link in sql.links(store, queue_id, golden):
        counts = sql.pull_counts(store, link["link_id"])
        base = dict(queue_id=link["queue_id"], dataset=link["dataset_name"],
                    workspace=link["workspace"], pushed_at=link["pushed_at"],
                    last_pull_at=link["last_pull_at"], pulled_graded=counts.get("graded", 0),
                    pulled_discarded=counts.get("discarded", 0),
                    set_aside=counts.get("set_aside", 0), **_golden(store, link))
        try:
            _names, records = fetch(link)
        except ArgillaSyncError as exc:
            out.append(Status(**base, error=str(exc)))
            continue
        by = {"submitted": 0, "discarded": 0, "draft": 0}
        for rec in records:
            for resp in rec.get("responses") or []:
                by[resp["status"]] = by.get(resp["status"], 0) + 1
        pending = sum(1 for rec in records if rec.get("status") != "completed")
        out.append(Status(**base, records=len(records), submitted=by["submitted"],
                          discarded=by["discarded"], drafts=by["draft"], pending=pending))
    return out


GOLDEN_COLUMNS = ["dataset", "workspace", "pushed_version", "pushed_at", "last_pull_at",
                  "graded", "discarded", "set_aside", "reviewed_version", "waiting"]


def golden_links(store: Store, name: str) -> pd.DataFrame:
    """The Argilla datasets a golden dataset was pushed to, from goldenloop's own records
    (no request to Argilla): the version pushed, what was pulled and when, the reviewed
    version made, and the responses taken in that no version holds yet."""
    rows = []
    for link in sql.links(store, golden=name):
        counts = sql.pull_counts(store, link["link_id"])
        more = _golden(store, link)
        rows.append({"dataset": link["dataset_name"], "workspace": link["workspace"],
                     "pushed_version": link["golden_version"], "pushed_at": link["pushed_at"],
                     "last_pull_at": link["last_pull_at"], "graded": counts.get("graded", 0),
                     "discarded": counts.get("discarded", 0),
                     "set_aside": counts.get("set_aside", 0),
                     "reviewed_version": more["reviewed_version"], "waiting": more["waiting"]})
    return pd.DataFrame(rows, columns=GOLDEN_COLUMNS)
