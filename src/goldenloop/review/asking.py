"""Which criteria an item asks, and a withdrawn submission's answers.

A queue may ask a subset of its rubric's criteria (``set_criteria``, stored with the queue;
NULL asks them all). An adjudication item asks less still: only the criteria its earlier
grades dispute — those where the other reviewers' and the judges' live grades do not all
give the same answer. When nothing is disputed (say the earlier grades are gone) it asks the
queue's criteria, so an item is never left with no question.

Whether a criterion must be answered follows the rubric (``required``), but only among the
criteria asked: a criterion a queue does not ask is neither required nor accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.review import sql as review_sql
from goldenloop.review import sql_payload as payload_sql
from goldenloop.review.answers import Answer, GradeError
from goldenloop.review.claims import Claim
from goldenloop.store import Store, audit


@dataclass(frozen=True)
class Asked:
    """The criteria an item asks, in the rubric's order, and why; with the queue's rubric and
    whether it adjudicates (so a screen reads the queue once)."""

    criteria: tuple[str, ...]
    disputed: bool = False      # narrowed to the criteria earlier grades dispute
    rubric: rubrics.Rubric | None = None
    adjudication: bool = False

    def required(self, rubric: rubrics.Rubric) -> tuple[str, ...]:
        return tuple(c.name for c in rubric.criteria if c.required and c.name in self.criteria)


_RUBRICS: dict[tuple[str, str], rubrics.Rubric] = {}


def rubric_of(store: Store, name: str, version: str) -> rubrics.Rubric:
    """A stored rubric version, parsed once per process: a version is the hash of its
    content, so the same name and version are the same rubric in every store."""
    key = (name, version)
    if key not in _RUBRICS:
        _RUBRICS[key] = rubrics.get(store, name, version)
    return _RUBRICS[key]


def set_criteria(store: Store, queue_id: int, criteria: Iterable[str] | None, by: str) -> None:
    """Make a queue ask only ``criteria`` of its rubric (None: every criterion). A lead's
    action, audited; names the rubric lacks are refused, all of them at once."""
    who = roles.require(store, by, roles.Action.CREATE_QUEUE)
    q = review_sql.queue(store, queue_id)
    rubric = rubric_of(store, q["rubric_name"], q["rubric_version"])
    names = None if criteria is None else list(dict.fromkeys(criteria))
    if names is not None:
        unknown = [n for n in names if n not in {c.name for c in rubric.criteria}]
        if unknown:
            raise GradeError(f"rubric {rubric.name} has no criteria {', '.join(unknown)}")
        if not names:
            raise GradeError("a queue asks at least one criterion")
        names = [c.name for c in rubric.criteria if c.name in names]  # the rubric's order

    def write(cur) -> None:
        review_sql.set_queue_criteria(cur, queue_id, names)
        audit.record(cur, who, "queue.criteria", f"queue:{queue_id}", {"criteria": names})

    store.write(write)


def queue_criteria(rubric: rubrics.Rubric, queue: dict[str, Any]) -> tuple[str, ...]:
    chosen = queue.get("criteria")
    return tuple(c.name for c in rubric.criteria if chosen is None or c.name in chosen)


def _answer_key(r: dict[str, Any]) -> tuple:
    return (bool(r["not_applicable"]), r["value_number"], r["value_label"], r["value_labels"])


def disputed(rubric: rubrics.Rubric, rows: list[dict[str, Any]]) -> list[str]:
    """Criteria (rubric order) whose earlier grades in ``rows`` (``target_grades`` rows: live,
    human and judge, adjudications left out) do not all give the same answer. Text criteria
    have no answer to agree on and are never disputed."""
    seen: dict[str, set[tuple]] = {}
    for r in rows:
        if not r.get("is_adjudication"):
            seen.setdefault(r["criterion"], set()).add(_answer_key(r))
    return [c.name for c in rubric.criteria
            if c.type != "text" and len(seen.get(c.name, ())) > 1]


def asked_for(store: Store, claim: Claim, rubric: rubrics.Rubric,
              queue: dict[str, Any]) -> Asked:
    base = queue_criteria(rubric, queue)
    if queue.get("purpose") != "adjudication":
        return Asked(base, rubric=rubric)
    rows = payload_sql.target_grades(store.cursor(), claim.target_type, claim.target_id,
                                     claim.span_key)
    rows = [r for r in rows if not (r["source"] == "human" and r["author_id"] == claim.reviewer)]
    narrowed = tuple(n for n in disputed(rubric, rows) if n in base)
    if narrowed:
        return Asked(narrowed, disputed=True, rubric=rubric, adjudication=True)
    return Asked(base, rubric=rubric, adjudication=True)


def asked(store: Store, claim: Claim) -> Asked:
    """The criteria the claimed item asks (see the module docstring)."""
    q = review_sql.queue(store, claim.queue_id)
    return asked_for(store, claim, rubric_of(store, q["rubric_name"], q["rubric_version"]), q)


def answers_of(rubric: rubrics.Rubric, rows: list[dict[str, Any]]) -> dict[str, Answer]:
    """Grade rows (live ``grades`` rows of one reviewer and item) back as the answers that
    made them: what an undo hands back to the grading screen."""
    out: dict[str, Answer] = {}
    names = {c.name: c for c in rubric.criteria}
    for r in rows:
        c = names.get(r["criterion"])
        if c is None:
            continue
        value: Any = None
        if r["value_labels"] is not None:
            value = list(r["value_labels"])
        elif r["value_label"] is not None:
            value = r["value_label"]
        elif r["value_text"] is not None:
            value = r["value_text"]
        elif r["value_number"] is not None:
            n = float(r["value_number"])
            value = (n == 1.0 if c.type == "boolean" else
                     int(n) if c.type == "ordinal" and n.is_integer() else n)
        out[c.name] = Answer(value, not_applicable=bool(r["not_applicable"]),
                             flagged=bool(r["flagged"]), comment=r.get("comment"))
    return out


__all__ = ["Asked", "answers_of", "asked", "disputed", "set_criteria"]
