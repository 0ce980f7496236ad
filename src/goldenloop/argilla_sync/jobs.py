"""The owner's side of the Argilla round trip: job kinds (``argilla_push``, ``argilla_pull``,
what the CLI queues while a server owns the database) and the scheduler that pulls every
pushed queue on a timer while the owner runs."""

from __future__ import annotations

import os
import time
from typing import Any

from goldenloop.store import Store
from goldenloop.store import jobs as job_sql
from goldenloop.workers.loop import Loop

SCHEDULED_AUTHOR = "goldenloop-scheduler"
EVERY_ENV = "GOLDENLOOP_ARGILLA_PULL_SECONDS"


def push_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    from goldenloop.argilla_sync.connect import Endpoint
    from goldenloop.argilla_sync.push import push_queue

    progress(0.1, "pushing to Argilla")
    endpoint = Endpoint(params.get("url_env") or "ARGILLA_API_URL",
                        params.get("key_env") or "ARGILLA_API_KEY")
    if params.get("golden"):
        from goldenloop.argilla_sync.golden_push import push_golden

        r = push_golden(store, params["golden"], pushed_by=params["author"],
                        dataset=params.get("dataset"),
                        workspace=params.get("workspace", "argilla"),
                        reviewers=int(params.get("reviewers") or 1), endpoint=endpoint)
    else:
        r = push_queue(store, int(params["queue_id"]), pushed_by=params["author"],
                       dataset=params.get("dataset"),
                       workspace=params.get("workspace", "argilla"),
                       suggestions=params.get("suggestions"), endpoint=endpoint)
    return {"summary": f"{r.dataset}: {r.records:,} records sent, {r.new_records:,} new",
            "records": r.records, "new_records": r.new_records}


def pull_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    from goldenloop.argilla_sync.pulling import pull

    progress(0.1, "pulling from Argilla")
    author = params.get("author") or SCHEDULED_AUTHOR
    results = pull(store, author, params.get("queue_id"),
                   check_role=author != SCHEDULED_AUTHOR, golden=params.get("golden"))
    graded = sum(r.graded for r in results)
    discarded = sum(r.discarded for r in results)
    aside = sum(r.set_aside for r in results)
    made = [f"{r.golden.split('@')[0]} v{r.new_version}" for r in results if r.version_created]
    return {"summary": f"{graded:,} graded, {discarded:,} discarded, {aside:,} set aside "
                       f"from {len(results)} dataset(s)"
                       + (f"; reviewed golden version(s): {', '.join(made)}" if made else ""),
            "graded": graded, "discarded": discarded, "set_aside": aside}


HANDLERS = {"argilla_push": push_job, "argilla_pull": pull_job}


class ArgillaPullScheduler(Loop):
    """Queues an ``argilla_pull`` job every ``every`` seconds (default 300, or the variable
    GOLDENLOOP_ARGILLA_PULL_SECONDS; 0 turns it off) while any queue is pushed to Argilla and
    no pull is queued or running. A failing pull is a failed job with its reason, retried at
    the next period, never in a tight loop."""

    interval = 5.0
    kind = "argilla_pull"

    def __init__(self, store: Store, every: float | None = None):
        super().__init__("goldenloop-argilla-pull")
        self.store = store
        self.every = float(os.environ.get(EVERY_ENV, 300)) if every is None else every
        self._last = time.monotonic()

    def tick(self) -> bool:
        if self.every <= 0 or time.monotonic() - self._last < self.every:
            return False
        self._last = time.monotonic()
        if self.store.scalar("SELECT count(*) FROM argilla_datasets"):
            self.store.write(self._queue)
        return False

    def _queue(self, cur) -> int | None:
        if not job_sql.running_or_queued(cur, self.kind).empty:
            return None
        from goldenloop.workers.kinds import ArgillaPullJob
        from goldenloop.workers.submit import queue_in

        return queue_in(cur, ArgillaPullJob.of(author=SCHEDULED_AUTHOR), "worker")
