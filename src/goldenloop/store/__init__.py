"""The store: the DuckDB file, its schema and migrations, the write lock, snapshots,
and every SQL statement that touches a table."""

from goldenloop.store.store import Store

__all__ = ["Store"]
