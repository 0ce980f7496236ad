"""A judge run: render every target's prompt, answer what the cache knows, call the model for
the rest with bounded concurrency under the budget, and write as it goes — grades (source
``judge``), cache entries, failures with the raw answer, and the judge's own calls as spans
of app ``goldenloop-judge`` (through the import path, so their cost shows on the Monitor page).

Pairwise judges are called twice per comparison, in both orders; a verdict that changes with
the order is stored as a tie and counted as position-inconsistent.

Writes happen on the calling thread every ``flush_every_s`` (workers only call the model), so
a run holds the store's write lock for short batches. A progress callback that raises (a
job's cancel) stops new calls; calls in flight finish and are kept; the run is then marked
cancelled and the exception re-raised.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from goldenloop import rubric as rubrics
from goldenloop.access import roles
from goldenloop.judge import prompt
from goldenloop.judge import sql as judge_sql
from goldenloop.judge.budget import Budget, BudgetError, price_of
from goldenloop.judge.client import JudgeClient, Outcome, Retry
from goldenloop.judge.config import LoadedJudge
from goldenloop.judge.spans import attempt_rows
from goldenloop.judge.targets import Selection, Target
from goldenloop.judge.verdict import Verdict, grade_values
from goldenloop.store import Store
from goldenloop.store.grades import insert_grades

_SWAP = {"A": "B", "B": "A", "tie": "tie"}


@dataclass
class RunOptions:
    concurrency: int = 8
    budget_usd: float | None = None
    use_cache: bool = True
    redact: bool | None = None         # None: as the judge file says
    retry: Retry = field(default_factory=Retry)
    prices: str | None = None          # an extra price table (else GOLDENLOOP_PRICES)
    flush_every_s: float = 1.0
    job_id: int | None = None
    cancel: threading.Event | None = None


@dataclass
class RunResult:
    run_id: int
    status: str                        # done, cancelled, budget
    targets: int
    judged: int = 0
    cached: int = 0                    # answered without a call (cache, or graded before)
    failed: int = 0
    not_run: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    budget_usd: float | None = None
    position_inconsistent: int = 0
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        cost = f"${self.cost_usd:.4f}" + (f" of ${self.budget_usd:g}" if self.budget_usd else "")
        text = (f"{self.judged:,} of {self.targets:,} judged ({self.cached:,} from cache), "
                f"{self.failed:,} failed, {self.calls:,} calls, {cost}")
        if self.not_run:
            text += f"; {self.not_run:,} not run ({self.status})"
        return text


@dataclass
class _Call:
    hash: str
    messages: list[dict[str, str]]


@dataclass
class _Plan:
    target: Target
    calls: list[_Call]                 # one, or two for pairwise (AB then BA)
    done: bool = False


def plan_calls(judge: LoadedJudge, targets: list[Target], redact: bool | None) -> list[_Plan]:
    plans = []
    for t in targets:
        orders = [t.variables]
        if judge.judge.kind == "pairwise":
            v = t.variables
            orders.append({**v, "output_a": v.get("output_b"), "output_b": v.get("output_a")})
        calls = []
        for variables in orders:
            msgs = prompt.render(judge, variables, redact_texts=redact)
            calls.append(_Call(prompt.input_hash(msgs, judge), msgs))
        plans.append(_Plan(t, calls))
    return plans


class _Writer:
    """Rows waiting to be written, and the run's counts."""

    def __init__(self, store: Store, judge: LoadedJudge, result: RunResult):
        self.store, self.judge, self.result = store, judge, result
        self.grades: list[dict[str, Any]] = []
        self.cache: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.spans: list[dict[str, Any]] = []

    def grade(self, t: Target, verdict: Verdict, raw: dict[str, Any]) -> None:
        """A grade row (``judged`` counts targets with a verdict, written now or before)."""
        j = self.judge
        self.grades.append({
            "target_type": t.target_type, "target_id": t.target_id, "span_key": t.span_key,
            "criterion": j.criterion.name,
            **grade_values(j.criterion, j.judge.kind, verdict.value),
            "source": "judge", "author_kind": "judge", "author_id": j.name,
            "judge_name": j.name, "judge_model": j.judge.model, "judge_version": j.version,
            "rubric_name": j.rubric.name, "rubric_version": j.rubric.version,
            "comment": verdict.reason, "raw": json.dumps(raw, ensure_ascii=False),
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        })
        self.result.judged += 1

    def failure(self, t: Target, out: Outcome) -> None:
        self.failures.append({
            "run_id": self.result.run_id, "judge_name": self.judge.name,
            "judge_version": self.judge.version, "target_type": t.target_type,
            "target_id": t.target_id, "span_key": t.span_key, "kind": out.failure,
            "message": out.message, "raw_answer": out.raw, "attempts": len(out.attempts)})
        self.result.failed += 1

    def take(self) -> tuple[list, list, list, list]:
        batch = self.grades, self.cache, self.failures, self.spans
        self.grades, self.cache, self.failures, self.spans = [], [], [], []
        return batch

    def flush(self, batch: tuple[list, list, list, list] | None = None) -> None:
        grades, cache, failures, spans = batch or self.take()
        r = self.result

        def write(cur) -> None:
            if grades:
                insert_grades(cur, _grade_table(grades), skip_existing=False)
            judge_sql.insert_cache(cur, cache)
            judge_sql.insert_failures(cur, failures)
            judge_sql.update_run(cur, r.run_id, asdict(r))

        self.store.write(write)
        if spans:
            from goldenloop.ingest.loader import import_table

            import_table(self.store, pa.Table.from_pylist(spans), source="judge", origin="judge",
                         label=f"<judge run {r.run_id}>")


