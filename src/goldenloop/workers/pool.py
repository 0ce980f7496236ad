"""The owner's workers, started and stopped together."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from goldenloop import alerts, judge
from goldenloop.argilla_sync.jobs import ArgillaPullScheduler
from goldenloop.config import Paths
from goldenloop.experiments.canaries import CanaryScheduler
from goldenloop.ops import status as ops_status
from goldenloop.ops.jobs import RetentionScheduler
from goldenloop.scorers.run import versions as scorer_versions
from goldenloop.spanstore import CLICKHOUSE, SpanStore
from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore
from goldenloop.store import Store, health, snapshot
from goldenloop.store import jobs as job_sql
from goldenloop.store import signals as signal_sql
from goldenloop.workers.handlers import handlers_for
from goldenloop.workers.inbox import InboxWatcher, requeue_storage_failures
from goldenloop.workers.jobs import JobRunner
from goldenloop.workers.kinds import parse_job
from goldenloop.workers.loop import Loop
from goldenloop.workers.submit import queue_in

log = logging.getLogger("goldenloop.workers")


class SnapshotPublisher(Loop):
    """Publishes a snapshot when something changed and the last one is old enough.

    Publishing holds the write lock while the file is checkpointed and copied, so writers
    (a reviewer's submit) wait behind it. The gap after a publish grows with its cost: at
    least ``every`` seconds and at least ``duty`` times the time it took, so a large store
    never spends more than about 1/duty of the time locked for snapshots.
    """

    interval = 2.0
    duty = 20.0

    def __init__(self, store: Store, paths: Paths, every: float = 10.0):
        super().__init__("goldenloop-snapshot")
        self.store, self.paths, self.every = store, paths, every
        self._published_generation = -1
        self._next = 0.0

    def tick(self) -> bool:
        if self.store.generation == self._published_generation or time.monotonic() < self._next:
            return False
        gen = self.store.generation
        seconds = snapshot.publish(self.store, self.paths.snapshot)
        self._published_generation = gen
        self._next = time.monotonic() + max(self.every, self.duty * seconds)
        log.info("snapshot published in %.2f s", seconds)
        return False


class JobScheduler(Loop):
    """Queues a job of ``kind`` after commits when ``pending()`` says there is work for it:
    checks only when something was committed, queues nothing while such a job is queued or
    running, and at most one every ``gap`` seconds, so a steady stream of imports is handled
    in batches and a failing job is not retried in a tight loop. The work never runs inside
    an import's transaction."""

    interval = 5.0
    kind = ""

    def __init__(self, store: Store, gap: float, name: str):
        super().__init__(name)
        self.store, self.gap = store, gap
        self._checked_generation = -1
        self._last_queued = -float("inf")

    def pending(self) -> bool:
        raise NotImplementedError

    def tick(self) -> bool:
        gen = self.store.generation
        if gen == self._checked_generation or time.monotonic() - self._last_queued < self.gap:
            return False
        self._checked_generation = gen
        if self.pending() and self.store.write(self._queue) is not None:
            self._last_queued = time.monotonic()
        return False

    def _queue(self, cur) -> int | None:
        if not job_sql.running_or_queued(cur, self.kind).empty:
            return None
        return queue_in(cur, parse_job(self.kind, {}, "scheduled job"), "worker")


class ScoreScheduler(JobScheduler):
    """Queues a "score" job when LLM spans lack signals, whatever stored them (the inbox, an
    import job, the demo, a direct import before the server started), in the span store."""

    kind = "score"

    def __init__(self, store: Store, gap: float = 30.0, spans: SpanStore | None = None):
        super().__init__(store, gap, "goldenloop-score")
        self.spans = spans

    def pending(self) -> bool:
        if self.spans is not None and self.spans.dialect == CLICKHOUSE:
            from goldenloop.spanstore import clickhouse_signals

            return clickhouse_signals.has_pending(self.spans, scorer_versions())
        return signal_sql.has_pending(self.store.cursor(), scorer_versions())


class OnlineJudgeScheduler(JobScheduler):
    """Queues a "judge_online" job when spans were committed and an online judge is on, so a
    configured fraction of new traffic is judged (goldenloop.judge.online)."""

    kind = "judge_online"

    def __init__(self, store: Store, gap: float = 15.0):
        super().__init__(store, gap, "goldenloop-judge-online")

    def pending(self) -> bool:
        # Only when there is something to judge: the judge's own writes also bump the
        # generation, and must not queue empty passes forever.
        return judge.has_new_spans(self.store)


class StoreGuard(Loop):
    """Keeps the store's health visible and restores it after a storage failure.

    While the store refuses writes (a full disk), it says so in the status file the CLI
    reads, and tries every few seconds to reopen it (``Store.recover``). On recovery it
    re-queues the jobs the failure interrupted, in the same transaction that lets writers back
    in, and puts the inbox files the disk failed back into the inbox.
    """

    interval = 2.0

    def __init__(self, store: Store, paths: Paths):
        super().__init__("goldenloop-store-guard")
        self.store, self.paths = store, paths
        self._said: str | None = "unset"

    def tick(self) -> bool:
        if self.store.unavailable is not None:
            self._say(self.store.unavailable)
            if not self.store.recover(_requeue_interrupted):
                return False
            log.warning("store accepts writes again: disk space was freed")
        moved = requeue_storage_failures(self.paths)
        if moved:
            log.warning("inbox: %d file(s) the disk failed put back for a retry", moved)
        state, reasons = ops_status.health_of(ops_status.inbox_state(self.paths), None)
        self._say("; ".join(reasons) or None, state)  # "degraded" when the inbox backs up
        return False

    def _say(self, reason: str | None, state: str = "paused") -> None:
        if reason == self._said:
            return
        if reason is not None and (state == "paused" or self._said in (None, "unset")):
            log.warning("store %s: %s", "degraded" if state == "degraded" else
                        "refuses writes until disk space is freed", reason)
        if health.write_status(self.paths.db, reason, state=state if reason else None):
            self._said = reason


def _requeue_interrupted(cur) -> None:
    job_sql.recover_after_restart(cur, "the disk filled up while this job ran")


class DetectScheduler(JobScheduler):
    """Queues a "detect" job after spans were committed (at most every ``gap`` seconds), and
    at least every ``every`` seconds on a timer, so anomalies end (and are resolved) even
    when nothing new arrives."""

    kind = "detect"

    def __init__(self, store: Store, gap: float = 300.0, every: float = 900.0,
                 spans: SpanStore | None = None):
        super().__init__(store, gap, "goldenloop-detect")
        self.every = every
        self.span_store = spans or DuckDBSpanStore(store)
        self._spans = -1
        self._last_run = time.monotonic()

    def pending(self) -> bool:
        spans = self.span_store.count("spans")
        changed, self._spans = spans != self._spans, spans
        return changed

    def tick(self) -> bool:
        if time.monotonic() - self._last_run >= self.every:
            self._checked_generation = -1  # the timer is due: check even without a commit
            if self.store.write(self._queue) is not None:
                self._last_run = self._last_queued = time.monotonic()
            return False
        queued_before = self._last_queued
        super().tick()
        if self._last_queued != queued_before:
            self._last_run = self._last_queued
        return False


class AlertEvaluator(Loop):
    """Evaluates the alert rules whose interval has passed and retries due notifications
    (goldenloop.alerts); rules made on the Alerts page are picked up at the next tick, and
    the rules file is loaded again when it changes."""

    interval = 5.0

    def __init__(self, store: Store, rules_file: alerts.RulesFile):
        super().__init__("goldenloop-alerts")
        self.store, self.rules_file = store, rules_file

    def tick(self) -> bool:
        alerts.check(self.store, self.rules_file.refresh(), due_only=True)
        return False


class Workers:
    """``spans``: where spans, signals and feedback go (the database file itself when None)."""

    def __init__(self, store: Store, paths: Paths, snapshot_every: float = 10.0,
                 alerts_file: Path | None = None, spans: SpanStore | None = None):
        spans = spans or DuckDBSpanStore(store)
        requeued, interrupted = store.write(job_sql.recover_after_restart)
        if requeued or interrupted:
            log.warning("after restart: %d job(s) queued again, %d interrupted", requeued,
                        interrupted)
        store.write(judge.close_interrupted_runs)
        # A bad rules file stops the start with its message (file, rule, field): rules kept in
        # git that silently do not run would be worse.
        alert_rules = alerts.RulesFile(store, alerts.alerts_file_path(paths.data_dir, alerts_file))
        self.threads: list[Loop] = [
            JobRunner(store, handlers_for(spans)),
            InboxWatcher(store, paths, spans),
            SnapshotPublisher(store, paths, snapshot_every),
            ScoreScheduler(store, spans=spans),
            OnlineJudgeScheduler(store),
            AlertEvaluator(store, alert_rules),
            DetectScheduler(store, spans=spans),
            CanaryScheduler(store),
            ArgillaPullScheduler(store),
            RetentionScheduler(store),
            StoreGuard(store, paths),
        ]

    def start(self) -> Workers:
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for t in self.threads:
            t.stop()
        for t in self.threads:
            t.join(timeout)
