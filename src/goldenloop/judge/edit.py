"""Fixing a judge that diverges from reviewers: a lead edits a stored judge version (prompt,
model, settings) into a new content-hashed version, sees what running it would cost, and
marks the version production figures should use for a criterion.

An edited version lives in the store (``judge_versions``, origin ``edit``), not in a YAML
file: the judge keeps its name, so both versions stay runnable and comparable side by side.
The production preference is one JSON file beside the database (``judge_production.json``,
criterion → version); ``agreement.fitness`` honours it only while the version passes the
agreement gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldenloop.access import roles
from goldenloop.judge import sql as judge_sql
from goldenloop.judge.budget import price_of
from goldenloop.judge.config import JudgeError, LoadedJudge, attach, available, parse
from goldenloop.judge.run import plan_calls  # the run's own rendering, so the estimate matches
from goldenloop.judge.targets import Selection
from goldenloop.store import Store, audit

# What a lead may change; the name, the criterion and the kind stay (a new version of the
# same judge, graded against the same reviewers).
EDITABLE = ("description", "system", "template", "model", "temperature", "max_tokens",
            "reason", "redact")
PRODUCTION_FILE = "judge_production.json"
_CHARS_PER_TOKEN = 4  # a typical English tokenizer; the upper bound counts every byte


def load_version(store: Store, version: str) -> LoadedJudge:
    """A judge version by its hash: a judge file of that version, else one stored in the
    database (an edited version, or one run before)."""
    for j in available(store).values():
        if j.version == version:
            return j
    row = store.rows("SELECT definition, origin FROM judge_versions WHERE judge_version = ? "
                     "ORDER BY created_at DESC LIMIT 1", [version])
    if not row:
        raise JudgeError(f"no judge version {version!r}")
    data = json.loads(row[0][0]) if isinstance(row[0][0], str) else row[0][0]
    loaded = attach(store, parse(data, f"judge version {version}"), f"judge version {version}",
                    row[0][1] or "edit")
    if loaded.version != version:  # the rubric changed since: the stored text is a new version
        raise JudgeError(f"judge version {version} was made under a rubric version that is "
                         f"no longer current; edit it again to make a version under today's rubric")
    return loaded


def edit(store: Store, base_version: str, changes: dict[str, Any], by: str) -> LoadedJudge:
    """A new version of the judge ``base_version`` with ``changes`` (keys of EDITABLE),
    recorded in the store and audited. Leads only."""
    who = roles.require(store, by, roles.Action.EDIT_JUDGE)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise JudgeError(f"cannot change {', '.join(unknown)}; a lead may change "
                         f"{', '.join(EDITABLE)}")
    base = load_version(store, base_version)
    data = {**base.judge.model_dump(mode="json", exclude_none=True), **changes}
    new = attach(store, parse(data, f"edit of {base.name} {base_version}"),
                 f"edit of {base.name} {base_version}", "edit")
    if new.version == base.version:
        raise JudgeError("nothing that makes a judge version changed (description and "
                         "endpoint do not): edit the prompt, the model or a setting")
    row = {"judge_name": new.name, "judge_version": new.version, "kind": new.judge.kind,
           "criterion": new.criterion.name, "rubric_name": new.rubric.name,
           "rubric_version": new.rubric.version, "model": new.judge.model,
           "definition": json.dumps(new.judge.model_dump(mode="json")), "origin": "edit"}
    changed = sorted(k for k in changes if getattr(base.judge, k) != getattr(new.judge, k))

    def write(cur) -> None:
        judge_sql.record_version(cur, row)
        audit.record(cur, who, "judge.edit", f"judge_version:{new.version}",
                     {"judge": new.name, "base_version": base.version, "changed": changed})

    store.write(write)
    return new


@dataclass(frozen=True)
class CostEstimate:
    """What a run would cost before it starts. ``cost_usd`` counts about four characters a
    token and the judge's typical answer length; ``most_usd`` every byte as a token and the
    full ``max_tokens`` (what the budget reserves). None without a price for the model."""

    model: str
    targets: int
    already_graded: int             # answered without a call (this version graded them)
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    most_usd: float | None

    def describe(self) -> str:
        head = (f"{self.calls:,} calls for {self.targets:,} targets "
                f"({self.already_graded:,} already graded by this version), about "
                f"{self.input_tokens:,} input and {self.output_tokens:,} output tokens")
        if self.cost_usd is None:
            return f"{head}; no price for {self.model}: add it to the price table"
        return f"{head}: about ${self.cost_usd:.4f}, at most ${self.most_usd:.4f}"


def estimate_cost(store: Store, version: str | LoadedJudge, targets: Selection,
                  prices: str | None = None) -> CostEstimate:
    """Render every prompt a run of ``version`` on ``targets`` would send, and price it."""
    j = version if isinstance(version, LoadedJudge) else load_version(store, version)
    graded = judge_sql.graded_targets(store, j.version, j.criterion.name)
    todo = [t for t in targets.targets if (t.target_type, t.target_id) not in graded]
    # One call per distinct prompt, as the run makes them; those the cache holds are free.
    distinct = {c.hash: c for p in plan_calls(j, todo, None) for c in p.calls}
    cached = judge_sql.cached(store, j.version, list(distinct))
    calls = [c for h, c in distinct.items() if h not in cached]
    raw = sum(len(m["content"].encode()) for c in calls for m in c.messages)
    input_tokens = -(-raw // _CHARS_PER_TOKEN)
    typical_out = min(j.judge.max_tokens, 60 if j.judge.reason else 15)
    output_tokens = typical_out * len(calls)
    price = price_of(j.judge.model, extra=prices)
    cost = most = None
    if price is not None:
        cost = price.cost(input_tokens, output_tokens)
        most = sum(price.most(c.messages, j.judge.max_tokens) for c in calls)
    return CostEstimate(j.judge.model, len(targets.targets), len(targets.targets) - len(todo),
                        len(calls), input_tokens, output_tokens, cost, most)


# -- the version production figures use -----------------------------------------------------------
def _production_path(store: Store) -> Path:
    return Path(store.path).parent / PRODUCTION_FILE


def production_versions(store: Store) -> dict[str, str]:
    """criterion → the judge version a lead chose for production figures."""
    path = _production_path(store)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JudgeError(f"{PRODUCTION_FILE}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise JudgeError(f"{PRODUCTION_FILE}: a mapping of criterion to judge version")
    return dict(data)


def use_in_production(store: Store, criterion: str, version: str | None, by: str) -> None:
    """Make ``version`` the judge version production figures of ``criterion`` use while it
    passes the agreement gate (None: back to every fit version). Leads only, audited."""
    who = roles.require(store, by, roles.Action.EDIT_JUDGE)
    if version is not None and not store.scalar(
            "SELECT count(*) FROM judge_versions WHERE judge_version = ? AND criterion = ?",
            [version, criterion]):
        raise JudgeError(f"judge version {version!r} has never graded {criterion!r}")
    chosen = production_versions(store)
    if version is None:
        chosen.pop(criterion, None)
    else:
        chosen[criterion] = version
    path = _production_path(store)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(chosen, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)  # whole or not at all
    store.write(audit.record, who, "judge.production", f"criterion:{criterion}",
                {"version": version})
