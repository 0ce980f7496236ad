"""Commands of the producers: the OTLP/HTTP receiver (`goldenloop collect`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def collect(
    db: Annotated[str | None, typer.Option("--db", help="Database whose inbox receives the "
                                           "spool files (default: $GOLDENLOOP_DB or "
                                           "data/goldenloop.duckdb); it is never opened.")] = None,
    inbox: Annotated[Path | None, typer.Option(help="Write spool files here instead of the "
                                               "database's inbox.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless exporters "
                                      "on other machines must reach it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (4318 is OTLP/HTTP's).")] = 4318,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body accepted, in MiB "
                                               "after decompression (JSON bodies: half).")] = 16.0,
    max_connections: Annotated[int, typer.Option(help="Connections served at once; more are "
                                                 "answered 503 with Retry-After.")] = 256,
    spool_seconds: Annotated[float, typer.Option(help="How often the converter looks for "
                                                 "accepted requests; it merges them into one spool "
                                                 "file once about 8 MiB gathered or the oldest "
                                                 "waited 2 s.")] = 0.5,
) -> None:
    """Receive OpenTelemetry traces over OTLP/HTTP (POST /v1/traces, protobuf or JSON) and hand
    them to the owner as spool files."""
    from goldenloop.config import resolve_paths

    target = inbox if inbox is not None else resolve_paths(db).inbox
    target.mkdir(parents=True, exist_ok=True)
    # The receiver runs as a lean process (goldenloop.collector's __main__): the command line
    # has loaded DuckDB and pandas, some 70 MB the receiver never uses.
    args = [sys.executable, "-m", "goldenloop.collector", "--inbox", str(target.resolve()),
            "--host", host, "--port", str(port), "--max-body", str(int(max_body_mb * (1 << 20))),
            "--max-connections", str(max_connections), "--spool-seconds", str(spool_seconds)]
    sys.stdout.flush()
    os.execv(sys.executable, args)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main command line."""
    app.command("collect")(collect)
