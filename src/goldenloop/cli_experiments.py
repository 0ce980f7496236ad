"""Commands of experiments and canaries: `goldenloop experiment import|datasets|targets|run|
runs|compare|baseline` and `goldenloop experiment canary ...`.

Writing commands (import, run, baseline, canary changes) become jobs for a running server
(and say so); without one they run here. Reads use the snapshot when a server runs.
Untrusted texts (outputs, inputs) are printed as JSON strings, one line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from goldenloop import access
from goldenloop.cli_support import progress_bar, queued_to_server, span_store_of
from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.workers.kinds import ExperimentBaselineJob, ExperimentImportJob, ExperimentRunJob

experiment = typer.Typer(no_args_is_help=True, help="Experiments: run test sets (golden "
                         "versions or files) against targets, score, compare runs; canaries. "
                         "See docs/experiments.md.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file.")]


def register(app: typer.Typer) -> None:
    app.add_typer(experiment, name="experiment")
    from goldenloop.cli_canary import canary

    experiment.add_typer(canary, name="canary")


def _abs_if_file(value: str) -> str:
    p = Path(value)
    return str(p.resolve()) if p.suffix in (".yaml", ".yml") and p.is_file() else value


@experiment.command("import")
def import_(name: Annotated[str, typer.Argument(help="Test set name.")],
            file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file.")],
            db: DbOption = None) -> None:
    """Import a JSONL/CSV file of inputs (and optional expected outputs) as a test set version."""
    from goldenloop.experiments import datasets

    job = ExperimentImportJob.of(name=name, file=str(file.resolve()))  # runs as --by (submitted_by)
    paths = resolve_paths(db)
    if queued_to_server(paths, job, "the import"):
        return
    paths.ensure()
    with open_store(paths.db) as store:
        r = datasets.import_file(store, name, file)
    typer.echo(r.summary)
    for q in r.quarantined[:20]:
        typer.echo(f"  {q['file']} row {q['row_number']}: {q['field']}: {q['reason']}")
    if len(r.quarantined) > 20:
        typer.echo(f"  … {len(r.quarantined) - 20:,} more (all kept in experiment_quarantine)")


@experiment.command("datasets")
def datasets_(db: DbOption = None) -> None:
    """Imported test sets and golden sets used as test sets, with versions."""
    from goldenloop.experiments import datasets

    with access.for_reading(resolve_paths(db)) as r:
        df = datasets.list_datasets(r.store)
    if df.empty:
        typer.echo("No test sets yet: `goldenloop experiment import NAME FILE`, or use a golden "
                   "set by name.")
    for row in df.itertuples():
        typer.echo(f"{row.name}@{row.version}  {row.kind:6} {row.items:6,} items  {row.hash}  "
                   f"{json.dumps(row.origin)}")


@experiment.command("targets")
def targets_(db: DbOption = None) -> None:
    """Targets in targets/ beside the database, with their versions."""
    from goldenloop.experiments import targets

    with access.for_reading(resolve_paths(db)) as r:
        found = targets.available(r.store)
    if not found:
        typer.echo("No targets: put YAML files in targets/ beside the database "
                   "(docs/experiments.md).")
    for t in found.values():
        typer.echo(f"{t.name:20} {t.version}  {t.spec.kind:8} {t.spec.model or t.spec.entry}")


@experiment.command()
def run(
    target: Annotated[str, typer.Argument(help="A target name or YAML file.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="NAME[@VERSION]: a test set "
                                         "or a golden dataset.")],
    scorer: Annotated[list[str] | None, typer.Option("--scorer", "-s", help="Repeat: exact, "
                      "normalized, contains, json_equal, json_keys, token_f1, rouge_l, "
                      "semantic (embeddings extra), sql[:PATH], judge:NAME. Default: the "
                      "lexical ones, and semantic with the extra.")] = None,
    concurrency: Annotated[int, typer.Option(help="Calls in flight at once.")] = 8,
    budget: Annotated[float | None, typer.Option(help="Stop before spending more (USD).")] = None,
    baseline: Annotated[bool, typer.Option(help="Mark the run as its target's baseline.")] = False,
    db: DbOption = None,
) -> None:
    """Run a target over a test set and score the answers."""
    job = ExperimentRunJob.of(target=_abs_if_file(target), dataset=dataset, scorers=scorer or [],
                              concurrency=concurrency, budget_usd=budget, baseline=baseline)
    paths = resolve_paths(db)
    if queued_to_server(paths, job, "the run",
                        follow="the Experiments page or `goldenloop experiment runs`"):
        return
    from goldenloop.experiments.jobs import run_params

    paths.ensure()
    with open_store(paths.db) as store, progress_bar("running") as progress:
        r = run_params(store, job.params(), progress)
    typer.echo(r.summary)
    typer.echo(f"  compare: `goldenloop experiment compare {r.run_id} OTHER_RUN`")


@experiment.command()
def runs(target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
         limit: int = 20, db: DbOption = None) -> None:
    """Recent runs: target and version, test set, counts, cost, scorer means."""
    from goldenloop.experiments import results

    with access.for_reading(resolve_paths(db)) as r:
        df = results.runs(r.store, target=target, limit=limit)
        if r.note:
            typer.echo(f"({r.note})")
    if df.empty:
        typer.echo("No runs yet.")
    for row in df.itertuples():
        mark = " baseline" if row.baseline else ""
        means = "  ".join(f"{k} {v:.3f}" for k, v in (row.means or {}).items() if v == v)
        typer.echo(f"#{row.run_id} {row.source:10} {row.target_name} {row.target_version} "
                   f"{row.dataset} {row.status:9} {row.answered}/{row.items} answered, "
                   f"{row.failed} failed, ${row.cost_usd or 0:.4f}{mark}\n    {means}")


@experiment.command()
def compare(new_run: Annotated[int, typer.Argument(help="The new run.")],
            old_run: Annotated[int | None, typer.Argument(help="The run to compare with "
                                                          "(default: the target's baseline).")] = None,
            limit: Annotated[int, typer.Option(help="Items to list (regressions first).")] = 20,
            db: DbOption = None) -> None:
    """Two runs on one test set: per scorer the mean difference with a 95% paired bootstrap
    interval and McNemar's test; items, largest regression first."""
    from goldenloop.experiments import compare as cmp

    with access.for_reading(resolve_paths(db)) as r:
        c = cmp.compare(r.store, new_run, old_run)
    typer.echo(f"run {c.old.run_id} ({c.old.target_name} {c.old.target_version}) → run "
               f"{c.new.run_id} ({c.new.target_name} {c.new.target_version}) on "
               f"{c.new.dataset}: {c.summary}")
    for s in c.scorers.itertuples():
        typer.echo(f"  {s.scorer:12} {s.mean_old:.3f} → {s.mean_new:.3f}  diff {s.mean_diff:+.3f} "
                   f"[{s.ci_low:+.3f}, {s.ci_high:+.3f}]  passed→failed {s.passed_then_failed}, "
                   f"failed→passed {s.failed_then_passed}, McNemar p = {s.mcnemar_p:.3g}")
    for row in c.items.head(limit).to_dict("records"):
        if not row["flag"]:
            continue
        typer.echo(f"{row['flag']:11} {json.dumps(row['item_key'])}"
                   + (f" (span {row['span_key']})" if row.get("span_key") == row.get("span_key")
                      and row.get("span_key") is not None else ""))
        typer.echo(f"    old: {json.dumps(row['output_old'], ensure_ascii=False)[:200]}")
        typer.echo(f"    new: {json.dumps(row['output_new'], ensure_ascii=False)[:200]}")


