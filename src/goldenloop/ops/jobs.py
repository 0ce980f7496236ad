"""Job kinds of operations, run by the owner: backup, forget and retention (CLI commands
while a server runs hand these to it), and the schedule that queues retention runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from goldenloop.store import Store
from goldenloop.store import jobs as job_sql
from goldenloop.workers.jobs import Handler, Progress
from goldenloop.workers.loop import Loop


def backup_job(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from goldenloop.ops.backup import backup_store

    m = backup_store(store, Path(params["dest"]), actor=params.get("by"), interface="cli",
                     request=params.get("request"))
    return {"summary": f"backup of {m['counts']['spans']:,} spans in {m['seconds']:.2f} s",
            "counts": m["counts"], "taken_at": m["taken_at"]}


def forget_job(store: Store, params: dict[str, Any], progress: Progress,
               spans: Any = None) -> dict[str, Any]:
    """``spans``: the server's span store, erased from too when it is ClickHouse."""
    from goldenloop.ops.forget import forget

    elsewhere = {"spans": spans} if spans is not None and spans.dialect != "duckdb" else {}
    r = forget(store, params["selector"], params["value"], requested_by=params.get("by"),
               interface="cli", erasure_id=params.get("erasure_id"), **elsewhere)
    # The result names the hash, never the id: the jobs table is read by every page.
    return {"summary": f"erasure {r.erasure_id}: {sum(r.removed.values()):,} rows and files removed",
            "erasure_id": r.erasure_id, "removed": r.removed}


def retention_job(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from goldenloop.ops import retention

    if params.get("set"):
        p = retention.set_policy(store, params["app"], int(params["days"]), params.get("by"))
        return {"summary": f"spans of {p.app} kept {p.days} days"}
    if params.get("clear"):
        retention.clear_policy(store, params["app"], params.get("by"))
        return {"summary": "retention policy removed"}
    deleted = retention.run(store, by=params.get("by") or "retention")
    return {"summary": f"{sum(deleted.values()):,} expired spans deleted", "deleted": deleted}


class RetentionScheduler(Loop):
    """Queues a "retention" job every ``every`` seconds (first a minute after the start)
    while any app has a policy and no such job waits."""

    interval = 30.0

    def __init__(self, store: Store, every: float = 3600.0):
        super().__init__("goldenloop-retention")
        self.store, self.every = store, every
        self._next = time.monotonic() + min(60.0, every)

    def tick(self) -> bool:
        if time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.every
        if self.store.scalar("SELECT count(*) FROM ops_retention"):
            self.store.write(self._queue)
        return False

    def _queue(self, cur) -> int | None:
        if not job_sql.running_or_queued(cur, "retention").empty:
            return None
        from goldenloop.workers.kinds import RetentionJob
        from goldenloop.workers.submit import queue_in

        return queue_in(cur, RetentionJob.of(by="schedule"), "worker")


HANDLERS: dict[str, Handler] = {"backup": backup_job, "forget": forget_job,
                                "retention": retention_job}