def _grade_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("target_type", pa.string()), ("target_id", pa.string()), ("span_key", pa.int64()),
        ("criterion", pa.string()), ("value_number", pa.float64()), ("value_label", pa.string()),
        ("value_labels", pa.list_(pa.string())), ("value_text", pa.string()),
        ("source", pa.string()), ("author_kind", pa.string()), ("author_id", pa.string()),
        ("judge_name", pa.string()), ("judge_model", pa.string()), ("judge_version", pa.string()),
        ("rubric_name", pa.string()), ("rubric_version", pa.string()), ("comment", pa.string()),
        ("raw", pa.string()), ("created_at", pa.timestamp("us"))]))


def _start(store: Store, judge: LoadedJudge, selection: Selection, opts: RunOptions) -> int:
    row = {"judge_name": judge.name, "judge_version": judge.version, "kind": judge.judge.kind,
           "criterion": judge.criterion.name, "rubric_name": judge.rubric.name,
           "rubric_version": judge.rubric.version, "model": judge.judge.model,
           "definition": json.dumps(judge.judge.model_dump(mode="json")), "origin": judge.origin}
    samples = [{"target_type": t.target_type, "target_id": t.target_id, "span_key": t.span_key,
                "inclusion_prob": t.inclusion_prob} for t in selection.targets]

    def write(cur) -> int:
        judge_sql.record_version(cur, row)
        run_id = judge_sql.start_run(
            cur, judge_name=judge.name, judge_version=judge.version, model=judge.judge.model,
            job_id=opts.job_id, target_kind=selection.kind,
            params={**selection.params, "concurrency": opts.concurrency,
                    "population": selection.population}, targets=len(selection.targets),
            budget_usd=opts.budget_usd)
        judge_sql.insert_samples(cur, run_id, judge.version, samples)
        return run_id

    return store.write(write)


def run(store: Store, judge: LoadedJudge, selection: Selection, options: RunOptions | None = None,
        progress=None, client: Any = None) -> RunResult:
    """Judge every target of ``selection``; see the module docstring."""
    roles.guard(store, roles.Action.RUN_JUDGE)
    opts = options or RunOptions()
    price = price_of(judge.judge.model, extra=opts.prices)
    if opts.budget_usd is not None and price is None:
        raise BudgetError(f"no price for model {judge.judge.model!r}, so a budget cannot be kept: "
                          "add it to a price file named by GOLDENLOOP_PRICES, or run without one")
    budget = Budget(opts.budget_usd)
    # The rubric version the grades will carry must be in the store, or agreement cannot tell
    # that its scale equals an earlier version's (and pair these grades with older ones).
    rubrics.sync(store)
    judge_client = JudgeClient(judge, price=price, budget=budget, retry=opts.retry, client=client)
    t0 = time.perf_counter()
    plans = plan_calls(judge, selection.targets, opts.redact)
    result = RunResult(_start(store, judge, selection, opts), "done", len(plans),
                       budget_usd=opts.budget_usd)
    writer = _Writer(store, judge, result)
    known = judge_sql.cached(store, judge.version, [c.hash for p in plans for c in p.calls]) \
        if opts.use_cache else {}
    outcomes: dict[str, Outcome] = {h: _from_cache(row) for h, row in known.items()}
    if opts.use_cache:  # targets this version already graded: nothing to call or write
        graded = judge_sql.graded_targets(store, judge.version, judge.criterion.name)
        for p in plans:
            if (p.target.target_type, p.target.target_id) in graded:
                p.done = True
                result.cached += 1
                result.judged += 1
    stopped: BaseException | None = None
    try:
        stopped = _execute(plans, outcomes, judge_client, writer, opts, progress, budget)
    finally:
        result.not_run = len(plans) - result.judged - result.failed
        result.cost_usd = budget.spent
        result.seconds = time.perf_counter() - t0
        if stopped is not None or (opts.cancel is not None and opts.cancel.is_set()):
            result.status = "cancelled"
        elif budget.exhausted and result.not_run:
            result.status = "budget"
        writer.flush()
        store.write(judge_sql.update_run, result.run_id, asdict(result), result.status,
                    result.summary)
    if stopped is not None:
        raise stopped
    return result


