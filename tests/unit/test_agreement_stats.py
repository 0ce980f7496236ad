"""Every agreement statistic against an independent computation (scikit-learn, scipy, the
krippendorff package, or a plain per-row formula), against published figures, and on the
edge cases that break naive code: all agree, one category only, missing grades, ties."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    recall_score,
)

from goldenloop.agreement import Scale, agreement_for, confusion, interval, nominal, ordinal
from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement.alpha import krippendorff_alpha
from goldenloop.agreement.report import table_stats

SEEDS = (0, 1, 2, 3, 4)
FIVE = Scale("ordinal", ("1", "2", "3", "4", "5"))


def table(h: np.ndarray, j: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(h * k + j, minlength=k * k).reshape(k, k).astype(float)


def noisy_pairs(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Human grades on k categories, a judge that mostly agrees and otherwise drifts by one."""
    h = rng.integers(0, k, n)
    j = np.clip(h + rng.choice([-1, 0, 0, 1], n), 0, k - 1)
    return h, j


def values(rows: pd.DataFrame) -> dict[str, float]:
    return dict(zip(rows["statistic"], rows["value"], strict=True))


def gwet_ac1_by_rows(h, j, q: int) -> float:
    """Gwet (2008), two raters, written from the definition without a table."""
    n = len(h)
    pa = sum(a == b for a, b in zip(h, j, strict=True)) / n
    pe = sum(((list(h).count(c) + list(j).count(c)) / (2 * n))
             * (1 - (list(h).count(c) + list(j).count(c)) / (2 * n)) for c in range(q)) / (q - 1)
    return (pa - pe) / (1 - pe)


# -- random data against independent implementations --------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_nominal_statistics_match_sklearn_and_krippendorff(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    h, j = noisy_pairs(rng, int(rng.integers(20, 400)), k)
    got = values(agreement_for(Scale("nominal", tuple("abcde"[:k])),
                               pd.DataFrame({"item": range(len(h)), "human": list(np.array(list("abcde"))[h]),
                                             "judge": list(np.array(list("abcde"))[j])}),
                               n_resamples=0))
    assert got["percent_agreement"] == pytest.approx(accuracy_score(h, j))
    assert got["cohen_kappa"] == pytest.approx(cohen_kappa_score(h, j, labels=range(k)))
    assert got["gwet_ac1"] == pytest.approx(gwet_ac1_by_rows(h, j, k))
    assert got["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=np.vstack([h, j]).astype(float),
                           level_of_measurement="nominal", value_domain=list(range(k))))


@pytest.mark.parametrize("seed", SEEDS)
def test_ordinal_statistics_match_sklearn_scipy_and_krippendorff(seed):
    rng = np.random.default_rng(seed)
    h, j = noisy_pairs(rng, int(rng.integers(20, 400)), 5)
    got = values(agreement_for(FIVE, pd.DataFrame({"item": range(len(h)), "human": h + 1,
                                                   "judge": j + 1}), n_resamples=0))
    assert got["percent_agreement"] == pytest.approx(accuracy_score(h, j))
    for w in ("linear", "quadratic"):
        assert got[f"weighted_kappa_{w}"] == pytest.approx(
            cohen_kappa_score(h, j, labels=range(5), weights=w))
    assert got["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=np.vstack([h, j]).astype(float),
                           level_of_measurement="ordinal", value_domain=list(range(5))))
    assert got["spearman"] == pytest.approx(stats.spearmanr(h, j).statistic)
    assert got["kendall_tau_b"] == pytest.approx(stats.kendalltau(h, j).statistic)


@pytest.mark.parametrize("seed", SEEDS)
def test_boolean_fail_class_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 300))
    h = rng.random(n) < 0.3  # True: the human says fail
    j = np.where(rng.random(n) < 0.8, h, ~h)
    word = np.array(["pass", "fail"])
    got = values(agreement_for("boolean", pd.DataFrame({
        "item": range(n), "human": word[h.astype(int)], "judge": word[j.astype(int)]}),
        n_resamples=0))
    assert got["precision_fail"] == pytest.approx(precision_score(h, j))
    assert got["recall_fail"] == pytest.approx(recall_score(h, j))
    assert got["f1_fail"] == pytest.approx(f1_score(h, j))
    assert got["cohen_kappa"] == pytest.approx(cohen_kappa_score(h, j))
    assert got["gwet_ac1"] == pytest.approx(gwet_ac1_by_rows(h.astype(int), j.astype(int), 2))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.slow
