"""Push a review queue to Argilla as a dataset (``goldenloop argilla push --queue ID``).

One dataset per (queue, dataset name, workspace); settings come from the queue's rubric
version (see ``settings``) and its reviewers per item become the dataset's distribution.
Each record's id is ``q<queue>-i<item>``: a second push updates the records it sent before
and adds new ones, never duplicates. Gold check items stay in goldenloop (they test
reviewers), and items already done in goldenloop are left out. Judge grades become
suggestions (agent = judge name and version) only when asked, or for adjudication queues:
review queues grade blind by default, as in goldenloop.

The server is written first and goldenloop after, in one transaction: a push that fails on
the network leaves goldenloop unchanged, and running it again finishes the job.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from goldenloop import review
from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync import sql
from goldenloop.argilla_sync.connect import ArgillaSyncError, Endpoint, client, translated
from goldenloop.review.payload import ComparisonPayload, ItemPayload, SessionPayload, SpanPayload
from goldenloop.store import Store, audit

EMPTY = "(empty)"  # Argilla refuses an empty required field


@dataclass(frozen=True)
class PushResult:
    link_id: int
    dataset: str
    workspace: str
    records: int
    new_records: int
    suggestions: int


def external_id(queue_id: int, queue_item_id: int) -> str:
    return f"q{queue_id}-i{queue_item_id}"


def default_name(queue_id: int, queue_name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in queue_name.lower())
    return f"goldenloop-q{queue_id}-{safe.strip('-')}"[:100]


def chat(messages: list[tuple[str, str | None]]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in messages if c]


def fields(p: Any) -> dict[str, Any]:
    """Argilla fields for a grading payload (the same content as the Grade page shows)."""
    if isinstance(p, SpanPayload):
        convo = [("system", s) for s in p.system] + [(m.role, m.content) for m in p.earlier]
        convo.append(("user", p.user_message))
        extra = p.retrieved_context + p.tool_results
        context = json.dumps(extra, ensure_ascii=False, indent=1, default=str) if extra else None
        return {"conversation": chat(convo), "output": p.output or EMPTY, "context": context}
    if isinstance(p, SessionPayload):
        convo = []
        for t in p.turns:
            convo += [("user", t.user), ("assistant", t.assistant)]
        return {"conversation": chat(convo[:-1]), "output": p.turns[-1].assistant or EMPTY}
    if isinstance(p, ComparisonPayload):
        return {"conversation": chat([("user", p.input)]),
                "output": f"A:\n{p.first or EMPTY}\n\nB:\n{p.second or EMPTY}"}
    if isinstance(p, ItemPayload):
        return {"conversation": chat([("user", p.input)]), "output": p.output or EMPTY}
    raise ArgillaSyncError(f"cannot push a {type(p).__name__}")


def _metadata(item: dict[str, Any], queue_id: int) -> dict[str, Any]:
    meta = {"queue": str(queue_id), "app": item["app"], "model_version": item["model_version"],
            "prompt_version": item["prompt_version"], "stratum": item["stratum"],
            "inclusion_prob": item["inclusion_prob"]}
    return {k: v for k, v in meta.items() if v is not None and not (isinstance(v, float) and v != v)}


def agent_name(judge: str | None, version: str | None) -> str:
    """``judge:version`` in the characters Argilla accepts for an agent (others become -)."""
    text = f"{judge or 'judge'}:{version}" if version else (judge or "judge")
    return re.sub(r"[^a-zA-Z0-9_:./\s-]", "-", text)[:200]


def _suggestions(rg, rubric: rubrics.Rubric, grades: list[dict[str, Any]]) -> list[Any]:
    """One suggestion per criterion: the latest live judge grade (grades come oldest first)."""
    latest: dict[str, dict[str, Any]] = {}
    for g in grades:
        latest[g["criterion"]] = g
    out = []
    for name, g in latest.items():
        try:
            c = rubric.criterion(name)
        except rubrics.RubricError:
            continue  # a judge of another rubric version's criterion
        value = S.suggestion_value(c, g)
        if value is not None:
            agent = agent_name(g["judge_name"], g["judge_version"])
            out.append(rg.Suggestion(question_name=name, value=value, agent=agent, type="model"))
    return out


def open_dataset(rg, cl, name: str, workspace: str, rubric: rubrics.Rubric, reviewers: int,
             **kind: Any):
    """The named dataset, created with the rubric's settings (``kind``: see
    ``settings.settings``) when the workspace does not hold it yet."""
    ws = cl.workspaces(workspace)
    if ws is None:
        raise ArgillaSyncError(f"Argilla has no workspace {workspace!r}: create it there first "
                               "(or pass --workspace)")
    with warnings.catch_warnings():  # "not found" is an answer here, not a warning
        warnings.simplefilter("ignore", UserWarning)
        existing = cl.datasets(name=name, workspace=ws)
    if existing is not None:
        return existing
    ds = rg.Dataset(name=name, workspace=ws, settings=S.settings(rg, rubric, reviewers, **kind),
                    client=cl)
    try:
        return ds.create()
    except Exception:
        # A dataset is created before its settings: a refused setting would leave an empty
        # draft that the next push would take for the finished dataset.
        left = cl.datasets(name=name, workspace=ws)
        if left is not None:
            left.delete()
        raise


def push_queue(store: Store, queue_id: int, *, pushed_by: str, dataset: str | None = None,
               workspace: str = "argilla", endpoint: Endpoint | None = None,
               suggestions: bool | None = None) -> PushResult:
    """Create or update the Argilla dataset of a queue (see the module docstring)."""
    pushed_by = roles.guard(store, roles.Action.CREATE_QUEUE, pushed_by)
    import argilla as rg

    endpoint = endpoint or Endpoint()
    q = review.get_queue(store, queue_id)
    rubric = rubrics.get(store, q.rubric_name, q.rubric_version)
    name = dataset or default_name(queue_id, q.name)
    with_suggestions = (q.purpose == "adjudication") if suggestions is None else suggestions
    items = sql.queue_items(store, queue_id)
    judged: dict[int, list[dict[str, Any]]] = {}
    if with_suggestions:
        for g in sql.judge_grades(store, queue_id):
            judged.setdefault(g["queue_item_id"], []).append(g)
    records, n_sugg = [], 0
    for it in items:
        sugg = _suggestions(rg, rubric, judged.get(it["queue_item_id"], []))
        n_sugg += len(sugg)
        records.append(rg.Record(
            id=external_id(queue_id, it["queue_item_id"]),
            fields=fields(review.payload_for(store, it["target_type"], it["target_id"])),
            metadata=_metadata(it, queue_id), suggestions=sugg))
    url = endpoint.resolve()[0]
    with translated(url):
        cl = client(endpoint)
        ds = open_dataset(rg, cl, name, workspace, rubric, q.reviewers_per_item)
        if records:
            ds.records.log(records)
        dataset_id = str(ds.id)
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = pd.DataFrame({"external_id": [r.id for r in records],
                        "queue_item_id": [it["queue_item_id"] for it in items]},
                       columns=["external_id", "queue_item_id"])

    def write(cur) -> tuple[int, int]:
        link_id = sql.save_link(cur, {
            "queue_id": queue_id, "dataset_name": name, "workspace": workspace,
            "argilla_dataset_id": dataset_id, "rubric_name": rubric.name,
            "rubric_version": rubric.version, "url_env": endpoint.url_env,
            "key_env": endpoint.key_env, "suggestions": with_suggestions,
            "pushed_by": pushed_by, "pushed_at": now})
        added = sql.save_records(cur, link_id, ids, now)
        audit.record(cur, pushed_by, "argilla.push", f"queue:{queue_id}",
                     {"dataset": name, "workspace": workspace, "records": len(records),
                      "new": added})
        return link_id, added

    link_id, added = store.write(write)
    return PushResult(link_id, name, workspace, len(records), added, n_sugg)
