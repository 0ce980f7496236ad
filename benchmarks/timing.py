"""What the benchmarks share: the best of several timed runs, the machine's load line, and the
summary of latencies timed in a page."""

from __future__ import annotations

import statistics
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


def page_latency(times: list[tuple[float, ...]]) -> dict:
    """Medians and tails of (shown ms, settled ms, ...) rows timed in the page, rounded."""
    shown = [t[0] for t in times]
    settled = [t[1] for t in times]
    return {"n": len(times), "shown_median_ms": round(statistics.median(shown), 1),
            "shown_p90_ms": round(statistics.quantiles(shown, n=10)[-1], 1),
            "settled_median_ms": round(statistics.median(settled), 1),
            "settled_max_ms": round(max(settled), 1)}
