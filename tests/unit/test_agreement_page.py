"""The Agreement page's library on real stores: the gate, disagreement lists and confusion
cells, judge versions side by side on shared items, agreement over time, slices, and the
adjudication queue. Figures are checked against scikit-learn, the ``krippendorff`` package
and naive bootstrap loops written here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import krippendorff
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from review_support import FULL, demo_store, demo_template, synthetic_spans  # noqa: F401
from sklearn.metrics import cohen_kappa_score

from goldenloop import review
from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement import disagreements as dis
from goldenloop.agreement import sql as q
from goldenloop.agreement.gate import GateRule, default_rule, gate
from goldenloop.agreement.over_time import agreement_over_time, window_for
from goldenloop.agreement.scale import Scale
from goldenloop.agreement.slices import slice_agreement
from goldenloop.agreement.versions import side_by_side
from goldenloop.store.grades import insert_criteria, insert_grades

LABELS = ["good", "meh", "bad"]
START = datetime(2026, 1, 1)


def add_grades(store, rows: list[dict]) -> None:
    cols = sorted({k for r in rows for k in r})
    store.write(insert_grades, pa.table({c: [r.get(c) for r in rows] for c in cols}))


def synthetic_graded(store, n: int = 400, *, seed: int = 1, agree: dict | None = None,
                     second: float = 0.3, v2_share: float = 1.0) -> pd.DataFrame:
    """``n`` spans a second apart with a nominal criterion graded by one reviewer
    per span (a second one on ``second`` of them) and judge versions agreeing with the truth
    at the given rates; ``v2`` grades only ``v2_share`` of the spans. Returns the truth."""
    agree = agree or {"v1": 0.85, "v2": 0.7}
    synthetic_spans(store, n, seed=seed, start=START)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    store.write(insert_criteria, pa.table({
        "rubric_name": ["r"], "rubric_version": ["1"], "name": ["verdict"],
        "value_type": ["nominal"], "labels": pa.array([LABELS], pa.list_(pa.string()))}))
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    common = {"target_type": "span", "criterion": "verdict", "rubric_name": "r",
              "rubric_version": "1"}

    def noisy(rate: float) -> np.ndarray:
        return np.where(rng.random(n) < rate, truth, (truth + rng.integers(1, 3, n)) % 3)

    rows = []
    for who, val in (("ana", noisy(0.9)), ("ben", noisy(0.9))):
        take = np.ones(n, bool) if who == "ana" else rng.random(n) < second
        rows += [common | {"span_key": keys[i], "value_label": LABELS[val[i]],
                           "source": "human", "author_kind": "reviewer", "author_id": who,
                           "comment": f"note {i}", "created_at": START + timedelta(days=40)}
                 for i in np.flatnonzero(take)]
    for version, rate in agree.items():
        val = noisy(rate)
        take = np.ones(n, bool) if version == "v1" else rng.random(n) < v2_share
        rows += [common | {"span_key": keys[i], "value_label": LABELS[val[i]],
                           "source": "judge", "author_kind": "judge", "author_id": "jj",
                           "judge_name": "jj", "judge_version": version,
                           "raw": json.dumps({"verdict": LABELS[val[i]], "explanation": f"why {i}"}),
                           "created_at": START + timedelta(days=35 + (version == "v2"))}
                 for i in np.flatnonzero(take)]
    add_grades(store, rows)
    return pd.DataFrame({"span_key": keys, "truth": truth})


def naive_kappa_interval(pairs: pd.DataFrame, resamples: int = 400, seed: int = 5
                         ) -> tuple[float, float]:
    """Percentile interval of Cohen's kappa resampling whole items, one sklearn call each."""
    rng = np.random.default_rng(seed)
    rows = list(pairs.reset_index(drop=True).groupby("item").indices.values())
    h, j = pairs["human"].to_numpy(), pairs["judge"].to_numpy()
    vals = []
    for _ in range(resamples):
        take = np.concatenate([rows[i] for i in rng.integers(0, len(rows), len(rows))])
        vals.append(cohen_kappa_score(h[take], j[take], labels=LABELS))
    return tuple(np.percentile(vals, [2.5, 97.5]))


def query(criterion="verdict", rule=None, **flt) -> pdata.PageQuery:
    return pdata.PageQuery(pdata.PageFilter(criterion, **flt), rule or GateRule("cohen_kappa"),
                           n_resamples=400)


