"""``python -m goldenloop.collector``: the receiver as a lean process.

``goldenloop collect`` replaces itself with this (``os.execv``): the command line loads the
whole application (DuckDB, pandas, pydantic: some 70 MB) that the receiver never uses, and
the receiver promises a memory ceiling. Same options as the command, already resolved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa

from goldenloop.collector.server import serve


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="goldenloop collect")
    ap.add_argument("--inbox", type=Path, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--max-body", type=int, required=True, help="bytes")
    ap.add_argument("--max-connections", type=int, required=True)
    ap.add_argument("--spool-seconds", type=float, required=True)
    a = ap.parse_args(argv)
    # Arrow's own allocator keeps freed memory for reuse; the system's gives it back (with
    # ``journal.give_back_memory``), which the receiver's memory ceiling relies on.
    pa.set_memory_pool(pa.system_memory_pool())
    serve(a.inbox, host=a.host, port=a.port, max_body=a.max_body,
          max_connections=a.max_connections, spool_seconds=a.spool_seconds,
          say=lambda text: print(text, flush=True))


if __name__ == "__main__":
    main()
