"""Commands of anomalies: `goldenloop anomalies ...`."""

from __future__ import annotations

import typer

anomalies = typer.Typer(no_args_is_help=True, help="See docs/detection.md.")


def register(app: typer.Typer) -> None:
    app.add_typer(anomalies, name="anomalies")
