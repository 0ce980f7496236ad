"""Commands of the Argilla round trip: `goldenloop argilla push|pull|status`."""

from __future__ import annotations

import typer

argilla = typer.Typer(no_args_is_help=True, help="See docs/argilla.md.")


def register(app: typer.Typer) -> None:
    app.add_typer(argilla, name="argilla")
