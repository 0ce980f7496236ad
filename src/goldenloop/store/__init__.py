"""The store: the DuckDB file, the connection, the write lock, the migration runner,
snapshots, the core tables (spans, signals, feedback, grades, jobs, imports, audit) and shared
SQL helpers, including the one definition of a live grade.

Each feature keeps its own SQL (``<feature>/sql.py``) and migrations (``<feature>/schema.py``)
in its own package, and the ordered list of migrations is assembled in ``goldenloop.schema``:
this package imports no feature. Open a writable store with ``goldenloop.schema.open_store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goldenloop.store.store import Store

__all__ = ["Store"]


def __getattr__(name: str) -> object:
    # Imported on first use: processes that only need the span columns (the SDK inside an
    # application, through the spool writer) should not load DuckDB and pandas.
    if name == "Store":
        from goldenloop.store.store import Store

        globals()["Store"] = Store
        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
