"""Whole-process import timing (issue 13): the `goldenloop import` command against a bare
Python process doing DuckDB's CREATE TABLE AS of the same file, each timed from start to exit
(interpreter start-up, imports, schema creation, validation and insert all count), best of N,
alternating so that load changes hit both alike. Each is reported as wall time and as CPU
time (user + system of all threads, from ``wait4``): on a shared machine the wall time is
mostly time spent waiting for a core, the CPU time is the work each process does.

    python benchmarks/bench_import_process.py PARQUET JSONL [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import uptime

BARE = ("import duckdb, sys; con = duckdb.connect(sys.argv[2]); "
        "con.execute(f\"CREATE TABLE spans AS SELECT * FROM {sys.argv[3]}('{sys.argv[1]}')\"); "
        "con.close()")


def _timed(cmd: list[str], expect: str | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak resident MB of one
    process. On a loaded machine the wall time mostly measures waiting for a core; the CPU
    time is the work done."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0 or (expect and expect not in stdout):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {stdout[-500:]} {stderr[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _rows(src: Path) -> int:
    import duckdb

    reader = "read_json" if src.suffix == ".jsonl" else "read_parquet"
    return duckdb.sql(f"SELECT count(*) FROM {reader}('{src}')").fetchall()[0][0]


def _fresh(db: Path) -> Path:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    return db


def measure(src: Path, repeat: int, work: Path) -> dict:
    reader = "read_json" if src.suffix == ".jsonl" else "read_parquet"
    rows = _rows(src)
    bare, imp = [], []
    for _ in range(repeat):
        bare.append(_timed([sys.executable, "-c", BARE, str(src), str(_fresh(work / "bare.duckdb")),
                            reader]))
        # Counts as done only when every row was imported (a failed import is fast).
        imp.append(_timed([sys.executable, "-m", "goldenloop.cli", "import", str(src), "--db",
                           str(_fresh(work / "imp.duckdb"))], expect=f"{rows:,} imported"))
    best = {k: [min(r[i] for r in runs) for i in range(3)] for k, runs in (("bare", bare),
                                                                          ("import", imp))}
    return {"file": src.name, "rows": rows, "bare_s": best["bare"][0],
            "import_s": best["import"][0], "ratio": best["import"][0] / best["bare"][0],
            "bare_cpu_s": best["bare"][1], "import_cpu_s": best["import"][1],
            "cpu_ratio": best["import"][1] / best["bare"][1],
            "bare_peak_mb": best["bare"][2], "import_peak_mb": best["import"][2], "runs": repeat}


def report(files: list[Path], repeat: int) -> list[dict]:
    before = uptime()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(f, repeat, Path(tmp)) for f in files]
    print(f"\nwhole processes, best of {repeat}\n  before: {before}\n  after:  {uptime()}")
    print(f"{'file':28} {'rows':>10} {'bare CTAS s':>12} {'import s':>9} {'ratio':>6} "
          f"{'bare CPU s':>11} {'import CPU s':>13} {'ratio':>6} {'peak MB':>14}")
    for r in results:
        print(f"{r['file']:28} {r['rows']:>10,} {r['bare_s']:>12.2f} {r['import_s']:>9.2f} "
              f"{r['ratio']:>5.2f}x {r['bare_cpu_s']:>11.2f} {r['import_cpu_s']:>13.2f} "
              f"{r['cpu_ratio']:>5.2f}x {r['bare_peak_mb']:>6.0f}/{r['import_peak_mb']:<6.0f}")
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(report(args.files, args.repeat)))


if __name__ == "__main__":
    main()
