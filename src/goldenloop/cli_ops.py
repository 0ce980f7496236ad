"""Commands of operations: backup, restore, forget, audit, retention."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from goldenloop import access
from goldenloop.cli_support import queued_to_server
from goldenloop.config import resolve_paths
from goldenloop.errors import GoldenloopError

DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                              "$GOLDENLOOP_DB or data/goldenloop.duckdb).")]
ByOption = Annotated[str | None, typer.Option(
    "--by", help="Who asks (default: $GOLDENLOOP_USER or your login); kept in the audit log.")]


def _by(by: str | None) -> str:
    from goldenloop.cli_identity import who

    return who(by)


def backup(dest: Annotated[Path, typer.Argument(help="The backup file to write.")],
           db: DbOption = None, by: ByOption = None) -> None:
    """A consistent copy of the database (while a server runs: made by it, as a job)."""
    from goldenloop.ops.backup import backup as run_backup
    from goldenloop.ops.backup import manifest_path

    manifest, note = run_backup(resolve_paths(db), dest, actor=_by(by))
    dest = dest.expanduser().resolve()
    typer.echo(f"backup written to {dest} at {manifest['taken_at']} UTC"
               + (f" ({note})" if note else ""))
    typer.echo(f"  {manifest['counts']['spans']:,} spans, {manifest['counts']['grades']:,} grades; "
               f"manifest: {manifest_path(dest).name}")


def restore(src: Annotated[Path, typer.Argument(help="A backup file made by `goldenloop backup`.")],
            db: DbOption = None) -> None:
    """Put a backup in place of the database (refused while a server owns it)."""
    from goldenloop.ops.backup import restore as run_restore

    paths = resolve_paths(db)
    kept = run_restore(paths, src)
    typer.echo(f"restored {src} into {paths.db}")
    if kept is not None:
        typer.echo(f"  the replaced database was kept as {kept.name} (delete it when sure)")


def forget(user_id: Annotated[str | None, typer.Option(help="Erase this end user.")] = None,
           session_id: Annotated[str | None, typer.Option(help="Erase this session.")] = None,
           trace_id: Annotated[str | None, typer.Option(help="Erase this trace.")] = None,
           retry_argilla: Annotated[bool, typer.Option(
               "--retry-argilla", help="Only try again the deletions in Argilla that earlier "
               "erasures could not make (the server was unreachable).")] = False,
           db: DbOption = None, by: ByOption = None,
           wait: Annotated[float, typer.Option(help="Seconds to wait for a server.")] = 600) -> None:
    """Erase everything held about an end user, a session or a trace (docs/operations.md)."""
    from goldenloop.ops.forget import RETRY_ARGILLA, ForgetError, ForgetReport, report_folder
    from goldenloop.ops.forget import forget as run_forget

    given = [(k, v) for k, v in (("user_id", user_id), ("session_id", session_id),
                                 ("trace_id", trace_id), (RETRY_ARGILLA, retry_argilla or None))
             if v is not None]
    if len(given) != 1:
        raise ForgetError("give exactly one of --user-id, --session-id, --trace-id, "
                          "--retry-argilla")
    if retry_argilla:
        given = [(RETRY_ARGILLA, "pending")]
    (selector, value), = given
    paths = resolve_paths(db)
    owner = access.running_owner(paths)
    if owner is None:
        from goldenloop.schema import open_store

        if not paths.db.exists():
            raise GoldenloopError(f"no database at {paths.db}")
        from goldenloop.spanstore import configured_url, open_span_store

        with open_store(paths.db) as store:
            spans = open_span_store(configured_url(None, paths.data_dir), store)
            report = run_forget(store, selector, value, requested_by=_by(by),
                                spans=spans).to_dict()
    else:
        erasure_id = uuid.uuid4().hex[:12]
        from goldenloop.workers.kinds import ForgetJob
        from goldenloop.workers.submit import submit

        submit(ForgetJob.of(selector=selector, value=value, by=_by(by), erasure_id=erasure_id),
               paths=paths)
        typer.echo(f"The server (process {owner.pid}) owns {paths.db}: the erasure runs there.")
        report = _wait_report(report_folder(paths) / f"{erasure_id}.json", wait)
    r = ForgetReport.from_dict(report)
    for line in r.lines():
        typer.echo(line)
    if (r.argilla or {}).get("pending"):  # erased here, not yet in Argilla: say so to scripts
        raise typer.Exit(1)


def _wait_report(path: Path, wait: float) -> dict:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.3)
    raise GoldenloopError(f"the erasure has not finished after {wait:.0f} s: follow it on the "
                          "Jobs page or `goldenloop jobs`")


def audit(since: Annotated[datetime | None, typer.Option(help="From this time (UTC).")] = None,
          until: Annotated[datetime | None, typer.Option(help="Before this time (UTC).")] = None,
          actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
          action: Annotated[str | None, typer.Option(help="Actions starting with this.")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
          db: DbOption = None) -> None:
    """Export the audit log: who wrote what, when, from which interface."""
    from goldenloop.store import audit as audit_sql

    with access.for_reading(resolve_paths(db)) as ra:
        df = audit_sql.entries(ra.store, since=since, until=until, actor=actor, action=action)
    if ra.note and not as_json:
        typer.echo(f"({ra.note})")
    for row in df.sort_values("audit_id").itertuples(index=False):
        if as_json:
            typer.echo(json.dumps({"audit_id": int(row.audit_id), "at": row.logged_at.isoformat(),
                                   "actor": row.actor, "action": row.action, "target": row.target,
                                   "interface": row.interface,
                                   "details": json.loads(row.details or "{}")}))
        else:
            typer.echo(f"{row.logged_at:%Y-%m-%d %H:%M:%S}  {row.actor}  {row.action}  "
                       f"{row.target}  {row.interface or '-'}")
    if df.empty and not as_json:
        typer.echo("no audit entries in that range")


retention_app = typer.Typer(no_args_is_help=True, help="Keep each app's spans N days "
                            "(reviewed and golden spans longer: docs/operations.md).")


def _retention(db: str | None, params: dict, what: str):
    """Run a retention job here, or hand it to the running server; the result or None."""
    from goldenloop.schema import open_store
    from goldenloop.workers.kinds import RetentionJob
    from goldenloop.workers.submit import run_here

    job = RetentionJob.of(**params)
    paths = resolve_paths(db)
    if queued_to_server(paths, job, what):
        return None
    with open_store(paths.db) as store:
        return run_here(store, job)


@retention_app.command("set")
def retention_set(app: Annotated[str, typer.Argument(help="The app, as in the spans' app field.")],
                  days: Annotated[int, typer.Argument(help="Days to keep its spans.")],
                  db: DbOption = None, by: ByOption = None) -> None:
    """Keep APP's spans DAYS days."""
    from goldenloop.ops.retention import RetentionError

    if days < 1:
        raise RetentionError(f"days must be 1 or more, got {days}")
    r = _retention(db, {"set": True, "app": app, "days": days, "by": _by(by)},
                   "the retention policy")
    if r:
        typer.echo(r["summary"])


