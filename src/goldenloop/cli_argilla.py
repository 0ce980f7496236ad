"""Commands of the Argilla round trip: `goldenloop argilla push|pull|status`, for review
queues (``--queue ID``) and golden set versions (``--golden NAME@VERSION``).

The server's URL and API key are read from environment variables (default ARGILLA_API_URL
and ARGILLA_API_KEY; ``--url-env`` / ``--key-env`` name others); the key is never stored,
printed or logged. Push and pull write to the database: while a server owns it, they become
jobs for the owner (kinds ``argilla_push`` and ``argilla_pull``)."""

from __future__ import annotations

from typing import Annotated

import typer

from goldenloop.cli_support import queued_to_server

argilla = typer.Typer(no_args_is_help=True, help="Hand review queues and golden sets to Argilla "
                      "annotators and pull their responses back as grades. See docs/argilla.md.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                              "$GOLDENLOOP_DB or data/goldenloop.duckdb).")]
AuthorOption = Annotated[str | None, typer.Option(
    "--author", "--by", help="Your name, as in roles.yaml (default: $GOLDENLOOP_USER or your "
    "login).")]


def _author(author: str | None) -> str:
    from goldenloop.cli_identity import who

    return who(author)


@argilla.command()
def push(
    queue: Annotated[int | None, typer.Option("--queue", help="The review queue to push.")] = None,
    golden: Annotated[str | None, typer.Option(
        "--golden", help="A golden dataset version to review, NAME@VERSION (NAME alone: the "
        "latest version).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Argilla dataset name (default: "
                                                "goldenloop-q<ID>-<queue name> or "
                                                "goldenloop-golden-<name>).")] = None,
    workspace: Annotated[str, typer.Option(help="Argilla workspace (must exist).")] = "argilla",
    suggestions: Annotated[bool | None, typer.Option(
        "--suggestions/--no-suggestions", help="Show judge scores as suggestions (default: "
        "only for adjudication queues; review queues grade blind).")] = None,
    reviewers: Annotated[int, typer.Option(
        help="Annotators per golden row (a queue keeps its own reviewers per item).")] = 1,
    url_env: Annotated[str, typer.Option(help="Variable holding the API URL.")] = "ARGILLA_API_URL",
    key_env: Annotated[str, typer.Option(help="Variable holding the API key.")] = "ARGILLA_API_KEY",
    db: DbOption = None,
    author: AuthorOption = None,
) -> None:
    """Create or update the Argilla dataset of a queue or of a golden version (a second push
    never duplicates)."""
    from goldenloop import argilla_sync
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    if (queue is None) == (golden is None):
        typer.secho("error: name one of --queue ID or --golden NAME@VERSION", fg="red", err=True)
        raise typer.Exit(2)
    paths = resolve_paths(db)
    from goldenloop.workers.kinds import ArgillaPushJob

    job = ArgillaPushJob.of(queue_id=queue, golden=golden, dataset=dataset, workspace=workspace,
                            suggestions=suggestions, reviewers=reviewers, url_env=url_env,
                            key_env=key_env, author=_author(author))
    if queued_to_server(paths, job, "the push"):
        return
    endpoint = argilla_sync.Endpoint(url_env, key_env)
    with open_store(paths.db) as store:
        if golden is not None:
            r = argilla_sync.push_golden(store, golden, pushed_by=_author(author),
                                         dataset=dataset, workspace=workspace,
                                         reviewers=reviewers, endpoint=endpoint)
        else:
            r = argilla_sync.push_queue(store, queue, pushed_by=_author(author), dataset=dataset,
                                        workspace=workspace, suggestions=suggestions,
                                        endpoint=endpoint)
    what = f"golden {golden}" if golden is not None else f"queue {queue}"
    kind = "expected-output suggestions" if golden is not None else "judge suggestions"
    typer.echo(f"{what} -> Argilla dataset {r.dataset} (workspace {r.workspace}): "
               f"{r.records:,} records sent, {r.new_records:,} new, {r.suggestions:,} {kind}")


