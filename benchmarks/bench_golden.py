"""Golden sets at 100k rows: build a version and export it to Parquet and to JSON Lines.

    python benchmarks/bench_golden.py              # 100,000 graded spans
    python benchmarks/bench_golden.py --rows 20000

The store holds ``rows`` LLM spans with a system prompt, a two-turn conversation as
messages (about 1 kB) and a 200-character answer; each span has one or two reviewer grades
and a judge grade, and every answer graded below 4 a
reviewer's correction, so every span becomes a row. The goal (issue 19): build + export
of 100k rows to Parquet within 1.5x DuckDB's bare COPY of the same rows (the version's rows,
to Parquet), measured in one run; the plain filter and a curated one (de-duplication, a
split by session, one agreeing reviewer) are both timed. Each case builds a
new dataset from scratch (the rows are new to the store the first time; the second case's
rows are shared by content hash) and exports it; the build and the export are timed apart,
and beside them DuckDB's bare COPY of the same rows, the floor of an export, and DuckDB
storing the same rows once more in a table of the store (CREATE TABLE AS with its commit), the
floor of a build that keeps its own copy of the rows. The store is kept in benchmarks/out and
reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from goldenloop import golden
from goldenloop.golden.versions import rows_sql
from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store
from goldenloop.store import grades as grade_sql

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

T0 = datetime(2026, 1, 1)
SYSTEM = "You are the support assistant of an online shop. Answer in two to four sentences."


def _text(rng: np.random.Generator, n: int, chars: int, prefix: str) -> list[str]:
    words = np.array("order refund parcel delivery account invoice return address promo "
                     "password shipping product warranty size colour store help".split())
    picks = rng.integers(0, len(words), (n, chars // 7))
    return [f"{prefix} {i}: " + " ".join(words[p])[:chars] for i, p in enumerate(picks)]


def make_store(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    t = [T0 + timedelta(seconds=int(i) * 20) for i in range(rows)]
    q1, a1 = _text(rng, rows, 120, "question"), _text(rng, rows, 200, "earlier answer")
    q2, out = _text(rng, rows, 120, "follow-up"), _text(rng, rows, 200, "answer")
    messages = [json.dumps([{"role": "system", "content": SYSTEM},
                            {"role": "user", "content": q1[i]},
                            {"role": "assistant", "content": a1[i]},
                            {"role": "user", "content": q2[i]}]) for i in range(rows)]
    with open_store(path) as s:
        import_table(s, pa.table({
            "trace_id": [f"t{i}" for i in range(rows)], "span_id": ["s"] * rows,
            "kind": ["llm"] * rows, "app": np.where(np.arange(rows) % 4, "bot", "sql").tolist(),
            "model_version": np.where(np.arange(rows) % 3, "m1", "m2").tolist(),
            "start_time": pa.array(t, pa.timestamp("us")),
            "end_time": pa.array([x + timedelta(seconds=2) for x in t], pa.timestamp("us")),
            "status": ["ok"] * rows, "system_prompt": [SYSTEM] * rows, "messages": messages,
            "last_user_message": q2, "output": out}), source="bench", origin="bench")
        keys = np.array([k for (k,) in s.rows("SELECT span_key FROM spans ORDER BY span_key")])
        # Every span ends up a row: answers graded below 4 all have a correction.
        first = np.where(rng.random(rows) < 0.85, 5, rng.integers(1, 4, rows))
        pick = rng.random(rows) < 0.3
        second = keys[pick]
        g_keys = np.r_[keys, second, keys]
        n1, n2 = len(keys), len(second)
        agree = np.where(first[pick] >= 4, 4, np.maximum(first[pick] - 1, 1))
        values = np.r_[first, agree, np.where(rng.random(n1) < 0.85, 5, 3)].astype(float)
        kind = ["human"] * (n1 + n2) + ["judge"] * n1
        who = (list(np.array(["ana", "ben"])[rng.integers(0, 2, n1)]) + ["chloe"] * n2
               + ["judge-a"] * n1)
        table = pa.table({
            "target_type": ["span"] * len(g_keys), "target_id": [str(k) for k in g_keys],
            "span_key": g_keys, "criterion": ["correctness"] * len(g_keys),
            "value_number": values, "source": kind,
            "author_kind": ["reviewer" if k == "human" else "judge" for k in kind],
            "author_id": who, "judge_name": [None if k == "human" else "judge-a" for k in kind],
            "judge_version": [None if k == "human" else "j1" for k in kind],
            "rubric_name": ["default"] * len(g_keys), "rubric_version": ["v1"] * len(g_keys),
            "created_at": pa.array([T0] * len(g_keys), pa.timestamp("us"))})
        corrected = keys[first < 4]
        with s.transaction() as cur:
            grade_sql.insert_grades(cur, table, skip_existing=False)
            cur.execute("""INSERT INTO corrections
                           SELECT nextval('correction_seq'), 'span', CAST(k AS VARCHAR), k,
                                  'corrected answer ' || k, 'ana', NULL, ?, NULL, false
                           FROM unnest(?) AS u(k)""", [T0, corrected.tolist()])
        s.checkpoint()


CPU = {"last": 0.0}


def timed(fn):
    """(result, wall seconds); the process's CPU seconds (all threads) go to CPU["last"]: on
    a shared machine they say more than the wall time."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    CPU["last"] = time.process_time() - c
    return out, time.perf_counter() - t


