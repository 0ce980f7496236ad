"""Pull annotators' responses from Argilla as grades (``goldenloop argilla pull``).

Each response VERSION (Argilla's response id and its ``updated_at``) is taken in once:
- submitted -> human grades (author = the Argilla username, the rubric version the dataset
  was pushed with, ``created_at`` = the response's time), through the same checks and rows as
  the Grade page's submissions; a later version supersedes the annotator's earlier grades;
- discarded -> the annotator skipped the item (a skip in the claims log; earlier grades of
  theirs on it are retracted), so estimates count it as non-response;
- draft -> ignored until submitted or discarded;
- a value that does not fit the rubric -> kept aside in the ledger with its reason and the
  raw response; the annotator's earlier grades stay.
Grades, skips and the ledger row of a batch are written in one transaction, so a pull killed
midway leaves whole responses only, and the next pull takes in the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync import sql
from goldenloop.argilla_sync.connect import Endpoint, http, translated
from goldenloop.argilla_sync.erase import erased_ids
from goldenloop.review import records as payload_sql
from goldenloop.review import records as review_sql
from goldenloop.review.answers import GradeError
from goldenloop.review.submit import check_answers, grade_rows
from goldenloop.review.submit import retractions as _retractions
from goldenloop.store import Store, audit
from goldenloop.store.shared_sql import fetch1

PAGE = 1000
BATCH = 500  # responses per transaction


@dataclass
class PullResult:
    link_id: int
    dataset: str
    seen: int = 0             # submitted and discarded responses read
    graded: int = 0
    superseded: int = 0
    discarded: int = 0
    set_aside: int = 0
    drafts: int = 0
    unchanged: int = 0
    reasons: list[str] = field(default_factory=list)
    golden: str | None = None          # NAME@VERSION pushed, for a golden set's dataset
    new_version: int | None = None     # the golden version made from the responses
    version_created: bool = False      # False: it equalled the latest, or nothing to take


def _when(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t.astimezone(UTC) if t.tzinfo else t).replace(tzinfo=None)


def fetch(link: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """(user id -> username, records with responses) of a linked dataset."""
    endpoint = Endpoint(link["url_env"], link["key_env"])
    url = endpoint.resolve()[0]
    with translated(url), http(endpoint) as h:
        users = h.get("/api/v1/users")
        users.raise_for_status()
        names = {u["id"]: u["username"] for u in users.json()["items"]}
        records, offset = [], 0
        while True:
            r = h.get(f"/api/v1/datasets/{link['argilla_dataset_id']}/records",
                      params={"include": ["responses"], "offset": offset, "limit": PAGE})
            r.raise_for_status()
            page = r.json()["items"]
            records += page
            if len(page) < PAGE:
                return names, records
            offset += PAGE


def _queue_item(link: dict[str, Any]) -> Callable[[str], dict[str, Any] | None]:
    prefix = f"q{link['queue_id']}-i"
    return lambda ext: ({"queue_item_id": int(ext[len(prefix):])} if ext.startswith(prefix)
                        else None)


def responses(link: dict[str, Any], names: dict[str, str], records: list[dict[str, Any]],
              done: set, result: PullResult,
              key_of: Callable[[str], dict[str, Any] | None]) -> list[dict[str, Any]]:
    """New response versions to take in, oldest first (drafts and versions seen left out);
    ``key_of`` names what a record's external id stands for (None: not pushed by us)."""
    out = []
    for rec in records:
        ext = rec.get("external_id") or ""
        key = key_of(ext)
        if key is None:
            continue  # not a record goldenloop pushed
        for resp in rec.get("responses") or []:
            if resp["status"] == "draft":
                result.drafts += 1
                continue
            result.seen += 1
            when = _when(resp["updated_at"])
            if (resp["id"], when) in done:
                result.unchanged += 1
                continue
            values = {k: (v or {}).get("value") for k, v in (resp.get("values") or {}).items()}
            out.append({"external_id": ext, **key,
                        "username": roles.normalize_name(names.get(resp["user_id"], resp["user_id"])),
                        "response_id": resp["id"], "updated_at": when,
                        "status": resp["status"], "values": values})
    return sorted(out, key=lambda r: (r["updated_at"], r["response_id"]))


