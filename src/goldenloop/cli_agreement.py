"""Commands of agreement reports read from the store (`goldenloop agreement ...`):

- ``orders``: pairwise judges in both answer orders (e.g. LLMBar MT-Bench);
- ``levels``: judges against the human mean per item and per group, and human alpha
  (e.g. HANNA);
- ``report``: any criterion, whatever its value type: every judge version against each
  reviewer (with the gate's verdict: which versions count in quality figures), the
  reviewers' own agreement, and optionally per slice; ``--json`` for machines.

Both read (a snapshot when a server runs) and write nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                              "$GOLDENLOOP_DB or data/goldenloop.duckdb).")]
Resamples = Annotated[int, typer.Option("--resamples", help="Bootstrap resamples for the 95% "
                                        "intervals (0: none).")]

agreement_app = typer.Typer(no_args_is_help=True, help="Agreement reports from stored grades.")


def _pct(x: float) -> str:
    return "—" if x != x else f"{x * 100:.2f}%"


def _num(x: float) -> str:
    return "—" if x != x else f"{x:.3f}"


def _ci(lo: float, hi: float, fmt=_num) -> str:
    return "" if lo != lo else f"[{fmt(lo)}, {fmt(hi)}]"


@agreement_app.command("orders")
def orders(
    rubric: Annotated[str | None, typer.Option(help="Rubric name (e.g. llmbar-mtbench).")] = None,
    criterion: Annotated[str, typer.Option(help="The pairwise criterion.")] = "preference",
    db: DbOption = None,
    resamples: Resamples = 1000,
) -> None:
    """Pairwise judges in both answer orders: accuracy against the human preference per order,
    their mean, both right, order agreement, and Cohen's kappa of each, with 95% intervals."""
    import pandas as pd

    from goldenloop import access
    from goldenloop.agreement.pairwise import ACCURACY, KAPPA, order_report
    from goldenloop.config import resolve_paths

    with access.for_reading(resolve_paths(db)) as r:
        if r.note:
            typer.echo(f"({r.note})")
        rep = order_report(r.store, criterion, rubric_name=rubric, n_resamples=resamples)
    if rep.empty:
        typer.echo("No judge grades with human grades on the same items.")
        return
    for (judge, prompt), part in rep.groupby(["judge_name", "prompt"], sort=True):
        typer.echo(f"{judge} / {prompt}")
        figs = part.set_index("figure")
        for name in ACCURACY:
            f = figs.loc[name]
            count = (f"{int(f['count'])} / {int(f['n'])} = " if pd.notna(f["count"])
                     else f"n={int(f['n'])}: ")
            typer.echo(f"  {name:16} {count}{_pct(f['value'])}  "
                       f"{_ci(f['ci_low'], f['ci_high'], _pct)}")
        for name in KAPPA:
            f = figs.loc[name]
            typer.echo(f"  {name:16} {_num(f['value'])}  {_ci(f['ci_low'], f['ci_high'])}  "
                       f"n={int(f['n'])}")


@agreement_app.command("levels")
def levels(
    rubric: Annotated[str, typer.Option(help="Rubric name (e.g. hanna).")],
    group: Annotated[str, typer.Option(help="Item metadata key of the group (system) level.")
                     ] = "generator",
    exclude: Annotated[list[str] | None, typer.Option(help="Groups left out of the judge "
                                                      "figures; repeatable.")] = None,
    detail: Annotated[bool, typer.Option(help="Also print every figure with its interval.")
                      ] = False,
    db: DbOption = None,
    resamples: Resamples = 1000,
) -> None:
    """Kendall tau-b of each judge and judge version against the human mean per item and per
    group (judge prompts side by side), out-of-scale values kept and treated as missing; and
    Krippendorff's alpha among the human raters per criterion."""
    import pandas as pd

    from goldenloop import access
    from goldenloop.agreement.levels import level_report
    from goldenloop.config import resolve_paths

    left_out = tuple(exclude) if exclude is not None else ("Human",)
    with access.for_reading(resolve_paths(db)) as r:
        if r.note:
            typer.echo(f"({r.note})")
        judges, humans = level_report(r.store, rubric, group_key=group, exclude=left_out,
                                      n_resamples=resamples)
    if humans.empty:
        typer.echo(f"No grades of rubric {rubric!r}.")
        return
    typer.echo("Krippendorff's alpha among the human raters (every item):")
    for h in humans.itertuples():
        typer.echo(f"  {h.criterion:10} {h.metric:8} {_num(h.value)}  {_ci(h.ci_low, h.ci_high)}"
                   f"  items={h.n_items}")
    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.float_format", "{:.3f}".format):
        for level, what in (("story", "per item"), ("system", f"per {group} mean")):
            for way, how in (("kept", "out-of-scale values kept"),
                             ("missing", "out-of-scale values treated as missing")):
                typer.echo(f"\nKendall tau-b, judge vs human mean, {what} ({how}; "
                           f"{', '.join(left_out) or 'no group'} left out):")
                typer.echo(_with_intervals(judges, level, way).to_string())
    n_oos = judges[(judges["level"] == "story") & (judges["out_of_scale"] == "kept")]
    typer.echo(f"\nOut-of-scale judge values on these items: {int(n_oos['n_out_of_scale'].sum()):,}")
    if detail:
        typer.echo(judges.to_string(index=False))