@pytest.mark.slow
def test_gate_passes_only_on_the_lower_end_with_enough_items(store) -> None:
    synthetic_graded(store)
    pairs = q.judge_human_pairs(store, "verdict")
    page = pdata.agreement_page(store, query(rule=GateRule("cohen_kappa", 0.5, 100)))
    v = page.verdicts.set_index("judge_version")
    for version in ("v1", "v2"):
        part = pairs[pairs["judge_version"] == version]
        assert v.loc[version, "value"] == pytest.approx(
            cohen_kappa_score(part["human"], part["judge"]), abs=1e-12)
        low, high = naive_kappa_interval(part)
        assert v.loc[version, "ci_low"] == pytest.approx(low, abs=0.035)
        assert v.loc[version, "ci_high"] == pytest.approx(high, abs=0.035)
        assert v.loc[version, "n_items"] == part["item"].nunique()
        assert v.loc[version, "fit"] == (v.loc[version, "ci_low"] >= 0.5)
    assert v.loc["v1", "fit"] and not v.loc["v2", "fit"]  # 85% vs 70% right: kappa ~.7 vs ~.45
    assert "reaches down to" in v.loc["v2", "reason"]
    # The same figures with a demand for more items than were graded: nobody passes.
    strict = gate(page.judges, GateRule("cohen_kappa", 0.5, 401)).set_index("judge_version")
    assert not strict["fit"].any()
    assert strict.loc["v1", "reason"] == "only 400 graded items; the gate needs 401"


def test_gate_on_a_criterion_without_pairs_says_so() -> None:
    empty = pd.DataFrame(columns=["judge_name", "judge_version", "comparison", "statistic",
                                  "value", "ci_low", "ci_high", "n", "n_items", "note"])
    assert gate(empty, default_rule("ordinal")).empty
    assert default_rule("ordinal").statistic == "weighted_kappa_linear"
    assert default_rule("interval").statistic == "krippendorff_alpha"


@pytest.mark.slow
def test_disagreements_are_exactly_the_differing_pairs_with_reasons(demo_store) -> None:  # noqa: F811
    # Independent: the demo's grades read straight from the table (it has no edits or N/A).
    g = demo_store.df("""SELECT span_key, source, author_id, value_number, raw, comment, grade_id
                         FROM grades WHERE criterion = 'correctness'""")
    h, j = g[g["source"] == "human"], g[g["source"] == "judge"]
    m = h.merge(j, on="span_key", suffixes=("_h", "_j"))
    expected = m[m["value_number_h"] != m["value_number_j"]]
    key = pdata.choices(demo_store, "correctness").judges[0]
    listed = pdata.disagreement_list(demo_store, pdata.PageFilter("correctness"), key)
    assert len(expected) > 10
    assert set(zip(listed["span_key"], listed["reviewer"], strict=True)) == set(
        zip(expected["span_key"], expected["author_id_h"], strict=True))
    assert len(listed) == len(expected)
    reasons = dict(zip(expected["span_key"], expected["raw_j"].map(
        lambda r: json.loads(r)["explanation"]), strict=True))
    assert all(listed["judge_reason"] == listed["span_key"].map(reasons))
    comments = dict(zip(zip(expected["span_key"], expected["author_id_h"], strict=True),
                        expected["comment_h"], strict=True))
    for r in listed.itertuples():
        want = comments[(r.span_key, r.reviewer)]
        assert (r.human_comment == want) or (pd.isna(r.human_comment) and pd.isna(want))
    assert listed["question"].notna().all() and listed["answer"].notna().all()
    page = pdata.agreement_page(demo_store, pdata.PageQuery(
        pdata.PageFilter("correctness"), default_rule("ordinal"), n_resamples=50))
    assert page.disagreements[key] == len(expected)


