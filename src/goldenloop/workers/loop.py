"""A stoppable background loop: the shape every worker thread shares."""

from __future__ import annotations

import logging
import threading

from goldenloop.errors import StoreUnavailableError

log = logging.getLogger("goldenloop.workers")


class Loop(threading.Thread):
    """Calls ``tick()`` every ``interval`` seconds until stopped; a failing tick is logged,
    never fatal, so one bad file or job cannot stop the owner's other work."""

    interval = 1.0

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()
        self.wake = threading.Event()

    def tick(self) -> bool:
        """Do one unit of work; return True when there may be more right away."""
        raise NotImplementedError

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                busy = self.tick()
            except StoreUnavailableError:  # the disk failed a write: StoreGuard reopens the store
                busy = False
            except Exception:  # a bug in one tick must not kill the worker
                log.exception("%s: tick failed", self.name)
                busy = False
            if not busy:
                self.wake.wait(self.interval)
                self.wake.clear()

    def stop(self) -> None:
        self._stop_event.set()
        self.wake.set()
