"""The job runner: takes queued jobs in order and runs them, recording progress.

Handlers are plain functions ``fn(store, params, progress) -> dict``; ``progress(fraction,
message)`` raises ``JobCancelled`` when someone asked to cancel the job.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError, JobError, StoreUnavailableError
from goldenloop.store import Store, audit
from goldenloop.store import jobs as job_sql
from goldenloop.workers.kinds import JOB_TYPES, parse_job
from goldenloop.workers.loop import Loop

log = logging.getLogger("goldenloop.workers")
Progress = Callable[[float, str], None]
Handler = Callable[[Store, dict[str, Any], Progress], dict[str, Any]]

_PROGRESS_EVERY = 0.3  # seconds between progress writes: enough for a live bar, few writes


class JobCancelled(Exception):
    pass


class JobRunner(Loop):
    interval = 0.5

    def __init__(self, store: Store, handlers: dict[str, Handler]):
        super().__init__("goldenloop-jobs")
        self.store, self.handlers = store, handlers

    def tick(self) -> bool:
        job = self.store.write(job_sql.claim_next)
        if job is None:
            return False
        run_job(self.store, job, self.handlers)
        return True


def run_job(store: Store, job: job_sql.Job, handlers: dict[str, Handler]) -> None:
    handler = handlers.get(job.kind)
    if handler is None:
        store.write(job_sql.finish, job.job_id, "failed", error=f"unknown job kind {job.kind!r}")
        return
    params = job.params
    if job.kind in JOB_TYPES:  # read back typed: a bad stored job fails with its field named
        try:
            params = parse_job(job.kind, job.params, f"job {job.job_id}").params()
        except JobError as exc:
            store.write(job_sql.finish, job.job_id, "failed", error=str(exc))
            return
    submitter = params.get("submitted_by")  # the job acts as who asked for it
    params = {k: v for k, v in params.items() if k != "submitted_by"}
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < _PROGRESS_EVERY and fraction < 1:
            return
        last[0] = now
        if store.write(job_sql.set_progress, job.job_id, fraction, message):
            raise JobCancelled

    try:
        # The audit log says where the job came from; the library checks the submitter's role.
        with audit.interface(job.origin or "job"), roles.acting(submitter):
            result = handler(store, params, progress)
    except JobCancelled:
        store.write(job_sql.finish, job.job_id, "cancelled", message="cancelled on request")
    except StoreUnavailableError:
        # The disk failed, not the job: it is queued again (or reported) once the store
        # recovers, here if that already happened, else by the store guard. This thread runs
        # every job, so no other job is running now.
        if store.unavailable is None:
            store.write(job_sql.recover_after_restart, "the disk filled up while this job ran")
        raise
    except GoldenloopError as exc:
        store.write(job_sql.finish, job.job_id, "failed", error=str(exc))
    except Exception as exc:  # a bug: keep the trace for the Jobs page, keep the runner alive
        log.exception("job %s (%s) failed", job.job_id, job.kind)
        store.write(job_sql.finish, job.job_id, "failed",
                    error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
    else:
        store.write(job_sql.finish, job.job_id, "done", result=result,
                    message=result.get("summary") if isinstance(result, dict) else None)
