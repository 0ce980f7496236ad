"""Background work in the owner process: the job runner, the inbox watcher and the snapshot
publisher, each a thread with its own cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goldenloop.workers.pool import Workers

__all__ = ["Workers"]


def __getattr__(name: str) -> object:
    # Imported on first use: every CLI command reaches workers.inbox (for the job file
    # suffix), and the pool would load the scorers' models and the alert rules with it.
    if name == "Workers":
        from goldenloop.workers.pool import Workers

        globals()[name] = Workers
        return Workers
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