@pytest.mark.slow
def test_a_confusion_cell_lists_exactly_its_pairs(store) -> None:
    synthetic_graded(store)
    page = pdata.agreement_page(store, query())
    f = pdata.PageFilter("verdict")
    key = ("jj", "v2")
    table = page.confusion[key]
    pairs = q.judge_human_pairs(store, "verdict")
    pairs = pairs[pairs["judge_version"] == "v2"]
    total = 0
    for human in LABELS:
        for judge in LABELS:
            rows = pdata.disagreement_list(store, f, key, cell=(human, judge))
            want = pairs[(pairs["human"] == human) & (pairs["judge"] == judge)]
            assert len(rows) == table.loc[human, judge] == len(want)
            assert set(rows["item"]) == set(want["item"])
            assert (rows["human"] == human).all() and (rows["judge"] == judge).all()
            total += len(rows)
    assert total == len(pairs)


@pytest.mark.slow
def test_judge_versions_side_by_side_on_shared_items_with_a_paired_interval(store) -> None:
    synthetic_graded(store, n=300, v2_share=0.6, seed=3)
    pairs = q.judge_human_pairs(store, "verdict")
    scale = Scale("nominal", tuple(LABELS))
    out = side_by_side(scale, pairs, [("jj", "v1"), ("jj", "v2")], "cohen_kappa",
                       n_resamples=500).set_index("judge_version")
    v2_items = set(pairs.loc[pairs["judge_version"] == "v2", "item"])
    shared = pairs[pairs["item"].isin(v2_items)]
    a = shared[shared["judge_version"] == "v1"].sort_values(["item", "reviewer"])
    b = shared[shared["judge_version"] == "v2"].sort_values(["item", "reviewer"])
    assert out.loc["v1", "n"] == out.loc["v2", "n"] == len(a) == len(b)
    assert out.loc["v1", "n_items"] == len(v2_items)
    ka = cohen_kappa_score(a["human"], a["judge"])
    kb = cohen_kappa_score(b["human"], b["judge"])
    assert out.loc["v1", "value"] == pytest.approx(ka, abs=1e-12)
    assert out.loc["v2", "value"] == pytest.approx(kb, abs=1e-12)
    assert out.loc["v2", "diff"] == pytest.approx(kb - ka, abs=1e-12)
    assert np.isnan(out.loc["v1", "diff"])
    # Independent paired bootstrap: the same items drawn for both versions.
    rng = np.random.default_rng(9)
    items = sorted(v2_items)
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    ia, ib = a.groupby("item").indices, b.groupby("item").indices
    diffs = []
    for _ in range(400):
        pick = [items[i] for i in rng.integers(0, len(items), len(items))]
        ta = np.concatenate([ia[i] for i in pick])
        tb = np.concatenate([ib[i] for i in pick])
        diffs.append(cohen_kappa_score(b["human"].to_numpy()[tb], b["judge"].to_numpy()[tb],
                                       labels=LABELS)
                     - cohen_kappa_score(a["human"].to_numpy()[ta], a["judge"].to_numpy()[ta],
                                         labels=LABELS))
    low, high = np.percentile(diffs, [2.5, 97.5])
    assert out.loc["v2", "diff_low"] == pytest.approx(low, abs=0.04)
    assert out.loc["v2", "diff_high"] == pytest.approx(high, abs=0.04)
    # A version compared with itself differs by exactly nothing, in every resample.
    twin = pd.concat([pairs, pairs[pairs["judge_version"] == "v1"].assign(judge_version="v1b")])
    same = side_by_side(scale, twin, [("jj", "v1"), ("jj", "v1b")], "cohen_kappa",
                        n_resamples=200).set_index("judge_version")
    assert same.loc["v1b", ["diff", "diff_low", "diff_high"]].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.slow
def test_agreement_over_time_per_window_matches_sklearn(store) -> None:
    synthetic_graded(store, n=600, seed=4)
    # Spread the spans over 30 days, a third of them on the first: windows of every size.
    store.write(lambda cur: cur.execute(
        """UPDATE spans SET start_time = start_time
               + to_days(CAST(CASE WHEN span_key % 3 = 0 THEN 0 ELSE span_key % 30 END AS INT))"""))
    pairs = q.judge_human_pairs(store, "verdict")
    scale = Scale("nominal", tuple(LABELS))
    auto = agreement_over_time(scale, pairs, "cohen_kappa", n_resamples=20)
    per_version = int(pairs.groupby("judge_version").size().max())
    assert set(auto["window"]) == {window_for(timedelta(days=29), per_version)}
    freq = "1D"
    out = agreement_over_time(scale, pairs, "cohen_kappa", window=freq, n_resamples=100)
    when = pd.to_datetime(pairs["start_time"]).dt.floor(freq)
    for r in out.itertuples():
        part = pairs[(when == r.window_start) & (pairs["judge_version"] == r.judge_version)]
        assert r.n == len(part)
        assert r.value == pytest.approx(cohen_kappa_score(part["human"], part["judge"]),
                                        abs=1e-12)
        assert r.small == (r.n_clusters < pdata.SMALL_SLICE)
    assert out["small"].any() and not out["small"].all()  # small windows kept and marked


