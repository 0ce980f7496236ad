"""The Anomalies page over a demo history that detection has run on, warm, in headless
Chromium: navigation to the page with its first anomaly open until its chart and tables are
drawn and the page stands still, against a bare baseline in the same run (the Jobs page,
which draws one small table).

    python benchmarks/bench_anomalies_page.py                 # 1M spans, 7 warm views each
    python benchmarks/bench_anomalies_page.py --spans 200000 --runs 5

The database is a private copy (``benchmarks/out/anomalies_page_<spans>.duckdb``), generated
with ``goldenloop demo`` the first time, then examined by ``anomalies.detect`` if it holds no
anomaly yet. Results go to ``out/anomalies_page.json``; the uptime line before and after says
how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from timing import uptime  # noqa: E402

# The page is drawn: its chart has marks, its tables are there, nothing is loading, and no
# script run is in flight.
_DRAWN = """(tables) => {
    const chart = document.querySelector('[data-testid="stVegaLiteChart"] svg.marks .role-mark');
    const grids = document.querySelectorAll('[data-testid="stDataFrame"]').length;
    const app = document.querySelector('[data-test-script-state]');
    const idle = !app || app.getAttribute('data-test-script-state') === 'notRunning';
    return (tables === 1 || chart !== null) && grids >= tables && idle
        && document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def database(spans: int) -> Path:
    db = OUT / f"anomalies_page_{spans}.duckdb"
    if not db.exists():
        OUT.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "goldenloop.cli", "demo", "--db", str(db),
                        "--spans", str(spans)], check=True, cwd=ROOT)
    from goldenloop import anomalies
    from goldenloop.schema import open_store

    with open_store(db) as store:  # (again: a copy made elsewhere may not have been examined)
        if not store.scalar("SELECT count(*) FROM anomalies"):
            print(anomalies.detect(store).summary, flush=True)
    return db


def draw_time(page, url: str, tables: int, timeout_s: float = 120) -> float:
    """Seconds from navigating to ``url`` until the page is drawn and stood still 0.3 s
    (the last change, not the wait, is what is timed)."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN, arg=tables, timeout=timeout_s * 1000, polling=20)
    done = time.perf_counter() - t
    page.wait_for_timeout(300)
    if not page.evaluate(_DRAWN, tables):  # something changed after: wait for it again
        page.wait_for_function(_DRAWN, arg=tables, timeout=timeout_s * 1000, polling=20)
        done = time.perf_counter() - t - 0.3
    return done


def main() -> None:
    import browser_support as bs
    from browser_page_support import wait_until_idle

    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    db = database(args.spans)
    out: dict = {"spans": args.spans, "load_before": uptime()}
    pages = {"anomalies": ("anomalies?reviewer=lead", 2), "baseline (jobs)": ("jobs", 1)}
    times: dict[str, list[float]] = {k: [] for k in pages}
    with bs.chromium() as browser, bs.running_app(db, OUT) as url:
        page = browser.new_page(viewport=bs.VIEWPORT)
        wait_until_idle(page, url, timeout_s=1800)  # the owner scores new spans at start
        for name, (path, tables) in pages.items():  # cold: fills the caches
            out[f"cold_s {name}"] = round(draw_time(page, f"{url}/{path}", tables), 3)
        for _ in range(args.runs):
            for name, (path, tables) in pages.items():
                times[name].append(draw_time(page, f"{url}/{path}", tables))
        bs.screenshot(page, "anomalies-page-bench")
    for name, ts in times.items():
        out[name] = {"median_s": round(statistics.median(ts), 3),
                     "all_s": [round(t, 3) for t in ts]}
    ratio = out["anomalies"]["median_s"] / out["baseline (jobs)"]["median_s"]
    out["ratio_to_baseline"] = round(ratio, 2)
    out["load_after"] = uptime()
    (OUT / "anomalies_page.json").write_text(json.dumps(out, indent=2))
    print(f"Anomalies page over {args.spans:,} spans, warm, navigation to drawn (median of "
          f"{args.runs}): {out['anomalies']['median_s']:.2f} s; bare baseline (Jobs page) "
          f"{out['baseline (jobs)']['median_s']:.2f} s; ratio {ratio:.2f}. Load before: "
          f"{out['load_before']}; after: {out['load_after']}")


if __name__ == "__main__":
    main()
