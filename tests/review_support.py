"""Shared pieces of the review, sampling and estimation tests: a demo history made once and
copied per test, and small synthetic span tables with a known truth."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from goldenloop.ingest.loader import import_table
from goldenloop.sampling import QueueOptions
from goldenloop.schema import open_store
from goldenloop.store import Store

DEMO_END = datetime(2026, 3, 2, 12)
FULL = {"correctness": 4, "tone": ["on-brand"], "conciseness": "concise", "safety": "safe"}


@pytest.fixture(scope="session")
def demo_template(demo_files) -> Path:
    """A 5,000-span demo history, generated once per run (tests copy it)."""
    return demo_files.template(spans=5000, end=DEMO_END, queue=False)  # tests draw their own queues


@pytest.fixture
def demo_store(demo_template: Path, tmp_path: Path):
    """A private copy of the demo history (tests write queues and grades into it)."""
    path = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo_template, path)
    s = open_store(path)
    yield s
    s.close()


def opts(name: str = "q", by: str = "lead", **kw) -> QueueOptions:
    return QueueOptions(name=name, created_by=by, **kw)


def synthetic_spans(store: Store, n: int, *, seed: int = 0, good_share: float = 0.7,
                    start: datetime = datetime(2026, 1, 1)) -> np.ndarray:
    """``n`` LLM spans whose output says whether the answer is right ("good"/"bad"), over two
    apps and two model versions; returns the truth (1 good, 0 bad) by span key order."""
    rng = np.random.default_rng(seed)
    good = rng.random(n) < good_share
    t0 = [start + timedelta(seconds=int(i)) for i in range(n)]
    table = pa.table({
        "trace_id": [f"t{seed}-{i}" for i in range(n)], "span_id": [f"s{i}" for i in range(n)],
        "kind": ["llm"] * n, "app": np.where(np.arange(n) % 3 == 0, "a2", "a1").tolist(),
        "model_version": np.where(np.arange(n) % 2 == 0, "m1", "m2").tolist(),
        "start_time": pa.array(t0, pa.timestamp("us")),
        "end_time": pa.array([t + timedelta(seconds=1) for t in t0], pa.timestamp("us")),
        "status": ["ok"] * n, "last_user_message": [f"question {i}" for i in range(n)],
        "output": np.where(good, "good", "bad").tolist(),
    })
    import_table(store, table, source="test", origin="test", label="<synthetic>")
    return good.astype(int)


def write_roles(store: Store, text: str) -> None:
    (store.path.parent / "roles.yaml").write_text(text, encoding="utf-8")
