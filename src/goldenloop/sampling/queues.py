"""Making review queues: by a stated design from a frame, or by hand.

A probability queue stores its frame, the population size, the design with its seed, and
per item the inclusion probability, stratum and risk score; that is everything
``goldenloop.estimation`` needs to estimate over the whole frame. Items are served in a
random order (``position``), so a queue that is only partly graded is still a random
subsample, which the non-response adjustment relies on.

A queue made by hand (a list of spans, or every span of a filter) has no probabilities: it
is marked non-probability and estimation refuses it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.agreement import fitness
from goldenloop.review import records as review_sql
from goldenloop.sampling import designs as D
from goldenloop.sampling import sql
from goldenloop.sampling.frame import SamplingError, frame_from_dict, frame_to_dict
from goldenloop.sampling.sql_clickhouse import frame_span_part
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store, audit
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where

UNITS = ("span", "session")


@dataclass(frozen=True)
class QueueSummary:
    queue_id: int
    name: str
    target_type: str
    design: str               # uniform, stratified, risk, by_hand, comparison, ...
    population_size: int | None
    items: int
    expected_size: float | None


@dataclass(frozen=True)
class QueueOptions:
    """What every queue has besides its items. ``rubric`` names a rubric; its current version
    is stored with the queue (grades keep the version they were made under)."""

    name: str
    created_by: str
    description: str = ""
    rubric: str = "default"
    reviewers_per_item: int = 1
    # review: grade sampled items (blind by default); adjudication: settle items others
    # graded, seeing their grades; such grades are marked is_adjudication.
    purpose: str = "review"
    # The rubric's criteria the queue asks (None: all); the others are neither asked nor
    # required of its reviewers.
    criteria: tuple[str, ...] | None = None


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def prepare(store: Store, opts: QueueOptions) -> tuple[str, rubrics.Rubric]:
    who = roles.require(store, opts.created_by, roles.Action.CREATE_QUEUE)
    if not opts.name.strip():
        raise SamplingError("a queue needs a name")
    if opts.reviewers_per_item < 1:
        raise SamplingError("a queue needs at least one reviewer per item")
    if opts.purpose not in review_sql.PURPOSES:
        raise SamplingError(f"a queue's purpose is one of {', '.join(review_sql.PURPOSES)}, "
                            f"not {opts.purpose!r}")
    rubrics.sync(store)
    rubric = rubrics.current(store, opts.rubric)
    asked(rubric, opts)
    return who, rubric


def asked(rubric: rubrics.Rubric, opts: QueueOptions) -> list[str] | None:
    """The criteria a new queue asks, in the rubric's order (None: all of them); names the
    rubric lacks are refused, all at once."""
    if opts.criteria is None:
        return None
    names = {c.name for c in rubric.criteria}
    unknown = [n for n in dict.fromkeys(opts.criteria) if n not in names]
    if unknown:
        raise SamplingError(f"rubric {rubric.name} has no criteria {', '.join(unknown)}")
    if not opts.criteria:
        raise SamplingError("a queue asks at least one criterion of its rubric")
    return [c.name for c in rubric.criteria if c.name in opts.criteria]


def positions(rng: np.random.Generator, k: int, start: int = 0) -> pa.Array:
    """A random serving order: reviewers meet items in no particular time or risk order."""
    return pa.array(start + rng.permutation(k), pa.int32())


def _signals(units: pa.Table) -> dict[str, np.ndarray]:
    return {s: units.column(s).to_numpy(zero_copy_only=False).astype(bool)
            for s in D.RISK_SIGNALS if s in units.column_names}


def _reasons(signals: dict[str, np.ndarray], rows: np.ndarray) -> pa.Array:
    names = list(signals)
    flags = np.column_stack([signals[n][rows] for n in names]) if names else \
        np.zeros((len(rows), 0), bool)
    return pa.array([[n for n, f in zip(names, row, strict=True) if f] or None for row in flags],
                    pa.list_(pa.string()))


def _design_probs(design: D.Design, units: pa.Table
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(stratum, risk score, inclusion probability, risk signals) of every unit of the frame."""
    signals = _signals(units)
    weights = design.weights if isinstance(design, D.RiskRaised) else D.DEFAULT_RISK_WEIGHTS
    risk = D.risk_scores(signals, weights)
    stratum = units.column("stratum").to_numpy(zero_copy_only=False)
    if isinstance(design, D.RiskRaised):  # non-response classes: raised or base risk
        stratum = np.where(risk > 0, "raised risk", "base risk")
    return stratum.astype(str), risk, D.probabilities(design, stratum, risk), signals


