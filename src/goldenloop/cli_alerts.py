"""Commands of alerts: `goldenloop alerts list|check|test RULE` (see docs/alerts.md).

`check` writes (states, history, deliveries): while a server owns the database it becomes a
job for the owner, which also evaluates every rule on its interval; without a server it runs
here once, waits for retries, and exits 1 when a notification could not be delivered (cron
then mails its output). `list` reads the server's snapshot when one runs.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from goldenloop import access
from goldenloop.cli_support import queued_to_server
from goldenloop.config import resolve_paths

alerts = typer.Typer(no_args_is_help=True, help="Alert rules and notifications. See "
                     "docs/alerts.md.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file.")]
FileOption = Annotated[Path | None, typer.Option(
    "--alerts-file", help="Rules file (default: $GOLDENLOOP_ALERTS_FILE, else alerts.yaml "
    "beside the database).")]


_JSON_KEYS = ("name", "state", "since", "metric", "condition", "value", "checked_at", "origin",
              "enabled")


def _plain(v):
    """A JSON value: times as ISO strings, missing values as null."""
    if v is None or v != v:  # NaN and NaT are the values not equal to themselves
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v.item() if hasattr(v, "item") else v


def register(app: typer.Typer) -> None:
    app.add_typer(alerts, name="alerts")


@alerts.command("list")
def list_(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one rule a line, keys: "
                                          "name, state, since, metric, condition, value, "
                                          "checked_at, origin, enabled.")] = False,
) -> None:
    """Every rule with its state, since when, and its last value."""
    from goldenloop import alerts as lib

    with access.for_reading(resolve_paths(db)) as r:
        if not lib.has_tables(r.store):  # a database from before alerts, never served since
            typer.echo("No alert rules yet: run `goldenloop alerts check` or start the server.")
            return
        df = lib.overview(r.store)
        failed = lib.failed_deliveries(r.store)
        if r.note:
            typer.echo(f"({r.note})")
    if as_json:
        for row in df.to_dict("records"):
            typer.echo(json.dumps({k: _plain(row[k]) for k in _JSON_KEYS}))
        return
    if df.empty:
        typer.echo("No alert rules yet: write alerts.yaml beside the database (docs/alerts.md) "
                   "or create one on the Alerts page.")
        return
    for row in df.itertuples():
        since = f" since {row.since:%Y-%m-%d %H:%M}" if row.since is not None else ""
        value = "" if row.value is None or row.value != row.value else f"  value {row.value:.4g}"
        off = "" if row.enabled else "  (disabled)"
        typer.echo(f"{row.state:13} {row.name}  [{row.metric} {row.condition}, {row.origin}]"
                   f"{since}{value}{off}")
    if failed:
        typer.echo(f"{failed} notification(s) could not be delivered: see the Alerts page.")


@alerts.command()
def check(
    db: DbOption = None,
    alerts_file: FileOption = None,
    at: Annotated[datetime | None, typer.Option(help="Evaluate as of this time (UTC), e.g. "
                                                "the end of a demo history.")] = None,
) -> None:
    """Evaluate every rule once, record state changes and send their notifications."""
    from goldenloop import alerts as lib

    paths = resolve_paths(db)
    path = lib.alerts_file_path(paths.data_dir, alerts_file)
    from goldenloop.workers.kinds import AlertsCheckJob

    job = AlertsCheckJob.of(alerts_file=str(path), at=at.isoformat() if at else None)
    if queued_to_server(paths, job, "the alert check",
                        follow="the Alerts page or `goldenloop jobs` (the server also "
                        "evaluates every rule on its interval)"):
        return
    from goldenloop.schema import open_store

    paths.ensure()
    with open_store(paths.db) as store:
        settings = lib.load_and_sync(store, path)
        result = lib.check(store, settings, at=at, wait=True)
    for ev in result.evaluations:
        typer.echo(f"{ev.state:8} {ev.rule}: {ev.reason}")
    if not result.evaluations:
        typer.echo(f"No enabled alert rules (rules file: {path}).")
    typer.echo(f"{result.transitions} state change(s), {result.sent} notification(s) sent, "
               f"{result.failed} failed.")
    raise typer.Exit(1 if result.failed else 0)


@alerts.command()
def test(
    rule: Annotated[str, typer.Argument(metavar="RULE", help="The rule's name.")],
    db: DbOption = None,
    alerts_file: FileOption = None,
) -> None:
    """Send a sample notification to every channel of RULE (exit 1 when one fails)."""
    from goldenloop import alerts as lib

    paths = resolve_paths(db)
    path = lib.alerts_file_path(paths.data_dir, alerts_file)
    parsed = lib.load_file(path)
    found = next((r for r in parsed.rules if r.name == rule), None)
    if found is None:
        with access.for_reading(paths) as r:
            found = lib.find_rule(r.store, rule).rule
    if not found.channels:
        typer.echo(f"Rule {rule!r} has no channels: nothing to send.")
        raise typer.Exit(1)
    results = lib.send_test(found, lib.settings_of(parsed))
    for label, error in results:
        typer.echo(f"{label}: {'sent' if error is None else 'FAILED: ' + error}")
    raise typer.Exit(1 if any(error for _, error in results) else 0)