def _execute(plans: list[_Plan], outcomes: dict[str, Outcome], client: JudgeClient,
             writer: _Writer, opts: RunOptions, progress, budget: Budget) -> BaseException | None:
    waiting: dict[str, list[_Plan]] = {}
    todo: dict[str, _Call] = {}
    for p in plans:
        if p.done:  # graded by this version before: nothing to call
            continue
        for c in p.calls:
            waiting.setdefault(c.hash, []).append(p)
            if c.hash not in outcomes:
                todo.setdefault(c.hash, c)
    _resolve(plans, outcomes, writer)  # answered from the cache alone
    queue = deque(todo.values())
    in_flight: dict[Future, _Call] = {}
    last_flush = time.monotonic()
    stop: BaseException | None = None
    flushing: Future | None = None
    # Writes run on their own thread so the loop keeps the model busy while they commit.
    with ThreadPoolExecutor(max_workers=max(1, opts.concurrency),
                            thread_name_prefix="goldenloop-judge") as pool, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="goldenloop-judge-writer") as io:
        while queue or in_flight:
            halted = stop is not None or budget.exhausted or (opts.cancel and opts.cancel.is_set())
            while queue and not halted and len(in_flight) < 2 * opts.concurrency:
                call = queue.popleft()
                in_flight[pool.submit(client.call, call.messages)] = call
            if halted:  # calls not started yet are dropped; those running finish
                for f in [f for f in in_flight if f.cancel()]:
                    in_flight.pop(f)
            if not in_flight:
                break
            done, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
            for f in done:
                call = in_flight.pop(f)
                out = f.result()
                writer.result.calls += len(out.attempts)
                writer.spans += attempt_rows(out, call, writer.judge, writer.result.run_id)
                if not out.budget_stop:
                    outcomes[call.hash] = out
                    _resolve(waiting[call.hash], outcomes, writer)
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


def _flush_and_report(writer: _Writer, batch, progress) -> BaseException | None:
    writer.flush(batch)
    return _report(progress, writer.result)


def _report(progress, r: RunResult) -> BaseException | None:
    if progress is None:
        return None
    try:
        progress((r.judged + r.failed) / max(r.targets, 1),
                 f"{r.judged:,} judged, {r.failed:,} failed of {r.targets:,}; ${r.cost_usd:.4f}")
    except BaseException as exc:  # a cancel: stop calling, keep what is done
        return exc
    return None


def _resolve(plans: list[_Plan], outcomes: dict[str, Outcome], writer: _Writer) -> None:
    """Turn each plan whose calls have all come back into a grade or a failure (once)."""
    for p in plans:
        if not p.done and all(c.hash in outcomes for c in p.calls):
            p.done = True
            _finish(p, [outcomes[c.hash] for c in p.calls], writer)


def _finish(p: _Plan, outs: list[Outcome], writer: _Writer) -> None:
    failed = next((o for o in outs if o.verdict is None), None)
    if failed is not None:
        writer.failure(p.target, failed)
        return
    if all(o.from_cache for o in outs):
        writer.result.cached += 1
    for c, o in zip(p.calls, outs, strict=True):
        if not o.from_cache:
            writer.cache.append({"judge_version": writer.judge.version, "input_hash": c.hash,
                                 "answer": json.dumps({"value": o.verdict.value,
                                                       "reason": o.verdict.reason}),
                                 "raw_answer": o.raw, "model_version": o.model_version,
                                 "output_mode": o.mode, "cost_usd": o.cost_usd})
    if len(outs) == 1:
        o = outs[0]
        writer.grade(p.target, o.verdict, {"raw": o.raw, "mode": o.mode,
                                           "model_version": o.model_version,
                                           "input_hash": p.calls[0].hash, "cached": o.from_cache})
        return
    ab, ba = outs[0].verdict.value, _SWAP[outs[1].verdict.value]
    consistent = ab == ba
    if not consistent:
        writer.result.position_inconsistent += 1
    value = ab if consistent else "tie"
    reason = outs[0].verdict.reason if consistent else \
        f"verdict changed with the order shown (A/B: {ab}, B/A: {ba}): stored as a tie"
    writer.grade(p.target, Verdict(value, reason), {
        "AB": {"verdict": outs[0].verdict.value, "raw": outs[0].raw},
        "BA": {"verdict": outs[1].verdict.value, "raw": outs[1].raw, "note": "A and B swapped"},
        "consistent": consistent, "model_version": outs[0].model_version})


def _from_cache(row: dict[str, Any]) -> Outcome:
    answer = json.loads(row["answer"]) if isinstance(row["answer"], str) else row["answer"]
    return Outcome(verdict=Verdict(answer["value"], answer.get("reason")), raw=row["raw_answer"],
                   mode=row["output_mode"], model_version=row["model_version"], from_cache=True)
