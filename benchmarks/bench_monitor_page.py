"""The whole Monitor page over a 1M-span demo, warm, in headless Chromium: where the time goes.

    python benchmarks/bench_monitor_page.py                 # 1M spans, 7 warm runs
    python benchmarks/bench_monitor_page.py --spans 200000 --runs 5
    python benchmarks/bench_monitor_page.py --library       # drill-down and conversation calls
    python benchmarks/bench_monitor_page.py --spans 200000 --runs 3 --cold-after 10 --ab OLD_APP
                              # an older app/ folder first, then this one, in one run

Each app runs in its own `goldenloop serve` beside a bare Streamlit page with one 150-point
line chart (the baseline, loaded interleaved): start-up to healthy, the first Monitor load
(``--cold-after`` seconds after the start), and per warm load the websocket bytes and its
first and last message (the server's share as the browser sees it).

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
from collections.abc import Iterator
from contextlib import contextmanager
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
    import importlib.util

    from streamlit.testing.v1 import AppTest

    app_dir = Path(importlib.util.find_spec("goldenloop_app").submodule_search_locations[0])
    at = AppTest.from_file(str(app_dir / "streamlit_app.py"), default_timeout=300)
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


def draw_time(page, url: str, timeout_s: float = 120, views: int = VIEWS) -> float:
    """Seconds from navigating to ``url`` until every chart (``views`` of them) is drawn."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN, arg=views, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def listen(page) -> list[tuple[float, int]]:
    """When and how many bytes the server sends over the page's websocket (every delta:
    elements, specs, Arrow data), appended as they arrive."""
    received: list[tuple[float, int]] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(
        (time.perf_counter(), len(frame) if isinstance(frame, (bytes, str)) else 0))))
    return received


def timed_load(page, url: str, received: list[tuple[float, int]], views: int = VIEWS) -> dict:
    """One navigation until drawn, with the server's share as the browser sees it: the first
    and the last websocket message after navigation started (the script's run ends with the
    last one), and the bytes sent."""
    seen, t0 = len(received), time.perf_counter()
    total = draw_time(page, url, views=views)
    page.wait_for_timeout(300)  # let the probe see the last frame, and late messages arrive
    frames = [(t - t0, n) for t, n in received[seen:] if t >= t0]
    return {"draw_s": round(total, 3), "ws_kB": round(sum(n for _, n in frames) / 1e3, 1),
            "ws_first_s": round(frames[0][0], 3) if frames else None,
            "ws_last_s": round(frames[-1][0], 3) if frames else None}


def one_view(page, cdp, url: str, received: list[tuple[float, int]]) -> dict:
    before = cpu_metrics(cdp)
    view = timed_load(page, url, received)
    after = cpu_metrics(cdp)
    first = page.evaluate("window.__first")
    drawn = page.evaluate("window.__drawn")
    view |= {"first_element_s": round(first / 1000, 3) if first else None,
             "first_chart_s": round(next(t for t, n in drawn if n > 0) / 1000, 3),
             "last_chart_s": round(next(t for t, n in drawn if n >= VIEWS) / 1000, 3),
             "dom_nodes": int(after["Nodes"])}
    # The main thread's figures start again with each document (a navigation): read them
    # as they stand; the renderer process's CPU time runs on, so take its difference.
    view |= {f"cpu_{k}_s": round(after[k] - (before[k] if k == "ProcessTime" else 0), 3)
             for k in CPU_METRICS}
    return view


# The baseline: a bare Streamlit page drawing one line chart of 150 points (the size of one
# Monitor line), served by plain `streamlit run` with the app's options.
BARE_PAGE = """import altair as alt
import pandas as pd
import streamlit as st

st.title("Bare")
df = pd.DataFrame({"t": pd.date_range("2026-01-01", periods=150, freq="2h"), "n": range(150)})
st.altair_chart(alt.Chart(df).mark_line().encode(x="t:T", y="n:Q"))
"""


@contextmanager
def bare_app() -> Iterator[tuple[str, float]]:
    """Serve the bare page; yield its URL and the seconds from spawn to healthy."""
    import browser_support as bs

    script = OUT / "bare_page.py"
    script.write_text(BARE_PAGE)
    port = bs.free_port()
    log = OUT / f"bare-{port}.log"
    t = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script),
                                 "--server.headless", "true", "--server.address", "127.0.0.1",
                                 "--server.port", str(port), "--browser.gatherUsageStats", "false",
                                 "--server.fileWatcherType", "none"], cwd=OUT, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        bs.wait_healthy(url, proc, log)
        yield url, time.perf_counter() - t
    finally:
        bs.stop(proc)


