"""Agreement code on real public data: the LLMBar/MT-Bench judges' published accuracy and
positional-agreement figures reproduced from their verdicts, and HANNA's human and LLM
ratings checked against independent computations (the krippendorff package, scipy).

LLMBar's ``kappa_*`` fields are computed wrongly upstream (see the data README) and are not
used. No HANNA paper figures are stated in the stored data, so HANNA is checked against
independent computations only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from goldenloop.agreement import Scale, agreement_for, human_agreement

NO_VERDICT = "no verdict"
VERDICTS = Scale("nominal", ("1", "2", NO_VERDICT))


def llmbar_runs(shared: Path) -> list[Path]:
    runs = sorted((shared / "llmbar-mtbench" / "evaluators").glob("*/*/result.json"))
    assert len(runs) == 8, "expected 4 judges x 2 prompts"
    return runs


def verdict_pairs(result: Path, dataset: list[dict]) -> pd.DataFrame:
    """One row per question: the human label and the judge's winner in both answer orders
    (winners are already in the original numbering). A judge that gave no usable verdict is
    a wrong answer, not a missing one: it is its own category."""
    rows = json.loads(result.read_text())
    assert [r["input"] for r in rows] == [d["input"] for d in dataset]
    out = []
    for i, r in enumerate(rows):
        both = r["results"][-1]
        out.append({"item": i, "label": str(dataset[i]["label"]),
                    "first": both["swap = False"]["winner"] or NO_VERDICT,
                    "swapped": both["swap = True"]["winner"] or NO_VERDICT})
    return pd.DataFrame(out)


def published(stats_file: Path) -> dict[str, float]:
    raw = json.loads(stats_file.read_text())
    counts = {k: int(re.match(r"(\d+) / 200", raw[k]).group(1))
              for k in ("correct_False", "correct_True", "equal")}
    return counts | {"correct_average": float(raw["correct_average"].rstrip("%")) / 100}


def percent(pairs: pd.DataFrame, human: str, judge: str) -> pd.Series:
    rows = agreement_for(VERDICTS, pairs, human=human, judge=judge, n_resamples=200)
    return rows.set_index("statistic").loc["percent_agreement"]


def test_llmbar_published_accuracy_and_positional_agreement(shared_data):
    dataset = json.loads((shared_data / "llmbar-mtbench" / "dataset.json").read_text())
    for result in llmbar_runs(shared_data):
        pairs = verdict_pairs(result, dataset)
        want = published(result.with_name("statistics.json"))
        first = percent(pairs, "label", "first")
        swapped = percent(pairs, "label", "swapped")
        order = percent(pairs, "first", "swapped")
        name = f"{result.parent.parent.name}/{result.parent.name}"
        assert first.n == swapped.n == order.n == 200, name
        assert round(first.value * 200) == want["correct_False"], name
        assert round(swapped.value * 200) == want["correct_True"], name
        assert (first.value + swapped.value) / 2 == pytest.approx(want["correct_average"]), name
        # Upstream's "equal" counts two missing verdicts as agreeing: so does a category.
        assert round(order.value * 200) == want["equal"], name
        assert first.ci_low < first.value < first.ci_high, name


def test_llmbar_kappa_matches_sklearn_not_the_upstream_fields(shared_data):
    dataset = json.loads((shared_data / "llmbar-mtbench" / "dataset.json").read_text())
    for result in llmbar_runs(shared_data):
        pairs = verdict_pairs(result, dataset)
        rows = agreement_for(VERDICTS, pairs, human="label", judge="first", n_resamples=0)
        got = rows.set_index("statistic").loc["cohen_kappa", "value"]
        assert got == pytest.approx(cohen_kappa_score(pairs["label"], pairs["first"]))


@pytest.fixture
def hanna(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "hanna" / "hanna_long.csv")


@pytest.mark.slow
def test_hanna_alpha_among_three_humans_per_criterion(hanna):
    assert sorted(hanna["criterion"].unique()) == ["CH", "CX", "EG", "EM", "RE", "SU"]
    scale = Scale("ordinal", ("1", "2", "3", "4", "5"))
    for crit, g in hanna.groupby("criterion"):
        raters = g[["human_1", "human_2", "human_3"]].to_numpy(float).T
        long = g.melt(id_vars=["story_id"], value_vars=["human_1", "human_2", "human_3"],
                      var_name="reviewer", value_name="value").rename(columns={"story_id": "item"})
        for level, sc in (("ordinal", scale), ("interval", Scale("interval"))):
            rows = human_agreement(sc, long, n_resamples=100).set_index("statistic")
            alpha = rows.loc["krippendorff_alpha"]
            want = krippendorff.alpha(reliability_data=raters, level_of_measurement=level,
                                      value_domain=[1, 2, 3, 4, 5] if level == "ordinal" else None)
            assert alpha.value == pytest.approx(want), (crit, level)
            assert alpha.n_items == 1056 and alpha.ci_low <= alpha.value <= alpha.ci_high


@pytest.mark.slow
def test_hanna_judges_against_the_human_mean(hanna):
    judges = [c for c in hanna.columns if c.endswith("_prompt1")]
    assert len(judges) == 4
    for crit, g in hanna.groupby("criterion"):
        for judge in judges:
            pairs = g.rename(columns={"story_id": "item", "human_mean": "human", judge: "judge"})
            got = agreement_for("interval", pairs, n_resamples=50).set_index("statistic")["value"]
            h, j = pairs["human"].to_numpy(), pairs["judge"].to_numpy()
            where = (crit, judge)
            assert got["kendall_tau_b"] == pytest.approx(stats.kendalltau(h, j).statistic), where
            assert got["spearman"] == pytest.approx(stats.spearmanr(h, j).statistic), where
            assert got["pearson"] == pytest.approx(stats.pearsonr(h, j).statistic), where
            assert got["mae"] == pytest.approx(np.abs(j - h).mean()), where
