"""The whole Monitor page over a demo history, in headless Chromium: where the time goes, and
against Arize Phoenix's Metrics tab on the same spans in the same run.

    python benchmarks/bench_monitor_page.py --spans 200000 --runs 5 --cold-after 10 \
        --ab OLD_APP --phoenix PHOENIX_PYTHON --phoenix-days 8
                              # an older app/ folder first, then this one, and Phoenix
    python benchmarks/bench_monitor_page.py --spans 200000 --runs 5   # this app alone
    python benchmarks/bench_monitor_page.py --library       # drill-down and conversation calls

The view timed is the issue's: the last 7 days (``--query``; ``--variant`` adds others).
Each app runs in its own `goldenloop serve` beside a bare Streamlit page with one 150-point
line chart (the baseline) and, with ``--phoenix``, Arize Phoenix (``phoenix_peer``: its own
virtual environment, never a project dependency; the same spans sent over OTLP, or with
``--phoenix-days`` those of the data's last days). Per app: start-up to healthy, the first
Monitor load in a new browser context (``--cold-after`` seconds after the start), then warm
loads, the bare page's and Phoenix's interleaved with them so they share the load; last, each
other tab's switch, click to drawn.

Measures of one warm page view (the aggregates and chart specs already cached):
- ``script_s``: the page script's run in-process (AppTest), i.e. the server's share: cache
  hits, and Streamlit turning each spec and its frames into protobuf (Arrow per dataset);
- in the browser, from navigation start (``performance.now()``): the first element, the
  first chart drawn and the last chart drawn (a requestAnimationFrame probe records each
  change in the number of drawn chart views; the open tab's charts are one view);
- ``draw_s``: navigation to the last chart drawn, timed from Python as the browser test does
  (the issue's figure); for Phoenix, to every chart panel drawn without its loading skeleton;
- ``settled_s``: navigation start to the page's last change in the DOM (a MutationObserver,
  read once nothing changed for 1.5 s): the same measure for every page.
Also the websocket bytes and first and last message (the server's share as the browser sees
it), the renderer's main-thread CPU, and the charts' size: spec JSON and Arrow bytes, rows
per view. The demo database is a private copy (``benchmarks/out/monitor_page_<spans>.duckdb``),
made from the metrics benchmark's demo when present, otherwise generated. Results go to
``out/monitor_page.json``.
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

import phoenix_peer
from page_timing import (
    PROBE,
    SETTLE_PROBE,
    draw_time,
    last_change,
    listen,
    one_view,
    tab_switches,
    timed_load,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
# The view the issue times (last 7 days), in the URL; --query chooses another.
QUERY = "range=Last+7+days"


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


def script_times(db: Path, runs: int, query: str) -> dict:
    """The page script in-process: one cold run, then ``runs`` warm ones; chart sizes; the
    views each tab draws (an app without tabs: one entry)."""
    os.environ["GOLDENLOOP_DB"] = str(db)
    import importlib.util
    from urllib.parse import parse_qsl

    from streamlit.testing.v1 import AppTest

    app_dir = Path(importlib.util.find_spec("goldenloop_app").submodule_search_locations[0])
    at = AppTest.from_file(str(app_dir / "streamlit_app.py"), default_timeout=300)
    for k, v in parse_qsl(query):
        at.query_params[k] = v
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
    out = {"script_cold_s": round(cold, 3), "script_warm_s": [round(w, 3) for w in warm],
           "script_warm_median_s": round(statistics.median(warm), 3), "views": len(charts),
           "spec_bytes": sum(spec_bytes), "arrow_bytes": sum(arrow_bytes), "rows": rows,
           "exceptions": [str(e.value) for e in at.exception]}
    tabs = {}
    for label in [t.label for t in at.tabs]:
        at.session_state["section"] = label
        at.run()
        tabs[label] = len(at.get("vega_lite_chart"))
    return out | {"tab_views": tabs}


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


def browser_times(db: Path, runs: int, variants: list[str], views: int, tabs: dict[str, int],
                  cold_after: float = 0, peer: dict | None = None) -> dict:
    """Warm views of each variant (a query string), interleaved with the bare page's (and
    Phoenix's Metrics tab, ``peer``) so they share the load; the cold start of the app and
    the bare page (spawn to healthy, then the first full load in a new browser context);
    then each other tab's switch, click to drawn."""
    import browser_support as bs

    out: dict = {}
    others: dict[str, list[dict]] = {"bare": []} | ({"phoenix": []} if peer else {})
    with bs.chromium() as browser:
        t = time.perf_counter()
        with bs.running_app(db, OUT) as url, bare_app() as (bare, bare_up):
            out["startup_s"] = round(time.perf_counter() - t - bare_up, 3)
            out["bare_startup_s"] = round(bare_up, 3)
            page = browser.new_page(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC")
            # The first load of all: the Monitor page straight after start (what a user who
            # opens the app's Monitor link meets), then the bare page's first load.
            time.sleep(cold_after)  # a visitor some seconds after the start
            out["draw_cold_s"] = round(draw_time(page, f"{url}/monitor?{variants[0]}", views), 3)
            pages = {"bare": (browser.new_page(viewport=bs.VIEWPORT, locale="en-US",
                                               timezone_id="UTC"), bare, 1)}
            out["bare_cold_s"] = round(draw_time(pages["bare"][0], bare, 1), 3)
            if peer:
                ph = browser.new_page(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC")
                pages["phoenix"] = (ph, peer["metrics_url"], 0)
                out["phoenix_cold_s"] = round(phoenix_peer.draw_time(ph, peer["metrics_url"]), 3)
                out["phoenix_server_started_s_before"] = round(time.monotonic() - peer["up_at"], 1)
            out |= warm_views(page, pages, url, runs, variants, views, others)
            out["tab_switch_s"] = tab_switches(page, f"{url}/monitor?{variants[0]}", tabs, runs)
    for name, loads in others.items():
        out[name] = {k: _median(v[k] for v in loads) for k in loads[0]}
    out["bare_draw_s"] = out["bare"]["draw_s"]
    return out


def warm_views(page, pages: dict, url: str, runs: int, variants: list[str], views: int,
               others: dict[str, list[dict]]) -> dict:
    """Warm loads of each variant (its first load fills the caches), interleaved with the
    other pages' (bare, Phoenix), once the owner runs no job."""
    import browser_support as bs
    from browser_page_support import wait_until_idle

    out: dict = {}
    wait_until_idle(page, url)  # the owner's background jobs would share the CPU
    page.add_init_script(PROBE)
    page.add_init_script(SETTLE_PROBE)
    received = listen(page)
    heard = {name: listen(p) for name, (p, _, _) in pages.items()}
    for other, _, _ in pages.values():
        other.add_init_script(SETTLE_PROBE)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    loads: dict[str, list] = {v: [] for v in variants}
    for v in variants[1:]:  # the first variant was loaded first of all
        out[f"draw_cold_s_{v}"] = round(draw_time(page, f"{url}/monitor?{v}", views), 3)
    for _ in range(runs):
        for name, (other, other_url, n) in pages.items():
            others[name].append(other_load(name, other, other_url, heard[name], n))
        for v in variants:
            loads[v].append(one_view(page, cdp, f"{url}/monitor?{v}", received, views))
    bs.screenshot(page, "monitor-page-bench")
    if "phoenix" in pages:
        bs.screenshot(pages["phoenix"][0], "monitor-page-bench-phoenix")
    for v, vs in loads.items():
        out[v or "default"] = {"views": vs, "median": {k: _median(x[k] for x in vs) for k in vs[0]}}
    return out


def _median(values) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def other_load(name: str, page, url: str, received: list, views: int) -> dict:
    if name != "phoenix":
        return timed_load(page, url, received, views) | {"settled_s": last_change(page)}
    drawn = round(phoenix_peer.draw_time(page, url), 3)
    return {"draw_s": drawn, "settled_s": last_change(page)} | page.evaluate(phoenix_peer.PANELS)


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


def page_run(db: Path, args, variants: list[str], app_dir: Path | None,
             peer: dict | None) -> dict:
    """The script's share in a child process, then the browser's, for one app folder."""
    with app_folder(app_dir) as env:
        child = subprocess.run([sys.executable, __file__, "--spans", str(args.spans), "--runs",
                                str(args.runs), "--query", args.query, "--script-only"],
                               check=True, capture_output=True, text=True, cwd=ROOT, env=env)
        out = json.loads(child.stdout.strip().splitlines()[-1])
        tabs = out["tab_views"] or {"": out["views"]}
        out |= browser_times(db, args.runs, variants, out["views"], tabs, args.cold_after, peer)
    return out


def report(label: str, out: dict, variants: list[str], runs: int) -> None:
    print(f"[{label}] {out['views']} views, {out['spec_bytes'] / 1e3:.0f} kB spec, "
          f"{out['arrow_bytes'] / 1e3:.0f} kB Arrow, script cold {out['script_cold_s']:.2f} s, "
          f"warm {out['script_warm_median_s']:.2f} s")
    print(f"  start-up: app {out['startup_s']:.2f} s to healthy, first Monitor load "
          f"{out['draw_cold_s']:.2f} s; bare page {out['bare_startup_s']:.2f} s, first load "
          f"{out['bare_cold_s']:.2f} s, warm {out['bare_draw_s']:.2f} s")
    if "phoenix" in out:
        ph = out["phoenix"]["draw_s"]
        print(f"  Phoenix Metrics tab: first load in a new browser context {out['phoenix_cold_s']:.2f} s "
              f"(server up {out['phoenix_server_started_s_before']:.0f} s), warm {ph:.2f} s, "
              f"last change {out['phoenix']['settled_s']} s, {out['phoenix']['shown']} of "
              f"{out['phoenix']['panels']} panels in the window")
    for v in variants:
        m = out[v or "default"]["median"]
        ratio = f", {m['draw_s'] / out['phoenix']['draw_s']:.2f}x Phoenix" if "phoenix" in out else ""
        print(f"  {v or 'default':<24} first chart {m['first_chart_s']:.2f} s, last chart "
              f"{m['last_chart_s']:.2f} s, navigation to last chart {m['draw_s']:.2f} s "
              f"({m['draw_s'] / out['bare_draw_s']:.2f}x the bare page{ratio}), last change "
              f"{m['settled_s']} s; main thread CPU "
              f"{m['cpu_TaskDuration_s']:.2f} s (script {m['cpu_ScriptDuration_s']:.2f}, layout "
              f"{m['cpu_LayoutDuration_s']:.2f}, style {m['cpu_RecalcStyleDuration_s']:.2f}), "
              f"{m['dom_nodes']:,} DOM nodes, {m['ws_kB']:.0f} kB over the websocket, its first "
              f"and last message {m['ws_first_s']:.2f} s and {m['ws_last_s']:.2f} s (median of {runs})")
    b = out["bare"]
    print(f"  bare page: websocket first/last message {b['ws_first_s']:.2f} / "
          f"{b['ws_last_s']:.2f} s, drawn {b['draw_s']:.2f} s, last change {b['settled_s']} s")
    if out["tab_switch_s"]:
        print("  tab switch, click to drawn: " + ", ".join(
            f"{k} {v:.2f} s" for k, v in out["tab_switch_s"].items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--query", default=QUERY,
                    help="the Monitor view timed, as its URL query (default: the last 7 days)")
    ap.add_argument("--variant", action="append", default=None,
                    help="another query string to time too, e.g. split=model+version (repeatable)")
    ap.add_argument("--phoenix", metavar="PYTHON", default=None,
                    help="the Python of an Arize Phoenix install: its Metrics tab over the same "
                         "spans, timed in the same run")
    ap.add_argument("--phoenix-days", type=int, default=None,
                    help="send Phoenix only the spans of the data's last N days (newest first; "
                         "default: all), enough for a window of fewer days")
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
        print(json.dumps(script_times(db, args.runs, args.query)))
        return
    variants = [args.query, *(args.variant or [])]
    out: dict = {"spans": args.spans}
    apps = ([("before", args.ab)] if args.ab else []) + ([] if args.ab_only else [("this app", None)])
    sys.path.insert(0, str(ROOT / "tests"))  # browser_support: free ports, Chromium
    with phoenix_peer.peer(args.phoenix, db, OUT / f"phoenix_{args.spans}", args.phoenix_days) as peer:
        if peer:
            out["phoenix"] = {k: v for k, v in peer.items() if k != "up_at"}
        for label, app_dir in apps:
            load = load_average()
            out[label] = page_run(db, args, variants, app_dir, peer) | {"load": [load, load_average()]}
    (OUT / "monitor_page.json").write_text(json.dumps(out, indent=2))
    print(f"Monitor page over {args.spans:,} spans")
    if peer:
        print(f"Arize Phoenix: {out['phoenix']['spans']:,} spans ({out['phoenix']['spans_since']:,} "
              f"since {out['phoenix']['since'] or 'the start'}), started in "
              f"{out['phoenix']['startup_s']:.1f} s, spans sent in {out['phoenix']['load_s']:.0f} s "
              "(0: held from an earlier run)")
    for label, _ in apps:
        print(f"load average {out[label]['load'][0]} -> {out[label]['load'][1]}")
        report(label, out[label], variants, args.runs)


if __name__ == "__main__":
    main()
