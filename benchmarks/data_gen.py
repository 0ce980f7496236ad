"""Synthetic span files for the benchmarks: realistic widths, 200-character texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = np.array("the order refund shipping account password delivery invoice support agent "
                 "customer package tracking return policy warranty payment card update thanks "
                 "please help issue problem question answer today yesterday week".split())


def texts(rng: np.random.Generator, n: int, length: int = 200) -> pa.Array:
    # Build a pool of distinct texts and sample from it: realistic bytes, cheap to make.
    pool = [" ".join(rng.choice(WORDS, 60))[:length] for _ in range(5000)]
    return pa.array(np.array(pool, dtype=object)[rng.integers(0, len(pool), n)], pa.string())


def spans_table(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "ms") + rng.integers(0, 30 * 86_400_000, n)
    latency = rng.lognormal(6.5, 0.6, n)
    return pa.table({
        "trace_id": pa.array([f"{i:032x}" for i in range(n)], pa.string()),
        "span_id": pa.array([f"{i:016x}" for i in range(n)], pa.string()),
        "session_id": pa.array([f"s{i // 4}" for i in range(n)], pa.string()),
        "app": pa.array(np.where(rng.random(n) < 0.6, "support-bot", "sql-assistant")),
        "kind": pa.array(np.full(n, "llm")),
        "model": pa.array(np.full(n, "gpt-4o")),
        "model_version": pa.array(np.where(rng.random(n) < 0.5, "gpt-4o-2024-08-06",
                                           "gpt-4o-2024-11-20")),
        "start_time": pa.array(start.astype("datetime64[us]")),
        "latency_ms": pa.array(latency),
        "input_tokens": pa.array(rng.integers(50, 2000, n).astype(np.int64)),
        "output_tokens": pa.array(rng.integers(10, 500, n).astype(np.int64)),
        "status": pa.array(np.where(rng.random(n) < 0.97, "ok", "error")),
        "last_user_message": texts(rng, n),
        "output": texts(rng, n),
    })


def write_files(n: int, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    table = spans_table(n)
    paths = {"parquet": folder / f"spans_{n}.parquet", "jsonl": folder / f"spans_{n}.jsonl"}
    if not paths["parquet"].exists():
        pq.write_table(table, paths["parquet"])
    if not paths["jsonl"].exists():
        import duckdb

        duckdb.execute(f"COPY (SELECT * FROM read_parquet('{paths['parquet']}')) "
                       f"TO '{paths['jsonl']}' (FORMAT json)")
    return paths


if __name__ == "__main__":
    import json
    import sys

    made = write_files(int(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps({k: str(v) for k, v in made.items()}))
