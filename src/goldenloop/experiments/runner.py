"""A run: every item of a test set sent to a target with bounded concurrency under a budget,
each answer scored, everything written as it comes.

Worker threads only call the target; the calling thread scores the answers (reference
scorers are fast) and a writer thread commits results, scores and the calls' spans about
once a second, so a run holds the store's write lock for short batches. A failed call is a
result row with its error (counted as failed and scored 0, never missing); items not
started because the budget ran out or the run was cancelled have no row and are counted as
not run. Judge scorers run after the calls, over the answers (``judges.score_with_judge``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from goldenloop.access import roles
from goldenloop.errors import ExperimentError
from goldenloop.experiments import datasets as ds
from goldenloop.experiments import scoring
from goldenloop.experiments.app_spans import AppSpans
from goldenloop.experiments.calls import TargetClient, call_app, span_rows, trace_id
from goldenloop.experiments.schema import ensure_tables
from goldenloop.experiments.targets import Target
from goldenloop.judge.budget import Budget, price_of
from goldenloop.judge.client import Outcome, Retry
from goldenloop.store import Store

SOURCES = ("experiment", "canary")


@dataclass
class RunOptions:
    concurrency: int = 8
    budget_usd: float | None = None
    retry: Retry = field(default_factory=Retry)
    prices: str | None = None          # an extra price table (else GOLDENLOOP_PRICES)
    flush_every_s: float = 1.0
    job_id: int | None = None
    cancel: threading.Event | None = None
    source: str = "experiment"         # canary when a canary suite runs it
    suite: str | None = None


@dataclass
class RunResult:
    run_id: int
    status: str                        # done, cancelled, budget
    items: int
    answered: int = 0
    failed: int = 0
    not_run: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    budget_usd: float | None = None
    seconds: float = 0.0
    model_versions: set[str] = field(default_factory=set)
    note: str | None = None            # e.g. which default scorer could not be used

    @property
    def summary(self) -> str:
        cost = f"${self.cost_usd:.4f}" + (f" of ${self.budget_usd:g}" if self.budget_usd else "")
        text = (f"run {self.run_id}: {self.answered:,} of {self.items:,} answered, "
                f"{self.failed:,} failed, {self.calls:,} calls, {cost}, {self.seconds:.1f} s")
        text += f"; {self.not_run:,} not run ({self.status})" if self.not_run else ""
        return text + (f"; {self.note}" if self.note else "")


_RESULT_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("item_key", pa.string()), ("output", pa.string()),
    ("status", pa.string()), ("failure", pa.string()), ("error", pa.string()),
    ("model_version", pa.string()), ("latency_ms", pa.float64()), ("input_tokens", pa.int32()),
    ("output_tokens", pa.int32()), ("cost_usd", pa.float64()), ("attempts", pa.int32()),
    ("trace_id", pa.string()), ("created_at", pa.timestamp("us"))])
_SCORE_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("item_key", pa.string()), ("scorer", pa.string()),
    ("scorer_version", pa.string()), ("value", pa.float64()), ("passed", pa.bool_()),
    ("detail", pa.string()), ("source", pa.string()), ("created_at", pa.timestamp("us"))])


def insert_rows(cur, table: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Append rows to ``table`` (its columns in ``schema``'s order) through Arrow."""
    if not rows:
        return
    name = f"_new_{table}"
    cur.register(name, pa.Table.from_pylist(rows, schema=schema))
    try:
        cur.execute(f"INSERT INTO {table} SELECT * FROM {name}")
    finally:
        cur.unregister(name)


class _Writer:
    def __init__(self, store: Store, result: RunResult, source: str,
                 app_spans: AppSpans | None = None):
        self.store, self.result, self.source = store, result, source
        self.app_spans = app_spans
        self.results: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.spans: list[dict[str, Any]] = []

    def take(self) -> tuple[list, list, list, list]:
        app = self.app_spans.take() if self.app_spans is not None else []
        batch = self.results, self.scores, self.spans, app
        self.results, self.scores, self.spans = [], [], []
        return batch

    def flush(self, batch: tuple[list, list, list, list] | None = None) -> None:
        results, scores, spans, app = batch or self.take()
        r = self.result

        def write(cur) -> None:
            insert_rows(cur, "experiment_results", results, _RESULT_SCHEMA)
            insert_rows(cur, "experiment_scores", scores, _SCORE_SCHEMA)
            _update_run(cur, r)

        self.store.write(write)
        if spans:
            from goldenloop.ingest.loader import import_table

            import_table(self.store, pa.Table.from_pylist(spans), source=self.source,
                         origin=self.source, label=f"<{self.source} run {r.run_id}>")
        table = self.app_spans.table(app) if app else None
        if table is not None:  # the app's own spans (a parent may come in a later batch)
            from goldenloop.ingest.loader import import_table

            import_table(self.store, table, source=self.source, origin=self.source,
                         label=f"<{self.source} run {r.run_id}: app spans>")


