"""The store: the DuckDB file, its schema and migrations, the write lock, snapshots,
and every SQL statement that touches a table."""

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
