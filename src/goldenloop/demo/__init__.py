"""A realistic, deterministic synthetic production history (``goldenloop demo``).

Two apps (a multi-turn support chatbot with retrieval and tools, a text-to-SQL assistant),
three model versions including a silent provider update, daily and weekly traffic cycles,
errors, end-user feedback, reviewer and judge grades, and injected incidents recorded in
``demo_incidents`` as ground truth. The same seed and end time give the same rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from goldenloop import rubric as rubrics
from goldenloop.demo import grades as demo_grades
from goldenloop.demo import queue as demo_queue
from goldenloop.demo import spanbuild as B
from goldenloop.demo import sql_assistant, support
from goldenloop.demo import texts_support as S
from goldenloop.demo.corrections import insert_corrections
from goldenloop.demo.feedback import feedback_table
from goldenloop.demo.incidents import (
    MODEL_VERSIONS,
    Incident,
    default_end,
    from_us,
    make_plan,
    to_us,
)
from goldenloop.demo.traffic import SQL, SUPPORT, day_turns, hour_weights, user_pool_size
from goldenloop.ingest.loader import import_table
from goldenloop.store import Store
from goldenloop.store.feedback import insert_feedback
from goldenloop.store.grades import insert_criteria, insert_grades
from goldenloop.store.incidents import insert_incidents

__all__ = ["MODEL_VERSIONS", "DemoSummary", "Incident", "generate"]

Progress = Callable[[float, str], None]
SUPPORT_SHARE = 0.8  # of all spans; support-bot turns have 3-4 spans, sql-assistant 1
BATCH_SPANS = 150_000  # spans per import: bounds memory for large histories
_TOOL_SHARE = 0.85 * sum(w for i, w in zip(S.INTENTS, S.INTENT_WEIGHTS, strict=True)
                         if i in S.USES_TOOL) / sum(S.INTENT_WEIGHTS)


@dataclass
class DemoSummary:
    seed: int
    start: datetime
    end: datetime
    spans: int  # imported now (0 when the same history was already stored)
    traces: int
    sessions: int
    llm_spans: int
    duplicates: int
    quarantined: int
    feedback: int
    human_grades: int
    judge_grades: int
    criteria: int
    queue_id: int = 0  # the demo review queue (demo.queue); 0 when none was written
    incidents: list[Incident] = field(default_factory=list)
    seconds: float = 0.0


def _volumes(spans: int) -> tuple[float, float]:
    """Expected sessions of (support-bot, sql-assistant) for ``spans`` spans in all."""
    support_spans_per_turn = 3 + _TOOL_SHARE
    support = spans * SUPPORT_SHARE / (SUPPORT.mean_turns() * support_spans_per_turn)
    sql_sessions = spans * (1 - SUPPORT_SHARE) / SQL.mean_turns()
    return support, sql_sessions


def generate(store: Store, *, spans: int = 200_000, seed: int = 7, days: int = 30,
             end: datetime | None = None, progress: Progress | None = None,
             queue: bool = True) -> DemoSummary:
    """Generate about ``spans`` spans over the ``days`` before ``end`` (default: the start of
    the current UTC hour) and store them with feedback, grades and the incident ground truth,
    and (``queue``) the review queue of the graded sample (``demo.queue``). Without the queue
    the reviewers' grades carry no queue ids: a store for tests that make their own queues."""
    t_start = time.perf_counter()
    note = progress or (lambda _f, _m: None)
    end = default_end() if end is None else from_us(to_us(end))
    plan = make_plan(seed, end, days)
    n_support, n_sql = _volumes(spans)
    apps = [
        (SUPPORT, support.build, n_support, hour_weights(plan, SUPPORT),
         user_pool_size(SUPPORT, n_support)),
        (SQL, sql_assistant.build, n_sql, hour_weights(plan, SQL), user_pool_size(SQL, n_sql)),
    ]
    per_batch = max(1, int(BATCH_SPANS // max(spans / days, 1)))
    counts = dict(spans=0, traces=0, sessions=0, duplicates=0, quarantined=0)
    truths: list[B.Truth] = []
    note(0.0, f"generating {spans:,} spans over {days} days")
    for first in range(0, days, per_batch):
        tables = []
        for day in range(first, min(first + per_batch, days)):
            for profile, build, total, weights, pool in apps:
                turns = day_turns(seed, plan, profile, day, weights, total, pool)
                if turns.n == 0:
                    continue
                table, truth = build(seed, plan, turns, day)
                tables.append(table)
                truths.append(truth)
                counts["traces"] += turns.n
                counts["sessions"] += int((turns.turn_index == 0).sum())
        if tables:
            batch = pa.concat_tables(tables)
            result = import_table(store, batch, source="demo", origin="demo",
                                  label=f"<demo seed={seed} days {first}-{day}>")
            counts["spans"] += result.imported
            counts["duplicates"] += result.duplicates
            counts["quarantined"] += result.quarantined
        done = min(first + per_batch, days)
        note(0.9 * done / days, f"{done}/{days} days, {counts['spans']:,} spans stored")

    note(0.9, "feedback and grades")
    truth = B.Truth.concat(truths)
    fb = feedback_table(seed, truth, plan.end_us)
    graded = demo_grades.grade_tables(seed, truth, plan.end_us, spans)
    criteria = demo_grades.criteria_table(from_us(plan.start_us))
    # The queue is graded under the packaged rubric, not demo-1: demo.queue says why.
    queue_rubric = rubrics.current(store, demo_queue.RUBRIC) if queue else None
    queue_id = 0
    with store.transaction() as cur:
        insert_incidents(cur, [i.as_row() for i in plan.incidents])
        n_criteria = insert_criteria(cur, criteria)
        n_feedback = insert_feedback(cur, fb)
        human = graded.human
        if queue:
            queue_id = demo_queue.write_queue(
                cur, seed=seed, truth=truth, grades=graded, start_us=plan.start_us,
                end_us=plan.end_us, rubric_name=queue_rubric.name,
                rubric_version=queue_rubric.version)
            human = demo_queue.link_grades(cur, queue_id, human)
        n_human = insert_grades(cur, human)
        n_judge = insert_grades(cur, graded.judge)  # no queue ids: that would count as a review
        if queue:
            demo_queue.count_reviews(cur, queue_id)
        insert_corrections(cur, seed)  # derived from the stored grades: after them
    note(1.0, "done")
    return DemoSummary(
        seed=seed, start=from_us(plan.start_us), end=end, spans=counts["spans"],
        traces=counts["traces"], sessions=counts["sessions"], llm_spans=truth.n,
        duplicates=counts["duplicates"], quarantined=counts["quarantined"],
        feedback=n_feedback, human_grades=n_human, judge_grades=n_judge, criteria=n_criteria,
        queue_id=queue_id,
        incidents=list(plan.incidents), seconds=time.perf_counter() - t_start,
    )
