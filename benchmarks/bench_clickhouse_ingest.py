"""Ingest into ClickHouse (chdb) through goldenloop's span store against a bare
clickhouse-connect insert of the same Arrow batches, and the Monitor's main query on both
backends over the same spans.

    python benchmarks/bench_clickhouse_ingest.py [--spans 1000000] [--batch 500000] [--reps 2]

Each case runs in its own process (chdb opens one folder per process) on a fresh folder:
- ``bare``: ``client.insert_arrow`` of every batch into the span store's own spans table
  (the same DDL, so only goldenloop's work differs);
- ``spanstore``: ``ClickHouseSpanStore.insert_rows`` (type normalisation, a deduplication
  token per batch, the ledger check and entry);
- ``file``: the whole file path, ``import_file_to_clickhouse`` of the same spans as Parquet
  (validation, quarantine and derived fields in a scratch DuckDB file, then the inserts);
- ``duckdb``: the same Arrow batches into a DuckDB store through ``DuckDBSpanStore``.
The spans are made once (seeded, with 200-character answers) and written to Parquet; reading
them back is not timed. Every ingest case then times the Monitor's main query (hourly
p50/p95/p99 latency, tokens and cost by model version over 30 days), warm, median of 5.
Results go to stdout and benchmarks/out/clickhouse_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = datetime(2026, 1, 1)
DAYS = 30


def make_spans(n: int, seed: int = 1):
    """Validated spans in the stored shape (what the import pipeline hands the store)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    start_us = int(START.timestamp()) * 10**6 + np.sort(rng.integers(0, DAYS * 86400 * 10**6, n))
    latency = rng.lognormal(6.5, 0.7, n)
    versions = np.array(["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "claude-3-5", "llama-3"])
    statuses = np.array(["ok"] * 17 + ["error", "timeout", "empty"])
    status = statuses[rng.integers(0, len(statuses), n)]
    answer = "The parcel left our warehouse this morning and should reach you within two " \
             "working days; you will get an e-mail with the tracking link when it is scanned."
    outputs = pa.array([answer[: 100 + (i % 100)] for i in range(n)])
    return pa.table({
        "trace_id": pa.array([f"{i // 4:016x}" for i in range(n)]),
        "span_id": pa.array([f"{i:016x}" for i in range(n)]),
        "app": pa.array(np.array(["support-bot", "sql-helper", "search"])[idx % 3]),
        "environment": pa.array(np.where(idx % 10 == 0, "staging", "production")),
        "kind": pa.array(np.where(idx % 8 == 7, "tool", "llm")),
        "model": pa.array(np.full(n, "gpt-4o")),
        "model_version": pa.array(versions[rng.integers(0, len(versions), n)]),
        "prompt_version": pa.array(np.where(idx % 2 == 0, "v1", "v2")),
        "start_time": pa.array(start_us, pa.timestamp("us")),
        "end_time": pa.array(start_us + (latency * 1000).astype(np.int64), pa.timestamp("us")),
        "latency_ms": pa.array(latency),
        "input_tokens": pa.array(rng.integers(10, 4000, n).astype(np.int32)),
        "output_tokens": pa.array(rng.integers(0, 800, n).astype(np.int32)),
        "cost_usd": pa.array(rng.uniform(0, 0.02, n)),
        "status": pa.array(status),
        "output": outputs,
        "source": pa.array(np.full(n, "sdk")),
    })


# -- one case per process ----------------------------------------------------------------------
def run_case(case: str, parquet: str, folder: str, batch: int) -> dict:
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    batches = [table.slice(i, batch) for i in range(0, table.num_rows, batch)]
    from goldenloop.schema import open_store
    from goldenloop.spanstore import open_span_store

    workflow = open_store(Path(folder) / "workflow.duckdb")
    url = "duckdb" if case == "duckdb" else f"chdb://{folder}/ch"
    spans = open_span_store(url, workflow)  # creates the tables: not timed
    t0 = time.perf_counter()
    if case == "bare":
        for b in batches:
            spans.client.insert_arrow("spans", b)
    elif case in ("spanstore", "duckdb"):
        spans.insert_rows("spans", batches, batch_id="bench")
    elif case == "file":
        from goldenloop.spanstore.ingest import import_file_to_clickhouse

        import_file_to_clickhouse(workflow, spans, parquet, batch_rows=batch)
    seconds = time.perf_counter() - t0
    rows = spans.count("spans")
    return {"case": case, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            **monitor_times(spans)}


def monitor_times(spans) -> dict:
    from goldenloop.metrics.filters import SpanFilter
    from goldenloop.spanstore import monitor

    f = SpanFilter(start=START, end=START + timedelta(days=DAYS))
    out = {}
    for label, fn in (("monitor", lambda: monitor.request_stats(spans, f, "model_version",
                                                                3600 * 10**6)),):
        fn()  # warm
        times = []
        for _ in range(5):
            t = time.perf_counter()
            frame = fn()
            times.append(time.perf_counter() - t)
        out[f"{label}_s"] = statistics.median(times)
        out[f"{label}_rows"] = len(frame)
    if spans.dialect == "clickhouse":  # what reading through FINAL costs
        from goldenloop.spanstore.monitor import request_stats_clickhouse

        text, params = request_stats_clickhouse(f, "model_version", 3600 * 10**6)
        bare = text.replace("FROM spans AS s FINAL", "FROM spans AS s")
        spans.query({"clickhouse": bare}, params)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            spans.query({"clickhouse": bare}, params)
            times.append(time.perf_counter() - t)
        out["monitor_no_final_s"] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=500_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--cases", default="bare,spanstore,file,duckdb")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case here
    ap.add_argument("--parquet", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.parquet, args.folder, args.batch)), flush=True)
        return
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="bench-ch-") as tmp:
        parquet = Path(tmp) / "spans.parquet"
        pq.write_table(make_spans(args.spans), parquet)
        results: dict[str, list[dict]] = {}
        for rep in range(args.reps):  # alternate the cases, so drift in load hits all alike
            for case in args.cases.split(","):
                folder = Path(tmp) / f"{case}-{rep}"
                folder.mkdir()
                out = subprocess.run(
                    [sys.executable, __file__, "--case", case, "--parquet", str(parquet),
                     "--folder", str(folder), "--batch", str(args.batch)],
                    capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                r["load"] = os.getloadavg()[0]
                results.setdefault(case, []).append(r)
                print(json.dumps(r), flush=True)
    summary = {case: {k: statistics.median(r[k] for r in rs)
                      for k in rs[0] if isinstance(rs[0][k], int | float)}
               for case, rs in results.items()}
    if "bare" in summary and "spanstore" in summary:
        summary["ratio_spanstore_to_bare"] = summary["spanstore"]["seconds"] / summary["bare"]["seconds"]
    if "bare" in summary and "file" in summary:
        summary["ratio_file_to_bare"] = summary["file"]["seconds"] / summary["bare"]["seconds"]
    summary["spans"], summary["batch"], summary["reps"] = args.spans, args.batch, args.reps
    print(json.dumps(summary, indent=1))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "clickhouse_ingest.json").write_text(json.dumps(
        {"summary": summary, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