def _update_run(cur, r: RunResult, status: str = "running", message: str | None = None) -> None:
    cur.execute("""UPDATE experiment_runs SET status = ?, answered = ?, failed = ?, not_run = ?,
                          calls = ?, cost_usd = ?, seconds = ?, model_versions = ?, message = ?,
                          finished_at = CASE WHEN ? <> 'running' THEN now() END
                   WHERE run_id = ?""",
                [status, r.answered, r.failed, r.not_run, r.calls, r.cost_usd, r.seconds,
                 sorted(r.model_versions), message, status, r.run_id])


def _start(store: Store, target: Target, dataset: ds.Dataset, scorers: list[scoring.Scorer],
           opts: RunOptions) -> int:
    definition = json.dumps(target.spec.model_dump(mode="json", exclude={"endpoint"}))

    def write(cur) -> int:
        if not cur.execute("SELECT count(*) FROM experiment_targets WHERE name = ? AND version = ?",
                           [target.name, target.version]).fetchone()[0]:
            cur.execute("INSERT INTO experiment_targets VALUES (?, ?, ?, ?, now())",
                        [target.name, target.version, target.spec.kind, definition])
        run_id = int(cur.execute("SELECT nextval('experiment_run_seq')").fetchone()[0])
        cur.execute("""INSERT INTO experiment_runs (run_id, source, suite, target_name,
                              target_version, dataset_id, scorers, status, items, answered, failed,
                              not_run, calls, cost_usd, budget_usd, concurrency, seconds,
                              baseline, job_id, started_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, 0, 0, 0, 0, 0, ?, ?, 0,
                               false, ?, now())""",
                    [run_id, opts.source, opts.suite, target.name, target.version,
                     dataset.dataset_id, [s.name for s in scorers], dataset.items,
                     opts.budget_usd, opts.concurrency, opts.job_id])
        return run_id

    return store.write(write)


def run(store: Store, target: Target, dataset: ds.Dataset, scorer_specs: list[str] | None = None,
        options: RunOptions | None = None, progress=None, client: Any = None) -> RunResult:
    """Run ``target`` over ``dataset`` and score it; see the module docstring."""
    roles.guard(store, roles.Action.EXPERIMENT)
    opts = options or RunOptions()
    if opts.source not in SOURCES:
        raise ExperimentError(f"a run's source is one of {', '.join(SOURCES)}")
    ensure_tables(store)
    scorers = scoring.get_all(list(scorer_specs or scoring.defaults()), target.spec.database)
    for s in scorers:  # an unknown judge is said now, not after every call was paid for
        if s.fn is None:
            from goldenloop.experiments.judges import load_judge

            load_judge(store, s.name.removeprefix("judge:"))
    items = ds.items(store, dataset)
    budget = Budget(opts.budget_usd)
    if target.spec.kind == "endpoint":
        price = price_of(target.spec.model, extra=opts.prices)
        if opts.budget_usd is not None and price is None:
            raise ExperimentError(f"no price for model {target.spec.model!r}, so a budget cannot "
                                  "be kept: add it to a price file named by GOLDENLOOP_PRICES")
        caller = TargetClient(target, price=price, budget=budget, retry=opts.retry, client=client)
        entry = None
    else:
        caller, entry = None, target.entry_point()
    t0 = time.perf_counter()
    result = RunResult(_start(store, target, dataset, scorers, opts), "done", len(items),
                       budget_usd=opts.budget_usd)
    if not scorer_specs and scoring.defaults() == scoring.DEFAULT:
        result.note = ("lexical scorers only: semantic similarity needs the embeddings extra "
                       "(pip install 'goldenloop[embeddings]')")
    app_spans = None if entry is None else AppSpans(
        run_id=result.run_id, source=opts.source, target_version=target.version, suite=opts.suite)
    writer = _Writer(store, result, opts.source, app_spans)
    stopped: BaseException | None = None
    error: Exception | None = None
    try:
        stopped = _execute(items, target, caller, entry, scorers, writer, opts, progress, budget)
        later = [s for s in scorers if s.fn is None]
        if later and stopped is None:
            writer.flush()
            from goldenloop.experiments.judges import score_with_judge

            for s in later:  # the judge's calls count against the run's budget
                cost = score_with_judge(store, result.run_id, s.name.removeprefix("judge:"), opts,
                                        budget.remaining)
                budget.settle(0.0, cost)
    except Exception as exc:  # recorded on the run, then raised to the caller
        error = exc
        raise
    finally:
        result.not_run = result.items - result.answered - result.failed
        result.cost_usd = budget.spent
        result.seconds = time.perf_counter() - t0
        if error is not None:
            result.status = "failed"
        elif stopped is not None or (opts.cancel is not None and opts.cancel.is_set()):
            result.status = "cancelled"
        elif budget.exhausted and result.not_run:
            result.status = "budget"
        writer.flush()
        message = result.summary + (f"; failed: {error}" if error is not None else "")
        store.write(_update_run, result, result.status, message[:2000])
        for s in scorers:
            closer = getattr(getattr(s.fn, "__self__", None), "close", None)
            if closer is not None:
                closer()
    if stopped is not None:
        raise stopped
    return result


