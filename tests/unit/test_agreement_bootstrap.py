"""The bootstrap intervals: seeded and repeatable, covering the true value at about the
stated rate in simulation, and — when items come in sessions — only when sessions, not
items, are resampled. Also consensus and human–human agreement against independent code."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from goldenloop.agreement import (
    Scale,
    agreement_for,
    consensus,
    human_agreement,
    interval,
    judge_vs_consensus,
    slice_agreement,
)
from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement.multi import mean_pairwise, reviewer_pairs

FIVE = Scale("ordinal", ("1", "2", "3", "4", "5"))


def test_resamples_are_seeded_and_shared_across_chunk_sizes():
    a = np.vstack(list(bs.resample_counts(50, 300, seed=9)))
    b = np.vstack(list(bs.resample_counts(50, 300, seed=9, width=100_000)))  # small chunks
    assert a.shape == (300, 50) and (a.sum(axis=1) == 50).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.vstack(list(bs.resample_counts(50, 300, seed=10))))


def test_same_seed_same_interval():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"item": range(80), "human": rng.integers(1, 6, 80),
                       "judge": rng.integers(1, 6, 80)})
    pd.testing.assert_frame_equal(agreement_for(FIVE, df, seed=4), agreement_for(FIVE, df, seed=4))


@pytest.mark.slow
def test_percentile_interval_covers_a_known_correlation():
    """400 samples of 100 pairs from a bivariate normal with rho = 0.6: the 95% percentile
    interval should cover rho in roughly 95% of them (percentile intervals of a correlation
    run a little short at this n, so the band is 0.89-0.99)."""
    rng = np.random.default_rng(2024)
    rho, n, sims, hits = 0.6, 100, 400, 0
    for s in range(sims):
        z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], n)
        sums = bs.cluster_sums(np.arange(n), n, interval.moment_rows(z[:, 0], z[:, 1]))
        est, boot = bs.bootstrap(sums, interval.moment_stats, n_resamples=400, seed=s)["pearson"]
        ci = bs.percentile_interval(est, boot, n)
        hits += ci.low <= rho <= ci.high
    assert 0.89 <= hits / sims <= 0.99


@pytest.mark.slow
def test_session_bootstrap_covers_where_item_bootstrap_does_not():
    """Turns of one session agree or disagree together (each session has its own agreement
    rate, mean 2/3). Resampling sessions keeps the stated coverage; resampling turns as if
    independent gives intervals too narrow."""
    rng = np.random.default_rng(11)
    sims, sessions, turns, truth = 300, 30, 6, 2 / 3
    hit_session = hit_item = 0
    for s in range(sims):
        p = rng.beta(2, 1, sessions)
        agree = rng.random((sessions, turns)) < p[:, None]
        h = rng.integers(0, 2, (sessions, turns))
        df = pd.DataFrame({"item": range(sessions * turns),
                           "session": np.repeat(np.arange(sessions), turns),
                           "human": h.ravel(), "judge": np.where(agree, h, 1 - h).ravel()})
        by_session = agreement_for("nominal", df, cluster="session", n_resamples=300, seed=s)
        by_item = agreement_for("nominal", df, n_resamples=300, seed=s)
        for rows, hit in ((by_session, "s"), (by_item, "i")):
            r = rows.set_index("statistic").loc["percent_agreement"]
            inside = r.ci_low <= truth <= r.ci_high
            hit_session += inside and hit == "s"
            hit_item += inside and hit == "i"
    assert 0.89 <= hit_session / sims <= 0.99
    assert hit_item / sims < hit_session / sims - 0.07


def test_statistic_undefined_in_some_resamples_says_so():
    # Clusters all-'a', all-'a', all-'b': about 30% of resamples hold one category only, where
    # kappa is undefined; the interval comes from the rest, and the note says so.
    df = pd.DataFrame({"item": range(6), "s": [0, 0, 1, 1, 2, 2], "human": list("aaaabb"),
                       "judge": list("aaaabb")})
    kappa = agreement_for("nominal", df, cluster="s", n_resamples=400).set_index(
        "statistic").loc["cohen_kappa"]
    assert kappa.value == 1.0 and "of resamples where it is defined" in kappa.note
    mostly_undefined = np.r_[np.full(70, np.nan), np.linspace(0.2, 0.8, 30)]
    ci = bs.percentile_interval(0.5, mostly_undefined, n_clusters=10)
    assert np.isnan(ci.low) and ci.degenerate and "only 30%" in ci.note


# -- several humans per item ---------------------------------------------------------------

def grades_frame(seed: int, items: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(items):
        t = rng.integers(1, 6)
        for r in rng.choice(list("abcd"), rng.integers(1, 4), replace=False):
            rows.append({"item": i, "session": i // 3, "reviewer": r,
                         "value": int(np.clip(t + rng.integers(-1, 2), 1, 5))})
    return pd.DataFrame(rows)


def test_consensus_median_majority_mean_and_ties():
    g = pd.DataFrame({"item": [1, 1, 1, 2, 2, 3, 3, 3, 4],
                      "value": [2, 3, 5, 2, 3, 4, 4, 1, 5]})
    o = consensus(FIVE, g).set_index("item")
    assert o.loc[1, "consensus"] == "3" and not o.loc[1, "tie"]
    assert o.loc[2, "tie"] and pd.isna(o.loc[2, "consensus"])  # median 2.5 lies between
    assert o.loc[3, "consensus"] == "4"
    assert 4 not in o.index  # one grade is no consensus
    nom = consensus(Scale("nominal", ("x", "y", "z")),
                    pd.DataFrame({"item": [1, 1, 1, 2, 2], "value": list("xyx") + list("yz")}))
    assert nom["consensus"][0] == "x" and pd.isna(nom["consensus"][1])
    assert list(nom["tie"]) == [False, True]
    mean = consensus(Scale("interval"), g)
    assert mean.set_index("item").loc[2, "consensus"] == pytest.approx(2.5)


def test_judge_vs_consensus_leaves_ties_out_and_says_so():
    pairs = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 3], "human": [3, 3, 2, 3, 4, 5, 5],
                          "judge": [3, 3, 4, 4, 5, 5, 5]})
    rows = judge_vs_consensus(FIVE, pairs, n_resamples=50)
    assert (rows["n"] == 2).all()  # items 1 and 3; item 2 is tied
    assert rows["note"].str.contains("1 tied items left out").all()
    assert rows.set_index("statistic").loc["percent_agreement", "value"] == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_human_alpha_matches_krippendorff_package(seed):
    g = grades_frame(seed)
    rows = human_agreement(FIVE, g, cluster="session", n_resamples=200).set_index("statistic")
    wide = g.pivot(index="reviewer", columns="item", values="value").to_numpy(float)
    assert rows.loc["krippendorff_alpha", "value"] == pytest.approx(
        krippendorff.alpha(reliability_data=wide, level_of_measurement="ordinal",
                           value_domain=[1, 2, 3, 4, 5]))
    assert rows.loc["krippendorff_alpha", "ci_low"] < rows.loc["krippendorff_alpha", "value"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.slow
def test_mean_pairwise_kappa_matches_sklearn_per_pair(seed):
    g = grades_frame(seed, items=300)
    rows = human_agreement(FIVE, g, n_resamples=100).set_index("statistic")
    kappas = []
    for a, b in itertools.combinations("abcd", 2):
        both = g[g.reviewer == a].merge(g[g.reviewer == b], on="item")
        if len(both) >= 10:
            kappas.append(cohen_kappa_score(both.value_x, both.value_y, labels=[1, 2, 3, 4, 5],
                                            weights="quadratic"))
    assert rows.loc["mean_pairwise_kappa_quadratic", "value"] == pytest.approx(np.mean(kappas))
    assert f"{len(kappas)} reviewer pairs" in rows.loc["mean_pairwise_kappa_quadratic", "note"]


def test_mean_pairwise_skips_pairs_with_few_shared_items():
    g = grades_frame(3, items=40)
    pairs = reviewer_pairs(g.assign(_v=FIVE.encode(g["value"])))
    rows = mean_pairwise(FIVE, pairs, min_shared=10_000, n_resamples=10)
    assert np.isnan(rows["value"][0]) and rows["note"][0].startswith("0 reviewer pairs")


def test_mean_pairwise_pearson_for_interval_scales():
    g = grades_frame(4, items=300).assign(value=lambda d: d["value"] * 1.5)
    rows = human_agreement(Scale("interval"), g, n_resamples=50).set_index("statistic")
    rs = []
    for a, b in itertools.combinations("abcd", 2):
        both = g[g.reviewer == a].merge(g[g.reviewer == b], on="item")
        rs.append(np.corrcoef(both.value_x, both.value_y)[0, 1])
    assert rows.loc["mean_pairwise_pearson", "value"] == pytest.approx(np.mean(rs))


def test_slices_mark_small_ones_and_never_mix_judges():
    rng = np.random.default_rng(5)
    n = 400
    h = rng.integers(1, 6, n)
    df = pd.DataFrame({
        "item": np.arange(n), "cluster": np.arange(n), "human": h,
        "judge": np.clip(h + rng.integers(-1, 2, n), 1, 5),
        "judge_name": "j", "judge_version": np.where(np.arange(n) < 200, "v1", "v2"),
        "model_version": np.where(np.arange(n) % 20 == 0, "rare", "common"),
        "start_time": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), "h"),
    })
    out = slice_agreement(FIVE, df, "model_version", statistics=["krippendorff_alpha"],
                          n_resamples=50)
    assert len(out) == 4  # 2 judge versions x 2 model versions, none hidden
    rare = out[out.slice_value == "rare"]
    assert rare["small"].all() and (rare["n"] == 10).all()
    assert not out[out.slice_value == "common"]["small"].any()
    weekly = slice_agreement(FIVE, df, "time", window="7D", n_resamples=20)
    assert set(weekly["judge_version"]) == {"v1", "v2"}
    assert weekly.groupby("judge_version")["n"].max().sum() <= n
    with pytest.raises(ValueError, match="cannot slice"):
        slice_agreement(FIVE, df, "colour")


@pytest.mark.parametrize("scale", [FIVE, Scale("nominal"), Scale("boolean"), Scale("interval")])
def test_empty_inputs_give_nan_rows_not_errors(scale):
    empty = pd.DataFrame({"item": [], "reviewer": [], "value": [], "human": [], "judge": []})
    for rows in (agreement_for(scale, empty), judge_vs_consensus(scale, empty),
                 human_agreement(scale, empty)):
        assert len(rows) and rows["value"].isna().all() and (rows["n"] == 0).all()


def test_rows_without_a_session_are_their_own_clusters():
    df = pd.DataFrame({"item": range(6), "session": ["a", "a", None, None, None, np.nan],
                       "human": list("xyxyxy"), "judge": list("xyxyyy")})
    rows = agreement_for("nominal", df, cluster="session", n_resamples=20)
    assert (rows["n_clusters"] == 5).all() and (rows["n_items"] == 6).all()
