"""What every writing command does the same way: hand the work to a running server as a job,
or run it here with a progress bar."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from goldenloop import access
from goldenloop.config import Paths


def queued_to_server(paths: Paths, kind: str, params: dict[str, Any], what: str,
                     follow: str = "the Jobs page or `goldenloop jobs`") -> bool:
    """True when a server owns the database: the work became a job for it (and the user was
    told). False when this process may open the database itself."""
    owner = access.running_owner(paths)
    if not owner:
        return False
    job = access.submit_job(paths, kind, params)
    typer.echo(f"The server (process {owner.pid}) owns {paths.db}: queued {what} as a job "
               f"({job.name}). Follow it on {follow}.")
    paused = access.writes_paused(paths, owner)
    if paused:
        typer.echo(f"The server has paused writes ({paused}): the job waits and runs once disk "
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
