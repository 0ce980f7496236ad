"""Experiment work described by plain parameters: what the job kinds, the CLI and the app
share. ``experiment_run``: ``target`` (a name or an absolute YAML path), ``dataset``
(``NAME[@VERSION]``), ``scorers`` (names), ``concurrency``, ``budget_usd``, ``baseline``
(mark the run as its target's baseline), ``source`` and ``suite`` (canaries).
``experiment_import``: ``name`` and ``file`` (an absolute path)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from goldenloop.experiments import datasets, runner
from goldenloop.experiments.compare import mark_baseline
from goldenloop.experiments.targets import get as get_target
from goldenloop.store import Store


def options_of(params: dict[str, Any], job_id: int | None = None,
               cancel: threading.Event | None = None) -> runner.RunOptions:
    budget = params.get("budget_usd")
    return runner.RunOptions(concurrency=int(params.get("concurrency") or 8),
                             budget_usd=float(budget) if budget not in (None, "") else None,
                             job_id=job_id, cancel=cancel,
                             source=params.get("source") or "experiment", suite=params.get("suite"))


def run_params(store: Store, params: dict[str, Any], progress=None, job_id: int | None = None,
               cancel: threading.Event | None = None) -> runner.RunResult:
    target = get_target(store, str(params["target"]))
    dataset = datasets.resolve(store, str(params["dataset"]))
    result = runner.run(store, target, dataset, params.get("scorers") or None,
                        options_of(params, job_id, cancel), progress)
    if params.get("baseline"):
        mark_baseline(store, result.run_id)
    return result


def run_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    r = run_params(store, params, progress)
    return {"summary": r.summary, "run_id": r.run_id, "status": r.status,
            "answered": r.answered, "failed": r.failed, "cost_usd": r.cost_usd}


def import_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    r = datasets.import_file(store, str(params["name"]), Path(params["file"]),
                             by=params.get("by"))
    return {"summary": r.summary, "dataset": r.dataset.ref, "items": r.dataset.items,
            "quarantined": len(r.quarantined)}


def baseline_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    info = mark_baseline(store, int(params["run_id"]))
    return {"summary": f"run {info.run_id} is the baseline of {info.target_name}"}


def canary_save_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    from goldenloop.experiments import canaries

    s = canaries.save(store, canaries.parse(params), by=params.get("by"))
    return {"summary": f"canary {s.name} saved"}


def canary_remove_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    from goldenloop.experiments import canaries

    gone = canaries.remove(store, str(params["suite"]))
    return {"summary": f"canary {params['suite']} {'removed' if gone else 'not found'}"}


def canary_run_job(store: Store, params: dict[str, Any], progress) -> dict[str, Any]:
    from goldenloop.experiments import canaries

    return canaries.run_job(store, params, progress)


# Job kinds of the experiments part, for the owner's job runner.
HANDLERS = {
    "experiment_run": run_job,
    "experiment_import": import_job,
    "experiment_baseline": baseline_job,
    "canary_save": canary_save_job,
    "canary_remove": canary_remove_job,
    "canary_run": canary_run_job,
}