def shown_order(cur, item: dict[str, Any]) -> str:
    if item["target_type"] != "comparison":
        return "AB"
    return (payload_sql.comparison(cur, item["target_id"]) or {}).get("shown_order") or "AB"


def _skip(cur, item: dict[str, Any], who: str, when: datetime) -> None:
    cur.execute("SELECT nextval('claim_seq')")
    claim_id = int(fetch1(cur)[0])
    cur.execute("INSERT INTO queue_claims VALUES (?, ?, ?, ?, ?, NULL, ?, ?, 'skipped')",
                [claim_id, item["queue_id"], item["queue_item_id"], who, when, when, when])


def ledger_entry(link: dict[str, Any], r: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"link_id": link["link_id"], "external_id": r["external_id"],
            "queue_item_id": r.get("queue_item_id"), "username": r["username"],
            "response_id": r["response_id"], "response_updated_at": r["updated_at"],
            "status": r["status"], "pulled_at": now}


def _checked(rubric: rubrics.Rubric, r: dict[str, Any]) -> tuple[dict, str | None]:
    """(checked answers, corrected answer); SetAside or GradeError when they do not fit."""
    answers, corrected = S.answers(rubric, r["values"])
    checked = check_answers(rubric, answers)
    if not checked and not corrected:
        raise GradeError("nothing answered")
    return checked, corrected


def set_aside_outcome(entry: dict[str, Any], r: dict[str, Any], exc: Exception) -> Outcome:
    entry.update(outcome="set_aside", reason=str(exc),
                 raw_values=json.dumps(r["values"], default=str))
    return ("set_aside", f"{r['external_id']} by {r['username']}: {exc}", False)


Outcome = tuple[str, str | None, bool]  # (outcome, set-aside reason, superseded earlier grades)


def _take_change(cur, rubric: rubrics.Rubric, r: dict[str, Any], item: dict[str, Any],
                 entry: dict[str, Any], now: datetime, adjudication: bool) -> Outcome:
    """A discard, or an answer replacing the annotator's live grades on the item."""
    who, when = r["username"], r["updated_at"]
    old = [g for g in review_sql.live_grades(cur, item["queue_item_id"], who) if not g["is_gold"]]
    if r["status"] == "discarded":
        ids = review_sql.insert_human_grades(cur, _retractions(old, set(), when))
        _skip(cur, item, who, when)
        entry.update(outcome="discarded", grade_ids=ids)
        review_sql.refresh_item(cur, item["queue_item_id"], now)
        return ("discarded", None, False)
    try:
        checked, corrected = _checked(rubric, r)
    except (S.SetAside, GradeError) as exc:
        return set_aside_outcome(entry, r, exc)
    previous = {g["criterion"]: g["grade_id"] for g in old}
    rows = grade_rows(item, who, rubric, checked, shown_order(cur, item), when, False, None, previous,
                      adjudication=adjudication)
    ids = review_sql.insert_human_grades(cur, rows + _retractions(old, set(checked), when))
    if corrected:
        review_sql.insert_correction(cur, item, corrected, who, item["queue_item_id"], when)
    entry.update(outcome="graded", grade_ids=ids)
    review_sql.refresh_item(cur, item["queue_item_id"], now)
    return ("graded", None, bool(old))