def _with_intervals(judges, level: str, way: str):
    """Judge versions side by side, each cell 'tau [low, high]'."""
    sel = judges[(judges["level"] == level) & (judges["out_of_scale"] == way)].copy()
    sel["cell"] = [f"{_num(t)} {_ci(lo, hi)}".strip()
                   for t, lo, hi in zip(sel["tau_b"], sel["ci_low"], sel["ci_high"], strict=True)]
    return sel.pivot_table(index=["judge_name", "criterion"], columns="judge_version",
                           values="cell", aggfunc="first")


@agreement_app.command("report")
def report(
    criterion: Annotated[str, typer.Option(help="The graded criterion.")],
    rubric: Annotated[str | None, typer.Option(help="Rubric NAME or NAME@VERSION (needed when "
                                               "several rubrics define the criterion).")] = None,
    by: Annotated[str | None, typer.Option(help="Also per slice: judge_version, "
                                           "model_version, app, reviewer, time, or meta:KEY "
                                           "(a key of the items' metadata).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")
                        ] = False,
    db: DbOption = None,
    resamples: Resamples = 1000,
) -> None:
    """Judge–human agreement of any criterion: each judge version's statistics (chosen by the
    value type) with 95% intervals, whether it is fit for use, and the reviewers' own."""
    import json

    from goldenloop import access
    from goldenloop.agreement import criterion_agreement
    from goldenloop.agreement.gate import default_rule, gate
    from goldenloop.agreement.heterogeneity import heterogeneity
    from goldenloop.config import resolve_paths

    name, _, version = (rubric or "").partition("@")
    with access.for_reading(resolve_paths(db)) as r:
        if r.note and not json_out:
            typer.echo(f"({r.note})")
        res = criterion_agreement(r.store, criterion, rubric_name=name or None,
                                  rubric_version=version or None, n_resamples=resamples)
        rule = default_rule(res.scale.value_type)
        each = res.judges[res.judges["comparison"] == "each human"]
        verdicts = gate(each, rule)
        slices = res.slices(by) if by else None
        if slices is not None and not slices.empty:
            slices = _with_flags(slices, heterogeneity(res.scale, res.pairs, by,
                                                       statistic=rule.statistic,
                                                       n_resamples=resamples))
    if json_out:
        out = {"criterion": criterion, "rubric": rubric, "value_type": res.scale.value_type,
               "gate": rule.describe(), "verdicts": _records(verdicts),
               "judges": _records(res.judges), "humans": _records(res.humans),
               "slices": None if slices is None else _records(slices)}
        typer.echo(json.dumps(out, indent=1, default=str))
        return
    typer.echo(f"{criterion} ({res.scale.value_type}); gate: {rule.describe()}")
    if verdicts.empty:
        typer.echo("No judge grades with human grades on the same targets.")
    for v in verdicts.itertuples():
        fit = "fit for use" if v.fit else "NOT fit for use"
        typer.echo(f"\n{v.judge_name} {v.judge_version}: {fit} ({v.reason})")
        part = each[(each["judge_name"] == v.judge_name) & (each["judge_version"] == v.judge_version)]
        for f in part.itertuples():
            typer.echo(f"  {f.statistic:26} {_num(f.value)}  {_ci(f.ci_low, f.ci_high)}  "
                       f"n={int(f.n)} items={int(f.n_items)}")
    typer.echo("\nReviewers among themselves:")
    for h in res.humans.itertuples():
        typer.echo(f"  {h.statistic:26} {_num(h.value)}  {_ci(h.ci_low, h.ci_high)}  "
                   f"items={int(h.n_items)}")
    if slices is not None:
        typer.echo(f"\nBy {by} ({rule.statistic}):")
        sel = slices[slices["statistic"] == rule.statistic]
        for s in sel.itertuples():
            small = " (small)" if s.small else ""
            flag = f"  FLAGGED: {s.direction} than elsewhere (q={s.q:.3f})" if s.flagged else ""
            typer.echo(f"  {s.judge_version} · {s.slice_value}: {_num(s.value)}  "
                       f"{_ci(s.ci_low, s.ci_high)}  n={int(s.n)}{small}{flag}")
        typer.echo("  (flagged: the slice differs from the judge's other slices; session "
                   "bootstrap t-test, Benjamini-Hochberg q <= 0.05, gap >= 0.10)")


def _with_flags(slices, het):
    """``slices`` with the heterogeneity check's p, q, flagged and direction per slice."""
    keys = ["judge_name", "judge_version", "_value"]
    flags = het.assign(_value=het["slice_value"].astype(str))[
        [*keys, "difference", "p", "q", "flagged", "direction"]]
    out = slices.assign(_value=slices["slice_value"].astype(str)).merge(flags, on=keys, how="left")
    out["flagged"] = out["flagged"].fillna(False).astype(bool)
    return out.drop(columns="_value")


def _records(df) -> list[dict]:
    """A frame as JSON-ready records: NaN becomes null."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def register(app: typer.Typer) -> None:
    app.add_typer(agreement_app, name="agreement")


if __name__ == "__main__":  # `python -m goldenloop.cli_agreement orders ...` works on its own too
    agreement_app()
