"""Commands of alerts: `goldenloop alerts ...`."""

from __future__ import annotations

import typer

alerts = typer.Typer(no_args_is_help=True, help="See docs/alerts.md.")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts, name="alerts")
