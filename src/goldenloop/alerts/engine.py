"""Running rules: evaluate the due ones, record state transitions, queue one notification per
transition (none within the cooldown, a resolution when a notified alert clears) and deliver
them with retries and backoff, recording every attempt.

Notification policy, per rule. ``notified_state`` is what the last message announced (OK after
a resolution). When the state differs from it:
- the state is OK: a resolution message is sent (a firing that was never sent has nothing to
  resolve, and then the states agree already);
- otherwise, when the last firing message is at least ``cooldown`` old (or there was none): a
  firing message. Within the cooldown the transition is recorded with a ``suppressed``
  delivery, and the message goes out at the first evaluation after the cooldown if the rule
  is still not OK.

Network calls happen outside the write lock: the delivery rows are written first (pending),
sent, then updated.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

from goldenloop.alerts import notify, records
from goldenloop.alerts.evaluation import Evaluation, evaluate
from goldenloop.alerts.rules import DEFAULT_PUBLIC_URL, ChannelError, Rule
from goldenloop.store.store import Store


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all; attempt k+1 waits ``base_s * factor**(k-1)`` after attempt k."""

    attempts: int = 4
    base_s: float = 10.0
    factor: float = 3.0

    def delay(self, attempts_done: int) -> timedelta:
        return timedelta(seconds=self.base_s * self.factor ** (attempts_done - 1))


@dataclass(frozen=True)
class Settings:
    public_url: str = DEFAULT_PUBLIC_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = notify.TIMEOUT_S


@dataclass
class CheckResult:
    evaluations: list[Evaluation]
    transitions: int
    queued: int
    sent: int = 0
    failed: int = 0


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# One check at a time in a process: the owner's thread and an "alerts_check" job reading the
# same prior states would each announce the same transition.
_CHECK_LOCK = threading.Lock()


def check(store: Store, settings: Settings, *, at: datetime | None = None,
          due_only: bool = False, wait: bool = False) -> CheckResult:
    """Evaluate the enabled rules at ``at`` (default now; with ``due_only``, those whose
    interval has passed), record what changed, and send what is due. With ``wait``, retries
    are waited for here (a command run by cron has no later pass)."""
    with _CHECK_LOCK:
        return _check(store, settings, at or utcnow(), due_only, wait)


def _check(store: Store, settings: Settings, at: datetime, due_only: bool,
           wait: bool) -> CheckResult:
    rules = [s.rule for s in records.stored_rules(store) if s.rule.enabled]
    if due_only:
        current = records.states(store)
        rules = [r for r in rules if _due(r, current.get(r.name), at)]
    evaluations = evaluate(store, rules, at) if rules else []
    by_name = {r.name: r for r in rules}
    # No write when nothing was due: every commit makes the owner publish a new snapshot.
    transitions, queued = store.write(_record, evaluations, by_name, at, settings) \
        if evaluations else (0, 0)
    sent, failed = deliver_due(store, settings, wait=wait)
    return CheckResult(evaluations, transitions, queued, sent, failed)


def _due(rule: Rule, state: dict | None, at: datetime) -> bool:
    return state is None or state["evaluated_at"] is None or \
        at >= state["evaluated_at"] + rule.interval


def _record(cur: duckdb.DuckDBPyConnection, evaluations: list[Evaluation],
            rules: dict[str, Rule], at: datetime, settings: Settings) -> tuple[int, int]:
    """States, transitions and queued messages of one evaluation pass, written set-wise: a
    few statements for any number of rules (one per rule made 100 rules take a second)."""
    names = [ev.rule for ev in evaluations]
    prior = {r[0]: r[1:] for r in cur.execute(
        "SELECT name, state, since, notified_state, fired_at FROM alert_states "
        "WHERE list_contains($names, name)", {"names": names}).fetchall()}
    latest = {r[0]: r[1:] for r in cur.execute(
        "SELECT name, max(transition_id), arg_max(from_state, transition_id) "
        "FROM alert_transitions WHERE list_contains($names, name) GROUP BY name",
        {"names": names}).fetchall()}
    # A rule's first evaluation is a transition unless it starts out OK.
    moved = [ev for ev in evaluations if (prior.get(ev.rule) or (None,))[0] != ev.state
             and (ev.rule in prior or ev.state != "OK")]
    ids = [r[0] for r in cur.execute("SELECT nextval('alert_transition_seq') FROM range(?)",
                                     [len(moved)]).fetchall()]
    transitions = []
    for tid, ev in zip(ids, moved, strict=True):
        before = (prior.get(ev.rule) or (None,))[0]
        latest[ev.rule] = (tid, before)
        transitions.append((tid, ev.rule, at, before, ev.state, ev.metric, ev.value,
                            ev.threshold, ev.window_start, ev.window_end, ev.samples, ev.reason))
    states, queued = [], 0
    for ev in evaluations:
        rule = rules[ev.rule]
        state, since, notified, fired_at = prior.get(ev.rule) or (None, None, "OK", None)
        changed = state != ev.state
        since = at if changed else since
        transition_id, previous = latest.get(ev.rule, (None, None))
        kind = None
        if ev.state != notified:
            if ev.state == "OK":
                kind = "resolved"
            elif fired_at is None or at - fired_at >= rule.cooldown:
                kind, fired_at = "firing", at
            elif changed:
                _suppressed(cur, rule, transition_id, fired_at + rule.cooldown)
        if kind:
            p = notify.payload(kind, rule, ev, previous, at, settings.public_url)
            queued += _queue(cur, rule, transition_id, kind, p)
            notified = ev.state
        states.append((ev.rule, ev.state, since, ev.value, at, utcnow(), notified, fired_at))
    _insert(cur, "alert_transitions", _TRANSITION_COLUMNS, transitions)
    cur.execute("DELETE FROM alert_states WHERE list_contains($names, name)", {"names": names})
    _insert(cur, "alert_states", _STATE_COLUMNS, states)
    return len(transitions), queued


