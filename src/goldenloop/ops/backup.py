"""Backups and restore of the database file.

A backup is the snapshot mechanism pointed at another file: the owner checkpoints and copies
the file under the write lock (in a child process, store.snapshot says why), so the copy holds
every transaction committed before it and none after. Beside the copy a manifest names that
moment and the row counts of the main tables at it, read under the same lock.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from goldenloop import access
from goldenloop.access import roles
from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError
from goldenloop.schema import open_store
from goldenloop.store import Store, audit, snapshot

COUNTED = ("spans", "signals", "feedback", "grades", "golden_rows", "golden_versions",
           "quarantine", "audit_log")
MANIFEST_SUFFIX = ".manifest.json"


class BackupError(GoldenloopError):
    """A backup or restore that cannot be done (a file missing, a server owning it)."""


def manifest_path(dest: Path) -> Path:
    return dest.with_name(dest.name + MANIFEST_SUFFIX)


def counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: int(cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in COUNTED}


def backup_store(store: Store, dest: Path, *, actor: str | None = None, interface: str = "cli",
                 request: str | None = None) -> dict[str, Any]:
    """Copy the open store to ``dest`` (atomically) and write its manifest; return it."""
    actor = roles.guard(store, roles.Action.OPERATE, actor) or "cli"
    dest = Path(dest)
    if dest.resolve() in (store.path.resolve(), Paths(store.path).snapshot.resolve()):
        raise BackupError(f"{dest} is the database or its snapshot: choose another file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The audit entry is committed first, so the backup holds the fact it was taken.
    store.write(lambda cur: audit.record(cur, actor, "backup", str(dest.name), {"request": request},
                                         interface))
    with store.exclusive() as cur:  # a re-entrant lock: publish() below takes it again
        taken = datetime.now(UTC).replace(tzinfo=None)
        manifest = {"taken_at": taken.isoformat(), "counts": counts(cur),
                    "database": str(store.path.name), "request": request}
        seconds = snapshot.publish(store, dest)
    manifest["seconds"] = round(seconds, 3)
    tmp = manifest_path(dest).with_name(manifest_path(dest).name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, manifest_path(dest))
    return manifest


def backup(paths: Paths, dest: Path, *, actor: str | None = None, wait: float = 600.0
           ) -> tuple[dict[str, Any], str | None]:
    """Back up ``paths.db`` to ``dest``: through the running owner as a job, else directly.

    Returns the manifest and, when a server did it, a note naming the server."""
    dest = Path(dest).expanduser().resolve()
    owner = access.running_owner(paths)
    if owner is None:
        if not paths.db.exists():
            raise BackupError(f"no database at {paths.db}: nothing to back up")
        with open_store(paths.db) as store:
            return backup_store(store, dest, actor=actor), None
    request = os.urandom(8).hex()
    from goldenloop.workers.kinds import BackupJob
    from goldenloop.workers.submit import submit

    submit(BackupJob.of(dest=str(dest), request=request, by=actor or "cli"), paths=paths)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        manifest = _read_manifest(dest)
        if manifest is not None and manifest.get("request") == request:
            return manifest, f"made by the server (process {owner.pid})"
        time.sleep(0.3)
    raise BackupError(f"the server (process {owner.pid}) has not finished the backup after "
                      f"{wait:.0f} s: follow it on the Jobs page or `goldenloop jobs`")


def _read_manifest(dest: Path) -> dict[str, Any] | None:
    try:
        return json.loads(manifest_path(dest).read_text())
    except (OSError, ValueError):
        return None


def restore(paths: Paths, src: Path) -> Path | None:
    """Put the backup ``src`` in place of ``paths.db``; return where the replaced file was kept.

    Refused while a server owns the target. The backup is checked to open as a goldenloop
    database first; the replaced file (and its write-ahead log) is renamed aside, not deleted,
    and the stale snapshot is removed (the next server publishes a fresh one)."""
    src = Path(src).expanduser().resolve()
    owner = access.running_owner(paths)
    if owner is not None:
        raise BackupError(f"{paths.db} is served by process {owner.pid}: stop the server "
                          "before restoring over it")
    if not src.is_file():
        raise BackupError(f"no backup file at {src}")
    _check_backup(src)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.db.with_name(f".{paths.db.name}.restoring")
    shutil.copyfile(src, tmp)
    kept = None
    if paths.db.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        kept = paths.db.with_name(f"{paths.db.stem}.replaced-{stamp}.duckdb")
        os.replace(paths.db, kept)
        wal = paths.db.with_name(paths.db.name + ".wal")
        if wal.exists():
            os.replace(wal, kept.with_name(kept.name + ".wal"))
    os.replace(tmp, paths.db)
    paths.snapshot.unlink(missing_ok=True)
    with open_store(paths.db) as store:  # brings an older backup's schema up to date
        store.write(lambda cur: audit.record(cur, "cli", "restore", src.name,
                                             {"replaced_kept_as": kept.name if kept else None},
                                             "cli"))
    return kept


def _check_backup(src: Path) -> None:
    try:
        con = duckdb.connect(str(src), read_only=True)
        try:
            con.execute("SELECT count(*) FROM spans").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        raise BackupError(f"{src} is not a goldenloop database: "
                          f"{str(exc).splitlines()[0][:200]}") from exc
