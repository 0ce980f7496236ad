"""What a judge run grades: a queue's items, every span of a filter, a random sample of a
filter, given spans (online mode), the items reviewers graded, or a judge version's
disagreements with them — each target with its inclusion probability, so
estimates from judge grades stay unbiased, and with the texts its prompt needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from goldenloop.judge import sql as judge_sql
from goldenloop.judge.config import JudgeError, LoadedJudge
from goldenloop.sampling import frame_to_dict
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_columns import JUDGE_APP
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where


@dataclass
class Target:
    target_type: str               # span, comparison
    target_id: str
    span_key: int | None
    inclusion_prob: float | None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class Selection:
    kind: str                      # queue, filter, sample, spans, human_graded, disagreements
    params: dict[str, Any]
    targets: list[Target]
    skipped: int = 0               # items a judge of this kind cannot grade (sessions, …)
    population: int | None = None


# Every ``from_*`` takes ``spans``: where the spans live (None: the store's own file). The
# targets are chosen in the workflow file or the span store, the texts read from the latter.
def from_queue(store: Store, judge: LoadedJudge, queue_id: int,
               spans: SpanStore | None = None) -> Selection:
    items = judge_sql.queue_items(store, queue_id)
    if not items:
        raise JudgeError(f"queue {queue_id} has no items (or does not exist)")
    want = "comparison" if judge.judge.kind == "pairwise" else "span"
    usable = [i for i in items if i["target_type"] == want]
    if not usable:
        kinds = ", ".join(sorted({i["target_type"] for i in items}))
        raise JudgeError(f"queue {queue_id} holds {kinds} items; judge {judge.name} "
                         f"({judge.judge.kind}) grades {want}s")
    targets = [Target(i["target_type"], i["target_id"], i["span_key"],
                      None if i["is_gold"] else i["inclusion_prob"]) for i in usable]
    _attach_texts(store, targets, spans)
    return Selection("queue", {"queue_id": queue_id}, targets, len(items) - len(usable))


def from_human_graded(store: Store, judge: LoadedJudge, spans: SpanStore | None = None
                      ) -> Selection:
    """The targets reviewers graded on the judge's criterion: enough to measure a new judge
    version's agreement, at a fraction of a run on everything."""
    want = "comparison" if judge.judge.kind == "pairwise" else "span"
    rows = judge_sql.human_graded_targets(store, judge.criterion.name, judge.rubric.name, want)
    if not rows:
        raise JudgeError(f"no reviewer has graded {judge.criterion.name} on a {want}")
    return _listed(store, rows, "human_graded", {"criterion": judge.criterion.name}, spans)


def from_disagreements(store: Store, judge: LoadedJudge, of_version: str,
                       spans: SpanStore | None = None) -> Selection:
    """The targets where judge version ``of_version`` and a reviewer gave different values."""
    want = "comparison" if judge.judge.kind == "pairwise" else "span"
    rows = judge_sql.disagreement_targets(store, judge.criterion.name, of_version, want)
    if not rows:
        raise JudgeError(f"judge version {of_version} disagrees with no reviewer on "
                         f"{judge.criterion.name}")
    return _listed(store, rows, "disagreements", {"of_version": of_version}, spans)


def _listed(store: Store, rows: list[dict], kind: str, params: dict,
            spans: SpanStore | None) -> Selection:
    # Chosen for their human grades, not drawn at random: no inclusion probability.
    targets = [Target(r["target_type"], str(r["target_id"]),
                      None if r["span_key"] is None else int(r["span_key"]), None) for r in rows]
    _attach_texts(store, targets, spans)
    return Selection(kind, params, targets)


def from_spans(store: Store, span_keys: list[int], inclusion_prob: float | None = None,
               kind: str = "spans", params: dict | None = None,
               population: int | None = None, spans: SpanStore | None = None) -> Selection:
    targets = [Target("span", str(k), int(k), inclusion_prob) for k in span_keys]
    _attach_texts(store, targets, spans)
    return Selection(kind, params or {}, targets, population=population)


