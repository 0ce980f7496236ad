"""Commands of canaries: `goldenloop experiment canary add|list|run|remove|series|changes`.

Changes to suites and runs write, so they become jobs for a running server (the server also
runs each suite on its schedule); reads use the snapshot when a server runs."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from goldenloop import access
from goldenloop.cli_support import progress_bar, queued_to_server
from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.workers.kinds import CanaryRemoveJob, CanaryRunJob, CanarySaveJob

canary = typer.Typer(no_args_is_help=True, help="Canary suites: a test set, a target and "
                     "scorers run on a schedule by `goldenloop serve`.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file.")]


@canary.command()
def add(name: Annotated[str, typer.Argument(help="Suite name.")],
        target: Annotated[str, typer.Option(help="Target name (targets/ beside the database).")],
        dataset: Annotated[str, typer.Option("--dataset", "-d", help="NAME[@VERSION].")],
        scorer: Annotated[list[str] | None, typer.Option("--scorer", "-s", help="Repeat.")] = None,
        every: Annotated[int, typer.Option(help="Minutes between runs.")] = 60,
        concurrency: Annotated[int, typer.Option()] = 4,
        budget: Annotated[float | None, typer.Option(help="Budget of each run (USD).")] = None,
        db: DbOption = None) -> None:
    """Add (or replace) a canary suite."""
    from goldenloop.experiments import canaries

    suite = canaries.parse({"name": name, "target": target, "dataset": dataset,
                            "scorers": scorer or [], "every_minutes": every,
                            "concurrency": concurrency, "budget_usd": budget})
    paths = resolve_paths(db)
    if queued_to_server(paths, CanarySaveJob.of(**suite.model_dump(mode="json")), "the suite"):
        return
    paths.ensure()
    with open_store(paths.db) as store:
        canaries.save(store, suite)
    typer.echo(f"canary {name}: {target} on {dataset} every {every} min "
               "(runs while `goldenloop serve` runs; `goldenloop experiment canary run` now)")


@canary.command("list")
def list_(db: DbOption = None) -> None:
    """Canary suites and their last run."""
    from goldenloop.experiments import canaries, results

    with access.for_reading(resolve_paths(db)) as r:
        found = canaries.suites(r.store)
        last = {s.name: results.runs(r.store, suite=s.name, limit=1) for s in found}
    if not found:
        typer.echo("No canary suites.")
    for s in found:
        df = last[s.name]
        tail = "never run" if df.empty else (
            f"last run #{df.iloc[0]['run_id']} {df.iloc[0]['started_at']:%Y-%m-%d %H:%M} "
            f"{df.iloc[0]['status']}")
        typer.echo(f"{s.name:20} {s.target} on {s.dataset} every {s.every_minutes} min "
                   f"{'' if s.enabled else '(off) '}{tail}")


@canary.command()
def run(name: Annotated[str, typer.Argument(help="Suite name.")], db: DbOption = None) -> None:
    """Run a canary suite now."""
    paths = resolve_paths(db)
    if queued_to_server(paths, CanaryRunJob.of(suite=name), "the canary run"):
        return
    from goldenloop.experiments import canaries

    paths.ensure()
    with open_store(paths.db) as store, progress_bar("canary") as progress:
        r = canaries.run_suite(store, name, progress)
    typer.echo(f"canary {name}: {r.summary}")


@canary.command()
def remove(name: Annotated[str, typer.Argument(help="Suite name.")], db: DbOption = None) -> None:
    """Remove a canary suite (its runs stay)."""
    paths = resolve_paths(db)
    if queued_to_server(paths, CanaryRemoveJob.of(suite=name), "the removal"):
        return
    from goldenloop.experiments import canaries

    paths.ensure()
    with open_store(paths.db) as store:
        gone = canaries.remove(store, name)
    typer.echo(f"canary {name} removed" if gone else f"no canary suite named {name!r}")


@canary.command()
def series(name: Annotated[str, typer.Argument(help="Suite name.")], db: DbOption = None) -> None:
    """The suite's results per run and model version (JSON Lines)."""
    from goldenloop.experiments import canaries

    with access.for_reading(resolve_paths(db)) as r:
        df = canaries.series(r.store, name)
    for row in df.to_dict("records"):
        row["started_at"] = row["started_at"].isoformat()
        typer.echo(json.dumps(row, ensure_ascii=False, default=str))


@canary.command()
def changes(name: Annotated[str, typer.Argument(help="Suite name.")], db: DbOption = None) -> None:
    """Answers that changed between the suite's last two runs, previous and current."""
    from goldenloop.experiments import canaries

    with access.for_reading(resolve_paths(db)) as r:
        df = canaries.changed_answers(r.store, name)
    if df.empty:
        typer.echo("No changed answers between the last two runs.")
    for row in df.to_dict("records"):
        typer.echo(f"{json.dumps(row['item_key'])} ({row['previous_model_version']} → "
                   f"{row['current_model_version']})")
        typer.echo(f"    previous: {json.dumps(row['previous'], ensure_ascii=False)[:300]}")
        typer.echo(f"    current:  {json.dumps(row['current'], ensure_ascii=False)[:300]}")
