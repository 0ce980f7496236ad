"""Job kinds the owner runs: what each one does with its parameters."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from goldenloop.argilla_sync.jobs import HANDLERS as ARGILLA_HANDLERS
from goldenloop.experiments.jobs import HANDLERS as EXPERIMENT_HANDLERS
from goldenloop.ingest import ImportOptions
from goldenloop.ops.jobs import HANDLERS as OPS_HANDLERS
from goldenloop.scorers.run import score_job
from goldenloop.spanstore import SpanStore
from goldenloop.store import Store, snapshot
from goldenloop.workers.jobs import Handler, Progress


def import_files(store: Store, params: dict[str, Any], progress: Progress,
                 spans: SpanStore | None = None) -> dict[str, Any]:
    """Import files (the Imports page, `goldenloop import` while a server runs) into the span
    store (``spans``; the database file itself when None)."""
    from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore
    from goldenloop.spanstore.ingest import import_into

    spans = spans if spans is not None else DuckDBSpanStore(store)
    files = [Path(f) for f in params["files"]]
    opts = ImportOptions(
        format=params.get("format"), mapping=params.get("mapping") or {},
        redact=bool(params.get("redact")), origin=params.get("origin", "job"),
        batch_input=Path(params["batch_input"]) if params.get("batch_input") else None,
        encoding=params.get("encoding"),
    )
    results = []
    for i, f in enumerate(files):
        def note(frac: float, msg: str, i: int = i, f: Path = f) -> None:
            progress((i + frac) / len(files), f"{f.name}: {msg}")

        r = import_into(store, spans, f, opts, note)
        results.append({
            "file": r.file, "rows_read": r.rows_read, "imported": r.imported,
            "duplicates": r.duplicates, "conflicts": r.conflicts, "quarantined": r.quarantined,
            "bad_rows": r.bad_rows, "unknown_price": r.unknown_price, "notes": r.notes,
        })
    total = {k: sum(r[k] for r in results) for k in ("rows_read", "imported", "duplicates",
                                                      "conflicts", "quarantined")}
    conflicts = f"{total['conflicts']:,} conflicts, " if total["conflicts"] else ""
    summary = (f"{total['imported']:,} imported, {total['duplicates']:,} duplicates, "
               f"{conflicts}{total['quarantined']:,} quarantined")
    return {"files": results, **total, "summary": summary}


def generate_demo(store: Store, params: dict[str, Any], progress: Progress,
                  spans: SpanStore | None = None) -> dict[str, Any]:
    """The demo history, made in the database file and moved to ClickHouse when spans live
    there."""
    from goldenloop import demo

    s = demo.generate(store, spans=int(params.get("spans", 200_000)),
                      seed=int(params.get("seed", 7)), progress=progress)
    if spans is not None and spans.dialect != "duckdb":
        from goldenloop.spanstore.migrate import move_all

        progress(1.0, f"moving the demo to {spans.describe()}")
        move_all(store, spans)
    return {"summary": f"demo history with {s.spans:,} spans", "spans": s.spans}


def publish_snapshot(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    dest = Path(params["dest"])
    seconds = snapshot.publish(store, dest)
    return {"summary": f"snapshot published in {seconds:.2f} s", "seconds": seconds}


def judge_run(store: Store, params: dict[str, Any], progress: Progress,
              spans: SpanStore | None = None) -> dict[str, Any]:
    """A judge over a queue, a filter, a random sample or given spans (see judge.jobs)."""
    from goldenloop.judge import run_params

    r = run_params(store, params, progress, spans=spans)
    return {"summary": r.summary, "run_id": r.run_id, "status": r.status, "judged": r.judged,
            "failed": r.failed, "cost_usd": r.cost_usd}


def judge_online(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Online judges over the spans imported since their last pass."""
    from goldenloop.judge import judge_new_spans

    runs = judge_new_spans(store, progress)
    judged = sum(r.judged for r in runs)
    return {"summary": f"{judged:,} new spans judged in {len(runs)} run(s)",
            "run_ids": [r.run_id for r in runs], "judged": judged}


def judge_configure(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Turn online judging on or off for a judge (from the CLI while the server runs)."""
    from goldenloop.judge import configure_online

    configure_online(store, params["judge"], float(params.get("fraction") or 0.05),
                     budget_usd=params.get("budget_usd"), enabled=bool(params.get("enabled", True)),
                     by=params.get("by"))
    return {"summary": f"online judging of {params['judge']} "
                       f"{'on' if params.get('enabled', True) else 'off'}"}


def golden(store: Store, params: dict[str, Any], progress: Progress,
           spans: SpanStore | None = None) -> dict[str, Any]:
    """Build a golden version (and export it) for `goldenloop golden` while a server runs."""
    from goldenloop.golden import golden_job

    return golden_job(store, params, progress, spans)


def detect_anomalies(store: Store, params: dict[str, Any], progress: Progress,
                     spans: SpanStore | None = None) -> dict[str, Any]:
    """Anomaly detection over every series (after imports, on a timer, or from the CLI)."""
    from datetime import datetime

    from goldenloop.anomalies import detect

    times = {k: datetime.fromisoformat(params[k]) if params.get(k) else None
             for k in ("since", "until")}
    r = detect(store, **times, sensitivity=params.get("sensitivity"), progress=progress,
               spans=spans)
    return {"summary": r.summary, "found": r.found, "added": r.added, "updated": r.updated,
            "resolved": r.resolved, "seconds": r.seconds}


def alerts_check(store: Store, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Evaluate every alert rule once (`goldenloop alerts check` while a server runs)."""
    from goldenloop.alerts import check_job

    return check_job(store, params, progress)


HANDLERS: dict[str, Handler] = {
    "import": import_files,
    "demo": generate_demo,
    "snapshot": publish_snapshot,
    "score": score_job,
    "judge": judge_run,
    "judge_online": judge_online,
    "judge_configure": judge_configure,
    "golden": golden,
    "alerts_check": alerts_check,
    "detect": detect_anomalies,
    **EXPERIMENT_HANDLERS,  # experiment_run, canary_run, ...
    **ARGILLA_HANDLERS,  # argilla_push, argilla_pull
    **OPS_HANDLERS,  # backup, forget
}


def handlers_for(spans: SpanStore) -> dict[str, Handler]:
    """``HANDLERS`` with the jobs that read or write spans or signals bound to the span store."""
    from goldenloop.ops.jobs import forget_job

    return {**HANDLERS, "import": partial(import_files, spans=spans),
            "score": partial(score_job, spans=spans), "forget": partial(forget_job, spans=spans),
            "demo": partial(generate_demo, spans=spans),
            # the readers of spans: judge targets, golden builds, detection series
            "judge": partial(judge_run, spans=spans), "golden": partial(golden, spans=spans),
            "detect": partial(detect_anomalies, spans=spans)}
