"""SQL of the audit log: every write, who, what, when, which objects, from which interface.

The log is append-only: nothing in goldenloop updates or deletes its rows. Entries about end
users name them by a hash of their id (``subject_hash``), never by the id or their content.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pandas as pd

    from goldenloop.store.store import Store

INTERFACES = ("cli", "app", "job", "worker", "inbox", "library")
# Which interface the current thread serves (the CLI, a page run, a job from the CLI...): set
# once at each edge, so the library's many writers need not pass it along.
_INTERFACE: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_interface",
                                                                      default=None)


# Who acts in this thread (access.roles sets it at each edge and checks its role); kept here so
# writers below the access package can name the person in their entries.
ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("acting_user", default=None)


def acting_user() -> str | None:
    """The person the current edge acts for, when one is named."""
    return ACTOR.get() or None


def set_interface(interface: str) -> None:
    """Name the interface of this thread's writes from now on (the CLI, a page run)."""
    _INTERFACE.set(interface)


@contextmanager
def interface(name: str) -> Iterator[None]:
    """Name the interface of the writes made inside (a job run for the CLI or the app)."""
    token = _INTERFACE.set(name)
    try:
        yield
    finally:
        _INTERFACE.reset(token)


def record(cur: duckdb.DuckDBPyConnection, actor: str, action: str, target: str,
           details: dict | None = None, interface: str | None = None) -> None:
    interface = interface or _INTERFACE.get() or "library"
    cur.execute(
        """INSERT INTO audit_log (audit_id, logged_at, actor, action, target, details, interface)
           VALUES (nextval('audit_seq'), now()::TIMESTAMP, ?, ?, ?, ?, ?)""",
        [actor, action, target, json.dumps(details or {}, default=str), interface],
    )


def subject_hash(value: str) -> str:
    """How the log names an end user (or a session, a trace): a hash, not the id."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def entries(store: Store, *, since: datetime | None = None, until: datetime | None = None,
            actor: str | None = None, action: str | None = None, interface: str | None = None,
            limit: int = 10_000) -> pd.DataFrame:
    """Audit entries, newest first; ``action`` matches a prefix (``golden`` finds golden.*)."""
    where, params = ["true"], []
    for clause, value in (("logged_at >= ?", since), ("logged_at < ?", until),
                          ("actor = ?", actor), ("starts_with(action, ?)", action),
                          ("interface = ?", interface)):
        if value is not None and value != "":
            where.append(clause)
            params.append(value)
    return store.df(
        f"""SELECT audit_id, logged_at, actor, action, target, interface, details
            FROM audit_log WHERE {' AND '.join(where)}
            ORDER BY audit_id DESC LIMIT {int(limit)}""", params)
