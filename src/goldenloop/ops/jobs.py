"""Job kinds of operations, run by the owner: backup and forget (CLI commands while a
server runs hand these to it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goldenloop.store import Store
from goldenloop.workers.jobs import Handler, Progress


def backup_job(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from goldenloop.ops.backup import backup_store

    m = backup_store(store, Path(params["dest"]), actor=params.get("by", "cli"), interface="cli",
                     request=params.get("request"))
    return {"summary": f"backup of {m['counts']['spans']:,} spans in {m['seconds']:.2f} s",
            "counts": m["counts"], "taken_at": m["taken_at"]}


def forget_job(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from goldenloop.ops.forget import forget

    r = forget(store, params["selector"], params["value"], requested_by=params.get("by", "cli"),
               interface="cli", erasure_id=params.get("erasure_id"))
    # The result names the hash, never the id: the jobs table is read by every page.
    return {"summary": f"erasure {r.erasure_id}: {sum(r.removed.values()):,} rows and files removed",
            "erasure_id": r.erasure_id, "removed": r.removed}


HANDLERS: dict[str, Handler] = {"backup": backup_job, "forget": forget_job}
