"""The Monitor's main chart query at 1M and 10M spans, and the whole page in headless Chromium.

    python benchmarks/bench_metrics.py                  # 1M (with texts) and 10M (without)
    python benchmarks/bench_metrics.py --rows 1000000   # one size
    python benchmarks/bench_metrics.py --page           # also the page over a 1M-span demo

The main chart query is hourly x model version over 30 days: exact p50/p95/p99 latency,
failure rate, tokens and cost. It is timed twice in the same run, alternating: as the
library call (``metrics.request_stats``: filter, parameters, DuckDB, a DataFrame) and as
the bare SQL aggregate written by hand with literals and fetched the same way. The ratio is
our overhead; the machine is shared, so the ratio and the load average matter more than
the absolute milliseconds, and the CPU time of the process (all DuckDB threads) is reported
beside the wall time: it measures the work, which a loaded machine stretches far less. The
library's previous statement (FILTER clauses) and a time_bucket one are timed alongside.
Stores are kept in benchmarks/out and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import metrics_data  # noqa: E402
from timing import uptime  # noqa: E402

from goldenloop import metrics  # noqa: E402
from goldenloop.store import Store  # noqa: E402

OUT = HERE / "out"
START = metrics_data.END - timedelta(days=metrics_data.DAYS)
_STATUS = """count(*) AS requests,
           coalesce(count_if(status = 'error'), 0)::BIGINT AS errors,
           coalesce(count_if(status = 'timeout'), 0)::BIGINT AS timeouts,
           coalesce(count_if(status = 'empty'), 0)::BIGINT AS empty"""
_REST = """quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS lat,
           avg(CASE WHEN status = 'ok' THEN input_tokens END) AS input_tokens,
           avg(CASE WHEN status = 'ok' THEN output_tokens END) AS output_tokens,
           sum(cost_usd) AS cost_usd, count(cost_usd) AS priced"""
_AGGREGATES = f"{_STATUS},\n           {_REST}"
# The shape the library used before: FILTER clauses (the same values, about 8% more CPU).
_FILTERED = """count(*) AS requests,
           count(*) FILTER (WHERE status = 'error') AS errors,
           count(*) FILTER (WHERE status = 'timeout') AS timeouts,
           count(*) FILTER (WHERE status = 'empty') AS empty,
           quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS lat,
           avg(input_tokens) FILTER (WHERE status = 'ok') AS input_tokens,
           avg(output_tokens) FILTER (WHERE status = 'ok') AS output_tokens,
           sum(cost_usd) AS cost_usd, count(cost_usd) AS priced"""
_WHERE = (f"kind = 'llm' AND start_time >= TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' "
          f"AND start_time < TIMESTAMP '{metrics_data.END:%Y-%m-%d %H:%M:%S}'")
_OUT = """grp AS "group", requests, errors, timeouts, empty, lat[1] AS latency_p50,
          lat[2] AS latency_p95, lat[3] AS latency_p99, input_tokens, output_tokens, cost_usd,
          priced"""


def _bucketed(aggregates: str) -> str:
    return f"""
SELECT make_timestamp(bucket * 3600000000 - 2208988800000000) AS time, {_OUT}
FROM (SELECT (epoch_us(start_time) + 2208988800000000) // 3600000000 AS bucket,
             model_version AS grp, {aggregates}
      FROM spans WHERE {_WHERE} GROUP BY ALL)
ORDER BY time, "group"
"""


# The library's statement written out by hand with literals: integer bucket numbers from
# 1900-01-01, converted to timestamps after grouping. Library vs this = our overhead.
BARE_SQL = _bucketed(_AGGREGATES)
FILTERED_SQL = _bucketed(_FILTERED)
# The same aggregate as one would first write it, with time_bucket.
NAIVE_SQL = f"""
SELECT bucket AS time, {_OUT}
FROM (SELECT time_bucket(INTERVAL 1 HOUR, start_time) AS bucket, model_version AS grp,
             {_FILTERED}
      FROM spans WHERE {_WHERE} GROUP BY ALL)
