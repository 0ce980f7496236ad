"""Commands of the judge part: `goldenloop judge list|run|runs|failures|online|estimate`.

A run writes, so while a server owns the database it becomes a job for the owner (and says
so); without a server it runs here with a progress bar. Reads use the snapshot when a server
runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from goldenloop import access
from goldenloop.cli_support import progress_bar, queued_to_server, span_store_of
from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.workers.kinds import JudgeConfigureJob, JudgeJob

judge_app = typer.Typer(no_args_is_help=True, help="LLM judges: run them, follow cost and "
                        "failures, estimate all traffic with them (PPI).")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file.")]


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `goldenloop` CLI."""
    app.add_typer(judge_app, name="judge")


@judge_app.command("list")
def list_(db: DbOption = None) -> None:
    """Judges available (packaged and in judges/ beside the database) with their versions."""
    from goldenloop import judge

    with access.for_reading(resolve_paths(db)) as r:
        judges = judge.available(r.store)
    for j in judges.values():
        typer.echo(f"{j.name:14} {j.version}  {j.judge.kind:9} {j.rubric.name}/{j.criterion.name:12}"
                   f" {j.judge.model}  ({j.origin})")


@judge_app.command()
def run(
    judge_name: Annotated[str, typer.Argument(metavar="JUDGE", help="A judge name or YAML file.")],
    queue: Annotated[int | None, typer.Option(help="Judge this queue's items.")] = None,
    sample: Annotated[int | None, typer.Option(help="A random sample of this many spans of "
                                               "the filter (else every span).")] = None,
    app_name: Annotated[list[str] | None, typer.Option("--app", help="Filter: app.")] = None,
    model_version: Annotated[list[str] | None, typer.Option(help="Filter: model version.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Filter: start time from (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Filter: start time before (UTC).")] = None,
    budget: Annotated[float | None, typer.Option(help="Stop before spending more (USD).")] = None,
    concurrency: Annotated[int, typer.Option(help="Calls in flight at once.")] = 8,
    cache: Annotated[bool, typer.Option(help="Reuse answers to identical prompts.")] = True,
    seed: Annotated[int | None, typer.Option(help="Seed of --sample.")] = None,
    all_spans: Annotated[bool, typer.Option("--all", help="Judge every span of the filter "
                                            "(without --queue or --sample).")] = False,
    version: Annotated[str | None, typer.Option(help="Run this judge version (an edited one "
                                                "kept in the database).")] = None,
    human_graded: Annotated[bool, typer.Option("--human-graded", help="Judge only the items "
                                               "reviewers graded on its criterion.")] = False,
    disagreements_of: Annotated[str | None, typer.Option(
        help="Judge only where this judge version and a reviewer disagree.")] = None,
    db: DbOption = None,
) -> None:
    """Run a judge on a queue, a filter (--all), a random sample of a filter (--sample), the
    items reviewers graded (--human-graded) or a version's disagreements with them."""
    listed = human_graded or disagreements_of is not None
    if queue is None and sample is None and not all_spans and not listed:
        raise typer.BadParameter("say what to judge: --queue ID, --sample N, --all (every "
                                 "span of the filter; consider --budget), --human-graded or "
                                 "--disagreements-of VERSION")
    params: dict = {"judge": judge_name, "budget_usd": budget, "concurrency": concurrency,
                    "use_cache": cache, "origin": "cli", "judge_version": version,
                    "human_graded": human_graded, "disagreements_of": disagreements_of}
    if queue is not None:
        params["queue_id"] = queue
    elif not listed:  # else the targets come from the grades (judge.jobs)
        params["frame"] = {"apps": app_name or [], "model_versions": model_version or [],
                           "start": since.isoformat() if since else None,
                           "end": until.isoformat() if until else None}
        params["sample"], params["seed"] = sample, seed
    job = JudgeJob.of(**params)
    paths = resolve_paths(db)
    if queued_to_server(paths, job, "the judge run",
                        follow="the Judges page or `goldenloop jobs`"):
        return
    from goldenloop.judge import run_params

    paths.ensure()
    with (open_store(paths.db) as store, span_store_of(paths, store) as spans,
          progress_bar("judging") as progress):
        result = run_params(store, job.params(), progress, spans=spans)
    typer.echo(f"run {result.run_id}: {result.summary}")
    if result.failed:
        typer.echo(f"  failures with raw answers: `goldenloop judge failures --run-id {result.run_id}`")


