"""Pull annotators' reviews of a golden version from Argilla, and make the reviewed version.

Each response version is taken in once (the same ledger as queue pulls), in batches of one
transaction each:
- submitted -> human grades of the row's target on the version's criterion (author = the
  Argilla username, the rubric version pushed, the response's time; no queue item: a golden
  review samples nothing), and, when the corrected answer differs from the expected output
  the row held, a correction of the target by the annotator (superseding their earlier one).
  A later version of the response supersedes the annotator's earlier grades from it;
- discarded -> the annotator's earlier grades and correction from the record are retracted;
- draft -> ignored; a value that does not fit the rubric -> set aside with its reason.

A golden version never changes: a pull by a person (not the owner's scheduled pull, which
only takes responses in) then derives the dataset's next version from the pushed one
(``golden.derive``: the same rows, recomputed from the grades and corrections live now),
records it with its provenance, and names it in the result. When that pull is killed before
the version is made, the next one makes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from goldenloop import rubric as rubrics
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync import sql, sql_golden
from goldenloop.argilla_sync.pulling import (
    Outcome,
    PullResult,
    fetch,
    ledger_entry,
    responses,
    set_aside_outcome,
    shown_order,
    take_in,
)
from goldenloop.golden.derive import derive_in
from goldenloop.golden.versions import version_info
from goldenloop.review import records as review_sql
from goldenloop.review.answers import GradeError
from goldenloop.review.submit import check_answers, grade_rows
from goldenloop.review.submit import retractions as _retractions
from goldenloop.store import Store


def _checked(rubric: rubrics.Rubric, criterion: str, r: dict[str, Any],
             expected: str | None) -> tuple[dict, str | None]:
    """(checked answers on the one criterion asked, a corrected answer that changes the
    expected output or None); SetAside or GradeError when they do not fit."""
    answers, corrected = S.answers(rubric, r["values"], only=criterion)
    asked = rubric.model_copy(update={"criteria": (rubric.criterion(criterion),)})
    checked = check_answers(asked, answers)  # the other criteria were not asked
    if corrected is not None and corrected == (expected or "").strip():
        corrected = None  # the suggested expected output, kept as it is
    if not checked and not corrected:
        raise GradeError("nothing answered")
    return checked, corrected


def _target(row: dict[str, Any]) -> dict[str, Any]:
    return {"target_type": row["target_type"], "target_id": row["target_id"],
            "span_key": row["span_key"], "queue_id": None, "queue_item_id": None}


def _take(cur, link: dict[str, Any], rubric: rubrics.Rubric, criterion: str,
          row: dict[str, Any], r: dict[str, Any], entry: dict[str, Any]) -> Outcome:
    """A discard, or an answer replacing the annotator's earlier grades from the record."""
    who, when, target = r["username"], r["updated_at"], _target(row)
    old = sql_golden.earlier_grades(cur, link["link_id"], r["external_id"], who)
    if r["status"] == "discarded":
        ids = review_sql.insert_human_grades(cur, _retractions(old, set(), when))
        sql_golden.write_correction(cur, target, None, who, when)
        entry.update(outcome="discarded", grade_ids=ids)
        return ("discarded", None, False)
    try:
        checked, corrected = _checked(rubric, criterion, r, row["expected_output"])
    except (S.SetAside, GradeError) as exc:
        return set_aside_outcome(entry, r, exc)
    previous = {g["criterion"]: g["grade_id"] for g in old}
    rows = grade_rows(target, who, rubric, checked, shown_order(cur, target), when, False, None,
                      previous)
    ids = review_sql.insert_human_grades(cur, rows + _retractions(old, set(checked), when))
    if corrected:
        sql_golden.write_correction(cur, target, corrected, who, when)
    entry.update(outcome="graded", grade_ids=ids)
    return ("graded", None, bool(old))


