"""The demo's review queue: the spans the demo judged, stated as the sample they are.

The demo grades a simple random sample (without replacement, of fixed size n) of its
eligible spans with its judge, and a random subset of those with reviewers. This module
writes that sample as one probability queue, so a newcomer can run a judge on it, grade
more of it on the Grade page, and get estimates over all eligible traffic (human-only and
prediction-powered) from the grades already there.

- **Frame**: LLM spans with status ok that ended at least three hours before the history's
  end (``grades.eligible``). The stored frame filter is its closest span filter (status ok,
  LLM spans, started before that cutoff); the population size is the exact count of the
  eligible spans, and the description says the cutoff is on the end time.
- **Design**: uniform, every item with inclusion probability ``n / N``. A simple random
  sample of fixed size n gives every span exactly that probability; estimation treats the
  draw as Poisson sampling at that rate. For the Hájek (ratio) means it computes, the two
  designs have the same linearized variance, ``(1 − n/N) S² / n``: the randomness of a
  Poisson sample's size cancels in a ratio, so the stated intervals hold for this draw.
  Reviewers graded a simple random subset of the items, which is what the estimators'
  non-response (human-only) and phase-2 (PPI) adjustment within strata assumes.
- **Items**: the judged spans, in a random serving order. Items a demo reviewer graded are
  done (their grades carry the queue and item ids, ``reviewers_done`` counted as
  ``review.submit`` counts it); the rest are pending. The demo judge's grades carry no queue
  ids: a grade with a queue item id counts as a review.
- **Rubric**: the packaged ``default`` rubric's current version, not the demo's ``demo-1``
  criteria. ``demo-1`` exists only as criteria rows (no rubric document), and a rubric
  loaded from a document is versioned by its content hash, so a queue under ``demo-1`` would
  make the Grade page write grades under a version with no criteria. Estimates read a
  queue's grades whatever rubric version they were made under, so the ``demo-1`` grades
  count; correctness has the same 1–5 scale in both.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from goldenloop.demo import spanbuild as B
from goldenloop.demo.grades import ELIGIBLE_BEFORE_END_US, DemoGrades
from goldenloop.demo.incidents import from_us
from goldenloop.review import records as review_sql
from goldenloop.sampling import designs as D
from goldenloop.sampling.frame import frame_to_dict, make_frame
from goldenloop.store.shared_sql import fetch1

RUBRIC = "default"  # the packaged rubric the queue is graded under
NAME = "Demo sample: support-bot and sql-assistant"
CREATED_BY = "demo"
REVIEWERS_PER_ITEM = 1


def _description(n: int, population: int, cutoff: datetime) -> str:
    return (f"The demo's own sample: {n:,} of the {population:,} LLM spans that answered (status "
            f"ok) and ended before {cutoff:%Y-%m-%d %H:%M} UTC (three hours before the history's "
            "end), drawn as a simple random sample; every span had the same chance "
            f"({n / population:.4f}). The demo judge graded all of them, reviewers some of them: "
            "grade the rest here, run a judge on the queue, and compare the estimates.")


def _span_rows(cur: duckdb.DuckDBPyConnection, truth: B.Truth, rows: np.ndarray) -> pa.Table:
    """span_key, app and model version of the truth ``rows``, in their order."""
    idx = pa.array(rows)
    wanted = pa.table({"trace_id": truth.trace_id.take(idx), "span_id": truth.span_id.take(idx),
                       "_ord": pa.array(np.arange(len(rows)))})
    cur.register("_demo_queue_spans", wanted)
    try:
        return cur.sql("""SELECT s.span_key, s.app, s.model_version
                          FROM _demo_queue_spans w
                          JOIN spans s ON s.trace_id = w.trace_id AND s.span_id = w.span_id
                          ORDER BY w._ord""").to_arrow_table()
    finally:
        cur.unregister("_demo_queue_spans")


def _existing(cur: duckdb.DuckDBPyConnection, seed: int, cutoff: datetime) -> int | None:
    """The demo queue of this history if it was written before (generating again adds none)."""
    cur.execute("""SELECT min(queue_id) FROM queues WHERE name = ? AND created_by = ?
                   AND window_end = ? AND CAST(design->>'seed' AS BIGINT) = ?""",
                [NAME, CREATED_BY, cutoff, seed])
    found = fetch1(cur)[0]
    return None if found is None else int(found)


def write_queue(cur: duckdb.DuckDBPyConnection, *, seed: int, truth: B.Truth, grades: DemoGrades,
                start_us: int, end_us: int, rubric_name: str, rubric_version: str) -> int:
    """Write the demo queue and its items (once per history); its id."""
    cutoff = from_us(end_us - ELIGIBLE_BEFORE_END_US)
    found = _existing(cur, seed, cutoff)
    if found is not None:
        return found
    spans = _span_rows(cur, truth, grades.judged)
    n, population = spans.num_rows, grades.population
    prob = n / population
    keys = spans.column("span_key")
    stratum = pa.array([f"{a or '-'} / {m or '-'}" for a, m in zip(
        spans.column("app").to_pylist(), spans.column("model_version").to_pylist(), strict=True)])
    items = pa.table({
        "target_type": pa.array(["span"] * n), "target_id": keys.cast(pa.string()),
        "span_key": keys, "inclusion_prob": pa.array(np.full(n, prob)), "stratum": stratum,
        "reviewers_needed": pa.array([REVIEWERS_PER_ITEM] * n, pa.int32()),
        "position": pa.array(np.random.default_rng([seed, 41]).permutation(n), pa.int32()),
    })
    frame = make_frame(start=from_us(start_us), end=cutoff, statuses=("ok",))
    design = {**D.to_dict(D.Uniform(n)), "seed": seed, "unit": "span", "probability": True,
              "expected_size": float(n),
              "drawn_as": "simple random sample without replacement of fixed size n; each "
                          "span's inclusion probability is n / N, as under the uniform design",
              "frame_cutoff": "spans that ended (not started) before window_end"}
    qid = review_sql.insert_queue(
        cur, name=NAME, description=_description(n, population, cutoff), target_type="span",
        frame=frame_to_dict(frame), window=(frame.start, frame.end), population=population,
        design=design, rubric_name=rubric_name, rubric_version=rubric_version,
        reviewers=REVIEWERS_PER_ITEM, created_by=CREATED_BY, now=cutoff)
    review_sql.insert_items(cur, qid, items, cutoff)
    return qid


def link_grades(cur: duckdb.DuckDBPyConnection, queue_id: int, human: pa.Table) -> pa.Table:
    """The reviewers' grade rows with the queue and item ids of the spans they grade."""
    cur.execute("""SELECT i.queue_item_id, s.trace_id, s.span_id FROM queue_items i
                   JOIN spans s ON s.span_key = i.span_key WHERE i.queue_id = ?""", [queue_id])
    item_of = {(t, s): q for q, t, s in cur.fetchall()}
    ids = [item_of.get(k) for k in zip(human.column("trace_id").to_pylist(),
                                       human.column("span_id").to_pylist(), strict=True)]
    if any(i is None for i in ids):  # the reviewers' spans are a subset of the judged ones
        raise RuntimeError("a demo reviewer graded a span outside the demo queue")
    return (human.append_column("queue_id", pa.array([queue_id] * len(ids), pa.int64()))
            .append_column("queue_item_id", pa.array(ids, pa.int64())))


def count_reviews(cur: duckdb.DuckDBPyConnection, queue_id: int) -> None:
    """Set each item's reviewers_done and status from its live human grades, as
    ``review_sql.refresh_item`` does one item at a time (the demo has no claims or skips)."""
    cur.execute(
        """UPDATE queue_items AS qi SET
                reviewers_done = n.done,
                status = CASE WHEN n.done >= qi.reviewers_needed THEN 'done' ELSE 'pending' END
            FROM (SELECT i.queue_item_id,
                         count(DISTINCT g.author_id) FILTER (
                             WHERE g.source = 'human' AND NOT g.is_gold) AS done
                  FROM queue_items i LEFT JOIN live_grades g ON g.queue_item_id = i.queue_item_id
                  WHERE i.queue_id = $q GROUP BY i.queue_item_id) n
            WHERE qi.queue_item_id = n.queue_item_id""", {"q": queue_id})
