"""Submitting grades, and undoing the last submission.

A submission is one transaction: a grade row per answered criterion, an optional corrected
answer, the claim closed, the item's reviewer count and status recomputed, and an audit
entry. It is committed before the call returns, so the screen moves on only after the grade
is safe. A submission whose claim was lost (it expired and another reviewer took the item)
is still stored, marked ``late``; the item counts each reviewer once, so a late grade is
never double-counted. Submitting again for the same item supersedes the earlier grades.

Undo supersedes the reviewer's live grades on their last graded item with retraction rows
(nothing is deleted) and hands the item back to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.review import asking
from goldenloop.review import sql as review_sql
from goldenloop.review import sql_payload as payload_sql
from goldenloop.review.answers import Answer, GradeError, Value, as_answer, value_columns
from goldenloop.review.claims import DEFAULT_LOCK_SECONDS, Claim, claim_item, claim_next, utcnow
from goldenloop.store import Store, audit

_SWAP = {"A better": "B better", "B better": "A better"}


@dataclass(frozen=True)
class Submission:
    grade_ids: list[int]
    correction_id: int | None
    late: bool
    seconds_spent: float | None


def queue_rubric(store: Store, queue_id: int) -> rubrics.Rubric:
    q = review_sql.queue(store, queue_id)
    return asking.rubric_of(store, q["rubric_name"], q["rubric_version"])


def is_adjudication(store: Store, queue_id: int) -> bool:
    """Whether the queue settles earlier grades: its reviewers see them, and their grades are
    marked ``is_adjudication``."""
    return review_sql.queue(store, queue_id).get("purpose") == "adjudication"


def check_answers(rubric: rubrics.Rubric, answers: Mapping[str, Answer | Value],
                  asked: Iterable[str] | None = None
                  ) -> dict[str, tuple[Answer, dict[str, Any]]]:
    """Answers by criterion with their value columns. ``asked`` (default: every criterion)
    are the criteria the item asks; only those are accepted, and of those the rubric's
    required ones must be answered. Raises GradeError naming every criterion at fault."""
    asked = {c.name for c in rubric.criteria} if asked is None else set(asked)
    unknown = set(answers) - {c.name for c in rubric.criteria}
    if unknown:
        raise GradeError(f"the rubric has no criteria {', '.join(sorted(unknown))}")
    not_asked = [n for n in answers if n not in asked and not as_answer(answers[n]).empty]
    if not_asked:
        raise GradeError(f"not asked for this item: {', '.join(sorted(not_asked))}")
    out, missing = {}, []
    for c in rubric.criteria:
        if c.name not in asked:
            continue
        a = as_answer(answers.get(c.name))
        if a.empty:
            if c.required:
                missing.append(c.name)
            continue
        out[c.name] = (a, value_columns(c, a))
    if missing:
        raise GradeError(f"required and not answered: {', '.join(missing)}; answer "
                         + ("it" if len(missing) == 1 else "each")
                         + " or mark it not applicable", missing=missing)
    return out


def _shown_order(cur, item: dict[str, Any]) -> str:
    if item["target_type"] != "comparison":
        return "AB"
    row = payload_sql.comparison(cur, item["target_id"])
    return (row or {}).get("shown_order") or "AB"


def grade_rows(item: dict[str, Any], reviewer: str, rubric: rubrics.Rubric, checked: dict,
               shown: str, now: datetime, late: bool, seconds: float | None,
               previous: dict[str, int], is_gold: bool = False,
               adjudication: bool = False) -> list[dict[str, Any]]:
    """Grade rows for the checked answers; a pairwise answer is turned from the order shown
    into the stored pair's terms, keeping what the reviewer saw in ``raw``."""
    rows = []
    for name, (a, cols) in checked.items():
        raw = None
        if rubric.criterion(name).is_pairwise and cols["value_label"]:
            raw = json.dumps({"shown_order": shown, "answered": cols["value_label"]})
            if shown == "BA":  # the reviewer saw B first, as "A"
                cols = {**cols, "value_label": _SWAP.get(cols["value_label"], cols["value_label"])}
        rows.append({
            "target_type": item["target_type"], "target_id": item["target_id"],
            "span_key": item["span_key"], "criterion": name, **cols,
            "not_applicable": a.not_applicable, "flagged": a.flagged, "source": "human",
            "author_kind": "lead" if is_gold else "reviewer", "author_id": reviewer,
            "rubric_name": rubric.name, "rubric_version": rubric.version,
            "queue_id": item["queue_id"], "queue_item_id": item["queue_item_id"],
            "is_gold": is_gold, "is_adjudication": adjudication and not is_gold,
            "comment": a.comment, "raw": raw, "created_at": now,
            "supersedes": previous.get(name), "late": late, "seconds_spent": seconds,
            "retracted": False,
        })
    return rows


def retractions(old: list[dict[str, Any]], keep: set[str], now: datetime) -> list[dict]:
    """Rows retracting the live grades in ``old`` whose criterion is not in ``keep``."""
    return [{**{c: g[c] for c, _ in review_sql.HUMAN_GRADE_COLUMNS if c in g},
             "value_number": None, "value_label": None, "value_labels": None, "value_text": None,
             "not_applicable": False, "flagged": False, "comment": None, "raw": None,
             "created_at": now, "supersedes": g["grade_id"], "late": False,
             "seconds_spent": None, "retracted": True}
            for g in old if g["criterion"] not in keep]


