"""The heterogeneity check of one judge across slices: detection of a slice whose judge labels
were corrupted, the false-flag rate on clean data (both measured over simulated data sets),
and the figures checked against an independent computation with scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from goldenloop.agreement import Scale
from goldenloop.agreement.heterogeneity import DEFAULT_ALPHA, heterogeneity

SLICES = ("m1", "m2", "m3", "m4", "m5")
SCALE = Scale("nominal", ("a", "b", "c"))
RESAMPLES = 300  # enough for a standard error; keeps 400 data sets well under 20 s


def simulate(rng: np.random.Generator, *, sessions: int = 50, corrupt: str | None = None,
             share: float = 0.6) -> pd.DataFrame:
    """Per slice, sessions of 1-3 items, each graded by a reviewer and a judge that copies
    the reviewer 85% of the time (else answers at random); in slice ``corrupt`` a ``share`` of
    the judge's labels is then replaced at random."""
    per = rng.integers(1, 4, size=len(SLICES) * sessions)      # items per session
    session = np.repeat(np.arange(per.size), per)
    slice_of = session // sessions
    cats = np.array(SCALE.categories)
    human = rng.choice(3, size=session.size, p=[0.5, 0.3, 0.2])
    judge = np.where(rng.random(session.size) < 0.85, human, rng.integers(0, 3, session.size))
    if corrupt is not None:
        hit = (slice_of == SLICES.index(corrupt)) & (rng.random(session.size) < share)
        judge = np.where(hit, rng.integers(0, 3, session.size), judge)
    return pd.DataFrame({"judge_name": "j", "judge_version": "v1",
                         "model_version": np.array(SLICES)[slice_of],
                         "item": np.arange(session.size).astype(str),
                         "cluster": session.astype(str), "human": cats[human],
                         "judge": cats[judge]})


def run(pairs: pd.DataFrame, seed: int, **kw) -> pd.DataFrame:
    return heterogeneity(SCALE, pairs, "model_version", n_resamples=RESAMPLES, seed=seed, **kw)


def test_figures_match_an_independent_kappa():
    pairs = simulate(np.random.default_rng(1), corrupt="m2")
    out = run(pairs, 0).set_index("slice_value")
    for value in SLICES:
        inside, rest = pairs[pairs["model_version"] == value], pairs[pairs["model_version"] != value]
        k_in = cohen_kappa_score(inside["human"], inside["judge"])
        k_out = cohen_kappa_score(rest["human"], rest["judge"])
        assert out.at[value, "agreement"] == pytest.approx(k_in)
        assert out.at[value, "elsewhere"] == pytest.approx(k_out)
        assert out.at[value, "difference"] == pytest.approx(k_in - k_out)
        assert out.at[value, "n"] == len(inside)
        assert out.at[value, "n_clusters"] == inside["cluster"].nunique()
    assert out.at["m2", "flagged"] and out.at["m2", "difference"] < 0
    assert out.at["m2", "ci_high"] < 0 < out.at["m1", "ci_high"]
    assert out["q"].ge(out["p"] - 1e-12).all()  # BH never lowers a p-value


def test_corrupted_slice_is_detected():
    """100 simulated data sets, 60% of one slice's judge labels replaced at random: the slice
    is flagged as lower in at least 95 of them, and a clean slice is never flagged as lower.
    (A clean slice may be flagged as *higher*: the rest it is compared with holds the bad
    slice. That is reported, not hidden.)"""
    hits = wrong = 0
    for n in range(100):
        out = run(simulate(np.random.default_rng(1000 + n), corrupt="m3"), n)
        lower = set(out.loc[out["flagged"] & (out["difference"] < 0), "slice_value"])
        hits += "m3" in lower
        wrong += bool(lower - {"m3"})
    assert hits >= 95, f"detected {hits}/100"
    assert wrong == 0, f"a clean slice flagged as lower in {wrong}/100"


def test_clean_data_false_flag_rate_is_at_most_its_level():
    """300 clean data sets (every slice the same judge): the share with any flagged slice is
    at most alpha (0.05), and so is the share with any q <= alpha before the practical
    minimum difference is applied (the test alone, Benjamini–Hochberg across five slices)."""
    flagged = significant = 0
    for n in range(300):
        out = run(simulate(np.random.default_rng(5000 + n)), n)
        flagged += bool(out["flagged"].any())
        significant += bool((out["q"] <= DEFAULT_ALPHA).any())
    assert flagged / 300 <= DEFAULT_ALPHA, flagged
    assert significant / 300 <= DEFAULT_ALPHA, significant


