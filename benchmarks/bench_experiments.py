"""Experiments: run throughput against a loopback endpoint, and SQL execution accuracy.

    python benchmarks/bench_experiments.py [--items 500] [--delay 0.2] [--concurrency 16]
                                           [--pairs 1000] [--rows 100000]

1. A run of ``--items`` test items at ``--concurrency`` against the loopback OpenAI-compatible
   server (its own process) answering each call after ``--delay`` seconds, scored with the
   lexical scorers (exact, normalized, contains, token_f1, rouge_l), with results, scores and
   the calls' spans written to a real store. Baseline in the same run: the bare ``openai``
   client sending the same messages from as many threads (no store, no scoring). Each is
   timed twice, alternating, from the first call to the last answer; the best of each and
   their ratio are printed.
2. SQL execution accuracy of ``--pairs`` generated/expected query pairs on a DuckDB file of
   ``--rows`` orders (equivalent rewrites, wrong ones, errors), whole-scorer time including
   the sandbox's copy of the database.
The load averages from ``uptime`` are printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import uptime  # noqa: E402

from goldenloop.experiments import datasets, runner, targets  # noqa: E402
from goldenloop.experiments.sql_accuracy import SqlScorer  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402
from goldenloop.store import Store  # noqa: E402

LEXICAL = ["exact", "normalized", "contains", "token_f1", "rouge_l"]


def _server(delay: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_loopback.py"),
                             "--delay", str(delay)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def _bare(target: targets.Target, items: list[dict], base_url: str, concurrency: int) -> float:
    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    requests = [target.request(target.messages(i)) for i in items]
    with ThreadPoolExecutor(concurrency) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda r: client.chat.completions.create(**r), requests))
        return time.perf_counter() - t0


def _ours(store: Store, target, ds, concurrency: int) -> tuple[float, runner.RunResult]:
    t0 = time.perf_counter()
    r = runner.run(store, target, ds, LEXICAL, runner.RunOptions(concurrency=concurrency))
    return time.perf_counter() - t0, r


def bench_run(args, folder: Path) -> dict:
    proc, base_url = _server(args.delay)
    try:
        path = folder / "items.jsonl"
        path.write_text("\n".join(json.dumps({"id": f"i{n}", "input": f"Question {n}: where is "
                                              "my order and when does it ship?",
                                              "expected": "Your order ships tomorrow."})
                                  for n in range(args.items)))
        store = open_store(folder / "bench.duckdb")
        ds = datasets.import_file(store, "bench", path).dataset
        target = targets.Target(spec=targets.parse({
            "name": "bench", "model": "gpt-4o-mini", "system": "Answer briefly.",
            "template": "{{ input }}", "endpoint": {"base_url": base_url}}, "bench.yaml"))
        items = datasets.items(store, ds)
        _ours(store, target, ds, args.concurrency)  # warm-up: imports, rouge, connections
        bare, ours, last = [], [], None
        for _ in range(2):
            bare.append(_bare(target, items, base_url, args.concurrency))
            seconds, last = _ours(store, target, ds, args.concurrency)
            ours.append(seconds)
        store.close()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    b, o = min(bare), min(ours)
    return {"items": args.items, "delay_s": args.delay, "concurrency": args.concurrency,
            "ideal_s": round(args.items / args.concurrency * args.delay, 2),
            "bare_s": [round(x, 2) for x in bare], "run_s": [round(x, 2) for x in ours],
            "bare_items_per_s": round(args.items / b, 1), "run_items_per_s": round(args.items / o, 1),
            "ratio_to_bare": round(b / o, 2), "answered": last.answered, "failed": last.failed,
            "scorers": LEXICAL}


_TEMPLATES = [
    ("SELECT customer, sum(amount) FROM orders GROUP BY customer",
     ["SELECT customer, SUM(amount) AS total FROM orders GROUP BY 1",
      "SELECT o.customer, sum(o.amount) FROM orders o GROUP BY o.customer ORDER BY 2",
      "SELECT customer, avg(amount) FROM orders GROUP BY customer",
      "SELECT customer, sum(amountt) FROM orders GROUP BY customer"]),
    ("SELECT status, count(*) FROM orders WHERE amount > {x} GROUP BY status",
     ["SELECT status, count(id) FROM orders WHERE amount > {x} GROUP BY ALL",
      "SELECT status, count(*) FROM orders WHERE amount >= {x} GROUP BY status",
      "SELECT status, count(*) FROM orders WHERE NOT amount <= {x} GROUP BY 1"]),
    ("SELECT id, amount FROM orders WHERE customer = {c} ORDER BY amount DESC, id LIMIT 10",
     ["SELECT id, amount FROM orders WHERE customer = {c} ORDER BY amount DESC, id LIMIT 10",
      "SELECT id, amount FROM orders WHERE customer = {c} ORDER BY amount, id LIMIT 10",
      "SELECT id, amount FROM (SELECT * FROM orders WHERE customer = {c}) "
      "ORDER BY amount DESC, id LIMIT 10"]),
    ("SELECT count(DISTINCT customer) FROM orders WHERE day BETWEEN {d} AND {d} + 30",
     ["SELECT count(*) FROM (SELECT DISTINCT customer FROM orders WHERE day >= {d} "
      "AND day <= {d} + 30)",
      "SELECT count(customer) FROM orders WHERE day BETWEEN {d} AND {d} + 30"]),
]


def bench_sql(args, folder: Path) -> dict:
    db = folder / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"""CREATE TABLE orders AS
        SELECT range AS id, (range * 7919) % 5000 AS customer,
               round(((range * 104729) % 100000) / 100.0, 2) AS amount,
               ['new', 'paid', 'shipped', 'returned'][(range % 4) + 1] AS status,
               (range % 365) AS day
        FROM range({args.rows})""")
    con.close()
    rng = random.Random(3)
    pairs = []
    for _ in range(args.pairs):
        expected, generated = rng.choice(_TEMPLATES)
        fill = {"x": rng.randint(100, 900), "c": rng.randint(0, 4999), "d": rng.randint(0, 300)}
        pairs.append((rng.choice(generated).format(**fill), expected.format(**fill)))
    t0, c0 = time.perf_counter(), time.process_time()
    scorer = SqlScorer(str(db))
    verdicts = [scorer.compare(g, e) for g, e in pairs]
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    scorer.close()
    # CPU seconds of this process (DuckDB's threads included): what the work costs, whatever
    # else the shared machine is doing; wall seconds: what a user waits.
    return {"pairs": args.pairs, "rows": args.rows, "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
            "right": sum(v[0] is True for v in verdicts),
            "wrong": sum(v[0] is False for v in verdicts),
            "errors": sum(v[0] is False and not v[1].startswith("different") for v in verdicts)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    out = {"load_before": uptime()}
    with tempfile.TemporaryDirectory() as d:
        out["run"] = bench_run(args, Path(d))
        out["sql"] = bench_sql(args, Path(d))
    out["load_after"] = uptime()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
