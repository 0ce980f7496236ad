"""Commands of the Argilla round trip: `goldenloop argilla push|pull|status`.

The server's URL and API key are read from environment variables (default ARGILLA_API_URL
and ARGILLA_API_KEY; ``--url-env`` / ``--key-env`` name others); the key is never stored,
printed or logged. Push and pull write to the database: while a server owns it, they become
jobs for the owner (kinds ``argilla_push`` and ``argilla_pull``)."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from goldenloop.cli_support import queued_to_server

argilla = typer.Typer(no_args_is_help=True, help="Hand review queues to Argilla annotators and "
                      "pull their responses back as grades. See docs/argilla.md.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                              "$GOLDENLOOP_DB or data/goldenloop.duckdb).")]
AuthorOption = Annotated[str | None, typer.Option(
    "--author", help="Your name, as in roles.yaml (default: $GOLDENLOOP_USER or your login).")]


def _author(author: str | None) -> str:
    return author or os.environ.get("GOLDENLOOP_USER") or getpass.getuser()


@argilla.command()
def push(
    queue: Annotated[int, typer.Option("--queue", help="The review queue to push.")],
    dataset: Annotated[str | None, typer.Option(help="Argilla dataset name (default: "
                                                "goldenloop-q<ID>-<queue name>).")] = None,
    workspace: Annotated[str, typer.Option(help="Argilla workspace (must exist).")] = "argilla",
    suggestions: Annotated[bool | None, typer.Option(
        "--suggestions/--no-suggestions", help="Show judge scores as suggestions (default: "
        "only for adjudication queues; review queues grade blind).")] = None,
    url_env: Annotated[str, typer.Option(help="Variable holding the API URL.")] = "ARGILLA_API_URL",
    key_env: Annotated[str, typer.Option(help="Variable holding the API key.")] = "ARGILLA_API_KEY",
    db: DbOption = None,
    author: AuthorOption = None,
) -> None:
    """Create or update the queue's Argilla dataset (a second push never duplicates)."""
    from goldenloop import argilla_sync
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    paths = resolve_paths(db)
    params = {"queue_id": queue, "dataset": dataset, "workspace": workspace,
              "suggestions": suggestions, "url_env": url_env, "key_env": key_env,
              "author": _author(author)}
    if queued_to_server(paths, "argilla_push", params, "the push"):
        return
    with open_store(paths.db) as store:
        r = argilla_sync.push_queue(store, queue, pushed_by=_author(author), dataset=dataset,
                                    workspace=workspace, suggestions=suggestions,
                                    endpoint=argilla_sync.Endpoint(url_env, key_env))
    typer.echo(f"queue {queue} -> Argilla dataset {r.dataset} (workspace {r.workspace}): "
               f"{r.records:,} records sent, {r.new_records:,} new, {r.suggestions:,} "
               "judge suggestions")


@argilla.command()
def pull(
    queue: Annotated[int | None, typer.Option("--queue", help="Only this queue's datasets "
                                              "(default: every pushed queue).")] = None,
    db: DbOption = None,
    author: AuthorOption = None,
) -> None:
    """Take in new submitted and discarded responses as grades and skips."""
    from goldenloop import argilla_sync
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    paths = resolve_paths(db)
    if queued_to_server(paths, "argilla_pull", {"queue_id": queue, "author": _author(author)},
                        "the pull"):
        return
    with open_store(paths.db) as store:
        results = argilla_sync.pull(store, _author(author), queue)
    if not results:
        typer.echo("nothing pushed to Argilla yet: run `goldenloop argilla push --queue ID`")
    for r in results:
        typer.echo(f"{r.dataset}: {r.graded:,} graded ({r.superseded:,} superseding earlier "
                   f"answers), {r.discarded:,} discarded (skips), {r.set_aside:,} set aside, "
                   f"{r.unchanged:,} already pulled, {r.drafts:,} drafts ignored")
        for reason in r.reasons:
            typer.echo(f"  set aside: {reason}")


@argilla.command()
def status(
    queue: Annotated[int | None, typer.Option("--queue", help="Only this queue.")] = None,
    db: DbOption = None,
) -> None:
    """Per pushed queue: records in Argilla, submitted, discarded, pending, pulled, when."""
    from goldenloop import access, argilla_sync
    from goldenloop.config import resolve_paths

    with access.for_reading(resolve_paths(db)) as r:
        if r.note:
            typer.echo(f"({r.note})")
        rows = argilla_sync.status(r.store, queue)
    if not rows:
        typer.echo("nothing pushed to Argilla yet")
    for s in rows:
        when = s.last_pull_at.isoformat(" ", "seconds") if s.last_pull_at else "never"
        typer.echo(f"queue {s.queue_id} -> {s.dataset} ({s.workspace}); last pull: {when}")
        if s.error:
            typer.echo(f"  Argilla: {s.error}")
        else:
            typer.echo(f"  in Argilla: {s.records:,} records, {s.pending:,} pending; responses: "
                       f"{s.submitted:,} submitted, {s.discarded:,} discarded, {s.drafts:,} drafts")
        typer.echo(f"  pulled: {s.pulled_graded:,} graded, {s.pulled_discarded:,} discarded, "
                   f"{s.set_aside:,} set aside")


def register(app: typer.Typer) -> None:
    app.add_typer(argilla, name="argilla")
