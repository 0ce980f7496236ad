"""Run every benchmark in one go and print the figures benchmarks/RESULTS.md quotes.

    python benchmarks/run.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_case(case: str, src: Path, work: Path) -> dict:
    db = work / f"{case}.duckdb"
    for p in work.glob(f"{case}.duckdb*"):
        p.unlink()
    out = subprocess.run([sys.executable, str(HERE / "case.py"), case, str(src), str(db)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    out_dir = HERE / "out"
    # Data is made in a child process: peak memory is inherited across fork and exec, so
    # the cases must be started by a parent that never held the data.
    made = subprocess.run([sys.executable, str(HERE / "data_gen.py"), str(args.rows),
                           str(out_dir / "data")], capture_output=True, text=True, check=True)
    files = {k: Path(v) for k, v in json.loads(made.stdout).items()}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bare = run_case("bare_ctas", files["parquet"], work)
        pq_imp = run_case("import_parquet", files["parquet"], work)
        js_imp = run_case("import_jsonl", files["jsonl"], work)
        bare_js = run_case("bare_ctas_jsonl", files["jsonl"], work)
        demo = run_case("demo_200k", files["parquet"], work)
        results = [bare, pq_imp, bare_js, js_imp, demo]
    print(f"{'case':16} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'vs bare':>8}")
    for r in results:
        base = bare_js if r["case"].endswith("jsonl") else bare
        ratio = r["seconds"] / base["seconds"]
        print(f"{r['case']:16} {r['rows']:>10,} {r['seconds']:>8.2f} "
              f"{r['rows'] / r['seconds']:>10,.0f} {r['peak_mb']:>8.0f} {ratio:>7.2f}x")
    # The issue-13 figure: whole commands, start-up included, against bare processes.
    from bench_import_process import report

    whole = report([files["parquet"], files["jsonl"]], repeat=3)
    (out_dir / "import.json").write_text(json.dumps({"in_process": results,
                                                     "whole_process": whole}, indent=2))


if __name__ == "__main__":
    main()