def _write_batch(cur, link: dict[str, Any], rubric: rubrics.Rubric, batch: list[dict[str, Any]],
                 now: datetime) -> list[Outcome]:
    """Take a batch of response versions in, inside one transaction. A first answer of an
    annotator on an item (the usual case) is gathered into one insert of grade rows and one
    recount of items; discards and changed answers go one by one."""
    ids = sorted({r["queue_item_id"] for r in batch})
    items, live = sql.items(cur, ids), sql.live_authors(cur, ids)
    entries, outcomes, rows, counts, touched = [], [], [], [], set()
    for r in batch:
        item, entry = items[r["queue_item_id"]], ledger_entry(link, r, now)
        entries.append(entry)
        if r["status"] != "submitted" or (r["queue_item_id"], r["username"]) in live:
            outcomes.append(_take_change(cur, rubric, r, item, entry, now, link["adjudication"]))
            continue
        try:
            checked, corrected = _checked(rubric, r)
        except (S.SetAside, GradeError) as exc:
            outcomes.append(set_aside_outcome(entry, r, exc))
            continue
        new = grade_rows(item, r["username"], rubric, checked, shown_order(cur, item),
                         r["updated_at"], False, None, {}, adjudication=link["adjudication"])
        if corrected:
            review_sql.insert_correction(cur, item, corrected, r["username"],
                                         item["queue_item_id"], r["updated_at"])
        entry["outcome"] = "graded"
        rows += new
        counts.append((entry, len(new)))
        touched.add(item["queue_item_id"])
        outcomes.append(("graded", None, False))
    grade_ids = review_sql.insert_human_grades(cur, rows)  # ids ascend in insertion order
    at = 0
    for entry, n in counts:
        entry["grade_ids"], at = grade_ids[at:at + n], at + n
    review_sql.refresh_items(cur, sorted(touched), now)
    sql.record_pulls(cur, entries)
    return outcomes


def take_in(store: Store, link: dict[str, Any], todo: list[dict[str, Any]], pulled_by: str,
            target: str, result: PullResult,
            write_batch: Callable[[Any, list[dict[str, Any]], datetime], list[Outcome]]) -> None:
    """Write the responses to take in, ``BATCH`` to a transaction, each with the link's pulled
    time and an audit entry on ``target``; count the outcomes into ``result``. One transaction
    runs even with nothing to take in, so the pulled time moves on."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for start in range(0, max(len(todo), 1), BATCH):
        batch = todo[start:start + BATCH]

        def write(cur, batch=batch) -> list[Outcome]:
            out = write_batch(cur, batch, now) if batch else []
            sql.set_pulled(cur, link["link_id"], now)
            audit.record(cur, pulled_by, "argilla.pull", target,
                         {"dataset": link["dataset_name"], "responses": len(batch)})
            return out

        # Counted after the commit: a transaction retried on a write conflict counts once.
        for outcome, reason, superseded in store.write(write):
            result.graded += outcome == "graded"
            result.discarded += outcome == "discarded"
            result.set_aside += outcome == "set_aside"
            result.superseded += superseded
            if reason:
                result.reasons.append(reason)


def pull_link(store: Store, link: dict[str, Any], pulled_by: str) -> PullResult:
    """Take in the new response versions of one linked dataset."""
    result = PullResult(link["link_id"], link["dataset_name"])
    rubric = rubrics.get(store, link["rubric_name"], link["rubric_version"])
    # Grades pulled for an adjudication queue settle earlier grades, as on the Grade page.
    link = {**link, "adjudication":
            review_sql.queue(store, link["queue_id"]).get("purpose") == "adjudication"}
    names, records = fetch(link)
    gone = erased_ids(store, link["link_id"])  # erased here, perhaps not yet in Argilla
    records = [r for r in records if r.get("external_id") not in gone]
    todo = responses(link, names, records, sql.pulled_versions(store, link["link_id"]), result,
                     _queue_item(link))
    take_in(store, link, todo, pulled_by, f"queue:{link['queue_id']}", result,
            lambda cur, batch, now: _write_batch(cur, link, rubric, batch, now))
    return result


def pull(store: Store, pulled_by: str, queue_id: int | None = None, *,
         check_role: bool = True, golden: str | None = None) -> list[PullResult]:
    """Pull every linked dataset (of one queue, of one golden dataset, or all). A person
    pulling needs a lead's role (making queues; exporting golden sets, since their pull makes
    the reviewed golden version); the owner's scheduled pull (``check_role=False``) acts for
    the lead who pushed and only takes responses in."""
    from goldenloop.argilla_sync.golden_pull import pull_golden_link

    links = sql.links(store, queue_id, golden)
    who = pulled_by
    if check_role:  # checked before anything is read or written
        kinds = {link["source_kind"] for link in links} or {"queue"}
        for kind in sorted(kinds):
            who = roles.require(store, pulled_by, roles.Action.EXPORT if kind == "golden"
                                else roles.Action.CREATE_QUEUE)
    return [pull_golden_link(store, link, who, derive=check_role)
            if link["source_kind"] == "golden" else pull_link(store, link, who)
            for link in links]
