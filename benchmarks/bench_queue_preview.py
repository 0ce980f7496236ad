"""The Queues page's preview at 1M spans: what a design would draw, counted in SQL by stratum
and risk signals (``sampling.preview_queue``), against reading every unit of the frame into
pandas and computing each unit's probability (how the preview worked before; the same
figures, which the script checks).

    python benchmarks/bench_queue_preview.py                 # the 1M-span demo history
    python benchmarks/bench_queue_preview.py --spans 200000
    python benchmarks/bench_queue_preview.py --db some-demo-history.duckdb

In-process, on a copy of the demo history (``goldenloop demo --spans N``, built once into
benchmarks/out like the review benchmark's), every span of the history in the frame: CPU
and wall seconds of each call, best of 3, after one warm-up call.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from goldenloop import sampling
from goldenloop.agreement import fitness
from goldenloop.sampling import designs as D
from goldenloop.sampling import sql
from goldenloop.schema import open_store
from goldenloop.store.span_filter import where as span_where

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def template(spans: int) -> Path:
    """The demo history of ``spans`` spans, built once (the review benchmark's file)."""
    path = OUT / f"demo_{spans}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "goldenloop.cli", "demo", "--db", str(path),
                        "--spans", str(spans)], check=True, cwd=ROOT)
    return path


def unit_by_unit(store, frame, design, unit: str) -> pd.DataFrame:
    """Every unit read into Arrow and pandas, its probability computed one by one."""
    strata = design.by if isinstance(design, D.Stratified) else ("app", "model_version")
    where, params = span_where(frame, "s")
    units = sql.frame_units(store.cursor(), unit, where, params, strata,
                            fitness.counted_keys(store, frame.judges))
    signals = {s: units.column(s).to_numpy(zero_copy_only=False).astype(bool)
               for s in D.RISK_SIGNALS}
    weights = design.weights if isinstance(design, D.RiskRaised) else D.DEFAULT_RISK_WEIGHTS
    risk = D.risk_scores(signals, weights)
    stratum = units.column("stratum").to_numpy(zero_copy_only=False).astype(str)
    if isinstance(design, D.RiskRaised):
        stratum = np.where(risk > 0, "raised risk", "base risk")
    p = D.probabilities(design, stratum, risk)
    return (pd.DataFrame({"stratum": stratum, "p": p}).groupby("stratum", sort=True)["p"]
            .agg(units="size", expected="sum", min_prob="min", max_prob="max").reset_index())


def best(fn, k: int = 3) -> tuple[float, float]:
    """(CPU seconds of the process, wall seconds), the best of ``k`` calls."""
    runs = []
    for _ in range(k):
        c, t = time.process_time(), time.perf_counter()
        fn()
        runs.append((time.process_time() - c, time.perf_counter() - t))
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="a demo history to copy instead of building one")
    args = ap.parse_args()
    work = OUT / f"queue_preview_{args.spans}.duckdb"
    shutil.copy(args.db or template(args.spans), work)
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    try:
        with open_store(work) as s:
            frame = sampling.make_frame(kinds=())  # every span of the history
            unit_by_unit(s, frame, sampling.Uniform(5), "span")  # warm-up
            for design in (sampling.Uniform(200), sampling.Stratified(200, allocation="equal"),
                           sampling.RiskRaised(200)):
                for unit in ("span", "session"):
                    pv = sampling.preview_queue(s, frame, design, unit=unit)
                    ref = unit_by_unit(s, frame, design, unit)
                    assert list(ref["units"]) == list(pv.strata["units"])
                    assert np.allclose(ref["expected"], pv.strata["expected"])
                    old = best(lambda d=design, u=unit: unit_by_unit(s, frame, d, u))
                    new = best(lambda d=design, u=unit: sampling.preview_queue(s, frame, d, unit=u))
                    print(f"{design.kind:10} {unit:8} units {pv.population_size:>9,}  SQL groups "
                          f"CPU {new[0]:.2f} s (wall {new[1]:.2f})  unit by unit CPU {old[0]:.2f} s "
                          f"(wall {old[1]:.2f})", flush=True)
    finally:
        for f in OUT.glob(f"{work.stem}*"):
            f.unlink(missing_ok=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
