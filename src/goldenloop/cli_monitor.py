"""Commands of monitoring: automatic signals (`goldenloop score`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from goldenloop.cli_support import progress_bar, queued_to_server


def score(
    db: Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                           "$GOLDENLOOP_DB or data/goldenloop.duckdb).")] = None,
    rescore: Annotated[bool, typer.Option(help="Score every LLM span again, not only those "
                                          "without signals or with an older scorer.")] = False,
    moderation_config: Annotated[Path | None, typer.Option(help="Moderation endpoint config "
                                                           "(default: moderation.yaml beside "
                                                           "the database, if present).")] = None,
) -> None:
    """Compute automatic signals of LLM spans: offensive language, sentiment, refusals, output
    length (offline), and moderation when configured."""
    from goldenloop.config import resolve_paths
    from goldenloop.errors import GoldenloopError

    paths = resolve_paths(db)
    from goldenloop.workers.kinds import ScoreJob

    params: dict[str, Any] = {"rescore": rescore}
    if moderation_config:
        params["moderation_config"] = str(moderation_config.resolve())
    job = ScoreJob.of(**params)
    if queued_to_server(paths, job, "scoring"):
        return
    if not paths.db.exists():
        raise GoldenloopError(f"no database at {paths.db}: run `goldenloop demo` or "
                              "`goldenloop import FILE` first")
    typer.echo(_run_here(paths.db, job.params()))


def _run_here(db: Path, params: dict[str, Any]) -> str:
    """Score in this process with a progress bar; return the summary."""
    from goldenloop.schema import open_store
    from goldenloop.scorers.run import score_job
    from goldenloop.spanstore import configured_url, open_span_store

    with open_store(db) as store, progress_bar("score") as progress:
        spans = open_span_store(configured_url(None, db.parent), store)
        try:
            result = score_job(store, params, progress, spans)
        finally:
            spans.close()
    return result["summary"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main command line."""
    app.command("score")(score)
