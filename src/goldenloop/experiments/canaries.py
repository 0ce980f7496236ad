"""Canaries: standing suites (test set + target + scorers + schedule) that the owner runs on
their schedule against the live endpoint, so a provider that silently changes what its
endpoint serves shows up as a drop in the series, by the model version that answered.

A suite's runs are ordinary runs with source ``canary`` (spans with source ``canary``, kept
out of production views). ``series`` gives one point per run, scorer and model version;
``changed_answers`` lists the items whose answer changed between a suite's last two runs,
previous and current side by side. ``CanaryScheduler`` (a worker of ``goldenloop serve``)
queues a ``canary_run`` job for each suite whose interval has passed since its last run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from goldenloop.access import roles
from goldenloop.errors import ExperimentError
from goldenloop.experiments.datasets import parse_ref
from goldenloop.experiments.schema import ensure_tables
from goldenloop.store import Store
from goldenloop.store import jobs as job_sql
from goldenloop.workers.kinds import CanaryRunJob
from goldenloop.workers.loop import Loop
from goldenloop.workers.submit import queue_in

JOB_KIND = "canary_run"


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    dataset: str
    target: str
    scorers: list[str] = Field(default_factory=list)
    every_minutes: int = Field(default=60, ge=1, le=60 * 24 * 31)
    concurrency: int = Field(default=4, ge=1, le=256)
    budget_usd: float | None = Field(default=None, gt=0)
    enabled: bool = True

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        parse_ref(v)
        return v


def parse(data: dict[str, Any]) -> Suite:
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError("\n".join(
            f"canary suite: {'.'.join(str(p) for p in e['loc']) or '<suite>'}: "
            f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from None


def save(store: Store, suite: Suite, by: str | None = None) -> Suite:
    """Add or replace a suite (its scorers and target are checked now, not at 3 a.m.)."""
    by = roles.guard(store, roles.Action.EXPERIMENT, by) or "cli"
    from goldenloop.experiments import scoring, targets

    ensure_tables(store)
    t = targets.get(store, suite.target)
    scoring.get_all(suite.scorers or list(scoring.DEFAULT), t.spec.database)
    definition = json.dumps(suite.model_dump(mode="json", exclude={"enabled"}))

    def write(cur) -> None:
        cur.execute("DELETE FROM canary_suites WHERE name = ?", [suite.name])
        cur.execute("INSERT INTO canary_suites VALUES (?, ?, ?, ?, now())",
                    [suite.name, definition, suite.enabled, by])

    store.write(write)
    return suite


def remove(store: Store, name: str) -> bool:
    roles.guard(store, roles.Action.EXPERIMENT)
    ensure_tables(store)
    return bool(store.write(lambda cur: cur.execute(
        "DELETE FROM canary_suites WHERE name = ? RETURNING name", [name]).fetchall()))


def suites(store: Store) -> list[Suite]:
    ensure_tables(store)
    return [Suite(**json.loads(d), enabled=bool(e)) for d, e in
            store.rows("SELECT definition, enabled FROM canary_suites ORDER BY name")]


def suite_names(store: Store) -> list[str]:
    """Names of the suites, reading only (none on a database without the tables)."""
    if not store.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'canary_suites'"):
        return []
    return [n for (n,) in store.rows("SELECT name FROM canary_suites ORDER BY name")]


def get(store: Store, name: str) -> Suite:
    for s in suites(store):
        if s.name == name:
            return s
    raise ExperimentError(f"no canary suite named {name!r}")


def due(store: Store, now: datetime | None = None) -> list[Suite]:
    """Enabled suites whose interval has passed since their last run started (or never ran)."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    last = dict(store.rows("""SELECT suite, max(started_at) FROM experiment_runs
                              WHERE source = 'canary' GROUP BY suite"""))
    return [s for s in suites(store) if s.enabled and
            (last.get(s.name) is None or last[s.name] + timedelta(minutes=s.every_minutes) <= now)]


def params_of(suite: Suite) -> dict[str, Any]:
    return {"target": suite.target, "dataset": suite.dataset, "scorers": suite.scorers,
            "concurrency": suite.concurrency, "budget_usd": suite.budget_usd,
            "source": "canary", "suite": suite.name}


def run_suite(store: Store, name: str, progress=None):
    from goldenloop.experiments.jobs import run_params

    return run_params(store, params_of(get(store, name)), progress)


def run_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    r = run_suite(store, str(params["suite"]), progress)
    return {"summary": f"canary {params['suite']}: {r.summary}", "run_id": r.run_id,
            "status": r.status, "model_versions": sorted(r.model_versions)}


def queue_due(store: Store, now: datetime | None = None) -> list[str]:
    """Queue a canary job for each due suite that has none queued or running."""
    ensure_tables(store)
    ready = due(store, now)
    if not ready:
        return []

    now = now or datetime.now(UTC).replace(tzinfo=None)

    def write(cur) -> list[str]:
        busy = cur.execute("SELECT params FROM jobs WHERE kind = ? AND status IN "
                           "('queued', 'running')", [JOB_KIND]).fetchall()
        waiting = {json.loads(p).get("suite") for (p,) in busy if p}
        # A job that failed before its run started leaves no run: without this, a broken
        # suite would be queued again every tick instead of once per interval.
        last_job = dict(cur.execute(
            """SELECT json_extract_string(params, '$.suite'), max(created_at) FROM jobs
               WHERE kind = ? AND origin = 'canary schedule' GROUP BY 1""", [JOB_KIND]).fetchall())
        queued = []
        for s in ready:
            tried = last_job.get(s.name)
            if tried is not None and tried + timedelta(minutes=s.every_minutes) > now:
                continue
            if s.name not in waiting:
                queue_in(cur, CanaryRunJob.of(suite=s.name), "canary schedule")
                queued.append(s.name)
        return queued

    return store.write(write)


class CanaryScheduler(Loop):
    """Queues the canary suites that are due (checked every ``interval`` seconds)."""

    interval = 30.0

    def __init__(self, store: Store):
        super().__init__("goldenloop-canaries")
        self.store = store

    def tick(self) -> bool:
        queue_due(self.store)
        return False


def series(store: Store, suite: str) -> pd.DataFrame:
    """One row per run, model version and scorer: time, items, mean value, pass rate."""
    ensure_tables(store)
    return store.df("""
        SELECT u.run_id, u.started_at, coalesce(r.model_version, '(failed)') AS model_version,
               s.scorer, count(*) AS items, avg(s.value) AS mean, avg(s.passed::INT) AS pass_rate
        FROM experiment_runs u JOIN experiment_scores s USING (run_id)
        JOIN experiment_results r ON r.run_id = s.run_id AND r.item_key = s.item_key
        WHERE u.source = 'canary' AND u.suite = ?
        GROUP BY ALL ORDER BY u.run_id, model_version, s.scorer""", [suite])


def monitor_series(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """Every suite's series over runs started in ``[start, end)``, in one statement for the
    Monitor page: one row per suite, run, model version and scorer. A suite without runs in
    the range has one row with no run (so the page can say so); no suites, no rows. Reads
    only: a database without the experiment tables (or a snapshot of one) has no rows."""
    if not store.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'canary_suites'"):
        return pd.DataFrame(columns=["suite", "run_id", "started_at", "model_version", "scorer",
                                     "items", "mean"])
    return store.df("""
        WITH runs AS (
            SELECT u.suite, u.run_id, u.started_at,
                   coalesce(r.model_version, '(failed)') AS model_version, s.scorer,
                   count(*) AS items, avg(s.value) AS mean
            FROM experiment_runs u JOIN experiment_scores s USING (run_id)
            JOIN experiment_results r ON r.run_id = s.run_id AND r.item_key = s.item_key
            WHERE u.source = 'canary' AND u.started_at >= ? AND u.started_at < ?
            GROUP BY ALL)
        SELECT c.name AS suite, runs.* EXCLUDE (suite)
        FROM canary_suites c LEFT JOIN runs ON runs.suite = c.name
        ORDER BY c.name, runs.started_at, runs.model_version, runs.scorer""", [start, end])


def changed_answers(store: Store, suite: str) -> pd.DataFrame:
    """Items whose answer differs between the suite's last two runs: previous and current."""
    ensure_tables(store)
    runs = [r for (r,) in store.rows("""SELECT run_id FROM experiment_runs
                                        WHERE source = 'canary' AND suite = ?
                                        ORDER BY run_id DESC LIMIT 2""", [suite])]
    if len(runs) < 2:
        return pd.DataFrame(columns=["item_key", "input", "previous", "current",
                                     "previous_model_version", "current_model_version"])
    return store.df("""
        SELECT c.item_key, i.input, p.output AS previous, c.output AS current,
               p.model_version AS previous_model_version,
               c.model_version AS current_model_version, p.run_id AS previous_run,
               c.run_id AS current_run
        FROM experiment_results c JOIN experiment_results p
             ON p.item_key = c.item_key AND p.run_id = ?
        JOIN experiment_runs u ON u.run_id = c.run_id
        JOIN experiment_items i ON i.dataset_id = u.dataset_id AND i.item_key = c.item_key
        WHERE c.run_id = ? AND c.output IS DISTINCT FROM p.output
        ORDER BY c.item_key""", [runs[1], runs[0]])


def wait_until_idle(store: Store, timeout_s: float = 60.0) -> bool:
    """For tests and the CLI: wait until no canary job is queued or running."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if job_sql.running_or_queued(store.cursor(), JOB_KIND).empty:
            return True
        time.sleep(0.2)
    return False
