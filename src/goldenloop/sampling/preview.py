"""What a queue would draw, before it is created: the frame's size and the expected sample
per stratum.

The frame is counted in SQL, one row per stratum and combination of risk signals (at most
64 combinations per stratum), never one row per unit: every unit of such a group has the same
inclusion probability under each design, so the probabilities are computed per group with
the group's size as a multiplicity. The figures are those ``create_queue`` draws with (the
same units, strata, risk scores and capping); only the random draw is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from goldenloop.agreement import fitness
from goldenloop.sampling import designs as D
from goldenloop.sampling import sql
from goldenloop.sampling.frame import SamplingError
from goldenloop.sampling.queues import UNITS
from goldenloop.sampling.sql_clickhouse import frame_span_part
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where


@dataclass(frozen=True)
class Preview:
    """What a design would draw from a frame, before anything is written: the frame's size and,
    per stratum, its units and expected sample (Σ of their inclusion probabilities)."""

    population_size: int
    expected_size: float
    fixed_size: bool
    strata: pd.DataFrame  # stratum, units, expected, min_prob, max_prob
    # A few units of the frame drawn at random (not the queue's draw), with their texts:
    # span units: span_key, start_time, app, model_version, input, output; session units:
    # session_id, spans, first_time, first_input. None when the spans live elsewhere.
    examples: pd.DataFrame | None = None


def capped_groups(size: np.ndarray, count: np.ndarray, n: float) -> np.ndarray:
    """``designs.capped`` over groups of identical units: group ``g`` stands for ``count[g]``
    units of size ``size[g]``; returns each group's per-unit probability. Units of one group
    cross 1 together, so the capping steps are those of the unit-by-unit computation."""
    size = np.asarray(size, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    p = np.zeros(len(size))
    if len(size) == 0:
        return p
    if n >= count.sum():
        return np.ones(len(size))
    certain = np.zeros(len(size), dtype=bool)
    while True:
        free = ~certain
        rest = n - count[certain].sum()
        total = (size[free] * count[free]).sum()
        p[free] = rest * size[free] / total if total > 0 else 0.0
        over = free & (p >= 1.0)
        if not over.any():
            break
        certain |= over
        p[certain] = 1.0
    return p


def _groups(cur, frame: SpanFilter, design: D.Design, unit: str, judge_keys,
            span_part: pa.Table | None) -> pd.DataFrame:
    """Units of the frame counted by stratum and, for a risk design, risk signals (``n``;
    other designs give signals no part in the probabilities: they read false)."""
    strata = design.by if isinstance(design, D.Stratified) else ("app", "model_version")
    where, params = span_where(frame, "s")
    units, params = sql.frame_units_sql(cur, unit, where, params, strata, span_part)
    risky = isinstance(design, D.RiskRaised)
    signals = ", ".join(s if risky else f"false AS {s}" for s in D.RISK_SIGNALS)
    try:
        return cur.sql(f"""SELECT stratum, {signals}, count(*) AS n FROM ({units})
                           GROUP BY ALL ORDER BY ALL""",
                       params={**params, "judge_keys": judge_keys}).df()
    finally:
        if span_part is not None:
            cur.unregister(sql.FRAME_SPANS)


EXAMPLES = 5
_CUT = 300  # characters of each text an example shows


def _examples(cur, frame: SpanFilter, unit: str) -> pd.DataFrame:
    """``EXAMPLES`` units of the frame at random; the keys are drawn before any text is read."""
    where, params = span_where(frame, "s")
    if unit == "span":
        sql = f"""SELECT s.span_key, s.start_time, s.app, s.model_version,
                         left(s.last_user_message, {_CUT}) AS input,
                         left(s.output, {_CUT}) AS output
                  FROM (SELECT span_key FROM (SELECT s.span_key FROM spans s WHERE {where})
                        USING SAMPLE {EXAMPLES} ROWS) k
                  JOIN spans s ON s.span_key = k.span_key ORDER BY s.start_time"""
    else:
        sql = f"""SELECT s.session_id, count(*) AS spans, min(s.start_time) AS first_time,
                         left(arg_min(s.last_user_message, s.start_time), {_CUT}) AS first_input
                  FROM (SELECT session_id FROM (SELECT DISTINCT s.session_id FROM spans s
                                                WHERE {where} AND s.session_id IS NOT NULL)
                        USING SAMPLE {EXAMPLES} ROWS) k
                  JOIN spans s ON s.session_id = k.session_id
                  WHERE {where} GROUP BY s.session_id ORDER BY first_time"""
    return cur.sql(sql, params=params).df()


def _probabilities(design: D.Design, groups: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(stratum, per-unit inclusion probability) of each group, as ``create_queue`` has them."""
    signals = {s: groups[s].to_numpy(dtype=bool) for s in D.RISK_SIGNALS}
    weights = design.weights if isinstance(design, D.RiskRaised) else D.DEFAULT_RISK_WEIGHTS
    risk = D.risk_scores(signals, weights)
    stratum = groups["stratum"].astype(str).to_numpy()
    count = groups["n"].to_numpy(dtype=np.float64)
    if isinstance(design, D.RiskRaised):  # non-response classes: raised or base risk
        stratum = np.where(risk > 0, "raised risk", "base risk")
        size = 1.0 + design.boost * risk
    elif isinstance(design, D.Stratified) and design.allocation == "equal":
        per = pd.Series(count).groupby(stratum).transform("sum").to_numpy()
        size = 1.0 / per  # each stratum the same total size
    else:
        size = np.ones(len(groups))
    return stratum, capped_groups(size, count, design.n)


def preview_queue(store: Store, frame: SpanFilter, design: D.Design, *,
                  unit: str = "span", spans: SpanStore | None = None) -> Preview:
    """The frame size and the expected sample per stratum that ``create_queue`` would draw
    with the same arguments (the same probabilities: only the random draw is left out).
    ``spans``: where the spans live (None: the store's own file)."""
    D.check(design)
    if unit not in UNITS:
        raise SamplingError(f"a queue samples one of {', '.join(UNITS)}, not {unit!r}")
    # Only risk scores read judge grades: the versions that count are looked up for them alone.
    judge_keys = (fitness.counted_keys(store, frame.judges)
                  if isinstance(design, D.RiskRaised) else None)
    cur = store.cursor()
    groups = _groups(cur, frame, design, unit, judge_keys, frame_span_part(spans, frame))
    if groups.empty:
        raise SamplingError("the frame holds no spans: widen the time window or filter")
    stratum, p = _probabilities(design, groups)
    n = groups["n"].to_numpy(dtype=np.int64)
    table = (pd.DataFrame({"stratum": stratum, "units": n, "expected": n * p, "p": p})
             .groupby("stratum", sort=True)
             .agg(units=("units", "sum"), expected=("expected", "sum"), min_prob=("p", "min"),
                  max_prob=("p", "max")).reset_index())
    span_part_elsewhere = spans is not None and spans.dialect != DUCKDB
    examples = None if span_part_elsewhere else _examples(cur, frame, unit)
    return Preview(int(n.sum()), float((n * p).sum()), bool(design.fixed_size), table, examples)


__all__ = ["Preview", "capped_groups", "preview_queue"]
