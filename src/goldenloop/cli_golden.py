"""Commands of the golden part: `goldenloop golden build|export|diff|list`.

While a server owns the database, commands that save a version become an owner job (kind
``golden``); reading, diffing and exporting an existing version read the server's snapshot.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from goldenloop.cli_support import queued_to_server, span_store_of
from goldenloop.workers.kinds import GoldenJob

golden_app = typer.Typer(no_args_is_help=True, help="Golden datasets: build versions from "
                         "graded data, export them, compare versions.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                              "$GOLDENLOOP_DB or data/goldenloop.duckdb).")]
AuthorOption = Annotated[str | None, typer.Option(
    "--author", "--by", help="Your name, as in roles.yaml (default: $GOLDENLOOP_USER or your "
    "login).")]
OutOption = Annotated[Path | None, typer.Option(
    "--out", help="Folder to export into (default: exports/ beside the database); files go "
                  "to OUT/NAME/vN/ and nowhere else.")]
FORMAT_HELP = "jsonl, csv, parquet, openai_chat, openai_evals, hf; repeatable (default: all)."


def _author(author: str | None) -> str:
    from goldenloop.cli_identity import who

    return who(author)


def _out(paths, out: Path | None) -> Path:
    return (out or paths.data_dir / "exports").expanduser().resolve()


def _filter(criterion: str, source: str, min_reviewers: int, correct_at: float | None,
            correct_label: list[str] | None, min_value: float | None, max_value: float | None,
            label: list[str] | None, app: list[str] | None, model_version: list[str] | None,
            prompt_version: list[str] | None, tag: list[str] | None, queue: list[int] | None,
            start: datetime | None, end: datetime | None, rubric: str | None = None,
            judges: str = "fit", judge_version: list[str] | None = None,
            curation: dict | None = None):
    from goldenloop.golden import GoldenFilter

    name, _, version = (rubric or "").partition("@")
    return GoldenFilter(
        criterion=criterion, rubric_name=name.strip() or None,
        rubric_version=version.strip() or None,
        judges="chosen" if judge_version else judges, judge_versions=tuple(judge_version or ()),
        source=source, min_reviewers=min_reviewers, correct_at=correct_at,
        correct_labels=tuple(correct_label or ()), min_value=min_value, max_value=max_value,
        labels=tuple(label or ()), apps=tuple(app or ()), model_versions=tuple(model_version or ()),
        prompt_versions=tuple(prompt_version or ()), tags=tuple(tag or ()),
        queue_ids=tuple(queue or ()), start=start, end=end, **(curation or {}))


def _curation(where: list[str] | None, min_agreeing: int, min_gold_accuracy: float | None,
              dedupe: bool, split: str | None, split_seed: int) -> dict:
    """The curation part of the filter from the options (conditions parsed by the library)."""
    from goldenloop.errors import FilterError

    shares: tuple[float, ...] = ()
    if split:
        try:
            shares = tuple(float(x) for x in split.replace(",", "/").split("/"))
        except ValueError:
            raise FilterError(f"--split {split!r}: write TRAIN/VALIDATION/TEST, e.g. 80/10/10"
                              ) from None
    return {"conditions": tuple(where or ()), "min_agreeing": min_agreeing,
            "min_gold_accuracy": min_gold_accuracy, "dedupe": dedupe, "split": shares,
            "split_seed": split_seed}


def _print_counts(counts: dict) -> None:
    typer.echo(f"  graded targets considered: {counts['considered']:,}; rows: "
               f"{counts['included']:,}")
    for reason, n in counts["left_out"].items():
        typer.echo(f"  left out, {reason}: {n:,}")
    if "duplicates_merged" in counts:
        typer.echo(f"  duplicate inputs merged: {counts['duplicates_merged']:,}")
    if counts.get("split"):
        sp = counts["split"]
        typer.echo(f"  split (seed {sp['seed']}): " + ", ".join(
            f"{k} {n:,}" for k, n in sp["rows"].items()))


@golden_app.command()
def build(
    name: Annotated[str, typer.Argument(help="Dataset name (lower-case letters, digits, . _ -).")],
    db: DbOption = None,
    author: AuthorOption = None,
    criterion: Annotated[str, typer.Option(help="The graded criterion.")] = "correctness",
    rubric: Annotated[str | None, typer.Option(
        help="NAME or NAME@VERSION: the rubric whose criterion sets the correctness rule "
             "(and whose grades count); needed when several rubrics define the criterion.")
    ] = None,
    judges: Annotated[str, typer.Option(
        help="Judge versions counted for 'judge agrees': fit (those passing the agreement "
             "gate), any, none.")] = "fit",
    judge_version: Annotated[list[str] | None, typer.Option(
        help="Count exactly this judge version; repeatable.")] = None,
    source: Annotated[str, typer.Option(help="Source of truth: human, human_judge, "
                                        "adjudicated, consensus.")] = "human",
    min_reviewers: Annotated[int, typer.Option(help="N for --source consensus.")] = 2,
    correct_at: Annotated[float | None, typer.Option(help="A grade at least this is correct "
                                                     "(default: from the rubric).")] = None,
    correct_label: Annotated[list[str] | None, typer.Option(help="A label that is correct; "
                                                            "repeatable.")] = None,
    min_value: Annotated[float | None, typer.Option(help="Keep grades at least this.")] = None,
    max_value: Annotated[float | None, typer.Option(help="Keep grades at most this.")] = None,
    label: Annotated[list[str] | None, typer.Option(help="Keep only this label; "
                                                    "repeatable.")] = None,
    app: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    model_version: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    prompt_version: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Repeatable; any of them.")] = None,
    queue: Annotated[list[int] | None, typer.Option(help="Review queue id; repeatable.")] = None,
    start: Annotated[datetime | None, typer.Option(help="From this time (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Before this time (UTC).")] = None,
    description: Annotated[str, typer.Option(help="What the dataset is for (the card).")] = "",
    where: Annotated[list[str] | None, typer.Option(
        help="A condition on another criterion of the target, repeatable (all must hold): "
             "'tone!=too casual', 'correctness>=4', 'tone=on-brand', 'safety:not-flagged'.")
    ] = None,
    min_agreeing: Annotated[int, typer.Option(
        help="At least this many reviewers hold the row's verdict.")] = 0,
    min_gold_accuracy: Annotated[float | None, typer.Option(
        help="Count only agreeing reviewers at least this accurate on gold items (0-1).")
    ] = None,
    dedupe: Annotated[bool, typer.Option(
        help="One row per input (normalised text), the best-supported kept.")] = False,
    split: Annotated[str | None, typer.Option(
        help="Train/validation/test shares by session, e.g. 80/10/10.")] = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    preview: Annotated[bool, typer.Option(help="Only show what it would hold.")] = False,
) -> None:
    """Save what the filters select as a new version (none when nothing changed); the
    dataset's excluded rows are left out."""
    from goldenloop import access, golden
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    f = _filter(criterion, source, min_reviewers, correct_at, correct_label, min_value,
                max_value, label, app, model_version, prompt_version, tag, queue, start, end,
                rubric, judges, judge_version,
                _curation(where, min_agreeing, min_gold_accuracy, dedupe, split, split_seed))
    paths = resolve_paths(db)
    if preview:
        with access.for_reading(paths) as r:
            if r.note:
                typer.echo(f"({r.note})")
            with span_store_of(paths, r.store) as spans:
                p = golden.preview(r.store, f, limit=0, dataset=name, spans=spans)
        typer.echo(f"{name}: would hold {p.counts['included']:,} rows")
        _print_counts(p.counts)
        for row in p.label_balance.itertuples():
            typer.echo(f"  label {row.label}: {row.rows:,} ({row.share:.0%})")
        return
    job = GoldenJob.of(name=name, filter=f.to_dict(), author=_author(author),
                       description=description, build_only=True)
    if queued_to_server(paths, job, "the build"):
        return
    with open_store(paths.db) as store, span_store_of(paths, store) as spans:
        b = golden.build(store, name, f, _author(author), description=description, spans=spans)
    v = b.version
    made = "new version" if b.created else "unchanged, no new version"
    typer.echo(f"{v.dataset} v{v.version}: {made}, {v.rows:,} rows, hash {v.short_hash}")
    _print_counts(b.counts)


