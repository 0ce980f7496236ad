"""Synthetic LLM spans for the metrics benchmark, bulk-loaded into a real goldenloop store.

Every span is an LLM call (the worst case for the Monitor's queries: real traffic mixes in
agent, retrieval and tool steps, which the request charts skip). Thirty days in time order,
as they arrive; three model versions with a provider update mid-month, two prompt versions,
two apps, heavy-tailed latency, a few failures. Texts (two 200-character strings per span)
only when asked: the 10M run leaves them out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goldenloop.schema import open_store

END = datetime(2026, 1, 31)
DAYS = 30
CHUNK = 1_000_000  # rows generated and inserted at a time: bounds memory at 10M
VERSIONS = ["gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "gpt-4o-mini-2024-07-18"]
UPDATE_DAY = 14  # gpt-4o requests are answered by the new snapshot from here on
STATUSES = ["ok", "error", "timeout", "empty"]
STATUS_P = [0.985, 0.008, 0.004, 0.003]
TAGS = ["refund", "shipping", "order_status", "password_reset", "billing"]
WORDS = ("the order refund shipping account password delivery invoice support agent customer "
         "package tracking return policy warranty payment card update thanks please help issue "
         "problem question answer today yesterday week").split()


def _pick(values: list[str], idx: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values))


def _texts(rng: np.random.Generator, n: int) -> pa.Array:
    pool = [" ".join(rng.choice(WORDS, 60))[:200] for _ in range(2000)]
    return _pick(pool, rng.integers(0, len(pool), n)).cast(pa.string())


def _chunk(rng: np.random.Generator, first: int, n: int, total: int, texts: bool) -> pa.Table:
    start_us = int((END - timedelta(days=DAYS) - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    span_us = DAYS * 86_400_000_000
    # Evenly spaced with jitter, in time order across chunks.
    pos = (first + np.arange(n) + rng.random(n)) / total
    t_us = start_us + (pos * span_us).astype(np.int64)
    day = (t_us - start_us) // 86_400_000_000
    mini = rng.random(n) < 0.3
    version = np.where(mini, 2, np.where(day >= UPDATE_DAY, 1, 0))
    latency = rng.lognormal(np.log(900), 0.6, n) * np.where(mini, 0.6, 1.0)
    in_tok = rng.lognormal(np.log(800), 0.5, n).astype(np.int32)
    out_tok = (rng.lognormal(np.log(150), 0.6, n) * np.where(version == 1, 1.4, 1.0)).astype(np.int32)
    status = rng.choice(4, n, p=STATUS_P)
    cost = (in_tok * 2.5 + out_tok * 10.0) / 1e6 * np.where(mini, 0.06, 1.0)
    keys = np.arange(first + 1, first + n + 1, dtype=np.int64)
    ids = pc.cast(pa.array(keys), pa.string())
    tag = rng.integers(0, len(TAGS) + 1, n)  # one tag, or none
    tags = pa.ListArray.from_arrays(
        pa.array(np.r_[0, np.cumsum(tag < len(TAGS))].astype(np.int32)),
        pa.array(np.array(TAGS, dtype=object)[tag[tag < len(TAGS)]], pa.string()))
    cols = {
        "span_key": pa.array(keys),
        "trace_id": pc.binary_join_element_wise("t", ids, ""),
        "span_id": ids,
        "app": _pick(["support-bot", "sql-assistant"], (rng.random(n) < 0.3).astype(int)),
        "environment": _pick(["production", "staging"], (rng.random(n) < 0.05).astype(int)),
        "kind": pa.repeat(pa.scalar("llm"), n),
        "model": _pick(["gpt-4o", "gpt-4o-mini"], mini.astype(int)),
        "model_version": _pick(VERSIONS, version),
        "prompt_version": _pick(["v1", "v2"], (day >= 10).astype(int)),
        "start_time": pa.array(t_us, pa.timestamp("us")),
        "latency_ms": pa.array(latency),
        "ttft_ms": pa.array(latency * 0.3, mask=rng.random(n) < 0.5),
        "input_tokens": pa.array(in_tok),
        "output_tokens": pa.array(np.where(status == 0, out_tok, 0).astype(np.int32)),
        "cost_usd": pa.array(cost),
        "status": _pick(STATUSES, status),
        "tags": tags,
    }
    if texts:
        cols["last_user_message"] = _texts(rng, n)
        cols["output"] = _texts(rng, n)
    return pa.table(cols)


def build_store(path: Path, rows: int, *, texts: bool, seed: int = 1) -> None:
    """A new store at ``path`` holding ``rows`` synthetic LLM spans (bulk insert, no SDK)."""
    rng = np.random.default_rng(seed)
    with open_store(path) as store:
        for first in range(0, rows, CHUNK):
            table = _chunk(rng, first, min(CHUNK, rows - first), rows, texts)
            names = ", ".join(table.column_names)
            with store.transaction() as cur:
                cur.register("_bench_chunk", table)
                cur.execute(f"INSERT INTO spans ({names}) SELECT {names} FROM _bench_chunk")
                cur.unregister("_bench_chunk")
        store.checkpoint()
