"""Commands of operations: backup, restore, forget, retention, audit."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the operations commands to ``app`` (filled in by the ops work)."""