def _prepared(store: Store, claim: Claim, answers: Mapping[str, Answer | Value],
              correction: str | None) -> tuple[rubrics.Rubric, dict, bool, bool]:
    """(rubric, checked answers, adjudication queue?, queue open?) from one read of the queue."""
    roles.guard(store, roles.Action.GRADE, claim.reviewer)  # a reviewer removed since claiming
    q = review_sql.queue(store, claim.queue_id)
    rubric = asking.rubric_of(store, q["rubric_name"], q["rubric_version"])
    checked = check_answers(rubric, answers, asking.asked_for(store, claim, rubric, q).criteria)
    if correction is not None and not rubric.corrected_answer.enabled:
        raise GradeError(f"rubric {rubric.name} asks for no corrected answer")
    if not checked and not (correction or "").strip():
        raise GradeError("nothing to submit: answer at least one criterion")
    return rubric, checked, q.get("purpose") == "adjudication", q["status"] == "open"


def _store_submission(cur, claim: Claim, rubric: rubrics.Rubric, checked: dict,
                      correction: str | None, adjudication: bool) -> Submission:
    now = utcnow()
    item = review_sql.item(cur, claim.queue_item_id)
    held = item["claim_id"] == claim.claim_id
    started = review_sql.claimed_at(cur, claim.claim_id)
    seconds = (now - started).total_seconds() if started else None
    old = review_sql.live_grades(cur, claim.queue_item_id, claim.reviewer)
    old = [g for g in old if not g["is_gold"]]
    previous = {g["criterion"]: g["grade_id"] for g in old}
    rows = grade_rows(item, claim.reviewer, rubric, checked, _shown_order(cur, item), now,
                      not held, seconds, previous, adjudication=adjudication)
    ids = review_sql.insert_human_grades(cur, rows + retractions(old, set(checked), now))
    cid = None
    if (correction or "").strip():
        cid = review_sql.insert_correction(cur, item, correction, claim.reviewer,
                                           claim.queue_item_id, now)
    review_sql.end_claim(cur, claim.queue_item_id, claim.claim_id, "graded", now)
    review_sql.refresh_item(cur, claim.queue_item_id, now)
    audit.record(cur, claim.reviewer, "grade.submit", f"queue_item:{claim.queue_item_id}",
                 {"grades": ids, "correction": cid, "late": not held})
    return Submission(ids, cid, not held, seconds)


def submit(store: Store, claim: Claim, answers: Mapping[str, Answer | Value], *,
           correction: str | None = None) -> Submission:
    """Store the reviewer's answers for the claimed item (see the module docstring)."""
    rubric, checked, adjudication, _ = _prepared(store, claim, answers, correction)
    return store.write(lambda cur: _store_submission(cur, claim, rubric, checked, correction,
                                                     adjudication))


def submit_and_next(store: Store, claim: Claim, answers: Mapping[str, Answer | Value], *,
                    correction: str | None = None,
                    lock_seconds: float = DEFAULT_LOCK_SECONDS
                    ) -> tuple[Submission, Claim | None]:
    """``submit``, then the reviewer's next item, in one transaction: the grade is committed
    with the claim of the next item, and the screen waits for the store's lock once. The next
    claim is None when nothing is left for the reviewer or the queue was closed."""
    rubric, checked, adjudication, is_open = _prepared(store, claim, answers, correction)

    def write(cur) -> tuple[Submission, Claim | None]:
        done = _store_submission(cur, claim, rubric, checked, correction, adjudication)
        nxt = claim_next(cur, claim.queue_id, claim.reviewer, lock_seconds) if is_open else None
        return done, nxt

    return store.write(write)


@dataclass(frozen=True)
class Undone:
    """The item an undo handed back, with the answers and corrected answer it had."""

    claim: Claim
    answers: dict[str, Answer]
    correction: str | None


def undo(store: Store, queue_id: int, reviewer: str, *,
         lock_seconds: float = DEFAULT_LOCK_SECONDS) -> Undone | None:
    """Retract the reviewer's last submission in a queue and give them the item back with
    the answers it had (None when there is nothing to undo, or another reviewer now holds
    the item)."""
    who = roles.require(store, reviewer, roles.Action.GRADE)
    q = review_sql.queue(store, queue_id)
    rubric = asking.rubric_of(store, q["rubric_name"], q["rubric_version"])

    def write(cur) -> Undone | None:
        now = utcnow()
        item_id = review_sql.last_graded_item(cur, queue_id, who)
        if item_id is None:
            return None
        old = [g for g in review_sql.live_grades(cur, item_id, who) if not g["is_gold"]]
        correction = review_sql.live_correction(cur, item_id, who)
        review_sql.insert_human_grades(cur, retractions(old, set(), now))
        item = review_sql.item(cur, item_id)
        review_sql.insert_correction(cur, item, None, who, item_id, now, retract=True)
        for other_item, other_claim in review_sql.open_claims(cur, queue_id, who, now):
            if other_item != item_id:  # one item at a time: the one they moved on to goes back
                review_sql.end_claim(cur, other_item, other_claim, "released", now)
                review_sql.refresh_item(cur, other_item, now)
        review_sql.refresh_item(cur, item_id, now)
        audit.record(cur, who, "grade.undo", f"queue_item:{item_id}",
                     {"retracted": [g["grade_id"] for g in old]})
        claim = claim_item(cur, item_id, who, lock_seconds)
        review_sql.refresh_item(cur, item_id, now)
        return None if claim is None else Undone(claim, asking.answers_of(rubric, old),
                                                 correction)

    return store.write(write)


def undo_last(store: Store, queue_id: int, reviewer: str, *,
              lock_seconds: float = DEFAULT_LOCK_SECONDS) -> Claim | None:
    """``undo``, returning only the claim of the item handed back."""
    done = undo(store, queue_id, reviewer, lock_seconds=lock_seconds)
    return None if done is None else done.claim


__all__ = ["GradeError", "Submission", "Undone", "check_answers", "is_adjudication",
           "queue_rubric", "submit", "submit_and_next", "undo", "undo_last"]
