"""Access: who may do what, and how a command reaches the database.

``access.signin`` says who is using the app, ``access.roles`` what each person may do; this
module decides how a command reaches the database: directly when no server runs, else through
the owner. A command that writes becomes a job file in the owner's inbox; a command that reads
opens the published snapshot and says how old it is (DESIGN.md, "How processes share the
database").
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError
from goldenloop.store import Store, health, snapshot
from goldenloop.store import owner as owner_file


@dataclass
class ReadAccess:
    store: Store
    note: str | None  # said to the user when reading a snapshot


def running_owner(paths: Paths) -> owner_file.OwnerRecord | None:
    return owner_file.read_owner(paths.owner_file)


def submit_job(paths: Paths, kind: str, params: dict, origin: str = "cli") -> Path:
    """Hand a job to the running owner: write the job file under a temporary name, rename."""
    # Imported here: the inbox worker imports the ingest package, whose writers import roles
    # from this package.
    from goldenloop.workers.inbox import JOB_SUFFIX

    name = f"{kind}-{uuid.uuid4().hex[:12]}{JOB_SUFFIX}"
    tmp = paths.inbox / f".{name}.tmp"
    try:
        paths.inbox.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"kind": kind, "params": params, "origin": origin}))
        os.replace(tmp, paths.inbox / name)
    except OSError as exc:  # a full disk: say so, leave no half-written job behind
        tmp.unlink(missing_ok=True)
        raise GoldenloopError(f"cannot hand the job to the server: writing it into "
                              f"{paths.inbox} failed ({exc.strerror or exc})") from exc
    return paths.inbox / name


def writes_paused(paths: Paths, owner: owner_file.OwnerRecord) -> str | None:
    """Why the running owner refuses writes now (a full disk), or None when it accepts them."""
    status = health.read_status(paths.db, owner.pid)
    return status.reason if status is not None and status.paused else None


@contextmanager
def for_reading(paths: Paths) -> Iterator[ReadAccess]:
    owner = running_owner(paths)
    if owner is None:
        if not paths.db.exists():
            raise GoldenloopError(
                f"no database at {paths.db}: run `goldenloop demo` or `goldenloop import FILE`"
            )
        store = Store(paths.db, read_only=True, migrate_schema=False)
        try:
            yield ReadAccess(store, None)
        finally:
            store.close()
        return
    age = snapshot.age_seconds(paths.snapshot)
    if age is None:
        raise GoldenloopError(
            f"the server (process {owner.pid}) has not published a snapshot yet; "
            "try again in a few seconds"
        )
    store = snapshot.open_snapshot(paths.snapshot)
    try:
        yield ReadAccess(store, f"read from the server's snapshot, {_age(age)} old "
                                f"(server: process {owner.pid})")
    finally:
        store.close()


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