def _units(cur, frame: SpanFilter, design: D.Design, unit: str, judge_keys,
           span_part: pa.Table | None = None) -> pa.Table:
    strata = design.by if isinstance(design, D.Stratified) else ("app", "model_version")
    where, params = span_where(frame, "s")
    units = sql.frame_units(cur, unit, where, params, strata, judge_keys, span_part)
    if units.num_rows == 0:
        raise SamplingError("the frame holds no spans: widen the time window or filter")
    return units


def create_queue(store: Store, opts: QueueOptions, frame: SpanFilter, design: D.Design, *,
                 unit: str = "span", seed: int | None = None,
                 spans: SpanStore | None = None) -> QueueSummary:
    """Draw a queue of spans (or sessions) from ``frame`` by ``design``: Poisson sampling, or
    exactly ``n`` units by randomised systematic sampling when ``design.fixed_size``.
    ``spans``: where the spans live (None: the store's own file); the frame is read there,
    the queue written to the store."""
    D.check(design)
    if unit not in UNITS:
        raise SamplingError(f"a queue samples one of {', '.join(UNITS)}, not {unit!r}")
    who, rubric = prepare(store, opts)
    seed = secrets.randbits(63) if seed is None else int(seed)
    judge_keys = fitness.counted_keys(store, frame.judges)
    span_part = frame_span_part(spans, frame)  # read before the write lock is taken

    def write(cur) -> QueueSummary:
        units = _units(cur, frame, design, unit, judge_keys, span_part)
        stratum, risk, p, signals = _design_probs(design, units)
        taken = (D.draw_systematic(p, seed, stratum) if design.fixed_size else D.draw(p, seed))
        rows = np.flatnonzero(taken)
        rng = np.random.default_rng([seed, 1])
        items = pa.table({
            "target_type": pa.array([unit] * len(rows), pa.string()),
            "target_id": units.column("target_id").take(pa.array(rows)),
            "span_key": units.column("span_key").take(pa.array(rows)),
            "inclusion_prob": pa.array(p[rows]),
            "stratum": pa.array(stratum[rows].astype(str)),
            "risk_score": pa.array(risk[rows]),
            "risk_reasons": _reasons(signals, rows),
            "reviewers_needed": pa.array([opts.reviewers_per_item] * len(rows), pa.int32()),
            "position": positions(rng, len(rows)),
        })
        stored = {**D.to_dict(design), "seed": seed, "unit": unit, "probability": True,
                  "expected_size": float(p.sum()),
                  "draw": "systematic" if design.fixed_size else "poisson",
                  # which judge versions could raise a risk score ("criterion|version"; None:
                  # every version): the design says what its judge signals rested on
                  "judge_versions_counted": judge_keys}
        t = now()
        qid = review_sql.insert_queue(
            cur, name=opts.name.strip(), description=opts.description, target_type=unit,
            frame=frame_to_dict(frame), window=(frame.start, frame.end), population=units.num_rows,
            design=stored, rubric_name=rubric.name, rubric_version=rubric.version,
            reviewers=opts.reviewers_per_item, created_by=who, now=t,
            purpose=opts.purpose, criteria=asked(rubric, opts))
        added = review_sql.insert_items(cur, qid, items, t)
        audit.record(cur, who, "queue.create", f"queue:{qid}", stored)
        return QueueSummary(qid, opts.name.strip(), unit, design.kind, units.num_rows, added,
                            float(p.sum()))

    return store.write(write)