def _write_batch(cur, link: dict[str, Any], rubric: rubrics.Rubric, criterion: str,
                 rows: dict[str, dict[str, Any]], batch: list[dict[str, Any]],
                 now: datetime) -> list[Outcome]:
    """Take a batch of response versions in, inside one transaction. An annotator's first
    answer on a record (the usual case) is gathered into one insert of grade rows; discards
    and changed answers go one by one."""
    seen = sql_golden.answered(cur, link["link_id"], sorted({r["external_id"] for r in batch}))
    entries, outcomes, new, counts = [], [], [], []
    for r in batch:
        row, entry = rows.get(r["row_key"]), {**ledger_entry(link, r, now), "row_key": r["row_key"]}
        entries.append(entry)
        if row is None:  # erased since the push (goldenloop forget): nothing to grade
            outcomes.append(set_aside_outcome(entry, r, GradeError("the golden row is no longer stored")))
            continue
        if r["status"] != "submitted" or (r["external_id"], r["username"]) in seen:
            outcomes.append(_take(cur, link, rubric, criterion, row, r, entry))
            continue
        try:
            checked, corrected = _checked(rubric, criterion, r, row["expected_output"])
        except (S.SetAside, GradeError) as exc:
            outcomes.append(set_aside_outcome(entry, r, exc))
            continue
        target = _target(row)
        graded = grade_rows(target, r["username"], rubric, checked, shown_order(cur, target),
                            r["updated_at"], False, None, {})
        if corrected:
            sql_golden.write_correction(cur, target, corrected, r["username"], r["updated_at"])
        entry["outcome"] = "graded"
        new += graded
        counts.append((entry, len(graded)))
        outcomes.append(("graded", None, False))
    grade_ids = review_sql.insert_human_grades(cur, new)  # ids ascend in insertion order
    at = 0
    for entry, n in counts:
        entry["grade_ids"], at = grade_ids[at:at + n], at + n
    sql.record_pulls(cur, entries)
    return outcomes


def make_version(store: Store, link: dict[str, Any], author: str) -> tuple[int | None, bool]:
    """Derive the reviewed version when responses changed grades since the last one was made:
    (its number, whether it is new); (None, False) when there is nothing to take."""
    base = version_info(store, link["golden_version_id"])

    def write(cur) -> tuple[int | None, bool]:
        n, through = sql_golden.undrafted(cur, link["link_id"])
        if not n:
            return None, False
        now = datetime.now(UTC).replace(tzinfo=None)
        provenance = {"argilla_dataset": link["dataset_name"], "workspace": link["workspace"],
                      "responses": n, "pulled_through": through}
        version_id, created, _counts = derive_in(cur, base, author, provenance, now)
        sql_golden.record_version(cur, {
            "link_id": link["link_id"], "base_version_id": base.version_id,
            "version_id": version_id, "created": created, "responses": n,
            "pulled_through": through, "derived_by": author, "derived_at": now})
        number = cur.execute("SELECT version FROM golden_versions WHERE version_id = ?",
                             [version_id]).fetchall()[0][0]
        return int(number), created

    return store.write(write)


def pull_golden_link(store: Store, link: dict[str, Any], pulled_by: str, *,
                     derive: bool = True) -> PullResult:
    """Take in the new response versions of one golden set's dataset; with ``derive``, make
    the reviewed version from them."""
    result = PullResult(link["link_id"], link["dataset_name"],
                        golden=f"{link['golden_name']}@{link['golden_version']}")
    rubric = rubrics.get(store, link["rubric_name"], link["rubric_version"])
    criterion = version_info(store, link["golden_version_id"]).filter.criterion
    keys = sql_golden.record_keys(store, link["link_id"])
    names, records = fetch(link)
    todo = responses(link, names, records, sql.pulled_versions(store, link["link_id"]), result,
                     lambda ext: {"row_key": keys[ext]} if ext in keys else None)
    rows = sql_golden.rows_by_key(store, link["golden_version_id"],
                                  sorted({r["row_key"] for r in todo}))
    take_in(store, link, todo, pulled_by, f"golden:{link['golden_name']}", result,
            lambda cur, batch, now: _write_batch(cur, link, rubric, criterion, rows, batch, now))
    if derive:
        result.new_version, result.version_created = make_version(store, link, pulled_by)
    return result
