"""Push a golden dataset version to Argilla for review (``goldenloop argilla push --golden
NAME@VERSION``).

Annotators see each golden row as the Grade page shows its target (conversation, answer,
context) with the expected output the version holds now, and answer the version's criterion
(the question of its rubric version), not applicable, the flag, notes and a corrected
answer (pre-filled with the current expected output, as a suggestion). Each record's id is
``g<dataset id>-<hash of the row key>``: pushing the same or a later version to the same
Argilla dataset updates those records and adds new rows, never duplicates. The rows' labels
and reviewers are not suggested: annotators grade blind, as reviewers do.

The server is written first and goldenloop after, in one transaction, as for queues.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from goldenloop import golden
from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.argilla_sync import settings as S
from goldenloop.argilla_sync import sql, sql_golden
from goldenloop.argilla_sync.connect import ArgillaSyncError, Endpoint, client, translated
from goldenloop.argilla_sync.push import EMPTY, PushResult, chat, fields, open_dataset
from goldenloop.errors import GoldenloopError
from goldenloop.review import payload_for
from goldenloop.store import Store, audit

SUGGESTION_AGENT = "goldenloop:expected-output"


def parse_ref(text: str) -> tuple[str, int | None]:
    """``NAME@VERSION`` (``NAME@3`` or ``NAME@v3``; ``NAME`` alone: the latest version)."""
    name, at, version = text.strip().rpartition("@") if "@" in text else (text.strip(), "", "")
    if not at:
        return name, None
    m = re.fullmatch(r"v?(\d+)", version.strip())
    if not name or not m:
        raise golden.GoldenError(f"{text!r}: write the golden version as NAME@VERSION, "
                                 "e.g. support-answers@3")
    return name, int(m.group(1))


def external_id(golden_dataset_id: int, row_key: str) -> str:
    """A stable record id per golden row (row keys come from data: hashed, not shown)."""
    return f"g{golden_dataset_id}-{hashlib.sha256(row_key.encode()).hexdigest()[:20]}"


def default_name(name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.lower())
    return f"goldenloop-golden-{safe.strip('-')}"[:100]


def rubric_of(store: Store, v: golden.Version, rows: pd.DataFrame) -> rubrics.Rubric:
    """The rubric version the golden set was graded with: the filter's, else its rows'
    commonest (a golden set is about one criterion of one rubric)."""
    name, version = v.filter.rubric_name, v.filter.rubric_version
    if not (name and version):
        found = Counter((n, r) for n, r in zip(rows["rubric_name"], rows["rubric_version"],
                                                 strict=True) if n and r and (not name or n == name))
        if not found:
            raise ArgillaSyncError(f"golden {v.dataset} v{v.version} names no rubric version "
                                   "to ask its criterion with")
        name, version = found.most_common(1)[0][0]
    rubric = rubrics.get(store, name, version)
    rubric.criterion(v.filter.criterion)  # RubricError when that version lacks it
    return rubric


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """Fields from the stored golden row, when its target cannot be shown as the Grade page
    does (a trace, or spans removed since by retention)."""
    convo = [("system", row.get("system_prompt"))]
    try:
        messages = json.loads(row.get("messages") or "null")
    except (TypeError, ValueError):
        messages = None
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        convo += [(str(m.get("role") or "user"), m.get("content") if isinstance(
            m.get("content"), str) else json.dumps(m.get("content"), ensure_ascii=False))
            for m in messages]
    else:
        convo.append(("user", row.get("input")))
    return {"conversation": chat(convo), "output": row.get("output") or EMPTY}


def record_fields(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    try:
        out = fields(payload_for(store, row["target_type"], row["target_id"]))
    except (GoldenloopError, ArgillaSyncError):
        out = _row_fields(row)
    return {**out, "expected_output": row.get("expected_output") or None}


def record_metadata(row: dict[str, Any], v: golden.Version) -> dict[str, Any]:
    meta = {"app": row.get("app"), "model_version": row.get("model_version"),
            "prompt_version": row.get("prompt_version"), "golden_version": f"v{v.version}",
            "label": row.get("label"), "agreement_level": row.get("agreement_level"),
            "expected_source": row.get("expected_source"),
            "inclusion_prob": row.get("inclusion_prob")}
    out = {}
    for k, value in meta.items():
        if value is None or (isinstance(value, float) and value != value):
            continue
        out[k] = float(value) if k == "inclusion_prob" else str(value)
    return out


def push_golden(store: Store, ref: str, *, pushed_by: str, dataset: str | None = None,
                workspace: str = "argilla", reviewers: int = 1,
                endpoint: Endpoint | None = None) -> PushResult:
    """Create or update the Argilla dataset reviewing golden version ``ref`` (NAME@VERSION);
    leads only (the right to export golden sets)."""
    import argilla as rg

    who = roles.require(store, pushed_by, roles.Action.EXPORT)
    endpoint = endpoint or Endpoint()
    name, number = parse_ref(ref)
    v = golden.get_version(store, name, number)
    rows = golden.rows(store, v)
    rubric = rubric_of(store, v, rows)
    ds_name = dataset or default_name(v.dataset)
    gid = int(store.scalar("SELECT dataset_id FROM golden_versions WHERE version_id = ?",
                           [v.version_id]))
    records, keys, n_sugg = [], [], 0
    for row in rows.to_dict("records"):
        expected = row.get("expected_output")
        sugg = [rg.Suggestion(question_name=S.CORRECTED, value=expected, agent=SUGGESTION_AGENT,
                              type="human")] if expected and expected.strip() else []
        records.append(rg.Record(id=external_id(gid, row["row_key"]), fields=record_fields(store, row),
                                 metadata=record_metadata(row, v), suggestions=sugg))
        keys.append(row["row_key"])
        n_sugg += len(sugg)
    url = endpoint.resolve()[0]
    with translated(url):
        cl = client(endpoint)
        ds = open_dataset(rg, cl, ds_name, workspace, rubric, reviewers,
                      only=v.filter.criterion, golden=True)
        if records:
            ds.records.log(records)
        dataset_id = str(ds.id)
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = pd.DataFrame({"external_id": [r.id for r in records], "row_key": keys},
                       columns=["external_id", "row_key"])

    def write(cur) -> tuple[int, int]:
        link_id = sql_golden.save_link(cur, {
            "golden_dataset_id": gid, "golden_version_id": v.version_id,
            "dataset_name": ds_name, "workspace": workspace, "argilla_dataset_id": dataset_id,
            "rubric_name": rubric.name, "rubric_version": rubric.version,
            "url_env": endpoint.url_env, "key_env": endpoint.key_env, "pushed_by": who,
            "pushed_at": now})
        added = sql.save_records(cur, link_id, ids, now)
        audit.record(cur, who, "argilla.push", f"golden:{v.dataset}:v{v.version}",
                     {"dataset": ds_name, "workspace": workspace, "records": len(records),
                      "new": added})
        return link_id, added

    link_id, added = store.write(write)
    return PushResult(link_id, ds_name, workspace, len(records), added, n_sugg)
