"""Background work in the owner process: the job runner, the inbox watcher and the snapshot
publisher, each a thread with its own cursor."""

from goldenloop.workers.pool import Workers

__all__ = ["Workers"]
