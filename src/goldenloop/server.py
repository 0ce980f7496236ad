"""`goldenloop serve`: the one process that owns the store, runs the workers and hosts the app.

(The full owner process is built in this module; until then pages open the store themselves.)
"""

from __future__ import annotations

from goldenloop.store import Store

_owned: Store | None = None


def owned_store() -> Store | None:
    """The Store this process owns as `goldenloop serve`, or None when not serving.

    The Streamlit app runs inside the owner process and must use the owner's connection:
    DuckDB refuses a second connection to the same file from one process with another
    configuration, and from any other process at all.
    """
    return _owned