@pytest.mark.slow
def test_slices_filter_pairs_and_the_human_ceiling_alike(store) -> None:
    synthetic_graded(store, n=500, second=0.5, seed=6)
    all_pairs = q.judge_human_pairs(store, "verdict")
    page = pdata.agreement_page(store, query(apps=("a2",), judges=(("jj", "v1"),)))
    want = all_pairs[(all_pairs["app"] == "a2") & (all_pairs["judge_version"] == "v1")]
    assert page.n_pairs == len(want)
    assert list(page.verdicts["judge_version"]) == ["v1"]
    # The ceiling: Krippendorff's alpha among reviewers on the a2 spans only.
    humans = q.live_grades(store, "verdict")
    humans = humans[(humans["side"] == "human") & (humans["app"] == "a2")]
    wide = humans.pivot(index="author_id", columns="item", values="value")
    coded = wide.apply(lambda c: c.map({lab: i for i, lab in enumerate(LABELS)}))
    expected = krippendorff.alpha(reliability_data=coded.to_numpy(dtype=float),
                                  level_of_measurement="nominal")
    alpha = page.humans.set_index("statistic").loc["krippendorff_alpha"]
    assert alpha["value"] == pytest.approx(expected, abs=1e-9)
    # Slices by reviewer: every reviewer shown, with the pandas count of their pairs.
    by = pdata.agreement_page(store, pdata.PageQuery(pdata.PageFilter("verdict"),
                                                     GateRule("cohen_kappa"), slice_by="reviewer",
                                                     n_resamples=50)).slices
    counts = all_pairs.groupby(["judge_version", "reviewer"]).size()
    got = by.set_index(["judge_version", "slice_value"])["n"]
    assert got.sort_index().tolist() == counts.sort_index().tolist()
    # A time window keeps only the pairs inside it.
    start, end = START + timedelta(seconds=100), START + timedelta(seconds=300)
    windowed = pdata.agreement_page(store, query(start=start, end=end))
    t = pd.to_datetime(all_pairs["start_time"])
    assert windowed.n_pairs == int(((t >= start) & (t < end)).sum())


@pytest.mark.slow
def test_adjudication_queue_holds_the_disagreeing_spans(demo_store) -> None:  # noqa: F811
    f = pdata.PageFilter("correctness")
    key = pdata.choices(demo_store, "correctness").judges[0]
    listed = pdata.disagreement_list(demo_store, f, key)
    before = q.judge_human_pairs(demo_store, "correctness")
    queue, left_out = dis.adjudication_queue(demo_store, listed, name="adjudicate", rubric="default",
                                             created_by="lead")
    assert left_out == 0
    items = demo_store.df("SELECT span_key FROM queue_items WHERE queue_id = ?", [queue.queue_id])
    assert sorted(items["span_key"]) == sorted(set(listed["span_key"]))
    assert queue.items == listed["span_key"].nunique()
    assert review.is_adjudication(demo_store, queue.queue_id)
    # A grade made in the queue is flagged, and agreement leaves it out.
    claim = review.next_item(demo_store, queue.queue_id, "lead")
    # An adjudication asks only the criteria the earlier grades dispute.
    asked = review.asked(demo_store, claim).criteria
    assert "correctness" in asked
    review.submit(demo_store, claim, {name: FULL[name] for name in asked})
    flagged = demo_store.df("SELECT is_adjudication FROM grades WHERE queue_id = ?",
                            [queue.queue_id])
    assert len(flagged) >= 1 and flagged["is_adjudication"].all()
    after = q.judge_human_pairs(demo_store, "correctness")
    assert len(after) == len(before)


