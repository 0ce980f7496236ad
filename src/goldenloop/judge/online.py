"""Online mode: a judge grades a fixed fraction of new LLM spans as they are imported.

Each new span is included when a hash of (judge, span key) falls below the fraction: an
independent draw with inclusion probability exactly ``fraction``, the same on a rerun. The
probability is stored with the run's samples, so estimates over all traffic from these
grades weight each by 1/fraction. The judge's own calls (app ``goldenloop-judge``) are never
judged. The owner's ``OnlineJudgeScheduler`` (workers/pool.py) calls ``judge_new_spans``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from goldenloop.access import roles
from goldenloop.judge import sql as judge_sql
from goldenloop.judge.config import JudgeError, get
from goldenloop.judge.run import RunOptions, RunResult, run
from goldenloop.judge.targets import from_spans
from goldenloop.store import Store, audit


def configure_online(store: Store, judge_name: str, fraction: float, *,
                     budget_usd: float | None = None, enabled: bool = True,
                     by: str | None = None) -> None:
    """Turn online judging on (or change it) for a judge; it starts with spans imported from
    now on."""
    by = roles.guard(store, roles.Action.EDIT_JUDGE, by) or "cli"
    if not 0 < fraction <= 1:
        raise JudgeError(f"the online fraction is a probability in (0, 1], got {fraction}")
    get(store, judge_name)  # the judge must exist

    def write(cur) -> None:
        judge_sql.set_online(cur, judge_name, fraction, budget_usd, enabled, by,
                             datetime.now(UTC).replace(tzinfo=None))
        audit.record(cur, by, "judge.online", f"judge:{judge_name}",
                     {"fraction": fraction, "budget_usd": budget_usd, "enabled": enabled})

    store.write(write)


def included(judge_name: str, span_key: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{judge_name}:{span_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def judge_new_spans(store: Store, progress=None) -> list[RunResult]:
    """One pass: for each enabled online judge, sample the spans imported since its last pass
    and judge them. Returns the runs made (none when nothing new was sampled)."""
    results = []
    for cfg in judge_sql.online_settings(store):
        if not cfg["enabled"]:
            continue
        name, fraction = cfg["judge_name"], float(cfg["fraction"])
        keys = store.write(judge_sql.take_new_spans, name)
        chosen = [k for k in keys if included(name, k, fraction)]
        if not chosen:
            continue
        selection = from_spans(store, chosen, fraction, "online",
                               {"fraction": fraction, "new_spans": len(keys)}, len(keys))
        results.append(run(store, get(store, name), selection,
                           RunOptions(budget_usd=cfg["budget_usd"]), progress))
    return results