@golden_app.command()
def export(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    db: DbOption = None,
    author: AuthorOption = None,
    out: OutOption = None,
    version: Annotated[int | None, typer.Option(help="Version (default: the latest).")] = None,
    format: Annotated[list[str] | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    rebuild: Annotated[bool, typer.Option(help="First build again with the latest version's "
                                          "filter: a new version when grades changed.")] = False,
) -> None:
    """Write a version in every format, with its dataset card (README.md)."""
    from goldenloop import access, golden
    from goldenloop.config import resolve_paths
    from goldenloop.schema import open_store

    paths = resolve_paths(db)
    folder, formats = _out(paths, out), format or list(golden.FORMATS)
    if rebuild:
        with access.for_reading(paths) as r:
            last = golden.get_version(r.store, name)
        job = GoldenJob.of(name=name, filter=last.filter.to_dict(), author=_author(author),
                           out=str(folder), formats=formats)
        if queued_to_server(paths, job, "the build and export"):
            return
        with open_store(paths.db) as store, span_store_of(paths, store) as spans:
            r = golden.publish(store, name, last.filter, _author(author), folder,
                               formats=formats, spans=spans)
        typer.echo(r.summary())
        _print_export(r.export)
        return
    if access.running_owner(paths):  # an existing version reads the same from the snapshot
        with access.for_reading(paths) as r:
            typer.echo(f"({r.note}; the export is not in the server's audit log)")
            done = golden.export(r.store, name, folder, _author(author), version=version,
                                 formats=formats)
    else:
        with open_store(paths.db) as store:
            done = golden.export(store, name, folder, _author(author), version=version,
                                 formats=formats)
    v = done.version
    typer.echo(f"{v.dataset} v{v.version} ({v.rows:,} rows, hash {v.short_hash}) exported to "
               f"{done.folder}")
    _print_export(done)


def _print_export(done) -> None:
    for fmt, path in done.files.items():
        typer.echo(f"  {fmt:13} {done.written[fmt]:>8,} rows  {path.name}")
    typer.echo(f"  card          {done.card.name}")
    for p in done.problems[:10]:
        typer.echo(f"  left out of {p}")
    if len(done.problems) > 10:
        typer.echo(f"  ... and {len(done.problems) - 10:,} more in problems.jsonl")


@golden_app.command()
def diff(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    old: Annotated[int, typer.Argument(help="The older version.")],
    new: Annotated[int | None, typer.Argument(help="The newer version (default: "
                                              "the latest).")] = None,
    db: DbOption = None,
    limit: Annotated[int, typer.Option(help="Rows listed per kind of change.")] = 20,
) -> None:
    """Rows added, removed and changed between two versions."""
    from goldenloop import access, golden
    from goldenloop.config import resolve_paths

    with access.for_reading(resolve_paths(db)) as r:
        if r.note:
            typer.echo(f"({r.note})")
        d = golden.diff(r.store, name, old, new)
    typer.echo(d.summary())
    for title, frame in (("added", d.added), ("removed", d.removed)):
        for row in frame.head(limit).itertuples():
            typer.echo(f"  {title:8} {row.row_key}  label {row.label}")
    for row in d.changed.head(limit).itertuples():
        typer.echo(f"  changed  {row.row_key}  {', '.join(row.fields)}"
                   + (f"  label {row.old_label} → {row.new_label}"
                      if row.old_label != row.new_label else ""))


@golden_app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="A dataset: list its versions.")] = None,
    db: DbOption = None,
) -> None:
    """Golden datasets, or the versions of one."""
    from goldenloop import access, golden
    from goldenloop.config import resolve_paths

    with access.for_reading(resolve_paths(db)) as r:
        if r.note:
            typer.echo(f"({r.note})")
        if name is None:
            df = golden.datasets(r.store)
            if df.empty:
                typer.echo("No golden datasets yet: `goldenloop golden build NAME`.")
            for row in df.itertuples():
                typer.echo(f"{row.name:24} v{row.latest_version or 0:<3} {row.rows or 0:>8,} rows"
                           f"  hash {row.content_hash or '-'}  {row.description or ''}")
            return
        for v in golden.versions(r.store, name):
            typer.echo(f"v{v.version:<3} {v.created_at:%Y-%m-%d %H:%M}  {v.rows:>8,} rows  "
                       f"hash {v.short_hash}  by {v.author}")