def browser_times(db: Path, runs: int, variants: list[str], cold_after: float = 0) -> dict:
    """Warm views of each variant (a query string), interleaved with the bare page's so they
    share the load; the cold start of both (spawn to healthy, then the first full load)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import browser_support as bs

    out: dict = {}
    bare_views: list[dict] = []
    with bs.chromium() as browser:
        t = time.perf_counter()
        with bs.running_app(db, OUT) as url, bare_app() as (bare, bare_up):
            out["startup_s"] = round(time.perf_counter() - t - bare_up, 3)
            out["bare_startup_s"] = round(bare_up, 3)
            page = browser.new_page(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC")
            # The first load of all: the Monitor page straight after start (what a user who
            # opens the app's Monitor link meets), then the bare page's first load.
            time.sleep(cold_after)  # a visitor some seconds after the start
            out["draw_cold_s"] = round(draw_time(page, f"{url}/monitor?"), 3)
            bare_page = browser.new_page(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC")
            out["bare_cold_s"] = round(draw_time(bare_page, bare, views=1), 3)
            out |= warm_views(page, bare_page, url, bare, runs, variants, bare_views)
    out["bare"] = {k: round(statistics.median(v[k] for v in bare_views), 3) for k in bare_views[0]}
    out["bare_draw_s"] = out["bare"]["draw_s"]
    return out


def warm_views(page, bare_page, url: str, bare: str, runs: int, variants: list[str],
               bare_views: list[dict]) -> dict:
    """Warm loads of each variant (its first load fills the caches), interleaved with the
    bare page's, once the owner runs no job."""
    import browser_support as bs
    from browser_page_support import wait_until_idle

    out: dict = {}
    wait_until_idle(page, url)  # the owner's background jobs would share the CPU
    page.add_init_script(PROBE)
    received, bare_received = listen(page), listen(bare_page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    views: dict[str, list] = {v: [] for v in variants}
    for v in variants[1:]:  # the default variant was loaded first of all
        out[f"draw_cold_s_{v}"] = round(draw_time(page, f"{url}/monitor?{v}"), 3)
    for _ in range(runs):
        bare_views.append(timed_load(bare_page, bare, bare_received, views=1))
        for v in variants:
            views[v].append(one_view(page, cdp, f"{url}/monitor?{v}", received))
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


@contextmanager
def app_folder(app_dir: Path | None) -> Iterator[dict]:
    """The environment of processes that run ``app_dir`` (an older ``app/`` folder, imported
    first through PYTHONPATH) instead of this checkout's app; this one when None."""
    env = dict(os.environ)
    if app_dir is not None:
        shim = OUT / "monitor_ab_shim"
        shim.mkdir(exist_ok=True)
        link = shim / "goldenloop_app"
        link.unlink(missing_ok=True)
        link.symlink_to(app_dir.resolve())
        env["PYTHONPATH"] = str(shim)
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)  # the app server is started from this process's environment
    try:
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)


def page_run(db: Path, args, variants: list[str], app_dir: Path | None) -> dict:
    """The script's share in a child process, then the browser's, for one app folder."""
    with app_folder(app_dir) as env:
        child = subprocess.run([sys.executable, __file__, "--spans", str(args.spans), "--runs",
                                str(args.runs), "--script-only"], check=True,
                               capture_output=True, text=True, cwd=ROOT, env=env)
        out = json.loads(child.stdout.strip().splitlines()[-1])
        out |= browser_times(db, args.runs, variants, args.cold_after)
    return out


def report(label: str, out: dict, variants: list[str], runs: int) -> None:
    print(f"[{label}] {out['views']} views, {out['spec_bytes'] / 1e3:.0f} kB spec, "
          f"{out['arrow_bytes'] / 1e3:.0f} kB Arrow, script cold {out['script_cold_s']:.2f} s, "
          f"warm {out['script_warm_median_s']:.2f} s")
    print(f"  start-up: app {out['startup_s']:.2f} s to healthy, first Monitor load "
          f"{out['draw_cold_s']:.2f} s; bare page {out['bare_startup_s']:.2f} s, first load "
          f"{out['bare_cold_s']:.2f} s, warm {out['bare_draw_s']:.2f} s")
    for v in variants:
        m = out[v or "default"]["median"]
        print(f"  {v or 'default':<24} first chart {m['first_chart_s']:.2f} s, last chart "
              f"{m['last_chart_s']:.2f} s, navigation to last chart {m['draw_s']:.2f} s "
              f"({m['draw_s'] / out['bare_draw_s']:.2f}x the bare page); main thread CPU "
              f"{m['cpu_TaskDuration_s']:.2f} s (script {m['cpu_ScriptDuration_s']:.2f}, layout "
              f"{m['cpu_LayoutDuration_s']:.2f}, style {m['cpu_RecalcStyleDuration_s']:.2f}), "
              f"{m['dom_nodes']:,} DOM nodes, {m['ws_kB']:.0f} kB over the websocket, its first and last "
              f"message {m['ws_first_s']:.2f} s and {m['ws_last_s']:.2f} s (median of {runs})")
        b = out["bare"]
        print(f"  bare page: websocket first/last message {b['ws_first_s']:.2f} / "
              f"{b['ws_last_s']:.2f} s, drawn {b['draw_s']:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--variant", action="append", default=None,
                    help="a query string to time too, e.g. split=model+version (repeatable)")
    ap.add_argument("--ab", type=Path, default=None,
                    help="an older app/ folder to time first, in the same run")
    ap.add_argument("--cold-after", type=float, default=0,
                    help="seconds between the app's start and the first Monitor load")
    ap.add_argument("--ab-only", action="store_true", help="time the --ab folder alone")
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
    variants = ["", *(args.variant or [])]
    out: dict = {"spans": args.spans}
    apps = ([("before", args.ab)] if args.ab else []) + ([] if args.ab_only else [("this app", None)])
    for label, app_dir in apps:
        load = load_average()
        out[label] = page_run(db, args, variants, app_dir) | {"load": [load, load_average()]}
    (OUT / "monitor_page.json").write_text(json.dumps(out, indent=2))
    print(f"Monitor page over {args.spans:,} spans")
    for label, _ in apps:
        print(f"load average {out[label]['load'][0]} -> {out[label]['load'][1]}")
        report(label, out[label], variants, args.runs)


if __name__ == "__main__":
    main()
