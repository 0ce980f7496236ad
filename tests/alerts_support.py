"""A real HTTP receiver on 127.0.0.1 for notification tests, and spans over known minutes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pyarrow as pa

from goldenloop.ingest.loader import import_table


@dataclass
class Receiver:
    """What a loopback server was sent, and what it answers: ``fail_next`` requests get
    ``fail_status`` before it answers 200 again."""

    port: int = 0
    received: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, kind: str | None = None) -> list[dict]:
        with self.lock:
            return [b for b in self.received if kind is None or b.get("kind") == kind]


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                failing = rec.fail_next > 0
                if failing:
                    rec.fail_next -= 1
                else:
                    rec.received.append(json.loads(body or b"{}"))
                    rec.paths.append(self.path)
            self.send_response(rec.fail_status if failing else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def minute_traffic(start: datetime, minutes: int, per_minute: int, error_share: float = 0.0,
                   app: str = "support", seed: int = 0, source: str = "test",
                   latency_ms: float = 800.0) -> pd.DataFrame:
    """``per_minute`` LLM calls in each of ``minutes`` minutes from ``start``; in each minute
    exactly round(per_minute * error_share) fail with an error."""
    rng = np.random.default_rng(seed)
    rows = []
    errors = round(per_minute * error_share)
    for m in range(minutes):
        for i in range(per_minute):
            rows.append({
                "trace_id": f"{app}-{source}-{seed}-{m}-{i}", "span_id": "llm", "app": app,
                "environment": "production", "kind": "llm", "model_version": "v1",
                "start_time": start + timedelta(minutes=m, seconds=i * 60 / per_minute),
                "latency_ms": float(rng.lognormal(np.log(latency_ms), 0.3)),
                "input_tokens": int(rng.integers(100, 500)),
                "output_tokens": int(rng.integers(10, 200)),
                "cost_usd": 0.001,
                "status": "error" if i < errors else "ok", "source": source,
            })
    return pd.DataFrame(rows)


def load(store, df: pd.DataFrame, source: str = "test") -> None:
    result = import_table(store, pa.Table.from_pandas(df, preserve_index=False),
                          source=source, origin="test")
    assert result.imported == len(df), result
