"""The one place that decides where a job runs: queued for the owner's workers, or here.

- The caller is the owner (an app page of ``goldenloop serve``: ``store`` given and
  ``serving``): the job goes into the jobs table, and the workers of this process run it.
- Another process owns the database (``paths`` given, its owner file names a live server):
  the job becomes a job file in that owner's inbox.
- Nobody else owns it: ``Submitted.queued`` is False and the caller runs the typed job here
  (``run_here`` runs its handler; commands with their own output call the library instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldenloop.workers.kinds import JobSpec, parse_job

if TYPE_CHECKING:
    from goldenloop.config import Paths
    from goldenloop.store import Store


@dataclass(frozen=True)
class Submitted:
    queued: bool
    message: str | None = None  # what to tell the user when queued
    job_id: int | None = None  # queued in this process's jobs table
    file: Path | None = None  # handed to another process's inbox
    paused: str | None = None  # why that owner refuses writes now (a full disk)
    owner_pid: int | None = None  # the process that will run it


def submit(job: JobSpec, *, paths: Paths | None = None, store: Store | None = None,
           serving: bool = False, origin: str = "cli") -> Submitted:
    """Queue ``job`` for whoever owns the database, or say it is to run here (see module)."""
    # Checked again here: a model built with model_construct, or changed, must not reach disk.
    job = parse_job(job.kind, _as_submitter(job.params()), f"new {job.kind} job")
    if store is not None and serving:
        from goldenloop.store import jobs as job_sql

        job_id = store.write(job_sql.create, job.kind, job.params(), origin)
        return Submitted(True, f"queued as job {job_id}", job_id=job_id)
    if paths is None:
        return Submitted(False)
    from goldenloop import access

    owner = access.running_owner(paths)
    if not owner:
        return Submitted(False)
    f = access.submit_job(paths, job.kind, job.params(), origin)
    paused = access.writes_paused(paths, owner)
    return Submitted(True, f"The server (process {owner.pid}) owns {paths.db}: queued as a job "
                           f"({f.name})", file=f, paused=paused, owner_pid=owner.pid)


def _as_submitter(params: dict[str, Any]) -> dict[str, Any]:
    """The job's parameters naming who acts now (set at the edge), unless they name someone."""
    from goldenloop.access import roles

    who = roles.actor()
    return params if who is None or params.get("submitted_by") else {**params, "submitted_by": who}


def queue_in(cur: Any, job: JobSpec, origin: str) -> int:
    """Queue ``job`` inside a write the caller holds (the owner's schedulers, which check in
    the same transaction that no such job waits); its id."""
    from goldenloop.store import jobs as job_sql

    job = parse_job(job.kind, job.params(), f"new {job.kind} job")
    return job_sql.create(cur, job.kind, job.params(), origin)


def run_here(store: Store, job: JobSpec,
             progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Run a typed job in this process with its owner's handler."""
    from goldenloop.workers.handlers import HANDLERS

    return HANDLERS[job.kind](store, job.params(), progress or (lambda f, m: None))
