"""How detection's canary test behaves on synthetic canary histories (in-process, a temporary
store): false alarms on suites whose answers only vary by sampling, and how often a drop of
a given size is found at the default sensitivity.

Each suite: 40 hourly runs of 50 items, each item passing with its own chance (uniform in
[LOW, 1]: LOW 0.6 is a sampled endpoint at temperature > 0, 0.97 an almost deterministic
one). A drop lowers every item's chance by DROP from run 30 on.

    python benchmarks/bench_canary_detection.py [suites]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from goldenloop.anomalies import canary
from goldenloop.experiments.schema import ensure_tables
from goldenloop.schema import open_store

RUNS, ITEMS, AT = 40, 50, 30
START = datetime(2026, 11, 1)


def _write(store, suite: str, passes: np.ndarray, run0: int) -> None:
    r, i = np.nonzero(np.ones_like(passes))

    def write(cur):
        cur.execute("""INSERT INTO experiment_runs (run_id, source, suite, status, started_at)
                       SELECT $base + r, 'canary', $suite, 'done', $start + INTERVAL 1 HOUR * r
                       FROM range($runs) t(r)""",
                    {"base": run0, "suite": suite, "start": START, "runs": RUNS})
        cur.execute("""INSERT INTO experiment_scores (run_id, item_key, scorer, value, passed)
                       SELECT $base + unnest($r), 'i' || unnest($i), 'exact',
                              unnest($v)::DOUBLE, unnest($v) = 1""",
                    {"base": run0, "r": r.tolist(), "i": i.tolist(),
                     "v": passes[r, i].astype(int).tolist()})
    store.write(write)


def trial(suites: int, low: float, drop: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "b.duckdb")
        ensure_tables(store)
        for s in range(suites):
            p = rng.uniform(low, 1.0, ITEMS)
            chance = np.tile(p, (RUNS, 1))
            chance[AT:] = np.clip(chance[AT:] - drop, 0, 1)
            _write(store, f"s{s}", (rng.random((RUNS, ITEMS)) < chance).astype(int), s * RUNS + 1)
        t0 = time.perf_counter()
        res = canary.find(store, None, None, START + timedelta(hours=RUNS), 1e-3)
        seconds = time.perf_counter() - t0
        store.close()
    at_drop = sum(f.window_start == START + timedelta(hours=AT) for f in res.found)
    return {"low": low, "drop": drop, "suites": suites, "anomalies": len(res.found),
            "found_at_the_drop": at_drop, "tests": res.tests, "seconds": round(seconds, 2)}


def main() -> None:
    suites = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    out = [trial(suites, low, drop, seed)
           for seed, (low, drop) in enumerate([(0.6, 0.0), (0.97, 0.0), (0.6, 0.1), (0.6, 0.2),
                                               (0.6, 0.4), (0.97, 0.05), (0.97, 0.1)])]
    for row in out:
        print(json.dumps(row))
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
