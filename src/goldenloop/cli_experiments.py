"""Commands of experiments and canaries: `goldenloop experiment ...`."""

from __future__ import annotations

import typer

experiment = typer.Typer(no_args_is_help=True, help="See docs/experiments.md.")


def register(app: typer.Typer) -> None:
    app.add_typer(experiment, name="experiment")
