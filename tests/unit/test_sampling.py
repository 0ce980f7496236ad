"""Sampling into queues: stated designs with stored probabilities, frames and seeds; session,
comparison and by-hand queues; no target twice in one queue."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
import review_support as rs
from review_support import DEMO_END, opts

from goldenloop.errors import FilterError
from goldenloop.sampling import (
    RiskRaised,
    SamplingError,
    Stratified,
    Uniform,
    add_to_queue,
    create_hand_queue,
    create_queue,
    create_version_comparison,
    frame_from_dict,
    frame_to_dict,
    make_frame,
)
from goldenloop.sampling.designs import capped, draw
from goldenloop.store.span_filter import where as span_where

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures


def items(store, queue_id):
    return store.df("SELECT * FROM queue_items WHERE queue_id = ? ORDER BY queue_item_id",
                    [queue_id])


def test_capped_probabilities_sum_to_n_and_never_exceed_one():
    rng = np.random.default_rng(3)
    for _ in range(50):
        size = rng.lognormal(0, 2, rng.integers(5, 300))
        n = int(rng.integers(1, len(size) + 5))
        p = capped(size, n)
        assert p.max() <= 1.0 + 1e-12
        assert p.sum() == pytest.approx(min(n, len(size)))
        free = p < 1
        if free.sum() > 1:  # uncapped units stay proportional to their size
            ratio = p[free] / size[free]
            assert ratio.max() == pytest.approx(ratio.min())


def test_poisson_draw_includes_each_unit_at_its_probability():
    p = np.linspace(0.02, 0.9, 40)
    hits = np.mean([draw(p, seed) for seed in range(3000)], axis=0)
    sd = np.sqrt(p * (1 - p) / 3000)
    assert np.all(np.abs(hits - p) < 4.5 * sd)


@pytest.mark.slow
def test_uniform_queue_stores_frame_population_design_and_seed(demo_store):
    frame = make_frame(start=DEMO_END - timedelta(days=20), end=DEMO_END, apps=["support-bot"])
    q = create_queue(demo_store, opts(), frame, Uniform(60), seed=11)
    population = demo_store.scalar(
        "SELECT count(*) FROM spans WHERE kind = 'llm' AND app = 'support-bot' "
        "AND start_time >= ? AND start_time < ?", [frame.start, frame.end])
    assert q.population_size == population and q.expected_size == pytest.approx(60)
    row = demo_store.rows("SELECT frame_filter, population_size, design, rubric_version, "
                          "window_start FROM queues WHERE queue_id = ?", [q.queue_id])[0]
    assert frame_from_dict(json.loads(row[0])) == frame
    design = json.loads(row[2])
    assert design["kind"] == "uniform" and design["seed"] == 11 and design["probability"]
    assert row[4] == frame.start
    df = items(demo_store, q.queue_id)
    assert len(df) == q.items and 30 < len(df) < 95  # Poisson: the size varies around n
    assert np.allclose(df.inclusion_prob, 60 / population)
    assert df.target_id.is_unique and (df.target_id == df.span_key.astype(str)).all()
    spans = demo_store.df("SELECT span_key, app, kind, start_time FROM spans "
                          "WHERE list_contains(?, span_key)", [df.span_key.tolist()])
    assert (spans.app == "support-bot").all() and (spans.kind == "llm").all()
    assert sorted(df.position) == list(range(len(df)))  # a random serving order
    assert not df.position.is_monotonic_increasing
    # The same seed draws the same spans.
    again = create_queue(demo_store, opts("again"), frame, Uniform(60), seed=11)
    assert items(demo_store, again.queue_id).span_key.tolist() == df.span_key.tolist()


def test_equal_allocation_gives_small_strata_more_probability(demo_store):
    q = create_queue(demo_store, opts(), make_frame(), Stratified(120, allocation="equal"), seed=2)
    sizes = demo_store.df(
        "SELECT concat_ws(' / ', app, model_version) AS stratum, count(*) AS n "
        "FROM spans WHERE kind = 'llm' GROUP BY ALL").set_index("stratum").n
    df = items(demo_store, q.queue_id)
    assert set(df.stratum) <= set(sizes.index)
    per_stratum = df.groupby("stratum").inclusion_prob.first()
    assert set(per_stratum.index) == set(sizes.index)  # every stratum is drawn from
    expected = per_stratum * sizes[per_stratum.index]  # expected items per stratum
    assert np.allclose(expected, 120 / len(sizes))
    assert per_stratum[sizes.idxmin()] > per_stratum[sizes.idxmax()]


def test_proportional_stratification_keeps_one_probability(demo_store):
    q = create_queue(demo_store, opts(), make_frame(), Stratified(80), seed=5)
    df = items(demo_store, q.queue_id)
    assert df.inclusion_prob.nunique() == 1 and df.stratum.str.contains(" / ").all()


@pytest.mark.slow
def test_risk_raised_design_keeps_risk_apart_from_probability(demo_store):
    # An offensive-language signal for one span; other spans have no signals row at all.
    key = demo_store.scalar("SELECT min(span_key) FROM spans WHERE kind = 'llm' AND "
                            "status = 'ok'")
    demo_store.cursor().execute(
        "INSERT INTO signals (span_key, user_offensive, refusal) VALUES (?, 0.93, false)", [key])
    q = create_queue(demo_store, opts(), make_frame(), RiskRaised(300, boost=9), seed=4)
    df = items(demo_store, q.queue_id)
    risky = df[df.risk_score > 0]
    calm = df[df.risk_score == 0]
    assert len(risky) and len(calm)
    assert risky.inclusion_prob.min() > calm.inclusion_prob.max()
    assert (risky.stratum == "raised risk").all() and (calm.stratum == "base risk").all()
    assert calm.risk_reasons.isna().all() and risky.risk_reasons.notna().all()
    reasons = {r for rs_ in risky.risk_reasons for r in rs_}
    assert {"error", "negative_feedback", "judge_low"} <= reasons
    # Every error span of the frame carries the error signal, sampled or not.
    errors = set(demo_store.df("SELECT span_key FROM spans WHERE kind = 'llm' "
                               "AND status <> 'ok'").span_key)
    sampled_errors = set(df.span_key) & errors
    assert sampled_errors
    assert all("error" in r for r in df[df.span_key.isin(sampled_errors)].risk_reasons)
    # Judge scores in the lowest quarter of the 1-5 scale raise the risk.
    low = set(demo_store.df("SELECT span_key FROM grades WHERE source = 'judge' AND "
                            "criterion = 'correctness' AND value_number <= 2").span_key)
    assert all("judge_low" in r for r in df[df.span_key.isin(low)].risk_reasons)
    # The offensive span is risky whether or not it was drawn: its probability says so.
    one = create_queue(demo_store, opts("all"), make_frame(), RiskRaised(100_000), seed=1)
    row = items(demo_store, one.queue_id).set_index("span_key").loc[key]
    assert "offensive" in row.risk_reasons


def test_session_queue_has_one_item_per_session(demo_store):
    q = create_queue(demo_store, opts(), make_frame(apps=["support-bot"]), Uniform(25),
                     unit="session", seed=8)
    df = items(demo_store, q.queue_id)
    sessions = demo_store.scalar("SELECT count(DISTINCT session_id) FROM spans "
                                 "WHERE kind = 'llm' AND app = 'support-bot'")
    assert q.population_size == sessions and q.target_type == "session"
    assert (df.target_type == "session").all() and df.target_id.is_unique
    assert df.span_key.isna().all() and df.target_id.str.startswith("sess_").all()


def test_version_comparison_pairs_the_same_input(demo_store):
    a, b = "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"
    q = create_version_comparison(demo_store, opts(), make_frame(apps=["sql-assistant"]), a, b, 20,
                                  seed=3)
    assert q.target_type == "comparison" and q.items > 5
    cmp = demo_store.df("SELECT c.* FROM comparisons c JOIN queue_items i "
                        "ON i.target_id = c.comparison_id WHERE i.queue_id = ?", [q.queue_id])
    assert len(cmp) == q.items and set(cmp.shown_order) == {"AB", "BA"}
    for r in cmp.itertuples():
        sa, sb = (demo_store.rows("SELECT messages::VARCHAR, model_version, output FROM spans "
                                  "WHERE span_key = ?", [int(k)])[0] for k in (r.a_id, r.b_id))
        assert sa[0] == sb[0] and (sa[1], sb[1]) == (a, b)
        assert (r.a_output, r.b_output) == (sa[2], sb[2])
    assert demo_store.scalar("SELECT rubric_name FROM queues WHERE queue_id = ?",
                             [q.queue_id]) == "comparison"
    with pytest.raises(SamplingError, match="answered by both"):
        create_version_comparison(demo_store, opts(), make_frame(apps=["support-bot"]), a,
                                  "gpt-4o-mini-2024-07-18", 5)


def test_queue_by_hand_is_marked_non_probability_and_never_repeats_a_span(demo_store):
    keys = demo_store.df("SELECT span_key FROM spans WHERE kind = 'llm' ORDER BY span_key "
                         "LIMIT 5").span_key.tolist()
    q = create_hand_queue(demo_store, opts(), span_keys=keys + keys[:2])
    df = items(demo_store, q.queue_id)
    assert q.items == 5 and df.inclusion_prob.isna().all()
    design = json.loads(demo_store.scalar("SELECT design FROM queues WHERE queue_id = ?",
                                          [q.queue_id]))
    assert design == {"kind": "by_hand", "unit": "span", "probability": False}
    assert add_to_queue(demo_store, q.queue_id, [*keys[:3], keys[-1] + 1], "lead") == 1
    assert add_to_queue(demo_store, q.queue_id, keys, "lead") == 0
    assert items(demo_store, q.queue_id).target_id.is_unique
    with pytest.raises(SamplingError, match="no spans with keys"):
        add_to_queue(demo_store, q.queue_id, [10**9], "lead")
    drawn = create_queue(demo_store, opts(), make_frame(), Uniform(5), seed=1)
    with pytest.raises(SamplingError, match="break its estimates"):
        add_to_queue(demo_store, drawn.queue_id, keys, "lead")


def test_queue_by_hand_from_a_filter_takes_every_matching_span(demo_store):
    frame = make_frame(start=DEMO_END - timedelta(hours=30), end=DEMO_END, apps=["sql-assistant"])
    q = create_hand_queue(demo_store, opts(), frame=frame)
    where, params = span_where(frame)
    assert q.items == demo_store.scalar(f"SELECT count(*) FROM spans s WHERE {where}", params)


def test_empty_frame_and_bad_designs_are_refused(demo_store):
    with pytest.raises(SamplingError, match="frame holds no spans"):
        create_queue(demo_store, opts(), make_frame(apps=["nope"]), Uniform(5))
    with pytest.raises(SamplingError, match="at least 1"):
        create_queue(demo_store, opts(), make_frame(), Uniform(0))
    with pytest.raises(SamplingError, match="strata are made of"):
        create_queue(demo_store, opts(), make_frame(), Stratified(5, by=("user_id",)))
    with pytest.raises(FilterError, match="time range is empty"):
        make_frame(start=DEMO_END, end=DEMO_END)
    with pytest.raises(FilterError, match="unknown filter fields: colour"):
        frame_from_dict({"colour": ["red"]})


def test_frame_from_a_monitoring_filter_with_tags(store):
    from review_support import synthetic_spans

    synthetic_spans(store, 30)
    store.cursor().execute("UPDATE spans SET tags = ['vip'] WHERE span_key <= 4")
    frame = frame_from_dict({"start": "2026-01-01T00:00:00", "apps": ["a1", "a2"],
                             "tags": ["vip", "beta"]})
    assert frame.start.year == 2026 and frame.kinds == ("llm",)
    q = create_hand_queue(store, opts(), frame=frame)
    assert sorted(items(store, q.queue_id).span_key) == [1, 2, 3, 4]
    assert frame_from_dict(frame_to_dict(frame)) == frame
