"""The whole Monitor page over a 1M-span demo, warm, in headless Chromium: where the time goes.

    python benchmarks/bench_monitor_page.py                 # 1M spans, 7 warm runs
    python benchmarks/bench_monitor_page.py --spans 200000 --runs 5
    python benchmarks/bench_monitor_page.py --library       # drill-down and conversation calls

Three measures of one warm page view (the aggregates and chart specs already cached):
- ``script_s``: the page script's run in-process (AppTest), i.e. the server's share: cache
  hits, and Streamlit turning each spec and its frames into protobuf (Arrow per dataset);
- in the browser, from navigation start (``performance.now()``): the first element, the
  first chart drawn and the last chart drawn (a requestAnimationFrame probe records each
  change in the number of drawn chart views: 14 charts in 7 views, two per row);
- ``draw_s``: navigation to the last chart, timed from Python as the browser test does (the
  issue's figure).
Also the charts' size: spec JSON and Arrow bytes sent, and rows per view. The demo database
is a private copy (``benchmarks/out/monitor_page_<spans>.duckdb``), made from the metrics
benchmark's demo when present, otherwise generated. Results go to ``out/monitor_page.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
CHARTS = 14  # drawn as 7 Vega views: the two charts of a row are one hconcat view
VIEWS = 7

PROBE = """
window.__drawn = [];
(function probe() {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    let drawn = 0;
    for (const c of charts) if (c.querySelector('svg.marks .role-mark, canvas.marks')) drawn++;
    const first = document.querySelector('[data-testid="stMainBlockContainer"] '
                                         + '[data-testid="stElementContainer"]');
    if (first && window.__first === undefined) window.__first = performance.now();
    if (drawn !== window.__last) { window.__drawn.push([performance.now(), drawn]); window.__last = drawn; }
    requestAnimationFrame(probe);
})();
"""


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def database(spans: int) -> Path:
    db = OUT / f"monitor_page_{spans}.duckdb"
    if db.exists():
        return db
    source = OUT / f"demo_{spans}.duckdb"
    if source.exists() and not Path(f"{source}.owner.json").exists():
        shutil.copy(source, db)
    else:
        subprocess.run([sys.executable, "-m", "goldenloop.cli", "demo", "--db", str(db),
                        "--spans", str(spans)], check=True, cwd=ROOT)
    return db


def script_times(db: Path, runs: int) -> dict:
    """The page script in-process: one cold run, then ``runs`` warm ones; chart sizes."""
    os.environ["GOLDENLOOP_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=300)
    at.switch_page("monitor/monitor.py")
    t = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t
    warm = []
    for _ in range(runs):
        t = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t)
    charts = at.get("vega_lite_chart")
    spec_bytes = [len(c.proto.spec) for c in charts]
    arrow_bytes = [sum(len(d.data.data) for d in c.proto.datasets) for c in charts]
    import pyarrow as pa
    rows = [sum(pa.ipc.open_stream(d.data.data).read_all().num_rows for d in c.proto.datasets)
            for c in charts]
    return {"script_cold_s": round(cold, 3), "script_warm_s": [round(w, 3) for w in warm],
            "script_warm_median_s": round(statistics.median(warm), 3), "views": len(charts),
            "spec_bytes": sum(spec_bytes), "arrow_bytes": sum(arrow_bytes), "rows": rows,
            "exceptions": [str(e.value) for e in at.exception]}


CPU_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration",
               "ProcessTime")


def cpu_metrics(cdp) -> dict[str, float]:
    """The renderer's main-thread busy time by kind, in thread CPU time (``threadTicks``), so
    a busy machine slows the wall clock but not these; and the DOM size."""
    got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {k: got[k] for k in (*CPU_METRICS, "Nodes")}


# Every chart element holds a drawn Vega view (marks in its SVG, or its canvas), and nothing
# is loading. The browser test's own check reads SVG only.
_DRAWN = """(n) => {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length < n) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark, canvas.marks')) return false;
    return document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def draw_time(page, url: str, timeout_s: float = 120) -> float:
    """Seconds from navigating to ``url`` until every chart is drawn."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN, arg=VIEWS, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def one_view(page, cdp, url: str) -> dict:
    before = cpu_metrics(cdp)
    total = draw_time(page, url)
    page.wait_for_timeout(300)  # let the probe see the last frame
    after = cpu_metrics(cdp)
    first = page.evaluate("window.__first")
    drawn = page.evaluate("window.__drawn")
    view = {"draw_s": round(total, 3),
            "first_element_s": round(first / 1000, 3) if first else None,
            "first_chart_s": round(next(t for t, n in drawn if n > 0) / 1000, 3),
            "last_chart_s": round(next(t for t, n in drawn if n >= VIEWS) / 1000, 3),
            "dom_nodes": int(after["Nodes"])}
    # The main thread's figures start again with each document (a navigation): read them
    # as they stand; the renderer process's CPU time runs on, so take its difference.
    view |= {f"cpu_{k}_s": round(after[k] - (before[k] if k == "ProcessTime" else 0), 3)
             for k in CPU_METRICS}
    return view


def browser_times(db: Path, runs: int, variants: list[str]) -> dict:
    """Warm views of each variant (a query string), interleaved so they share the load."""
    sys.path.insert(0, str(ROOT / "tests"))
    import browser_support as bs
    from browser_page_support import wait_until_idle

    out: dict = {}
    with bs.chromium() as browser, bs.running_app(db, OUT) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)  # the owner's background jobs would share the CPU
        page.add_init_script(PROBE)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        views: dict[str, list] = {v: [] for v in variants}
        for v in variants:  # cold: fills the caches
            out[f"draw_cold_s{'_' + v if v else ''}"] = round(draw_time(page, f"{url}/monitor?{v}"), 3)
        for _ in range(runs):
            for v in variants:
                views[v].append(one_view(page, cdp, f"{url}/monitor?{v}"))
        bs.screenshot(page, "monitor-page-bench")
    for v, vs in views.items():
        med = {k: statistics.median(x[k] for x in vs if x[k] is not None) for k in vs[0]}
        out[v or "default"] = {"views": vs, "median": {k: round(m, 3) for k, m in med.items()}}
    return out


def library_times(db: Path, runs: int) -> dict:
    """Median milliseconds of the drill-down and conversation calls over the whole store."""
    from datetime import timedelta

    from goldenloop.metrics import SpanFilter
    from goldenloop.metrics import conversations as C
    from goldenloop.metrics import traces as T
    from goldenloop.store import Store

    with Store(db, read_only=True) as store:
        last = store.scalar("SELECT max(start_time) FROM spans WHERE kind = 'llm'")
        month = SpanFilter(start=last - timedelta(days=30), end=last + timedelta(hours=1))
        bucket = SpanFilter(start=last - timedelta(hours=3), end=last)
        some = T.bucket_spans(store, month, order="slowest", limit=1).spans.iloc[0]
        cases = {
            "spans of a 3-hour bucket, one version, failed": lambda: T.bucket_spans(
                store, bucket, split="model_version", group=some["model_version"],
                condition="failed", order="slowest"),
            "100 slowest requests of 30 days": lambda: T.bucket_spans(store, month, order="slowest"),
            "find an id": lambda: T.find(store, some["span_id"]),
            "one span in full": lambda: T.span_detail(store, some["trace_id"], some["span_id"]),
            "trace tree": lambda: T.trace_tree(store, some["trace_id"]),
            "conversation": lambda: T.conversation(store, some["session_id"]),
            "conversation analytics, 30 days": lambda: C.conversation_stats(store, month),
        }
        out = {}
        for name, fn in cases.items():
            fn()  # warm: file pages and plans
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
            out[name] = round(statistics.median(times), 1)
            print(f"  {name}: {out[name]:.1f} ms (median of {runs})", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--variant", action="append", default=None,
                    help="a query string to time too, e.g. split=model+version (repeatable)")
    ap.add_argument("--library", action="store_true",
                    help="time the drill-down and conversation library calls only")
    ap.add_argument("--script-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    db = database(args.spans)
    if args.library:
        result = {"spans": args.spans, "load": load_average(), "ms": library_times(db, args.runs)}
        (OUT / "drill_down_library.json").write_text(json.dumps(result, indent=2))
        return
    if args.script_only:  # in a child process: the app must own the file afterwards
        print(json.dumps(script_times(db, args.runs)))
        return
    out: dict = {"spans": args.spans, "load_before": load_average()}
    child = subprocess.run([sys.executable, __file__, "--spans", str(args.spans), "--runs",
                            str(args.runs), "--script-only"], check=True, capture_output=True,
                           text=True, cwd=ROOT)
    out |= json.loads(child.stdout.strip().splitlines()[-1])
    variants = ["", *(args.variant or [])]
    out |= browser_times(db, args.runs, variants)
    out["load_after"] = load_average()
    (OUT / "monitor_page.json").write_text(json.dumps(out, indent=2))
    print(f"Monitor page over {args.spans:,} spans ({CHARTS} charts in {out['views']} views, "
          f"{out['spec_bytes'] / 1e3:.0f} kB spec, {out['arrow_bytes'] / 1e3:.0f} kB Arrow), "
          f"script warm {out['script_warm_median_s']:.2f} s; load {out['load_before']} -> "
          f"{out['load_after']}")
    for v in variants:
        m = out[v or "default"]["median"]
        print(f"  {v or 'default':<24} first chart {m['first_chart_s']:.2f} s, last chart "
              f"{m['last_chart_s']:.2f} s, navigation to last chart {m['draw_s']:.2f} s; main "
              f"thread CPU {m['cpu_TaskDuration_s']:.2f} s (script {m['cpu_ScriptDuration_s']:.2f}, "
              f"layout {m['cpu_LayoutDuration_s']:.2f}, style {m['cpu_RecalcStyleDuration_s']:.2f}), "
              f"renderer process CPU {m['cpu_ProcessTime_s']:.2f} s, {m['dom_nodes']:,} DOM nodes "
              f"(median of {args.runs})")


if __name__ == "__main__":
    main()