def test_interval_statistics_match_scipy_sklearn_and_krippendorff(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    h = rng.normal(50, 10, n)
    j = 0.8 * h + rng.normal(12, 6, n)
    got = values(agreement_for("interval", pd.DataFrame({"item": range(n), "human": h,
                                                         "judge": j}), n_resamples=0))
    assert got["pearson"] == pytest.approx(stats.pearsonr(h, j).statistic)
    assert got["spearman"] == pytest.approx(stats.spearmanr(h, j).statistic)
    assert got["kendall_tau_b"] == pytest.approx(stats.kendalltau(h, j).statistic)
    assert got["mae"] == pytest.approx(mean_absolute_error(h, j))
    assert got["bias"] == pytest.approx(j.mean() - h.mean())
    assert got["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=np.vstack([h, j]), level_of_measurement="interval"))


@pytest.mark.parametrize("seed", SEEDS)
def test_interval_ranks_on_a_coarse_scale_use_tables_and_match_scipy(seed):
    rng = np.random.default_rng(seed)
    h = rng.integers(1, 6, 200) / 2          # few distinct values, many ties: the table path
    j = np.round(h + rng.normal(0, 0.7, 200))
    res = interval.rank_stats(h, j, np.arange(200), 200, n_resamples=0, seed=0)
    assert res["spearman"][0] == pytest.approx(stats.spearmanr(h, j).statistic)
    assert res["kendall_tau_b"][0] == pytest.approx(stats.kendalltau(h, j).statistic)
    forced = interval.rank_stats(h, j, np.arange(200), 200, n_resamples=50, seed=3, max_cells=0)
    tabled = interval.rank_stats(h, j, np.arange(200), 200, n_resamples=50, seed=3)
    for name in ("spearman", "kendall_tau_b"):  # the scipy fallback sees the same resamples
        np.testing.assert_allclose(forced[name][1], tabled[name][1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval"])
def test_multi_rater_alpha_with_missing_grades_matches_krippendorff(seed, metric):
    rng = np.random.default_rng(seed)
    raters, units = int(rng.integers(2, 7)), int(rng.integers(10, 120))
    truth = rng.integers(0, 5, units)
    data = np.clip(truth + rng.integers(-1, 2, (raters, units)), 0, 4).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan  # missing grades, some units unpairable
    unit = np.tile(np.arange(units), raters)
    ours = krippendorff_alpha(unit, data.ravel(), metric, k=5)
    theirs = krippendorff.alpha(reliability_data=data, level_of_measurement=metric,
                                value_domain=list(range(5)))
    assert ours == pytest.approx(theirs)


@pytest.mark.parametrize("seed", SEEDS)
def test_resampled_tables_give_the_statistic_of_the_resampled_rows(seed):
    """The bootstrap reweights per-cluster sums; each resample must equal the statistic
    computed from scratch on the rows that resample actually drew."""
    rng = np.random.default_rng(seed)
    h, j = noisy_pairs(rng, 150, 5)
    clusters = rng.integers(0, 40, 150)
    sums = bs.cluster_counts(clusters, 40, h * 5 + j, 25)
    w = next(bs.resample_counts(40, 3, seed))
    got = table_stats((w @ sums).reshape(-1, 5, 5), "ordinal")
    for b in range(3):
        take = np.repeat(np.arange(150), w[b][clusters].astype(int))
        hb, jb = h[take], j[take]
        assert got["weighted_kappa_quadratic"][b] == pytest.approx(
            cohen_kappa_score(hb, jb, labels=range(5), weights="quadratic"))
        assert got["kendall_tau_b"][b] == pytest.approx(stats.kendalltau(hb, jb).statistic)
        assert got["spearman"][b] == pytest.approx(stats.spearmanr(hb, jb).statistic)
    x, y = rng.normal(size=150), rng.normal(size=150)
    moments = interval.moment_stats(w @ bs.cluster_sums(clusters, 40, interval.moment_rows(x, y)))
    take = np.repeat(np.arange(150), w[0][clusters].astype(int))
    assert moments["pearson"][0] == pytest.approx(stats.pearsonr(x[take], y[take]).statistic)
    assert moments["mae"][0] == pytest.approx(np.abs(x[take] - y[take]).mean())
    ranks = [np.unique(v, return_inverse=True)[1] for v in (x, y)]
    rho = interval.weighted_spearman((ranks[0], 150), (ranks[1], 150), w[:, clusters])
    assert rho[0] == pytest.approx(stats.spearmanr(x[take], y[take]).statistic)


# -- published figures ---------------------------------------------------------------------

def test_irrcac_published_two_rater_table():
    """Gwet's irrCAC package README, data set ``cont3x3abstractors``: percent agreement 0.89,
    Cohen's kappa 0.7964094, Gwet's AC1 0.8493305, Krippendorff's alpha 0.7972585."""
    t = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]], dtype=float)
    assert nominal.percent_agreement(t) == pytest.approx(0.89)
    assert nominal.cohen_kappa(t) == pytest.approx(0.7964094, abs=5e-8)
    assert nominal.gwet_ac1(t) == pytest.approx(0.8493305, abs=5e-8)
    assert nominal.pair_alpha(t, "nominal") == pytest.approx(0.7972585, abs=5e-8)


def test_krippendorff_2011_published_example():
    """Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011): 4 observers x 12
    units with missing values; alpha nominal 0.743, ordinal 0.815, interval 0.849."""
    n = np.nan
    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
                     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
                     [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
                     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]])
    unit = np.tile(np.arange(12), 4)
    got = {m: krippendorff_alpha(unit, data.ravel() - 1, m, k=5)
           for m in ("nominal", "ordinal", "interval")}
    assert got["nominal"] == pytest.approx(0.743, abs=5e-4)
    assert got["ordinal"] == pytest.approx(0.815, abs=5e-4)
    assert got["interval"] == pytest.approx(0.849, abs=5e-4)


