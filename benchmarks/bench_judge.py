"""Throughput of a judge run against a loopback OpenAI-compatible server that answers each
call after a fixed delay (200 ms by default), with budget and cache on.

    python benchmarks/bench_judge.py [--spans 1000] [--delay 0.2] [--concurrency 16]

Imports ``--spans`` synthetic LLM spans into a temporary store, then runs the packaged
``correctness`` judge over all of them (real ``openai`` client, real HTTP, grades, cache,
failures and the judge's call spans written as in production) and reports spans judged per
second, next to the ideal ``concurrency / delay``. A second run over the same spans measures
the cache (no call may be made). As a baseline in the same run, the bare ``openai`` client
sends the same number of requests from ``--concurrency`` threads (no store, no prompts, no
budget): the ratio says what the judge adds. The load averages from ``uptime`` are printed:
the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from review_support import synthetic_spans  # noqa: E402
from timing import uptime  # noqa: E402

from goldenloop import judge  # noqa: E402
from goldenloop.sampling import make_frame  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402


def _server(delay: float) -> tuple[subprocess.Popen, str]:
    """The loopback server in its own process, as a real endpoint would be: it must not
    share this process's interpreter lock."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_loopback.py"),
                             "--delay", str(delay)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def _bare_client(base_url: str, n: int, concurrency: int) -> float:
    """Requests per second of the bare openai client on the same endpoint."""
    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    msgs = [{"role": "user", "content": "<output>\ngood\n</output>"}]
    with ThreadPoolExecutor(concurrency) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda _: client.chat.completions.create(model="m", messages=msgs),
                      range(n)))
        return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1000)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--budget", type=float, default=5.0)
    args = ap.parse_args()
    load_before = uptime()
    proc, base_url = _server(args.delay)
    with tempfile.TemporaryDirectory() as d:
        os.environ["OPENAI_BASE_URL"] = base_url
        store = open_store(Path(d) / "bench.duckdb")
        synthetic_spans(store, args.spans)
        j = judge.get(store, "correctness")
        opts = judge.RunOptions(concurrency=args.concurrency, budget_usd=args.budget)
        t0 = time.perf_counter()
        selection = judge.from_filter(store, make_frame())
        first = judge.run(store, j, selection, opts)
        seconds = time.perf_counter() - t0
        calls = first.calls
        t1 = time.perf_counter()
        second = judge.run(store, j, judge.from_filter(store, make_frame()), opts)
        cached_s = time.perf_counter() - t1
        out = {
            "spans": args.spans, "delay_s": args.delay, "concurrency": args.concurrency,
            "seconds": round(seconds, 2), "spans_per_s": round(first.judged / seconds, 1),
            "ideal_per_s": round(args.concurrency / args.delay, 1),
            "judged": first.judged, "failed": first.failed, "calls": calls,
            "cost_usd": round(first.cost_usd, 6), "budget_usd": args.budget,
            "rerun_seconds": round(cached_s, 2), "rerun_calls": second.calls,
            "rerun_cached": second.cached,
            "load_before": load_before,
            "load_after": uptime(),
        }
        store.close()
        bare = _bare_client(base_url, args.spans, args.concurrency)
        out["bare_client_per_s"] = round(bare, 1)
        out["ratio_to_bare"] = round(out["spans_per_s"] / bare, 2)
    proc.stdin.close()
    proc.wait(timeout=10)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
