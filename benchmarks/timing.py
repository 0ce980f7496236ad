"""What the benchmarks share: the best of several timed runs, and the machine's load line."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def uptime() -> str:
    """`uptime`'s line: the time and the load averages (the machine is shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
