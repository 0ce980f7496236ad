"""Spans for the span store tests: a seeded JSONL file with the shapes readers must agree on
(several apps, versions and environments, failures of every kind, spans without latency,
tokens or cost, tags, non-LLM steps, goldenloop's own judge spans) and a few bad rows, and
a chdb folder shared by the whole test process (chdb opens one folder per process)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

START = datetime(2026, 3, 30, 0, 0)  # spans cross a month end: two partitions in ClickHouse
APPS = ("support-bot", "sql-helper", None)
VERSIONS = ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "claude-3-5", None)
STATUSES = ("ok",) * 12 + ("error", "timeout", "empty")


def span_rows(n: int, seed: int = 7, *, texts: bool = True) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        start = START + timedelta(seconds=rng.uniform(0, 4 * 86400))
        status = rng.choice(STATUSES)
        row = {
            "trace_id": f"t{i // 3}-{seed}", "span_id": f"s{i}",
            "app": rng.choice(APPS), "environment": rng.choice(("production", "staging")),
            "kind": rng.choice(("llm",) * 8 + ("tool", "retrieval")),
            "model": "gpt-4o", "model_version": rng.choice(VERSIONS),
            "prompt_version": rng.choice(("v1", "v2")),
            "start_time": start.isoformat(),
            "latency_ms": None if rng.random() < 0.03 else round(rng.lognormvariate(6, 0.8), 3),
            "ttft_ms": round(rng.uniform(50, 900), 2) if rng.random() < 0.5 else None,
            "input_tokens": rng.randint(10, 3000), "output_tokens": rng.randint(0, 800),
            "cost_usd": None if rng.random() < 0.2 else round(rng.uniform(0, 0.05), 6),
            "status": status, "tags": rng.sample(["vip", "beta", "eu", "mobile"], rng.randint(0, 2)),
            "source": "judge" if rng.random() < 0.05 else "sdk",
        }
        if status == "error":
            row["error_type"], row["error_message"] = "RateLimitError", "429 slow down"
        if texts:
            row["messages"] = json.dumps([{"role": "user", "content": f"question {i}"}])
            row["output"] = "" if status == "empty" else f"answer {i} " + "x" * rng.randint(0, 200)
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict], bad: int = 0) -> Path:
    """The rows as JSONL, with ``bad`` rows whose start time cannot be read."""
    with path.open("w") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps(row) + "\n")
            if i < bad:
                fh.write(json.dumps({**row, "span_id": f"bad{i}", "start_time": "yesterday"}) + "\n")
    return path


_CHDB_DIR: list[Path] = []


def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database in the process's one chdb folder (skips when chdb is missing)."""
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed "
                        "(pip install 'goldenloop[clickhouse]')")
    pytest.importorskip("clickhouse_connect", reason="the clickhouse extra is not installed")
    if not _CHDB_DIR:
        _CHDB_DIR.append(tmp_path_factory.mktemp("chdb"))
    return f"chdb://{_CHDB_DIR[0]}?database=t_{uuid.uuid4().hex[:12]}"
