"""What every writing command does the same way: hand the work to a running server as a job,
or run it here with a progress bar."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from goldenloop.config import Paths
from goldenloop.workers.kinds import JobSpec
from goldenloop.workers.submit import submit


def queued_to_server(paths: Paths, job: JobSpec, what: str,
                     follow: str = "the Jobs page or `goldenloop jobs`") -> bool:
    """True when a server owns the database: the typed job went to it (``workers.submit``
    decides) and the user was told. False when this process may open the database itself."""
    sent = submit(job, paths=paths, origin="cli")
    if not sent.queued:
        return False
    typer.echo(f"The server (process {sent.owner_pid}) owns {paths.db}: queued {what} as a job "
               f"({sent.file.name if sent.file else sent.job_id}). Follow it on {follow}.")
    if sent.paused:
        typer.echo(f"The server has paused writes ({sent.paused}): the job waits and runs once disk "
                   "space is freed.")
    return True


def job_identity(files: list[Path]) -> dict[str, Any]:
    """What makes each import request its own job: the owner skips a job file whose content
    it has seen, so a repeated command on a changed file must not write the same bytes. Each
    request is unique, and names the size and modification time of the files it saw."""
    seen = []
    for f in files:
        try:
            st = f.stat()
            seen.append({"file": str(f.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        except OSError:
            seen.append({"file": str(f), "size": None, "mtime_ns": None})
    return {"request": uuid.uuid4().hex, "seen": seen}


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[float, str], None]]:
    """A ``progress(fraction, message)`` callback drawing a terminal progress bar."""
    with typer.progressbar(length=100, label=label) as bar:
        done = [0]

        def progress(fraction: float, message: str) -> None:
            step = int(fraction * 100) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        yield progress


@contextmanager
def span_store_of(paths: Paths, store) -> Iterator[Any]:
    """The span store configured for this data folder (``--spans`` of the server, else
    ``GOLDENLOOP_SPANS``, else ``spans.yaml``, else the database file), closed afterwards:
    for commands that read spans in this process."""
    from goldenloop.spanstore import configured_url, open_span_store

    spans = open_span_store(configured_url(None, paths.data_dir), store)
    try:
        yield spans
    finally:
        spans.close()