@retention_app.command("clear")
def retention_clear(app: str, db: DbOption = None, by: ByOption = None) -> None:
    """Keep APP's spans for ever again."""
    r = _retention(db, {"clear": True, "app": app, "by": _by(by)}, "removing the policy")
    if r:
        typer.echo(r["summary"])


@retention_app.command("run")
def retention_run(db: DbOption = None, by: ByOption = None) -> None:
    """Apply every policy now (the server also does it every hour)."""
    r = _retention(db, {"by": _by(by)}, "a retention run")
    if r:
        typer.echo(r["summary"])
        for app, n in sorted(r["deleted"].items()):
            typer.echo(f"  {app}: {n:,} spans deleted")


@retention_app.command("show")
def retention_show(db: DbOption = None) -> None:
    """The policies in force."""
    from goldenloop.ops.retention import GRADED_FACTOR, policies

    with access.for_reading(resolve_paths(db)) as ra:
        found = policies(ra.store)
    for p in found:
        typer.echo(f"{p.app}: {p.days} days (reviewed spans {p.days * GRADED_FACTOR} days; "
                   "golden spans while a version holds them)")
    if not found:
        typer.echo("no retention policy: every span is kept")


def register(app: typer.Typer) -> None:
    """Add the operations commands to ``app``."""
    for fn in (backup, restore, forget, audit):
        app.command()(fn)
    app.add_typer(retention_app, name="retention")