def create_hand_queue(store: Store, opts: QueueOptions, *, span_keys: list[int] | None = None,
                      frame: SpanFilter | None = None, unit: str = "span",
                      seed: int | None = None, spans: SpanStore | None = None) -> QueueSummary:
    """A queue of chosen spans, or of every span (or session) of ``frame``: no inclusion
    probabilities, so it is marked non-probability and cannot be used for estimates.
    ``spans``: where the spans live (None: the store's own file)."""
    if (span_keys is None) == (frame is None):
        raise SamplingError("give either a list of span keys or a frame")
    if span_keys is not None and unit != "span":
        raise SamplingError("a list of span keys makes a span queue")
    who, rubric = prepare(store, opts)
    rng = np.random.default_rng(secrets.randbits(63) if seed is None else seed)
    stored = {"kind": "by_hand", "unit": unit, "probability": False}
    found = _found(spans, span_keys, frame)  # read before the write lock is taken

    def write(cur) -> QueueSummary:
        t = now()
        qid = review_sql.insert_queue(
            cur, name=opts.name.strip(), description=opts.description, target_type=unit,
            frame=None if frame is None else frame_to_dict(frame),
            window=(None, None) if frame is None else (frame.start, frame.end), population=None,
            design=stored, rubric_name=rubric.name, rubric_version=rubric.version,
            reviewers=opts.reviewers_per_item, created_by=who, now=t,
            purpose=opts.purpose, criteria=asked(rubric, opts))
        added = _add_by_hand(cur, qid, unit, span_keys, frame, opts.reviewers_per_item, rng,
                             found)
        audit.record(cur, who, "queue.create", f"queue:{qid}", stored)
        return QueueSummary(qid, opts.name.strip(), unit, "by_hand", None, added, None)

    return store.write(write)


def _found(spans: SpanStore | None, span_keys: list[int] | None, frame: SpanFilter | None
           ) -> set[int] | pa.Table | None:
    """What a hand queue reads from a span store outside the workflow file: the listed span
    keys it holds, or the frame's spans; None when the spans are in the file."""
    if spans is None or spans.dialect == DUCKDB:
        return None
    if span_keys is not None:
        keys = sorted({int(k) for k in span_keys})
        return set(spans.spans_by_key(keys, ["span_key"]).column("span_key").to_pylist())
    return frame_span_part(spans, frame)


def _add_by_hand(cur, qid: int, unit: str, span_keys: list[int] | None, frame: SpanFilter | None,
                 reviewers: int, rng: np.random.Generator,
                 found: set[int] | pa.Table | None = None) -> int:
    if span_keys is not None:
        keys = sorted({int(k) for k in span_keys})
        have = found if isinstance(found, set) else sql.existing_span_keys(cur, keys)
        missing = sorted(set(keys) - have)
        if missing:
            raise SamplingError(f"no spans with keys {missing[:10]}"
                                + (" …" if len(missing) > 10 else ""))
        ids = pa.array([str(k) for k in keys])
        span_col = pa.array(keys, pa.int64())
    else:
        where, params = span_where(frame, "s")
        units = sql.frame_units(cur, unit, where, params, ("app", "model_version"),
                                span_part=found if isinstance(found, pa.Table) else None)
        ids, span_col = units.column("target_id"), units.column("span_key")
    k = len(ids)
    items = pa.table({
        "target_type": pa.array([unit] * k, pa.string()), "target_id": ids, "span_key": span_col,
        "reviewers_needed": pa.array([reviewers] * k, pa.int32()),
        "position": positions(rng, k, review_sql.max_position(cur, qid) + 1),
    })
    return review_sql.insert_items(cur, qid, items, now())


def add_to_queue(store: Store, queue_id: int, span_keys: list[int], added_by: str,
                 spans: SpanStore | None = None) -> int:
    """Add spans to a queue made by hand; a span already in it is not added again. Returns
    how many were added. Probability queues refuse: extra items would break their design.
    ``spans``: where the spans live (None: the store's own file)."""
    who = roles.require(store, added_by, roles.Action.CREATE_QUEUE)
    q = review_sql.queue(store, queue_id)
    if q["design"].get("probability"):
        raise SamplingError(f"queue {queue_id} was drawn by a sampling design: adding spans by "
                            "hand would break its estimates; make a queue by hand instead")
    if q["target_type"] != "span":
        raise SamplingError(f"queue {queue_id} holds {q['target_type']}s, not spans")

    found = _found(spans, span_keys, None)

    def write(cur) -> int:
        added = _add_by_hand(cur, queue_id, "span", span_keys, None, q["reviewers_per_item"],
                             np.random.default_rng(), found)
        audit.record(cur, who, "queue.add", f"queue:{queue_id}", {"added": added})
        return added

    return store.write(write)


def queue_frame(store: Store, queue_id: int) -> SpanFilter | None:
    """The frame queue ``queue_id`` was drawn from (None: spans chosen by hand, or pairs).
    Frames stored before spans had one filter read alike (``frame_from_dict``)."""
    stored = review_sql.queue(store, queue_id)["frame_filter"]
    return frame_from_dict(stored) if stored else None