@argilla.command()
def pull(
    queue: Annotated[int | None, typer.Option("--queue", help="Only this queue's datasets "
                                              "(default: everything pushed).")] = None,
    golden: Annotated[str | None, typer.Option(
        "--golden", help="Only this golden dataset's Argilla datasets (its NAME).")] = None,
    db: DbOption = None,
    author: AuthorOption = None,
) -> None:
    """Take in new submitted and discarded responses as grades, corrections and skips; for a
    golden set, then make its reviewed version."""
    from goldenloop import argilla_sync
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    paths = resolve_paths(db)
    from goldenloop.workers.kinds import ArgillaPullJob

    job = ArgillaPullJob.of(queue_id=queue, golden=golden, author=_author(author))
    if queued_to_server(paths, job, "the pull"):
        return
    with open_store(paths.db) as store:
        results = argilla_sync.pull(store, _author(author), queue, golden=golden)
    if not results:
        typer.echo("nothing pushed to Argilla yet: run `goldenloop argilla push --queue ID` "
                   "or `--golden NAME@VERSION`")
    for r in results:
        skips = "" if r.golden else " (skips)"
        typer.echo(f"{r.dataset}: {r.graded:,} graded ({r.superseded:,} superseding earlier "
                   f"answers), {r.discarded:,} discarded{skips}, {r.set_aside:,} set aside, "
                   f"{r.unchanged:,} already pulled, {r.drafts:,} drafts ignored")
        for reason in r.reasons:
            typer.echo(f"  set aside: {reason}")
        if r.golden:
            typer.echo(f"  {_made(r)}")


def _made(r) -> str:
    name = r.golden.rsplit("@", 1)[0]
    if r.new_version is None:
        return "no new responses since the last reviewed version: no version made"
    if r.version_created:
        return f"reviewed version made: {name} v{r.new_version} (from {r.golden})"
    return f"the reviewed rows equal {name} v{r.new_version}: no version made"


@argilla.command()
def status(
    queue: Annotated[int | None, typer.Option("--queue", help="Only this queue.")] = None,
    golden: Annotated[str | None, typer.Option("--golden",
                                               help="Only this golden dataset (NAME).")] = None,
    db: DbOption = None,
) -> None:
    """Per pushed queue or golden set: records in Argilla, submitted, discarded, pending,
    pulled, when (and the reviewed golden version)."""
    from goldenloop import access, argilla_sync
    from goldenloop.config import resolve_paths

    with access.for_reading(resolve_paths(db)) as r:
        if r.note:
            typer.echo(f"({r.note})")
        rows = argilla_sync.status(r.store, queue, golden)
    if not rows:
        typer.echo("nothing pushed to Argilla yet")
    for s in rows:
        when = s.last_pull_at.isoformat(" ", "seconds") if s.last_pull_at else "never"
        what = f"golden {s.golden}" if s.golden else f"queue {s.queue_id}"
        typer.echo(f"{what} -> {s.dataset} ({s.workspace}); last pull: {when}")
        if s.error:
            typer.echo(f"  Argilla: {s.error}")
        else:
            typer.echo(f"  in Argilla: {s.records:,} records, {s.pending:,} pending; responses: "
                       f"{s.submitted:,} submitted, {s.discarded:,} discarded, {s.drafts:,} drafts")
        typer.echo(f"  pulled: {s.pulled_graded:,} graded, {s.pulled_discarded:,} discarded, "
                   f"{s.set_aside:,} set aside")
        if s.golden:
            made = f"v{s.reviewed_version}" if s.reviewed_version else "none yet"
            typer.echo(f"  reviewed version: {made}; responses taken in that no version holds "
                       f"yet: {s.waiting:,} (`goldenloop argilla pull --golden NAME` makes it)")


def register(app: typer.Typer) -> None:
    app.add_typer(argilla, name="argilla")
