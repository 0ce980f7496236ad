"""Known spans, signals, grades and feedback for the metrics, Monitor, Compare, Traces and
Releases tests: the rows and time range whose figures those tests compute by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from goldenloop import metrics as M
from goldenloop.demo.texts_support import OFFENSIVE_MARKERS
from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.feedback import insert_feedback
from goldenloop.store.grades import insert_grades

T0 = datetime(2025, 3, 3)  # a Monday, UTC
DAYS = 3
END = T0 + timedelta(days=DAYS)
UPDATE = T0 + timedelta(hours=36, minutes=20)  # v2 answers from here on


def known_frame(n: int = 4000, seed: int = 3) -> pd.DataFrame:
    """LLM calls over three days (two apps, two environments, two model versions and a mini
    one, two prompt versions, tags, every status) plus tool spans that must never count."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.uniform(0, DAYS * 1440, n))
    start = (pd.Timestamp(T0) + pd.to_timedelta(minutes, unit="min")).floor("us")  # DuckDB's unit
    mini = rng.random(n) < 0.2
    version = np.where(mini, "mini", np.where(start >= pd.Timestamp(UPDATE), "v2", "v1"))
    status = rng.choice(["ok", "error", "timeout", "empty"], n, p=[0.9, 0.04, 0.03, 0.03])
    ok = status == "ok"
    tag = rng.choice(["refund", "shipping", ""], n)
    df = pd.DataFrame({
        "trace_id": [f"t{i}" for i in range(n)], "span_id": "llm",
        "app": np.where(rng.random(n) < 0.7, "support", "sql"),
        "environment": np.where(rng.random(n) < 0.9, "production", "staging"),
        "kind": "llm", "model_version": version,
        "prompt_version": np.where(start >= pd.Timestamp(T0 + timedelta(days=1)), "p2", "p1"),
        "start_time": start,
        "latency_ms": np.round(rng.lognormal(np.log(800), 0.7, n), 3),
        "ttft_ms": np.where(rng.random(n) < 0.5, np.nan, rng.uniform(50, 400, n)),
        "input_tokens": rng.integers(100, 2000, n),
        "output_tokens": np.where(ok, rng.integers(10, 400, n), 0),
        "cost_usd": np.where(rng.random(n) < 0.95, rng.uniform(0.0001, 0.01, n), np.nan),
        "status": status,
        "output": np.where(ok, "an answer", ""),
        "tags": [[t] if t else None for t in tag],
    })
    tools = df.sample(300, random_state=1).assign(
        span_id="tool", kind="tool", latency_ms=99_999.0, status="error", model_version=None)
    return pd.concat([df, tools], ignore_index=True)


def load(store: Store, df: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    result = import_table(store, table, source="test", origin="test")
    assert result.imported == len(df), result


def full_range(**kw) -> M.SpanFilter:
    return M.SpanFilter(start=T0, end=END, **kw)


def add_signals(store: Store, rows: pd.DataFrame) -> None:
    def write(cur):
        cur.register("_sig", pa.Table.from_pandas(rows, preserve_index=False))
        cols = ", ".join(rows.columns)
        cur.execute(f"INSERT INTO signals ({cols}) SELECT {cols} FROM _sig")
        cur.unregister("_sig")
    store.write(write)


def grade_rows(df: pd.DataFrame, picks: np.ndarray, values: np.ndarray, source: str,
               **extra) -> pa.Table:
    cols = {
        "target_type": ["span"] * len(picks),
        "trace_id": df.loc[picks, "trace_id"].tolist(),
        "span_id": df.loc[picks, "span_id"].tolist(),
        "criterion": ["correctness"] * len(picks),
        "value_number": values.astype(float),
        "source": [source] * len(picks),
        "author_id": extra.pop("author_id", [f"{source}-a"] * len(picks)),
        "created_at": [datetime(2025, 3, 10)] * len(picks),
    }
    cols.update(extra)
    return pa.table(cols)


def fill_stand_in_signals(store: Store) -> int:
    """Signals for every LLM span, standing in for the scorers (another module, with models
    of its own): a text is offensive when it holds one of the demo's offensive markers;
    sentiment is negative then, and an answer with exclamation marks reads as positive."""
    pattern = "|".join(OFFENSIVE_MARKERS)

    def write(cur) -> int:
        cur.execute(
            """INSERT INTO signals (span_key, user_offensive, output_offensive, user_sentiment,
                                    output_sentiment, computed_at)
               SELECT s.span_key,
                      CASE WHEN regexp_matches(lower(s.last_user_message), $p) THEN 0.95 ELSE 0.03 END,
                      CASE WHEN regexp_matches(lower(s.output), $p) THEN 0.9 ELSE 0.02 END,
                      CASE WHEN regexp_matches(lower(s.last_user_message), $p) THEN -0.7 ELSE 0.1 END,
                      CASE WHEN contains(s.output, '!') THEN 0.6 ELSE 0.2 END,
                      now()::TIMESTAMP
               FROM spans s WHERE s.kind = 'llm'
                 AND NOT EXISTS (SELECT 1 FROM signals g WHERE g.span_key = s.span_key)""",
            {"p": pattern},
        )
        return int(cur.fetchone()[0])
    return store.write(write)


def seed(db: Path, *, quality: bool = True, apps: tuple[str, str] = ("support", "sql")) -> pd.DataFrame:
    """Known LLM calls (v2 appears mid-range), and unless told otherwise signals, grades and
    feedback on them. Returns the LLM calls."""
    df = known_frame(2000, seed=21)
    df["app"] = np.where(df["app"] == "support", apps[0], apps[1])
    with open_store(db) as store:
        load(store, df)
        if quality:
            store.write(_quality_rows)
    return df[df["kind"] == "llm"]


def _quality_rows(cur) -> None:
    cur.execute("""INSERT INTO signals (span_key, user_offensive, output_offensive, user_sentiment,
                                        output_sentiment)
                   SELECT span_key, (span_key % 10) / 10, 0.1, 0.2, 0.3 FROM spans
                   WHERE kind = 'llm'""")
    keys = cur.execute("SELECT trace_id, span_id FROM spans WHERE kind = 'llm' "
                       "ORDER BY span_key LIMIT 300").fetchall()
    grades = pa.table({
        "target_type": ["span"] * 300, "trace_id": [k[0] for k in keys],
        "span_id": [k[1] for k in keys], "criterion": ["correctness"] * 300,
        "value_number": [float(1 + i % 5) for i in range(300)],
        "source": ["human" if i % 3 == 0 else "judge" for i in range(300)],
        "created_at": [datetime(2025, 3, 9)] * 300,
    })
    insert_grades(cur, grades)
    insert_feedback(cur, pa.table({"trace_id": [k[0] for k in keys[::3]],
                                   "span_id": [k[1] for k in keys[::3]],
                                   "kind": ["thumbs"] * 100, "value": [1.0, 0.0] * 50}))


def load_rows(store: Store, rows: list[dict]) -> None:
    cols = sorted({k for r in rows for k in r})
    table = pa.table({c: [r.get(c) for r in rows] for c in cols})
    result = import_table(store, table, source="test", origin="test", label="<rows>")
    assert result.imported == len(rows), result
