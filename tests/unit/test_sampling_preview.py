"""The queue preview counts the frame in SQL by stratum and risk signals; its figures must be
those of the unit-by-unit computation ``create_queue`` draws with, capping included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import review_support as rs
from review_support import opts

from goldenloop.agreement import fitness
from goldenloop.sampling import (
    RiskRaised,
    SamplingError,
    Stratified,
    Uniform,
    create_queue,
    make_frame,
    preview_queue,
    sql,
)
from goldenloop.sampling import designs as D
from goldenloop.sampling.preview import capped_groups
from goldenloop.store.span_filter import where as span_where

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures


@pytest.mark.parametrize("seed", range(6))
def test_grouped_capping_equals_unit_by_unit_capping(seed):
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0, 1.5, 12)
    count = rng.integers(1, 40, 12)
    units = np.repeat(size, count)
    for n in (3, count.sum() // 3, count.sum() - 2, count.sum(), count.sum() + 5):
        expected = D.capped(units, n)
        got = np.repeat(capped_groups(size, count, n), count)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # Capping happens in these cases: some units are certain, others are not.
    p = capped_groups(size, count, count.sum() - 2)
    assert (p == 1).any() and (p < 1).any()


def _unit_by_unit(store, frame, design, unit: str) -> pd.DataFrame:
    """The reference: every unit of the frame, its stratum and probability, grouped after."""
    strata = design.by if isinstance(design, D.Stratified) else ("app", "model_version")
    where, params = span_where(frame, "s")
    units = sql.frame_units(store.cursor(), unit, where, params, strata,
                            fitness.counted_keys(store, frame.judges))
    signals = {s: units.column(s).to_numpy(zero_copy_only=False).astype(bool)
               for s in D.RISK_SIGNALS}
    weights = design.weights if isinstance(design, RiskRaised) else D.DEFAULT_RISK_WEIGHTS
    risk = D.risk_scores(signals, weights)
    stratum = units.column("stratum").to_numpy(zero_copy_only=False).astype(str)
    if isinstance(design, RiskRaised):
        stratum = np.where(risk > 0, "raised risk", "base risk")
    p = D.probabilities(design, stratum, risk)
    return (pd.DataFrame({"stratum": stratum, "p": p}).groupby("stratum", sort=True)["p"]
            .agg(units="size", expected="sum", min_prob="min", max_prob="max").reset_index())


DESIGNS = [Uniform(40), Uniform(100_000), Stratified(40), Stratified(900, allocation="equal"),
           Stratified(60, by=("environment", "prompt_version"), allocation="equal"),
           RiskRaised(50), RiskRaised(700, boost=9.0), RiskRaised(80, fixed_size=True)]


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["span", "session"])
def test_preview_equals_the_unit_by_unit_computation(demo_store, unit):
    frame = make_frame()
    capped_somewhere = False
    for design in DESIGNS:
        pv = preview_queue(demo_store, frame, design, unit=unit)
        ref = _unit_by_unit(demo_store, frame, design, unit)
        assert pv.population_size == ref["units"].sum() > 500
        assert list(pv.strata["stratum"]) == list(ref["stratum"])
        assert list(pv.strata["units"]) == list(ref["units"])
        for col in ("expected", "min_prob", "max_prob"):
            np.testing.assert_allclose(pv.strata[col], ref[col], rtol=1e-9, atol=1e-12)
        assert pv.expected_size == pytest.approx(min(design.n, pv.population_size))
        assert pv.fixed_size is design.fixed_size
        capped_somewhere |= bool((pv.strata["max_prob"] == 1).any()
                                 and (pv.strata["min_prob"] < 1).any())
    assert capped_somewhere  # the designs reach the capping, not only the plain ratio


@pytest.mark.slow
def test_preview_states_what_the_queue_then_draws(demo_store):
    frame, design = make_frame(), RiskRaised(60)
    pv = preview_queue(demo_store, frame, design)
    made = create_queue(demo_store, opts("risk"), frame, design, seed=4)
    assert made.population_size == pv.population_size
    assert made.expected_size == pytest.approx(pv.expected_size)
    got = demo_store.df("SELECT stratum, min(inclusion_prob) AS lo, max(inclusion_prob) AS hi "
                        "FROM queue_items WHERE queue_id = ? GROUP BY stratum",
                        [made.queue_id]).set_index("stratum")
    table = pv.strata.set_index("stratum")
    assert set(got.index) <= set(table.index) and len(got) == 2  # raised and base risk
    for stratum, row in got.iterrows():
        assert table.loc[stratum, "min_prob"] - 1e-12 <= row["lo"]
        assert row["hi"] <= table.loc[stratum, "max_prob"] + 1e-12


@pytest.mark.slow
def test_examples_are_units_of_the_frame_with_their_texts(demo_store):
    frame = make_frame()
    where, params = span_where(frame, "s")
    in_frame = {k for (k,) in demo_store.rows(f"SELECT span_key FROM spans s WHERE {where}",
                                              params)}
    ex = preview_queue(demo_store, frame, Uniform(10)).examples
    assert len(ex) == 5 and set(ex["span_key"]) <= in_frame
    texts = dict(demo_store.rows("SELECT span_key, last_user_message FROM spans "
                                 "WHERE list_contains(?, span_key)", [list(ex["span_key"])]))
    assert [texts[k][:300] if texts[k] else None for k in ex["span_key"]] == \
        [None if pd.isna(x) else x for x in ex["input"]]
    sessions = preview_queue(demo_store, frame, Uniform(10), unit="session").examples
    frame_sessions = {s for (s,) in demo_store.rows(
        f"SELECT DISTINCT session_id FROM spans s WHERE {where}", params)}
    assert len(sessions) == 5 and set(sessions["session_id"]) <= frame_sessions
    assert (sessions["spans"] >= 1).all()


def test_an_empty_frame_is_refused_with_a_message(store):
    with pytest.raises(SamplingError, match="frame holds no spans"):
        preview_queue(store, make_frame(), Uniform(10))
