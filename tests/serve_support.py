"""A ``goldenloop serve`` process for the system tests: it owns a database file, listens on a
free loopback port, writes its output to a log, and is stopped with SIGTERM, as an operator
stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import browser_support as bs


@contextmanager
def serving(db: Path, log: Path, *, args: tuple[str, ...] = ("--no-demo",),
            timeout: float = bs.STARTUP_TIMEOUT_S) -> Iterator[subprocess.Popen]:
    """``goldenloop serve --no-demo`` (or with ``args``) on ``db``, yielded once it answers its
    health check; stopped with SIGTERM on leaving. The caller checks ``returncode`` after the
    block; ``server.url`` is where it listens."""
    port = bs.free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "goldenloop.cli", "serve", "--db", str(db),
                                   "--port", str(port), *args],
                                  stdout=out, stderr=subprocess.STDOUT)
    server.url = f"http://127.0.0.1:{port}"
    try:
        bs.wait_healthy(server.url, server, log, timeout)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
