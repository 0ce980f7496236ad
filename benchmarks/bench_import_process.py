"""Whole-process import timing (issue 13): the `goldenloop import` command against a bare
Python process doing DuckDB's CREATE TABLE AS of the same file, each timed from start to exit
(interpreter start-up, imports, schema creation, validation and insert all count), best of N,
alternating so that load changes hit both alike. Each is reported as wall time and as CPU
time (user + system of all threads, from ``wait4``): on a shared machine the wall time is
mostly time spent waiting for a core, the CPU time is the work each process does.

    python benchmarks/bench_import_process.py PARQUET JSONL [--repeat 3] [--before SRC]

``--before SRC`` also times the command from another source tree (e.g. ``git archive`` of an
earlier commit, its ``src`` folder) in the same rounds, so before and after meet the same load.
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


def _timed(cmd: list[str], expect: str | None = None, src: Path | None = None
           ) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak resident MB of one
    process. On a loaded machine the wall time mostly measures waiting for a core; the CPU
    time is the work done. ``src``: run goldenloop from that source folder."""
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
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


def measure(src: Path, repeat: int, work: Path, before: Path | None = None) -> dict:
    reader = "read_json" if src.suffix == ".jsonl" else "read_parquet"
    rows = _rows(src)
    runs: dict[str, list] = {"bare": [], "import": [], "before": []}

    def command(kind: str) -> tuple[float, float, float]:
        # Counts as done only when every row was imported (a failed import is fast).
        return _timed([sys.executable, "-m", "goldenloop.cli", "import", str(src), "--db",
                       str(_fresh(work / f"{kind}.duckdb"))], expect=f"{rows:,} imported",
                      src=before if kind == "before" else None)

    for _ in range(repeat):
        runs["bare"].append(_timed([sys.executable, "-c", BARE, str(src),
                                    str(_fresh(work / "bare.duckdb")), reader]))
        runs["import"].append(command("import"))
        if before:
            runs["before"].append(command("before"))
    best = {k: [min(r[i] for r in v) for i in range(3)] for k, v in runs.items() if v}
    out = {"file": src.name, "rows": rows, "runs": repeat}
    for kind, (wall, cpu, peak) in best.items():
        out.update({f"{kind}_s": wall, f"{kind}_cpu_s": cpu, f"{kind}_peak_mb": peak})
        if kind != "bare":
            out[f"{kind}_ratio"] = wall / best["bare"][0]
            out[f"{kind}_cpu_ratio"] = cpu / best["bare"][1]
    out["ratio"], out["cpu_ratio"] = out["import_ratio"], out["import_cpu_ratio"]
    return out


def report(files: list[Path], repeat: int, before: Path | None = None) -> list[dict]:
    load_before = uptime()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(f, repeat, Path(tmp), before) for f in files]
    print(f"\nwhole processes, best of {repeat}\n  before: {load_before}\n  after:  {uptime()}")
    print(f"{'file':28} {'command':8} {'rows':>10} {'wall s':>7} {'ratio':>6} {'CPU s':>6} "
          f"{'ratio':>6} {'peak MB':>8}")
    for r in results:
        for kind in ("bare", "import", "before"):
            if f"{kind}_s" not in r:
                continue
            ratios = ("", "") if kind == "bare" else (f"{r[kind + '_ratio']:.2f}x",
                                                      f"{r[kind + '_cpu_ratio']:.2f}x")
            print(f"{r['file']:28} {kind:8} {r['rows']:>10,} {r[kind + '_s']:>7.2f} "
                  f"{ratios[0]:>6} {r[kind + '_cpu_s']:>6.2f} {ratios[1]:>6} "
                  f"{r[kind + '_peak_mb']:>8.0f}")
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", type=Path, help="a source folder (holding goldenloop/) whose "
                    "import command is timed too, in the same rounds")
    args = ap.parse_args()
    print(json.dumps(report(args.files, args.repeat, args.before)))


if __name__ == "__main__":
    main()