@experiment.command("baseline")
def baseline_(run_id: Annotated[int, typer.Argument(help="The run.")], db: DbOption = None) -> None:
    """Mark a run as the baseline of its target."""
    paths = resolve_paths(db)
    if queued_to_server(paths, ExperimentBaselineJob.of(run_id=run_id), "the change"):
        return
    from goldenloop.experiments.compare import mark_baseline

    paths.ensure()
    with open_store(paths.db) as store:
        info = mark_baseline(store, run_id)
    typer.echo(f"run {info.run_id} is the baseline of {info.target_name}")


@experiment.command()
def live(dataset: Annotated[str, typer.Argument(help="NAME[@VERSION]: a test set or golden set.")],
         since: Annotated[str | None, typer.Option(help="Only spans from this time (UTC).")] = None,
         db: DbOption = None) -> None:
    """Production requests matching a test item, scored against its expected output: mean and
    pass rate per day, model version and scorer (JSON Lines)."""
    from datetime import datetime

    from goldenloop.experiments import datasets
    from goldenloop.experiments import live as live_truth

    when = datetime.fromisoformat(since) if since else None
    paths = resolve_paths(db)
    with access.for_reading(paths) as r, span_store_of(paths, r.store) as spans:
        _, items = datasets.read_items(r.store, dataset)
        df = live_truth.by_model_version(r.store, items, since=when, spans=spans)
    if df.empty:
        typer.echo("No production request matches an item of this test set.")
    for row in df.to_dict("records"):
        row["period"] = row["period"].isoformat()
        typer.echo(json.dumps(row, ensure_ascii=False, default=str))


@experiment.command()
def show(run_id: Annotated[int, typer.Argument(help="The run.")],
         failed: Annotated[bool, typer.Option("--failed", help="Only failed items.")] = False,
         limit: Annotated[int, typer.Option(help="Items to print.")] = 50,
         db: DbOption = None) -> None:
    """One run's items: status, model version, scores, and the error of each failure
    (JSON Lines; texts are JSON strings)."""
    from goldenloop.experiments import compare as cmp
    from goldenloop.experiments import results

    with access.for_reading(resolve_paths(db)) as r:
        info = cmp.run_info(r.store, run_id)
        df = results.run_items(r.store, run_id)
    if failed:
        df = df[df["status"] != "ok"]
    typer.echo(f"run {info.run_id}: {info.target_name} {info.target_version} on "
               f"{info.dataset}@{info.dataset_version}, {info.status}; {len(df):,} items shown")
    for row in df.head(limit).to_dict("records"):
        typer.echo(json.dumps({k: (None if v != v else v) if isinstance(v, float) else v
                               for k, v in row.items()}, ensure_ascii=False, default=str))