_TRANSITION_COLUMNS = (
    ("transition_id", pa.int64()), ("name", pa.string()), ("changed_at", pa.timestamp("us")),
    ("from_state", pa.string()), ("to_state", pa.string()), ("metric", pa.string()),
    ("value", pa.float64()), ("threshold", pa.float64()),
    ("window_start", pa.timestamp("us")), ("window_end", pa.timestamp("us")),
    ("samples", pa.int64()), ("reason", pa.string()))
_STATE_COLUMNS = (
    ("name", pa.string()), ("state", pa.string()), ("since", pa.timestamp("us")),
    ("value", pa.float64()), ("evaluated_at", pa.timestamp("us")),
    ("checked_at", pa.timestamp("us")), ("notified_state", pa.string()),
    ("fired_at", pa.timestamp("us")))


def _insert(cur: duckdb.DuckDBPyConnection, table: str, columns: tuple, rows: list[tuple]
            ) -> None:
    """Rows into ``table`` in one statement, through Arrow."""
    if not rows:
        return
    schema = pa.schema(list(columns))
    data = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows],
                                schema=schema)
    cur.register("_alert_rows", data)
    try:
        cur.execute(f"INSERT INTO {table} ({', '.join(schema.names)}) SELECT * FROM _alert_rows")
    finally:
        cur.unregister("_alert_rows")


def _queue(cur: duckdb.DuckDBPyConnection, rule: Rule, transition_id: int | None, kind: str,
           p: dict) -> int:
    for channel in rule.channels:
        cur.execute(
            """INSERT INTO alert_deliveries VALUES (nextval('alert_delivery_seq'), ?, ?, ?, ?,
                   'pending', 0, now()::TIMESTAMP, NULL, ?, now()::TIMESTAMP, NULL)""",
            [transition_id, rule.name, channel.label, kind, json.dumps(p)])
    return len(rule.channels)


def _suppressed(cur: duckdb.DuckDBPyConnection, rule: Rule, transition_id: int | None,
                until: datetime) -> None:
    if not rule.channels:
        return
    cur.execute(
        """INSERT INTO alert_deliveries VALUES (nextval('alert_delivery_seq'), ?, ?, 'all',
               'firing', 'suppressed', 0, NULL, ?, NULL, now()::TIMESTAMP, NULL)""",
        [transition_id, rule.name,
         f"within the cooldown: the next message may go at {until:%Y-%m-%d %H:%M} UTC"])


def deliver_due(store: Store, settings: Settings, *, wait: bool = False) -> tuple[int, int]:
    """Send the pending deliveries whose attempt is due: (sent, failed for good). With
    ``wait``, sleep until retries fall due, until none is pending."""
    sent = failed = 0
    while True:
        due = store.rows(
            """SELECT delivery_id, name, channel, attempts, payload FROM alert_deliveries
               WHERE status = 'pending' AND next_attempt_at <= now()::TIMESTAMP
               ORDER BY delivery_id""")
        rules = {s.rule.name: s.rule for s in records.stored_rules(store)} if due else {}
        for delivery_id, name, label, attempts, payload in due:
            ok = _attempt(store, settings, rules.get(name), delivery_id, label, attempts,
                          json.loads(payload))
            sent += ok is True
            failed += ok is False
        if not wait:
            return sent, failed
        nxt = store.scalar("SELECT min(next_attempt_at) FROM alert_deliveries "
                           "WHERE status = 'pending'")
        if nxt is None:
            return sent, failed
        time.sleep(max(0.0, (nxt - utcnow()).total_seconds()) + 0.01)


def _attempt(store: Store, settings: Settings, rule: Rule | None, delivery_id: int,
             label: str, attempts: int, p: dict) -> bool | None:
    """One try: True sent, False failed for good, None will be retried."""
    channel = next((c for c in rule.channels if c.label == label), None) if rule else None
    error = None
    try:
        if channel is None:
            raise ChannelError(f"{label}: the rule or this channel is no longer defined")
        notify.send(channel, p, settings.timeout_s)
    except (notify.DeliveryError, ChannelError) as exc:
        error = str(exc)
    attempts += 1
    final = error is None or channel is None or attempts >= settings.retry.attempts
    status = "sent" if error is None else ("failed" if final else "pending")
    store.write(lambda cur: cur.execute(
        """UPDATE alert_deliveries SET status = ?, attempts = ?, last_error = ?,
               next_attempt_at = ?, sent_at = CASE WHEN ? THEN now()::TIMESTAMP END
           WHERE delivery_id = ?""",
        [status, attempts, error, None if final else utcnow() + settings.retry.delay(attempts),
         error is None, delivery_id]))
    return True if status == "sent" else (False if status == "failed" else None)


def send_test(rule: Rule, settings: Settings, at: datetime | None = None
              ) -> list[tuple[str, str | None]]:
    """Send a sample message to each channel of ``rule`` now, once: (channel, error or None).
    Nothing is recorded: it checks the channels, not the rule."""
    at = at or utcnow()
    ev = Evaluation(rule=rule.name, metric=rule.metric, state="ALERT", value=rule.critical
                    or rule.warn, samples=0, threshold=rule.critical or rule.warn,
                    reference=None, change=None, window_start=at - rule.window, window_end=at,
                    reason="a test message: nothing is wrong")
    p = notify.payload("test", rule, ev, "OK", at, settings.public_url)
    out = []
    for channel in rule.channels:
        try:
            notify.send(channel, p, settings.timeout_s)
            out.append((channel.label, None))
        except (notify.DeliveryError, ChannelError) as exc:
            out.append((channel.label, str(exc)))
    return out
