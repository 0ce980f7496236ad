"""The owner's workers, started and stopped together."""

from __future__ import annotations

import logging
import time

from goldenloop.config import Paths
from goldenloop.store import Store, snapshot
from goldenloop.store import jobs as job_sql
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.inbox import InboxWatcher
from goldenloop.workers.jobs import JobRunner
from goldenloop.workers.loop import Loop

log = logging.getLogger("goldenloop.workers")


class SnapshotPublisher(Loop):
    """Publishes a snapshot when something changed and the last one is old enough."""

    interval = 2.0

    def __init__(self, store: Store, paths: Paths, every: float = 10.0):
        super().__init__("goldenloop-snapshot")
        self.store, self.paths, self.every = store, paths, every
        self._published_generation = -1
        self._last = 0.0

    def tick(self) -> bool:
        fresh = time.monotonic() - self._last < self.every
        if self.store.generation == self._published_generation or fresh:
            return False
        gen = self.store.generation
        seconds = snapshot.publish(self.store, self.paths.snapshot)
        self._published_generation, self._last = gen, time.monotonic()
        log.info("snapshot published in %.2f s", seconds)
        return False


class Workers:
    def __init__(self, store: Store, paths: Paths, snapshot_every: float = 10.0):
        requeued, interrupted = store.write(job_sql.recover_after_restart)
        if requeued or interrupted:
            log.warning("after restart: %d job(s) queued again, %d interrupted", requeued,
                        interrupted)
        self.threads: list[Loop] = [
            JobRunner(store, HANDLERS),
            InboxWatcher(store, paths),
            SnapshotPublisher(store, paths, snapshot_every),
        ]

    def start(self) -> Workers:
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for t in self.threads:
            t.stop()
        for t in self.threads:
            t.join(timeout)
