"""Commands of anomalies: `goldenloop anomalies detect|list`."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any

import typer

from goldenloop.cli_support import queued_to_server, span_store_of

anomalies = typer.Typer(no_args_is_help=True, help="See docs/detection.md.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                              "$GOLDENLOOP_DB or ./data/goldenloop.duckdb).")]
# The keys of `list --json`, one JSON object per line, in this order: scripts rely on them.
JSON_KEYS = ("id", "metric", "app", "dimension", "value", "start", "end", "direction",
             "baseline", "observed", "severity", "status")


@anomalies.command()
def detect(
    since: Annotated[datetime | None, typer.Option(help="Examine from this time (UTC; "
                                                   "default: 30 days before the last data).")
                     ] = None,
    until: Annotated[datetime | None, typer.Option(help="Examine up to this time (UTC).")
                     ] = None,
    sensitivity: Annotated[str | None, typer.Option(
        help="low, medium (default) or high: the false discovery rate of a run.")] = None,
    db: DbOption = None,
) -> None:
    """Test every monitored series and record the anomalies (run by the server after imports
    and on a timer; this command is for cron or a one-off)."""
    from goldenloop.anomalies import detect as run_detect
    from goldenloop.anomalies.detection import level
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    level(sensitivity)  # a bad value fails here, not in the server's job
    paths = resolve_paths(db)
    from goldenloop.workers.kinds import DetectJob

    job = DetectJob.of(since=since.isoformat() if since else None,
                       until=until.isoformat() if until else None, sensitivity=sensitivity)
    if queued_to_server(paths, job, "detection"):
        return
    with open_store(paths.db) as store, span_store_of(paths, store) as spans:
        r = run_detect(store, since=since, until=until, sensitivity=sensitivity, spans=spans)
    typer.echo(r.summary)


@anomalies.command("list")
def list_(
    status: Annotated[list[str] | None, typer.Option(
        help="open, acknowledged, muted or resolved; repeatable (default: all).")] = None,
    app: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    metric: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one anomaly per line "
                                          f"with keys {', '.join(JSON_KEYS)}.")] = False,
    db: DbOption = None,
) -> None:
    """Anomalies, most severe first, then most recent."""
    from goldenloop import access
    from goldenloop.anomalies import list_anomalies
    from goldenloop.config import resolve_paths

    with access.for_reading(resolve_paths(db)) as r:
        if r.note and not as_json:
            typer.echo(f"({r.note})")
        df = list_anomalies(r.store, status=status or None, apps=app or (),
                            metrics=metric or (), limit=limit)
    if as_json:
        for row in df.itertuples():
            typer.echo(json.dumps(json_row(row), ensure_ascii=False))
        return
    if df.empty:
        typer.echo("No anomalies" + (f" with status {', '.join(status)}" if status else "")
                   + ". Run `goldenloop anomalies detect`.")
    for row in df.itertuples():
        where = f"{row.app}" + (f" {row.dimension}={row.value}" if row.dimension else "")
        typer.echo(f"#{row.anomaly_id:<5} {row.severity_name:6} {row.status:12} "
                   f"{row.window_start:%Y-%m-%d %H:%M}  {row.metric} {row.kind} ({where}): "
                   f"{row.description}")


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _text(x) -> str | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def json_row(row) -> dict[str, Any]:
    out = {
        "id": int(row.anomaly_id), "metric": row.metric, "app": row.app,
        "dimension": _text(row.dimension), "value": _text(row.value),
        "start": row.window_start.isoformat(), "end": row.window_end.isoformat(),
        "direction": row.direction, "baseline": _num(row.baseline),
        "observed": _num(row.observed), "severity": int(row.severity), "status": row.status,
    }
    return {k: out[k] for k in JSON_KEYS}


def register(app: typer.Typer) -> None:
    app.add_typer(anomalies, name="anomalies")
