"""One benchmark case in its own process; prints seconds and peak memory as JSON."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    case, src, db = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    t0 = time.perf_counter()
    if case.startswith("bare_ctas"):
        import duckdb

        con = duckdb.connect(str(db))
        reader = "read_json" if src.suffix == ".jsonl" else "read_parquet"
        con.execute(f"CREATE TABLE spans AS SELECT * FROM {reader}('{src}')")
        rows = con.execute("SELECT count(*) FROM spans").fetchone()[0]
        con.close()
    elif case == "demo_200k":
        from goldenloop import demo
        from goldenloop.schema import open_store

        with open_store(db) as store:
            t0 = time.perf_counter()
            rows = demo.generate(store, spans=200_000).spans
    else:
        from goldenloop.ingest import import_file
        from goldenloop.schema import open_store

        with open_store(db) as store:
            t0 = time.perf_counter()  # schema creation is not part of the import
            rows = import_file(store, src).imported
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "rows": rows, "seconds": seconds, "peak_mb": peak_mb}))


if __name__ == "__main__":
    main()