@pytest.mark.slow
def test_one_statistic_per_group_equals_slice_agreement(store) -> None:
    """The page's fast path gives exactly the figures of the full slicing, on the same
    resamples, for every dimension."""
    synthetic_graded(store, n=300, seed=8)
    pairs = q.judge_human_pairs(store, "verdict")
    scale = Scale("nominal", tuple(LABELS))
    for by in ("model_version", "app", "reviewer", "time"):
        full = slice_agreement(scale, pairs, by, statistics=["cohen_kappa"], n_resamples=200)
        fast = pdata.slices(scale, pairs.astype({"human": "category", "judge": "category"}),
                            by, "cohen_kappa", n_resamples=200)
        cols = ["judge_version", "slice_value", "value", "ci_low", "ci_high", "n", "n_items",
                "n_clusters", "small"]
        full = full.assign(slice_value=full["slice_value"].astype(str))[cols]
        fast = fast.assign(slice_value=fast["slice_value"].astype(str))[cols]
        pd.testing.assert_frame_equal(full.reset_index(drop=True), fast.reset_index(drop=True))


@pytest.mark.slow
def test_interval_and_boolean_criteria(store) -> None:
    """Interval criteria gate on Krippendorff's alpha and count gaps beyond a tolerance;
    boolean ones gate on Cohen's kappa; neither breaks the page's other parts."""
    synthetic_spans(store, 200, seed=2, start=START)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    store.write(insert_criteria, pa.table({
        "rubric_name": ["r", "r"], "rubric_version": ["1", "1"], "name": ["score", "ok"],
        "value_type": ["interval", "boolean"], "min_value": [0.0, None],
        "max_value": [10.0, None]}))
    rng = np.random.default_rng(2)
    truth = rng.uniform(0, 10, len(keys))
    base = {"target_type": "span", "rubric_name": "r", "rubric_version": "1",
            "created_at": START + timedelta(days=3)}
    rows = []
    for i, k in enumerate(keys):
        h, j = truth[i] + rng.normal(0, 1), truth[i] + rng.normal(0.5, 1.5)
        rows += [base | {"span_key": k, "criterion": "score", "value_number": round(h, 1),
                         "source": "human", "author_kind": "reviewer", "author_id": "ana"},
                 base | {"span_key": k, "criterion": "score", "value_number": round(j, 1),
                         "source": "judge", "author_kind": "judge", "author_id": "jj",
                         "judge_name": "jj", "judge_version": "v1"},
                 base | {"span_key": k, "criterion": "ok", "value_label": str(h > 4).lower(),
                         "source": "human", "author_kind": "reviewer", "author_id": "ana"},
                 base | {"span_key": k, "criterion": "ok", "value_label": str(j > 4).lower(),
                         "source": "judge", "author_kind": "judge", "author_id": "jj",
                         "judge_name": "jj", "judge_version": "v1"}]
    add_grades(store, rows)
    page = pdata.agreement_page(store, pdata.PageQuery(
        pdata.PageFilter("score"), default_rule("interval"), tolerance=2.0, n_resamples=100))
    pairs = q.judge_human_pairs(store, "score")
    h, j = pairs["human"].astype(float), pairs["judge"].astype(float)
    expected = krippendorff.alpha(reliability_data=np.vstack([h, j]),
                                  level_of_measurement="interval")
    v = page.verdicts.iloc[0]
    assert v["statistic"] == "krippendorff_alpha"
    assert v["value"] == pytest.approx(expected, abs=1e-9)
    assert page.confusion == {}
    assert page.disagreements[("jj", "v1")] == int(((j - h).abs() > 2.0).sum())
    listed = pdata.disagreement_list(store, pdata.PageFilter("score"), ("jj", "v1"),
                                     tolerance=2.0)
    assert ((listed["judge"].astype(float) - listed["human"].astype(float)).abs() > 2.0).all()
    assert len(page.over_time) > 0 and len(page.slices) > 0

    ok = pdata.agreement_page(store, pdata.PageQuery(
        pdata.PageFilter("ok"), default_rule("boolean"), n_resamples=100))
    okp = q.judge_human_pairs(store, "ok")
    assert ok.verdicts.iloc[0]["statistic"] == "cohen_kappa"
    assert ok.verdicts.iloc[0]["value"] == pytest.approx(
        cohen_kappa_score(okp["human"], okp["judge"]), abs=1e-12)
    assert list(ok.confusion[("jj", "v1")].index) == ["fail", "pass"]
