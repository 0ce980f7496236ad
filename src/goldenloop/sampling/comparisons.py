"""Comparison queues: two outputs for one input, graded A better / B better / tie.

Pairs come from traffic (the same input answered by two model versions; drawn uniformly by
Poisson sampling from every such input in the frame, so the share of "A better" estimates
over all paired inputs) or are given by hand (a canary answer against a reference item).
Each comparison is shown in a random order, stored as ``shown_order`` (AB or BA); grades are
stored in the terms of the stored pair, whatever the reviewer saw.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from goldenloop.review import records as review_sql
from goldenloop.sampling import designs as D
from goldenloop.sampling import sql, sql_clickhouse
from goldenloop.sampling.frame import SamplingError, frame_to_dict
from goldenloop.sampling.queues import QueueOptions, QueueSummary, asked, now, positions, prepare
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store, audit
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where


@dataclass(frozen=True)
class Output:
    """One side of a pair: a span, an item, or a reference text (``kind`` says which)."""

    kind: str          # span, item, reference
    id: str | None
    text: str


@dataclass(frozen=True)
class Pair:
    input: str
    a: Output
    b: Output
    metadata: dict | None = None


def _pairwise_rubric(opts: QueueOptions) -> QueueOptions:
    """The default rubric grades one answer; a comparison queue defaults to the pairwise one."""
    return replace(opts, rubric="comparison") if opts.rubric == "default" else opts


def _comparison_id(a: Output, b: Output, input_text: str) -> str:
    key = json.dumps([a.kind, a.id, a.text if a.id is None else None,
                      b.kind, b.id, b.text if b.id is None else None, input_text])
    return "cmp_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _comparison_rows(pairs: Sequence[Pair], rng: np.random.Generator) -> pa.Table:
    shown = np.where(rng.random(len(pairs)) < 0.5, "AB", "BA")
    return pa.table({
        "comparison_id": [_comparison_id(p.a, p.b, p.input) for p in pairs],
        "input": [p.input for p in pairs],
        "a_type": [p.a.kind for p in pairs], "a_id": [p.a.id for p in pairs],
        "a_output": [p.a.text for p in pairs],
        "b_type": [p.b.kind for p in pairs], "b_id": [p.b.id for p in pairs],
        "b_output": [p.b.text for p in pairs],
        "shown_order": pa.array(shown.astype(str)),
        "metadata": [json.dumps(p.metadata or {}) for p in pairs],
    })


def _store(cur, qid: int, pairs: Sequence[Pair], probs: np.ndarray | None, strata: list | None,
           reviewers: int, rng: np.random.Generator) -> int:
    rows = _comparison_rows(pairs, rng)
    sql.insert_comparisons(cur, rows, now())
    k = rows.num_rows
    items = pa.table({
        "target_type": pa.array(["comparison"] * k, pa.string()),
        "target_id": rows.column("comparison_id"),
        "inclusion_prob": pa.array(probs, pa.float64()) if probs is not None
        else pa.nulls(k, pa.float64()),
        "stratum": pa.array(strata, pa.string()) if strata else pa.nulls(k, pa.string()),
        "reviewers_needed": pa.array([reviewers] * k, pa.int32()),
        "position": positions(rng, k, review_sql.max_position(cur, qid) + 1),
    })
    return review_sql.insert_items(cur, qid, items, now())


def create_version_comparison(store: Store, opts: QueueOptions, frame: SpanFilter, version_a: str,
                              version_b: str, n: int, *, seed: int | None = None,
                              spans: SpanStore | None = None) -> QueueSummary:
    """Pairs of spans answering the same input (same app and messages) from ``version_a`` and
    ``version_b``, drawn with probability ``n / N`` each from the N such inputs in ``frame``.
    ``spans``: where the spans live (None: the store's own file)."""
    if version_a == version_b:
        raise SamplingError("compare two different model versions")
    opts = _pairwise_rubric(opts)
    who, rubric = prepare(store, opts)
    seed = secrets.randbits(63) if seed is None else int(seed)
    where, params = span_where(frame, "s")
    elsewhere = spans is not None and spans.dialect != DUCKDB
    # read before the write lock is taken when the spans are elsewhere
    found = (sql_clickhouse.comparison_candidates(spans, frame, version_a, version_b)
             if elsewhere else None)

    def write(cur) -> QueueSummary:
        cands = found if found is not None else \
            sql.comparison_candidates(cur, where, params, version_a, version_b)
        if cands.num_rows == 0:
            raise SamplingError(f"no input in the frame was answered by both {version_a} "
                                f"and {version_b}")
        p = D.capped(np.ones(cands.num_rows), n)
        rows = np.flatnonzero(D.draw(p, seed))
        chosen = cands.select(["a_key", "b_key"]).take(pa.array(rows))
        texts = (sql_clickhouse.comparison_texts(spans, chosen) if elsewhere
                 else sql.comparison_texts(cur, chosen))
        pairs = [Pair(input=r["input"] or "",
                      a=Output("span", str(r["a_key"]), r["a_output"]),
                      b=Output("span", str(r["b_key"]), r["b_output"]),
                      metadata={"app": r["app"], "a_version": r["a_version"],
                                "b_version": r["b_version"]})
                 for r in texts.to_pylist()]
        stored = {"kind": "comparison", "unit": "comparison", "probability": True, "n": n,
                  "version_a": version_a, "version_b": version_b, "seed": seed,
                  "expected_size": float(p.sum())}
        qid = review_sql.insert_queue(
            cur, name=opts.name.strip(), description=opts.description, target_type="comparison",
            frame=frame_to_dict(frame), window=(frame.start, frame.end), population=cands.num_rows,
            design=stored, rubric_name=rubric.name, rubric_version=rubric.version,
            reviewers=opts.reviewers_per_item, created_by=who, now=now(),
            purpose=opts.purpose, criteria=asked(rubric, opts))
        added = _store(cur, qid, pairs, p[rows], None, opts.reviewers_per_item,
                       np.random.default_rng([seed, 2]))
        audit.record(cur, who, "queue.create", f"queue:{qid}", stored)
        return QueueSummary(qid, opts.name.strip(), "comparison", "comparison",
                            cands.num_rows, added, float(p.sum()))

    return store.write(write)


def create_pair_queue(store: Store, opts: QueueOptions, pairs: Sequence[Pair], *,
                      seed: int | None = None) -> QueueSummary:
    """A comparison queue of given pairs (e.g. canary answers against reference items): a
    queue by hand, without inclusion probabilities."""
    if not pairs:
        raise SamplingError("give at least one pair")
    opts = _pairwise_rubric(opts)
    who, rubric = prepare(store, opts)
    rng = np.random.default_rng(secrets.randbits(63) if seed is None else seed)
    stored = {"kind": "by_hand", "unit": "comparison", "probability": False}

    def write(cur) -> QueueSummary:
        qid = review_sql.insert_queue(
            cur, name=opts.name.strip(), description=opts.description, target_type="comparison",
            frame=None, window=(None, None), population=None, design=stored,
            rubric_name=rubric.name, rubric_version=rubric.version,
            reviewers=opts.reviewers_per_item, created_by=who, now=now(),
            purpose=opts.purpose, criteria=asked(rubric, opts))
        added = _store(cur, qid, pairs, None, None, opts.reviewers_per_item, rng)
        audit.record(cur, who, "queue.create", f"queue:{qid}", stored)
        return QueueSummary(qid, opts.name.strip(), "comparison", "by_hand", None, added, None)

    return store.write(write)


def item_reference_pairs(store: Store, item_ids: Sequence[str]) -> list[Pair]:
    """A pair per item: its output (e.g. a canary answer) as A against its reference as B."""
    found = {r[0]: r for r in sql.items_by_id(store, list(item_ids))}
    missing = [i for i in item_ids if i not in found]
    if missing:
        raise SamplingError(f"no items with ids {missing[:10]}")
    return [Pair(input=found[i][1] or "", a=Output("item", i, found[i][2] or ""),
                 b=Output("reference", i, found[i][3] or "")) for i in item_ids]