def test_small_slices_are_shown_but_not_tested():
    pairs = simulate(np.random.default_rng(3), sessions=40)
    few = pairs[pairs["model_version"] != "m5"]
    tiny = pairs[(pairs["model_version"] == "m5") & pairs["cluster"].isin(
        pairs.loc[pairs["model_version"] == "m5", "cluster"].unique()[:5])]
    out = run(pd.concat([few, tiny]), 0).set_index("slice_value")
    assert out.at["m5", "n_clusters"] == 5
    assert np.isnan(out.at["m5", "p"]) and not out.at["m5", "flagged"]
    assert "fewer than 30" in out.at["m5", "reason"]
    assert out.loc[["m1", "m2"], "p"].notna().all()


def test_each_judge_version_is_tested_on_its_own():
    a = simulate(np.random.default_rng(4), corrupt="m1")
    b = simulate(np.random.default_rng(5)).assign(judge_version="v2")
    out = run(pd.concat([a, b], ignore_index=True), 0)
    v1 = out[out["judge_version"] == "v1"].set_index("slice_value")
    assert v1.at["m1", "flagged"]
    assert len(out) == 10 and out["statistic"].eq("cohen_kappa").all()


def _import_generators(db, tmp_path) -> None:
    """Items answered by three models, graded by a reviewer and a judge that copies the
    reviewer except on 'm-bad', where it answers at random."""
    from goldenloop.ingest import ImportOptions, import_file
    from goldenloop.schema import open_store

    rng = np.random.default_rng(7)
    lines = ["id,q,a,gen,ana,gpt"]
    for i in range(180):
        gen = ("m-good", "m-bad", "m-ok")[i % 3]
        h = str(rng.choice(["a", "b", "c"]))
        j = str(rng.choice(["a", "b", "c"])) if gen == "m-bad" else h
        lines.append(f"i{i},q,a,{gen},{h},{j}")
    p = tmp_path / "gens.csv"
    p.write_text("\n".join(lines) + "\n")
    mapping = {"grades": {
        "layout": "wide", "target": {"type": "item", "column": "id", "prefix": "t:"},
        "item": {"dataset": "d", "input": "q", "output": "a", "metadata": ["gen"]},
        "rubric": {"name": "r", "version": "1"}, "criterion": "tone",
        "scale": {"type": "nominal", "labels": ["a", "b", "c"]},
        "raters": [{"columns": ["ana"], "kind": "reviewer"},
                   {"columns": ["gpt"], "kind": "judge", "name": "gpt", "version": "v1"}]}}
    with open_store(db) as s:
        import_file(s, p, ImportOptions(mapping=mapping))


def test_page_shows_one_judge_across_slices_with_the_flag(app_db, tmp_path):
    from app_support import app_page

    _import_generators(app_db, tmp_path)
    at = app_page("agreement")
    at.selectbox(key="across_by").set_value("meta:gen").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "flag" in d.value.columns)
    flags = table.set_index("slice_value")["flag"]
    assert flags["m-bad"] == "flagged: lower" and flags["m-good"] != "flagged: lower"
    assert any("One judge across slices" in h.value for h in at.subheader)
    assert len(at.get("vega_lite_chart")) >= 1
    from goldenloop_app.agreement import charts as agreement_charts

    rows = run(simulate(np.random.default_rng(2), corrupt="m4"), 0)
    chart = agreement_charts.across_slices_chart(rows, "cohen_kappa")
    chart.vega_spec(validate=True)  # a valid Vega-Lite spec
    marks = chart.datasets["across_slices"].set_index("slice")["mark"]
    assert marks["m4"] == "flagged: lower" and len(marks) == len(SLICES)


def test_cli_report_by_field_carries_the_flag(tmp_path):
    import json

    from typer.testing import CliRunner

    from goldenloop.cli import app

    db = tmp_path / "r.duckdb"
    _import_generators(db, tmp_path)
    args = ["agreement", "report", "--criterion", "tone", "--db", str(db), "--resamples", "300",
            "--by", "meta:gen"]
    run = CliRunner().invoke(app, [*args, "--json"])
    assert run.exit_code == 0, run.output
    rows = [s for s in json.loads(run.output)["slices"] if s["statistic"] == "cohen_kappa"]
    flagged = {s["slice_value"]: (s["flagged"], s["direction"]) for s in rows}
    assert flagged["m-bad"] == (True, "lower")
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    bad = next(line for line in text.output.splitlines() if "· m-bad:" in line)
    assert "FLAGGED: lower" in bad