def _execute(items, target: Target, caller: TargetClient | None, entry, scorers, writer: _Writer,
             opts: RunOptions, progress, budget: Budget) -> BaseException | None:
    queue = deque(items)
    in_flight: dict[Future, tuple[dict[str, Any], list | None]] = {}
    last_flush = time.monotonic()
    stop: BaseException | None = None
    flushing: Future | None = None
    with ThreadPoolExecutor(max_workers=max(1, opts.concurrency),
                            thread_name_prefix="goldenloop-experiment") as pool, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="goldenloop-exp-writer") as io:
        while queue or in_flight:
            halted = stop is not None or budget.exhausted or (opts.cancel and opts.cancel.is_set())
            while queue and not halted and len(in_flight) < 2 * opts.concurrency:
                item = queue.popleft()
                if caller is not None:
                    messages = target.messages(item)
                    in_flight[pool.submit(caller.call, messages)] = (item, messages)
                else:
                    binding = writer.app_spans.binding(
                        item, trace_id(opts.source, writer.result.run_id, item["item_key"]))
                    in_flight[pool.submit(call_app, entry, item, binding)] = (item, None)
            if halted:  # items not started are left as not run; those running finish
                for f in [f for f in in_flight if f.cancel()]:
                    in_flight.pop(f)
            if not in_flight:
                break
            done, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
            for f in done:
                item, messages = in_flight.pop(f)
                out = f.result()
                if caller is None:  # an app reports its own cost: count it against the budget
                    budget.settle(0.0, out.cost_usd)
                _record(writer, target, item, messages, out, scorers, opts)
            if flushing is not None and flushing.done():
                stop = stop or flushing.result()
                flushing = None
            if flushing is None and time.monotonic() - last_flush >= opts.flush_every_s:
                last_flush = time.monotonic()
                writer.result.cost_usd = budget.spent
                flushing = io.submit(_flush_and_report, writer, writer.take(), progress)
        if flushing is not None:
            stop = stop or flushing.result()
    return stop


def _record(writer: _Writer, target: Target, item: dict[str, Any], messages, out: Outcome,
            scorers: list[scoring.Scorer], opts: RunOptions) -> None:
    r = writer.result
    r.calls += len(out.attempts)
    if out.budget_stop and not out.attempts:
        return  # never sent: not run
    run_id, now = r.run_id, datetime.now(UTC).replace(tzinfo=None)
    writer.spans += span_rows(out, target=target, run_id=run_id, item=item, messages=messages,
                              source=opts.source, suite=opts.suite)
    if out.budget_stop and out.verdict is None:
        return  # retries stopped by the budget before an answer: not run either
    last = out.attempts[-1] if out.attempts else None
    output = out.verdict.value if out.verdict is not None else None
    if output is not None:
        r.answered += 1
        if out.model_version:
            r.model_versions.add(out.model_version)
    else:
        r.failed += 1
    writer.results.append({
        "run_id": run_id, "item_key": item["item_key"], "output": output,
        "status": "ok" if output is not None else "failed", "failure": out.failure,
        "error": out.message, "model_version": out.model_version,
        "latency_ms": sum(a.latency_ms for a in out.attempts),
        "input_tokens": last.input_tokens if last else None,
        "output_tokens": last.output_tokens if last else None,
        "cost_usd": sum(float(a.cost_usd or 0) for a in out.attempts),
        "attempts": len(out.attempts), "trace_id": trace_id(opts.source, run_id, item["item_key"]),
        "created_at": now})
    for s in scorers:
        if s.fn is None:
            continue
        sc = s.score(output, item.get("expected"), item)
        writer.scores.append({"run_id": run_id, "item_key": item["item_key"], "scorer": s.name,
                              "scorer_version": s.version, "value": sc.value, "passed": sc.passed,
                              "detail": sc.detail if output is not None else
                              f"the call failed: {out.message}", "source": opts.source,
                              "created_at": now})


def _flush_and_report(writer: _Writer, batch, progress) -> BaseException | None:
    writer.flush(batch)
    if progress is None:
        return None
    r = writer.result
    try:
        progress((r.answered + r.failed) / max(r.items, 1),
                 f"{r.answered:,} answered, {r.failed:,} failed of {r.items:,}; ${r.cost_usd:.4f}")
    except BaseException as exc:  # a cancel: stop calling, keep what is done
        return exc
    return None