# -- edge cases ----------------------------------------------------------------------------

def frame(h, j) -> pd.DataFrame:
    return pd.DataFrame({"item": range(len(h)), "human": h, "judge": j})


def test_one_category_only_gives_nan_with_reasons_not_a_crash():
    rows = agreement_for("boolean", frame(["pass"] * 20, ["pass"] * 20)).set_index("statistic")
    assert rows.loc["percent_agreement", "value"] == 1.0
    assert rows.loc["gwet_ac1", "value"] == 1.0  # AC1 counts both categories of the scale
    for name in ("cohen_kappa", "krippendorff_alpha", "precision_fail", "recall_fail"):
        assert np.isnan(rows.loc[name, "value"])
        assert rows.loc[name, "note"].startswith("undefined:")
    assert "one and the same category" in rows.loc["cohen_kappa", "note"]
    assert rows.loc["percent_agreement", "degenerate"]  # every resample agrees fully
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(cohen_kappa_score(["pass"] * 20, ["pass"] * 20))  # sklearn agrees


def test_one_side_constant_gives_zero_kappa_and_undefined_correlations():
    h = [1, 2, 3, 4, 5] * 4
    rows = agreement_for(FIVE, frame(h, [4] * 20)).set_index("statistic")
    assert rows.loc["weighted_kappa_linear", "value"] == pytest.approx(
        cohen_kappa_score(h, [4] * 20, weights="linear"))
    assert np.isnan(rows.loc["spearman", "value"])
    assert np.isnan(rows.loc["kendall_tau_b", "value"])
    irows = agreement_for("interval", frame([3.0] * 10, np.arange(10.0))).set_index("statistic")
    assert np.isnan(irows.loc["pearson", "value"]) and "do not vary" in irows.loc["pearson", "note"]
    assert irows.loc["bias", "value"] == pytest.approx(1.5)


