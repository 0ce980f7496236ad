"""What `--redact` costs: `goldenloop import` of one Parquet file of spans with and without it,
as whole processes, beside a bare DuckDB `CREATE TABLE AS` of the same file, in one run.

The spans carry the realistic texts of ``data_gen`` (200 characters, user message and output),
a two-message ``messages`` JSON, ``metadata``, user and session ids, and in 5% of outputs an
e-mail address and a phone number. Also prints the redactor's own rate (texts per second).

    python benchmarks/bench_redact.py --rows 200000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_gen import spans_table
from timing import uptime

from goldenloop.ingest.redact import redact_text
from goldenloop.ingest.redact_import import _arrow_udf


def table(n: int) -> pa.Table:
    t = spans_table(n, seed=5)
    rng = np.random.default_rng(5)
    pii = rng.random(n) < 0.05
    # Every output distinct (a short reference: too few digits to look like a number anyone
    # calls), so the redactor's cache of repeated texts does not flatter it.
    extra = pa.array([f" ref {i}" + (f" write to jane.doe{i}@example.com or call +1 415 555 "
                                       f"{i % 10_000:04d}" if p else "")
                      for i, p in enumerate(pii)], pa.string())
    output = pc.binary_join_element_wise(t["output"], extra, "")
    t = t.set_column(t.schema.get_field_index("output"), "output", output)
    users = [f"user-{i % 5000}" for i in range(n)]
    messages = [json.dumps([{"role": "system", "content": "You are a helpful support agent."},
                            {"role": "user", "content": u}])
                for u in t["last_user_message"].to_pylist()]
    meta = [json.dumps({"plan": "pro", "region": "eu"})] * n
    return (t.append_column("user_id", pa.array(users))
             .append_column("messages", pa.array(messages))
             .append_column("metadata", pa.array(meta)))


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-redact-") as tmp:
        folder = Path(tmp)
        data = table(args.rows)
        src = folder / "spans.parquet"
        pq.write_table(data, src)

        # What the import runs per batch: every output through gl_redact's Arrow function.
        outputs = data["output"].combine_chunks()
        batch = _arrow_udf(redact_text, "text")
        t0 = time.perf_counter()
        for start in range(0, len(outputs), 2048):
            batch(outputs.slice(start, 2048))
        per_text = (time.perf_counter() - t0) / len(outputs)
        # The worst case: every text holds a 16-character token (a URL), so every one goes
        # through the Python detectors.
        forced = pc.binary_join_element_wise(outputs, pa.scalar(" https://example.com/a/b"), "")
        t0 = time.perf_counter()
        for start in range(0, len(forced), 2048):
            batch(forced.slice(start, 2048))
        per_forced = (time.perf_counter() - t0) / len(forced)

        bare = run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])"
                    ".execute(\"CREATE TABLE t AS SELECT * FROM read_parquet(?)\", [sys.argv[2]])",
                    str(folder / "bare.duckdb"), str(src)])
        cli = [sys.executable, "-m", "goldenloop.cli", "import", str(src)]
        plain = run([*cli, "--db", str(folder / "plain.duckdb")])
        redacted = run([*cli, "--db", str(folder / "redacted.duckdb"), "--redact"])
    n = args.rows
    print(uptime())
    print(f"gl_redact: {1 / per_text:,.0f} texts/s ({per_text * 1e6:.1f} us per 200-character "
          f"output, 5% with an e-mail and a phone number), in-process, batches of 2,048; "
          f"{per_forced * 1e6:.0f} us per text when every text goes through the detectors")
    print(f"{n:,} spans, whole processes: bare CREATE TABLE AS {bare:.1f} s; import {plain:.1f} s "
          f"({plain / bare:.1f}x bare); import --redact {redacted:.1f} s ({redacted / bare:.1f}x "
          f"bare, {redacted / plain:.1f}x import); redaction adds "
          f"{(redacted - plain) / n * 1e6:.0f} us per span")


if __name__ == "__main__":
    main()
