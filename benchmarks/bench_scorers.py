"""Throughput of the offline scorers (offensive language, sentiment, refusal, length).

    python benchmarks/bench_scorers.py [--spans 200000] [--repeat 3]

Generates a demo history in a temporary database, then measures, best of ``--repeat``:
- ``score_spans``: the whole run in the store (read texts, score, write signals rows);
- ``compute``: the scorers alone on the same texts, as the demo has them (texts repeat);
- ``compute, all distinct``: the same texts each made unique, so deduplication cannot help;
- each scorer alone on one batch of demo texts.
Texts counted are the non-empty last user messages and outputs of the LLM spans. The load
averages from ``uptime`` are printed with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from timing import best, uptime

from goldenloop import demo
from goldenloop.schema import open_store
from goldenloop.scorers import length, offensive, refusal, run, sentiment
from goldenloop.store import signals as signal_sql


def texts_of(table: pa.Table) -> int:
    return sum(table.num_rows - table[c].null_count for c in ("last_user_message", "output"))


def made_distinct(table: pa.Table) -> pa.Table:
    """Each text with a unique suffix (" #<row>"): the same lengths and words, no repeats."""
    suffix = pc.binary_join_element_wise(" #", pa.array(range(table.num_rows)).cast(pa.string()), "")
    cols = {c: pc.binary_join_element_wise(table[c], suffix, "")
            for c in ("last_user_message", "output")}
    return table.set_column(1, "last_user_message", cols["last_user_message"]).set_column(
        2, "output", cols["output"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"before: {uptime()}")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.duckdb")
        demo.generate(store, spans=args.spans)
        t0 = time.perf_counter()
        offensive._model(), sentiment._analyzer()
        load = time.perf_counter() - t0
        cur = store.con.cursor()
        table = signal_sql.texts_for(cur, signal_sql.pending_keys(cur, run.versions()))
        n = texts_of(table)
        distinct = {c: pc.count_distinct(table[c]).as_py() for c in ("last_user_message", "output")}
        print(f"{table.num_rows:,} LLM spans, {n:,} texts ({distinct['last_user_message']:,} "
              f"distinct user messages, {distinct['output']:,} distinct outputs), mean output "
              f"{pc.mean(pc.utf8_length(table['output'])).as_py():.0f} chars; models loaded "
              f"in {load:.2f} s")

        rows = []
        whole = best(lambda: run.score_spans(store, rescore=True), args.repeat)
        rows.append(("score_spans (read, score, write)", n, whole))
        step = run.BATCH_SPANS

        def batched(t: pa.Table) -> None:
            for i in range(0, t.num_rows, step):
                run.compute(t.slice(i, step))

        rows.append(("compute (demo texts)", n, best(lambda: batched(table), args.repeat)))
        unique = made_distinct(table)
        rows.append(("compute, all distinct", n, best(lambda: batched(unique), 1)))
        one = table.slice(0, step)
        m = texts_of(one)
        u, o = one["last_user_message"], one["output"]
        for name, fn, k in (("offensive", lambda: (offensive.score(u), offensive.score(o)), m),
                            ("sentiment", lambda: (sentiment.score(u), sentiment.score(o)), m),
                            ("refusal (outputs)", lambda: refusal.score(o), one.num_rows),
                            ("length (outputs)", lambda: length.score(o), one.num_rows)):
            rows.append((f"  {name}, one batch", k, best(fn, args.repeat)))
        store.close()
    print(f"{'case':36} {'texts':>9} {'seconds':>8} {'texts/s':>10}")
    for name, k, secs in rows:
        print(f"{name:36} {k:>9,} {secs:>8.2f} {k / secs:>10,.0f}")
    print(f"after: {uptime()}")


if __name__ == "__main__":
    main()