ORDER BY time, "group"
"""


def store_for(rows: int, texts: bool) -> tuple[Path, float | None]:
    """The benchmark store of ``rows`` spans, built unless a complete one is there."""
    path = OUT / f"metrics_{rows}{'_texts' if texts else ''}.duckdb"
    if path.exists():
        with Store(path, read_only=True) as s:
            if s.scalar("SELECT count(*) FROM spans") == rows:
                return path, None
        path.unlink()
    OUT.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    metrics_data.build_store(path, rows, texts=texts)
    return path, time.perf_counter() - t


def time_main_query(path: Path, runs: int) -> dict:
    f = metrics.SpanFilter(start=START, end=metrics_data.END)
    hour = timedelta(hours=1)
    with Store(path, read_only=True) as store:
        cur = store.cursor()
        cases = {
            "library": lambda: metrics.request_stats(store, f, "model_version", hour).frame,
            "bare": lambda: cur.execute(BARE_SQL).df(),
            "filtered": lambda: cur.execute(FILTERED_SQL).df(),
            "naive": lambda: cur.execute(NAIVE_SQL).df(),
        }
        a, *others = (fn() for fn in cases.values())  # warm all (file pages, plans); they agree
        for other in others:
            assert len(a) == len(other) and (a["time"] == other["time"]).all()
            for col in ("requests", "errors", "timeouts", "empty", "priced"):
                assert (a[col] == other[col]).all() and a[col].dtype == other[col].dtype, col
            for col in ("latency_p50", "latency_p99", "input_tokens", "output_tokens", "cost_usd"):
                assert abs(a[col] - other[col]).max() < 1e-6, col
        times = {name: [] for name in cases}
        cpu = {name: [] for name in cases}
        for _ in range(runs):  # alternate, so all see the same machine
            for name, fn in cases.items():
                t, c = time.perf_counter(), time.process_time()
                fn()
                times[name].append(time.perf_counter() - t)
                # CPU time of all DuckDB threads: the work, which a busy machine stretches
                # far less than the wall time.
                cpu[name].append(time.process_time() - c)
        t = time.perf_counter()
        metrics.overview(store, f, "model_version")
        overview_s = time.perf_counter() - t
    lib, bar = statistics.median(times["library"]), statistics.median(times["bare"])
    naive = statistics.median(times["naive"])
    cpu_ms = {name: statistics.median(v) * 1e3 for name, v in cpu.items()}
    return {"library_ms": lib * 1e3, "bare_ms": bar * 1e3, "ratio": lib / bar,
            "naive_ms": naive * 1e3, "rows_out": len(a),
            "filtered_ms": statistics.median(times["filtered"]) * 1e3,
            "cpu_ms": cpu_ms, "cpu_ratio": cpu_ms["library"] / cpu_ms["bare"],
            # The fastest run: the best estimate of the cost on a quiet machine.
            "library_min_ms": min(times["library"]) * 1e3, "bare_min_ms": min(times["bare"]) * 1e3,
            "overview_ms": overview_s * 1e3, "library_runs_ms": [round(x * 1e3, 1) for x in times["library"]]}


def bench_query(sizes: list[int], runs: int) -> list[dict]:
    results = []
    for rows in sizes:
        texts = rows <= 1_000_000
        print(f"-- {rows:,} spans ({'with' if texts else 'without'} texts) [{uptime()}]",
              flush=True)
        path, built = store_for(rows, texts)
        if built is not None:
            print(f"   built in {built:.1f} s", flush=True)
        r = {"rows": rows, "texts": texts, "load": uptime(), **time_main_query(path, runs)}
        r["ns_per_span"] = r["library_ms"] * 1e6 / rows
        results.append(r)
        c = r["cpu_ms"]
        print(f"   library {r['library_ms']:.1f} ms, bare SQL {r['bare_ms']:.1f} ms, "
              f"ratio {r['ratio']:.2f}x (FILTER-clause SQL {r['filtered_ms']:.1f} ms, "
              f"time_bucket SQL {r['naive_ms']:.1f} ms); CPU library {c['library']:.0f} ms, "
              f"bare {c['bare']:.0f} ms, FILTER {c['filtered']:.0f} ms, "
              f"ratio {r['cpu_ratio']:.2f}x; "
              f"{r['ns_per_span']:.1f} ns/span, fastest {r['library_min_ms']:.1f} ms, "
              f"{r['rows_out']:,} rows out; whole overview {r['overview_ms']:.0f} ms", flush=True)
    return results


def bench_page(spans: int, runs: int) -> dict:
    """Median warm draw of the Monitor page over a ``spans``-span demo, in Chromium."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import browser_support as bs
    from browser_page_support import draw_time, wait_until_idle

    db = OUT / f"demo_{spans}.duckdb"
    if not db.exists():
        subprocess.run([sys.executable, "-m", "goldenloop.cli", "demo", "--db", str(db),
                        "--spans", str(spans)], check=True, cwd=HERE.parent)
    with bs.chromium() as browser, bs.running_app(db, OUT) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)  # background scoring of new spans would share the CPU
        cold = draw_time(page, f"{url}/monitor")
        warm = [draw_time(page, f"{url}/monitor") for _ in range(runs)]
        bs.screenshot(page, "monitor-bench")
    return {"spans": spans, "cold_s": cold, "warm_median_s": statistics.median(warm),
            "warm_s": [round(w, 3) for w in warm], "load": uptime()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, action="append",
                    help="spans (repeat for several sizes; default 1M and 10M)")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--page", action="store_true", help="also time the page in Chromium")
    ap.add_argument("--page-spans", type=int, default=1_000_000)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; {uptime()}")
    out = {"query": bench_query(args.rows or [1_000_000, 10_000_000], args.runs)}
    if len(out["query"]) > 1:
        a, b = out["query"][0], out["query"][-1]
        print(f"cost per span, {b['rows']:,} vs {a['rows']:,}: "
              f"{b['ns_per_span'] / a['ns_per_span']:.2f}x (1.00x is linear)")
    if args.page:
        p = bench_page(args.page_spans, args.runs)
        out["page"] = p
        print(f"page over {p['spans']:,} demo spans: cold {p['cold_s']:.2f} s, warm median "
              f"{p['warm_median_s']:.2f} s {p['warm_s']} [{p['load']}]")
    out["finished"] = datetime.now().isoformat(timespec="seconds")
    out["page_fastest_s"] = min(out["page"]["warm_s"]) if "page" in out else None
    (OUT / "metrics.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