@golden_app.command()
def exclude(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    row: Annotated[str, typer.Argument(help="The row key, e.g. span:123.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the next version).")],
    db: DbOption = None,
    author: AuthorOption = None,
    restore: Annotated[bool, typer.Option("--restore", help="Take the row back in.")] = False,
) -> None:
    """Leave a row out of the dataset's next builds, or take it back (--restore)."""
    from goldenloop import access
    from goldenloop.config import resolve_paths
    from goldenloop.golden import GoldenError, exclusions
    from goldenloop.schema import open_store

    paths = resolve_paths(db)
    if access.running_owner(paths):
        raise GoldenError("a server owns the database: exclude or restore the row on the "
                          "Golden sets page (Save and export, Excluded rows)")
    with open_store(paths.db) as store:
        (exclusions.restore if restore else exclusions.exclude)(
            store, name, row, reason, _author(author))
    typer.echo(f"{row} {'restored to' if restore else 'excluded from'} {name}: the next build "
               "applies it")


@golden_app.command("excluded")
def excluded_(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    db: DbOption = None,
) -> None:
    """The rows excluded from a dataset now, with their reasons."""
    from goldenloop import access
    from goldenloop.config import resolve_paths
    from goldenloop.golden import exclusions

    with access.for_reading(resolve_paths(db)) as r:
        df = exclusions.excluded(r.store, name)
    if df.empty:
        typer.echo(f"No row is excluded from {name}.")
    for row in df.itertuples():
        typer.echo(f"{row.row_key:24} by {row.author}  {row.created_at:%Y-%m-%d %H:%M}  {row.reason}")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `goldenloop` CLI."""
    app.add_typer(golden_app, name="golden")
