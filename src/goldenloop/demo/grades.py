"""The demo rubric and its grades: reviewers' grades on a few hundred sampled LLM spans
(some by two reviewers) and an LLM judge's on a few thousand, including every span a
reviewer graded. Both follow each span's true quality with their own noise; the judge is
slightly lenient, so judge-human agreement is high but imperfect."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from goldenloop.demo import spanbuild as B
from goldenloop.demo.incidents import HOUR_US
from goldenloop.demo.render import cat, num, pick, where
from goldenloop.demo.texts_answers import TONES

RUBRIC_NAME, RUBRIC_VERSION = "default", "demo-1"
CORRECTNESS_LEVELS = {
    "1": "Wrong or harmful: contradicts the sources or the request.",
    "2": "Mostly wrong: the main point is incorrect.",
    "3": "Partly correct: vague, or misses the main point.",
    "4": "Correct but incomplete.",
    "5": "Correct and complete, grounded in the sources.",
}
TONE_LABELS = {
    "on-brand": "Warm, calm, professional and concise.",
    "too formal": "Stiff or bureaucratic.",
    "too casual": "Chatty, effusive, exclamation marks, filler.",
    "rude": "Dismissive, condescending or hostile.",
}
REVIEWERS = ("ana", "ben", "chloe", "dev")
# Per reviewer: P(error of -2, -1, 0, +1, +2) on correctness. ben is harsh, chloe noisy.
_REVIEWER_ERR = np.array([
    [0.01, 0.08, 0.82, 0.08, 0.01],
    [0.02, 0.22, 0.70, 0.05, 0.01],
    [0.03, 0.14, 0.66, 0.14, 0.03],
    [0.01, 0.09, 0.80, 0.09, 0.01],
])
_JUDGE_ERR = np.array([0.0, 0.05, 0.74, 0.19, 0.02])  # lenient: errs upwards
JUDGE_NAME = "demo-judge"
JUDGE_MODEL = "gpt-4o-2024-08-06"
JUDGE_PROMPT = ("Grade the assistant's last answer for correctness (1-5) against the retrieved "
                "sources and order data, and its tone (on-brand, too formal, too casual, rude). "
                "Answer in JSON with correctness, tone and a one-sentence explanation.")
JUDGE_VERSION = hashlib.sha256(f"{JUDGE_MODEL}\n{JUDGE_PROMPT}".encode()).hexdigest()[:12]
_EXPLAIN = {
    1: "The answer contradicts the sources.", 2: "The main claim is not supported.",
    3: "Partly right but vague.", 4: "Correct, though a detail is missing.",
    5: "Accurate and grounded in the sources.",
}
_HUMAN_NOTES = ["Contradicts the help-center article.", "Made-up policy.",
                "Ignores the order lookup.", "Wrong answer, should have offered a human."]


def criteria_table(created: datetime) -> pa.Table:
    return pa.table({
        "rubric_name": [RUBRIC_NAME] * 2,
        "rubric_version": [RUBRIC_VERSION] * 2,
        "name": ["correctness", "tone"],
        "value_type": ["ordinal", "nominal"],
        "min_value": pa.array([1.0, None]),
        "max_value": pa.array([5.0, None]),
        "labels": pa.array([None, list(TONE_LABELS)], pa.list_(pa.string())),
        "label_descriptions": [json.dumps(CORRECTNESS_LEVELS), json.dumps(TONE_LABELS)],
        "higher_is_better": pa.array([True, None], pa.bool_()),
        "multi_select": [False, False],
        "instructions": [
            "Is the answer factually correct and complete for the user's request, given the "
            "retrieved articles and order data (for SQL: does the query answer the question)?",
            "Which label best describes the answer's tone for the Brightcart brand voice?",
        ],
        "created_at": pa.array([created, created], pa.timestamp("us")),
    })


ELIGIBLE_BEFORE_END_US = 3 * HOUR_US  # spans that ended this long before the history's end


def eligible(truth: B.Truth, end_us: int) -> np.ndarray:
    """Rows the demo grades are drawn from (the demo queue's frame): LLM spans that answered
    (status ok) and ended at least three hours before the history's end."""
    return np.flatnonzero((truth.status == B.OK)
                          & (truth.end_us < end_us - ELIGIBLE_BEFORE_END_US))


@dataclass(frozen=True)
class DemoGrades:
    human: pa.Table    # reviewers' grades (no queue ids yet: see demo.queue)
    judge: pa.Table    # the demo judge's grades
    judged: np.ndarray  # truth rows the judge graded: the demo queue's items
    graded: np.ndarray  # truth rows a reviewer graded (a subset of ``judged``)
    population: int     # eligible rows the sample was drawn from


def _sample(rng: np.random.Generator, frame: np.ndarray, spans: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """(judged, graded by a reviewer): simple random samples without replacement, of fixed
    size, the first from ``frame``, the second from the first."""
    n_judge = min(len(frame), int(np.clip(spans // 60, 400, 6000)))
    n_human = min(n_judge, int(np.clip(spans // 600, 80, 600)))
    judged = np.sort(rng.choice(frame, n_judge, replace=False))
    human = np.sort(rng.choice(judged, n_human, replace=False))
    return judged, human


def _other_label(rng: np.random.Generator, tone: np.ndarray) -> np.ndarray:
    return (tone + rng.integers(1, len(TONES), len(tone))) % len(TONES)


def _created(rng: np.random.Generator, after_us: np.ndarray, median_h: float, end_us: int
             ) -> np.ndarray:
    delay = (rng.lognormal(np.log(median_h), 0.7, len(after_us)) * HOUR_US).astype(np.int64)
    return np.maximum(np.minimum(after_us + delay, end_us - 60_000_000), after_us + 30_000_000)


def _rows(truth: B.Truth, rows: np.ndarray, value: np.ndarray, tone: np.ndarray,
          created: np.ndarray, extra: dict) -> pa.Table:
    """Correctness rows for all ``rows``, tone rows for the support-bot ones."""
    sup = truth.app[rows] == 1
    idx = pa.array(np.concatenate([rows, rows[sup]]))
    k, m = len(rows), int(sup.sum())
    cols = {
        "target_type": pa.repeat(pa.scalar("span"), k + m),
        "trace_id": truth.trace_id.take(idx),
        "span_id": truth.span_id.take(idx),
        "criterion": pick(["correctness", "tone"], np.r_[np.zeros(k, int), np.ones(m, int)]),
        "value_number": pa.array(np.r_[value.astype(np.float64), np.full(m, np.nan)],
                                 mask=np.r_[np.zeros(k, bool), np.ones(m, bool)]),
        "value_label": pa.concat_arrays([pa.nulls(k, pa.string()),
                                         pick(list(TONES), tone[sup])]),
        "rubric_name": pa.repeat(pa.scalar(RUBRIC_NAME), k + m),
        "rubric_version": pa.repeat(pa.scalar(RUBRIC_VERSION), k + m),
        "created_at": B.times(np.r_[created, created[sup]]),
    }
    for name, v in extra.items():  # a constant, or one value per row of ``rows``
        cols[name] = (pa.repeat(pa.scalar(v, pa.string()), k + m) if isinstance(v, str)
                      else pa.concat_arrays([v, v.filter(pa.array(sup))]))
    return pa.table(cols)


def grade_tables(seed: int, truth: B.Truth, end_us: int, spans: int) -> DemoGrades:
    """Human and judge grades as rows for ``store.grades.insert_grades``, with the sample."""
    rng = np.random.default_rng([seed, 31])
    frame = eligible(truth, end_us)
    judged, human = _sample(rng, frame, spans)
    q_true, t_true = truth.quality.astype(np.int64), truth.tone.astype(np.int64)

    # Reviewers: one per sampled span, a second on about a quarter of them.
    first = rng.integers(0, len(REVIEWERS), len(human))
    second_rows = human[rng.random(len(human)) < 0.25]
    second = (first[np.searchsorted(human, second_rows)]
              + rng.integers(1, len(REVIEWERS), len(second_rows))) % len(REVIEWERS)
    rows = np.r_[human, second_rows]
    who = np.r_[first, second]
    u = rng.random(len(rows))
    err = (u[:, None] >= np.cumsum(_REVIEWER_ERR[who], axis=1)).sum(axis=1) - 2
    h_val = np.clip(q_true[rows] + err, 1, 5)
    h_tone = np.where(rng.random(len(rows)) < 0.88, t_true[rows],
                      _other_label(rng, t_true[rows]))
    h_created = _created(rng, truth.end_us[rows], 20.0, end_us)
    note = where((h_val <= 2) & (rng.random(len(rows)) < 0.6),
                 pick(_HUMAN_NOTES, rng.integers(0, len(_HUMAN_NOTES), len(rows))),
                 pa.scalar(None, pa.string()))
    human_t = _rows(truth, rows, h_val, h_tone, h_created, {
        "source": "human", "author_kind": "reviewer",
        "author_id": pick(list(REVIEWERS), who), "comment": note,
    })

    # The judge: every sampled span once, both criteria from one call.
    j_err = rng.choice(5, len(judged), p=_JUDGE_ERR) - 2
    j_val = np.clip(q_true[judged] + j_err, 1, 5)
    t = t_true[judged]
    lenient = (t == TONES.index("too casual")) & (rng.random(len(judged)) < 0.2)
    j_tone = np.where(rng.random(len(judged)) < 0.85, t, _other_label(rng, t))
    j_tone = np.where(lenient, TONES.index("on-brand"), j_tone)
    j_created = _created(rng, truth.end_us[judged], 0.3, end_us)
    raw = cat('{"correctness": ', num(j_val), ', "tone": "', pick(list(TONES), j_tone),
              '", "explanation": "', pick([_EXPLAIN[i] for i in range(1, 6)], j_val - 1), '"}')
    judge_t = _rows(truth, judged, j_val, j_tone, j_created, {
        "source": "judge", "author_kind": "judge", "author_id": JUDGE_NAME,
        "judge_name": JUDGE_NAME, "judge_model": JUDGE_MODEL, "judge_version": JUDGE_VERSION,
        "raw": raw,
    })
    return DemoGrades(human_t, judge_t, judged, human, len(frame))