def test_all_agree_on_several_categories():
    h = ["1", "2", "3", "4", "5"] * 6
    rows = agreement_for(FIVE, frame(h, h)).set_index("statistic")
    np.testing.assert_allclose(rows["value"], 1.0)
    assert rows["degenerate"].all()  # every resample gives 1: a zero-width interval, said so
    np.testing.assert_allclose(rows[["ci_low", "ci_high"]], 1.0)


def test_missing_and_off_scale_grades_are_dropped_pairwise():
    rng = np.random.default_rng(7)
    h, j = noisy_pairs(rng, 100, 5)
    full = frame(list(h + 1), list(j + 1))
    holes = full.astype(object).copy()
    holes.loc[[3, 10, 50], "human"] = None
    holes.loc[[10, 20], "judge"] = np.nan
    holes.loc[30, "judge"] = "7"  # off the 1-5 scale
    got = agreement_for(FIVE, holes, n_resamples=200)
    keep = ~full.index.isin([3, 10, 20, 30, 50])
    want = agreement_for(FIVE, full[keep], n_resamples=0)
    np.testing.assert_allclose(got["value"], want["value"])
    assert (got["n"] == 95).all() and (got["n_dropped"] == 5).all()


def test_no_pairs_and_one_cluster():
    empty = agreement_for("nominal", frame([], []))
    assert empty["value"].isna().all() and (empty["note"] == "no pairs").all()
    one = agreement_for("nominal", frame(list("abab"), list("abba")).assign(s="x"), cluster="s")
    assert one["ci_low"].isna().all() and one["degenerate"].all()
    assert one["note"].str.contains("one independent unit").all()


def test_ties_in_interval_data_match_scipy():
    h = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 4], dtype=float)
    j = np.array([2, 1, 1, 2, 3, 3, 3, 4, 4, 4], dtype=float)
    got = values(agreement_for("interval", frame(h, j), n_resamples=0))
    assert got["kendall_tau_b"] == pytest.approx(stats.kendalltau(h, j).statistic)
    assert got["spearman"] == pytest.approx(stats.spearmanr(h, j).statistic)


def test_confusion_lists_every_category_in_scale_order():
    t = confusion(Scale("nominal", ("on-brand", "rude", "too formal")),
                  frame(["rude", "on-brand", "on-brand"], ["rude", "rude", None]))
    assert list(t.index) == ["on-brand", "rude", "too formal"]
    assert t.loc["on-brand", "rude"] == 1 and t.loc["rude", "rude"] == 1 and t.values.sum() == 2


def test_unlisted_nominal_labels_join_the_scale_and_ordinal_ones_drop():
    nom = agreement_for(Scale("nominal", ("a",)), frame(["a", "b"], ["a", "c"]))
    assert (nom["n"] == 2).all()
    ordl = agreement_for(Scale("ordinal", ("low", "high")), frame(["low", "mid"], ["low", "high"]))
    assert (ordl["n"] == 1).all() and (ordl["n_dropped"] == 1).all()


def test_ordinal_scale_without_labels_orders_numbers_numerically():
    s = Scale("ordinal").with_observed([10, 9, 2.5])
    assert s.categories == ("2.5", "9", "10")
    assert list(s.encode([10.0, "9", None, 11])) == [2.0, 1.0, pytest.approx(np.nan, nan_ok=True),
                                                      pytest.approx(np.nan, nan_ok=True)]


def test_kendall_and_spearman_tables_accept_rectangles():
    t = np.array([[3, 1, 0, 0], [1, 2, 2, 0], [0, 0, 1, 4.0]])
    h = np.repeat(np.arange(3), t.sum(axis=1).astype(int))
    j = np.concatenate([np.repeat(np.arange(4), row.astype(int)) for row in t])
    assert ordinal.kendall_tau_b(t) == pytest.approx(stats.kendalltau(h, j).statistic)
    assert ordinal.spearman(t) == pytest.approx(stats.spearmanr(h, j).statistic)