@judge_app.command()
def runs(db: DbOption = None, limit: int = 20) -> None:
    """Recent judge runs with their counts and cost."""
    from goldenloop import judge  # here, not at the top: every command would load scipy

    with access.for_reading(resolve_paths(db)) as r:
        df = judge.runs(r.store, limit)
        if r.note:
            typer.echo(f"({r.note})")
    if df.empty:
        typer.echo("No judge runs yet.")
    for row in df.itertuples():
        typer.echo(f"#{row.run_id} {row.judge_name} {row.judge_version} {row.target_kind:7} "
                   f"{row.status:9} {row.message or ''}")


@judge_app.command()
def failures(db: DbOption = None, run_id: Annotated[int | None, typer.Option()] = None,
             limit: int = 20) -> None:
    """Failed judgements (refusals, unparseable answers, timeouts, HTTP errors) with the raw
    answer."""
    from goldenloop import judge

    with access.for_reading(resolve_paths(db)) as r:
        df = judge.failures(r.store, run_id, limit)
    if df.empty:
        typer.echo("No failures.")
    for row in df.itertuples():
        raw = (row.raw_answer or "").replace("\n", " ")[:200]
        typer.echo(f"run {row.run_id} {row.target_type}:{row.target_id} {row.kind}: "
                   f"{row.message}\n    raw: {raw!r}")


@judge_app.command()
def online(
    judge_name: Annotated[str, typer.Argument(metavar="JUDGE")],
    fraction: Annotated[float, typer.Option(help="Share of new LLM spans to judge.")] = 0.05,
    budget: Annotated[float | None, typer.Option(help="Budget of each pass (USD).")] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop judging new spans.")] = False,
    db: DbOption = None,
) -> None:
    """Judge a fraction of new spans as they are imported (the server does it)."""
    job = JudgeConfigureJob.of(judge=judge_name, fraction=fraction, budget_usd=budget, enabled=not off)
    paths = resolve_paths(db)
    if queued_to_server(paths, job, "the change"):
        return
    from goldenloop.judge import configure_online

    paths.ensure()
    with open_store(paths.db) as store:
        configure_online(store, judge_name, fraction, budget_usd=budget, enabled=not off)
    state = "off" if off else f"on: {fraction:.1%} of new LLM spans"
    typer.echo(f"online judging with {judge_name} {state} (runs while `goldenloop serve` runs)")


@judge_app.command()
def estimate(
    queue: Annotated[int, typer.Option(help="A queue drawn by a sampling design.")],
    criterion: Annotated[str, typer.Option(help="The criterion to estimate.")] = "correctness",
    at_least: Annotated[float | None, typer.Option(help="Share with a value at least this.")] = None,
    label: Annotated[str | None, typer.Option(help="Share given this label.")] = None,
    judge_version: Annotated[str | None, typer.Option(help="Judge version (default: the one "
                                                      "that graded most items).")] = None,
    db: DbOption = None,
) -> None:
    """All-traffic estimate by prediction-powered inference, beside the human-only one."""
    from goldenloop.estimation.ppi import queue_estimate

    with access.for_reading(resolve_paths(db)) as r:
        e = queue_estimate(r.store, queue, criterion, judge_version=judge_version,
                           at_least=at_least, label=label)
        if r.note:
            typer.echo(f"({r.note})")
    typer.echo(f"PPI: {e.value:.4f} [{e.ci_low:.4f}, {e.ci_high:.4f}] ({e.level:.0%}), "
               f"judge {e.judge_version} on {e.n_judged:,} items, humans on {e.n_human:,}, "
               f"λ = {e.lam:.2f}")
    h = e.human_only
    if h is not None:
        typer.echo(f"humans only: {h.value:.4f} [{h.ci_low:.4f}, {h.ci_high:.4f}] "
                   f"on {h.n_in_domain:,} items")
    typer.echo(f"judge alone (uncorrected): {e.judge_mean:.4f}")