def from_comparisons(store: Store, comparison_ids: list[str]) -> Selection:
    """Given comparisons (for a pairwise judge), each with inclusion probability 1."""
    targets = [Target("comparison", str(c), None, 1.0) for c in comparison_ids]
    _attach_texts(store, targets)
    return Selection("comparisons", {"comparison_ids": list(comparison_ids)}, targets)


def from_filter(store: Store, frame: SpanFilter, *, sample: int | None = None,
                seed: int | None = None, spans: SpanStore | None = None) -> Selection:
    """Every LLM span of ``frame``, or a simple random sample of ``sample`` of them
    (inclusion probability n/N for each)."""
    keys = frame_span_keys(store, frame, spans)
    if not keys:
        raise JudgeError("the filter matches no answered spans: widen it")
    population = len(keys)
    stored = {"frame": frame_to_dict(frame)}
    if sample is not None and sample < population:
        rng = np.random.default_rng(seed)
        keys = sorted(int(k) for k in rng.choice(keys, size=int(sample), replace=False))
        return from_spans(store, keys, sample / population, "sample",
                          {**stored, "sample": int(sample), "seed": seed}, population, spans)
    return from_spans(store, keys, 1.0, "filter", stored, population, spans)


def frame_span_keys(store: Store, frame: SpanFilter, spans: SpanStore | None = None
                    ) -> list[int]:
    """The answered LLM spans of ``frame`` a judge may grade (never goldenloop's own)."""
    if spans is None or spans.dialect == DUCKDB:
        where, params = span_where(frame, "s")
        return judge_sql.frame_span_keys(store, where, params)
    from goldenloop.judge import sql_clickhouse
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    where, params = clickhouse_where(frame, "s")
    got = spans.query(DialectSQL(clickhouse=sql_clickhouse.frame_span_keys(where)),
                      params | {"exclude_app": JUDGE_APP})
    return [int(k) for k in got["span_key"]] if len(got) else []


def span_inputs(store: Store, keys: list[int], spans: SpanStore | None = None) -> list[dict]:
    """``judge.sql.span_inputs`` from either span store: texts from where the spans live,
    the reference (the latest correction) from the workflow file."""
    if spans is None or spans.dialect == DUCKDB or not keys:
        return judge_sql.span_inputs(store, keys)
    from goldenloop.judge import sql_clickhouse

    got = spans.query(DialectSQL(clickhouse=sql_clickhouse.SPAN_TEXTS),
                      {"keys": [int(k) for k in keys]})
    refs = dict(store.rows("SELECT span_key, arg_max(corrected_output, created_at) "
                           "FROM corrections WHERE list_contains(?, span_key) GROUP BY span_key",
                           [[int(k) for k in keys]]))
    rows = got.astype(object).where(got.notna(), None).to_dict("records") if len(got) else []
    return [{**r, "span_key": int(r["span_key"]), "reference": refs.get(int(r["span_key"]))}
            for r in rows]


def _attach_texts(store: Store, targets: list[Target], spans_in: SpanStore | None = None
                  ) -> None:
    spans = [t for t in targets if t.target_type == "span"]
    if spans:
        rows = {r["span_key"]: r for r in span_inputs(store, [t.span_key for t in spans], spans_in)}
        for t in spans:
            r = rows.get(t.span_key) or {}
            t.variables = {k: r.get(k) for k in ("input", "messages", "output",
                                                 "retrieved_context", "reference")}
    pairs = [t for t in targets if t.target_type == "comparison"]
    if pairs:
        rows = {r["comparison_id"]: r for r in judge_sql.comparisons(store, [t.target_id for t in pairs])}
        for t in pairs:
            r = rows.get(t.target_id) or {}
            t.variables = {"input": r.get("input"), "output_a": r.get("a_output"),
                           "output_b": r.get("b_output")}