def _bare_copy(s, version_id: int, dest: Path) -> float:
    """Seconds of DuckDB's bare COPY of the version's rows to Parquet (the floor)."""
    _, t = timed(lambda: s.cursor().execute(
        f"COPY ({rows_sql(version_id)}) TO '{dest}' (FORMAT parquet, COMPRESSION zstd)"
    ).fetchall())
    return t


def _bare_store(s, version_id: int) -> float:
    """CPU seconds of DuckDB storing the version's rows once more in a table of the store
    (CREATE TABLE AS and its commit; dropped after): what a build's own copy of the rows costs
    at the least."""
    def store_once() -> None:
        with s.transaction() as cur:
            cur.execute(f"CREATE TABLE _bench_floor AS {rows_sql(version_id)}")
    timed(store_once)
    cpu = CPU["last"]
    with s.transaction() as cur:
        cur.execute("DROP TABLE _bench_floor")
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    template = OUT / f"golden-{args.rows}.duckdb"
    if not template.exists():
        print(f"making a store of {args.rows:,} graded spans…", flush=True)
        make_store(template, args.rows)
    # Its own folder: the roles file beside it names the benchmark's lead.
    home = OUT / "golden-bench"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    (home / "roles.yaml").write_text("leads: [bench]\n", encoding="utf-8")
    work = home / "golden-work.duckdb"
    shutil.copy(template, work)
    exports = home / "exports"
    print(f"load average before: {os.getloadavg()[0]:.1f} (uptime's 1-minute figure)", flush=True)
    plain = golden.GoldenFilter(correct_at=4)
    curated = golden.GoldenFilter(correct_at=4, dedupe=True, split=(0.8, 0.1, 0.1),
                                  split_seed=7, min_agreeing=1)
    with open_store(work) as s:
        # Imports a build makes once per process (the judge package, through the choice of
        # judge versions) are made before the timing, as the bare COPY's are.
        golden.resolve(s, plain)
        for label, f in (("plain", plain), ("curated", curated)):
            for fmt in ("parquet", "jsonl"):
                name = f"bench-{label}-{fmt}"
                b, t_build = timed(lambda name=name, f=f: golden.build(s, name, f, "bench"))
                c_build = CPU["last"]
                e, t_export = timed(lambda name=name, fmt=fmt: golden.export(
                    s, name, exports, "bench", formats=[fmt]))
                c_export = CPU["last"]
                t_bare = _bare_copy(s, b.version.version_id, exports / f"bare-{name}.parquet")
                c_bare = CPU["last"]
                c_store = _bare_store(s, b.version.version_id)
                written = sorted(p.name for p in e.folder.iterdir())
                total = t_build + t_export
                print(f"{label:8} {fmt:8} rows {b.version.rows:>9,}  build {t_build:5.2f} s "
                      f"(CPU {c_build:5.2f})  export {t_export:5.2f} s (CPU {c_export:5.2f})  "
                      f"total {total:5.2f} s; bare Parquet COPY {t_bare:4.2f} s (CPU "
                      f"{c_bare:4.2f}): ratio {total / t_bare:4.1f}x wall, "
                      f"{(c_build + c_export) / c_bare:4.1f}x CPU; storing the rows once "
                      f"more (CPU {c_store:4.2f}) + bare COPY: {(c_store + c_bare) / c_bare:4.1f}x "
                      f"CPU  files {written}", flush=True)
        _, t_again = timed(lambda: golden.build(s, "bench-plain-parquet", plain, "bench"))
        print(f"build again, unchanged (no new version): {t_again:.2f} s (CPU {CPU['last']:.2f} s)")
        _, t_prev = timed(lambda: golden.preview(s, curated))
        print(f"page preview of the curated filter: {t_prev:.2f} s (CPU {CPU['last']:.2f} s)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    shutil.rmtree(home)


if __name__ == "__main__":
    sys.exit(main())
