"""The alerts part's public functions, re-exported lazily by ``goldenloop.alerts``."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from goldenloop.access import roles
from goldenloop.alerts.engine import (
    CheckResult,
    RetryPolicy,
    Settings,
    check,
    deliver_due,
    send_test,
)
from goldenloop.alerts.evaluation import Evaluation, evaluate
from goldenloop.alerts.notify import PAYLOAD_VERSION, DeliveryError, alert_link
from goldenloop.alerts.records import (
    StoredRule,
    delete_rule,
    deliveries,
    ensure_tables,
    failed_deliveries,
    has_tables,
    overview,
    save_rule,
    state_counts,
    stored_rules,
    transitions,
)
from goldenloop.alerts.rules import (
    CONDITIONS,
    METRICS,
    STATES,
    AlertsFile,
    Channel,
    ChannelError,
    Rule,
    RuleError,
    RuleFilter,
    alerts_file_path,
    load_file,
    parse_rule,
    public_url,
    to_yaml,
)
from goldenloop.store.store import Store

log = logging.getLogger("goldenloop.alerts")

__all__ = [
    "CONDITIONS", "METRICS", "PAYLOAD_VERSION", "STATES", "AlertsFile", "Channel", "ChannelError",
    "CheckResult", "DeliveryError", "Evaluation", "RetryPolicy", "Rule", "RuleError", "RuleFilter",
    "RulesFile", "Settings", "StoredRule", "alert_link", "alerts_file_path", "check", "check_job",
    "delete_rule", "deliver_due", "deliveries", "ensure_tables", "evaluate", "failed_deliveries",
    "file_problem", "find_rule", "has_tables", "load_and_sync", "load_file", "overview",
    "parse_rule", "public_url", "put_rule", "remove_rule", "save_rule", "send_test", "settings_of",
    "state_counts", "stored_rules", "to_yaml", "transitions",
]


def load_and_sync(store: Store, path: Path, by: str = "alerts.yaml") -> Settings:
    """Read the rules file, make the stored file rules match it, and return the settings
    (public URL) the file and the environment give. RuleError when the file is bad: nothing
    is changed then."""
    from goldenloop.alerts.records import sync_file_rules

    roles.guard(store, roles.Action.MANAGE_ALERTS)  # the file itself is the server's to trust
    parsed = load_file(path)
    ensure_tables(store)
    store.write(sync_file_rules, parsed.rules, by)
    return settings_of(parsed)


def put_rule(store: Store, rule: Rule, by: str, *, replaces: str | None = None,
             origin: str = "app") -> None:
    """A lead adds or replaces (``replaces``: the old name when renamed) a rule."""
    who = roles.guard(store, roles.Action.MANAGE_ALERTS, by)
    store.write(save_rule, rule, origin, who, replaces=replaces)


def remove_rule(store: Store, name: str, by: str) -> None:
    """A lead removes a rule and its current state; its history and deliveries stay."""
    store.write(delete_rule, name, roles.guard(store, roles.Action.MANAGE_ALERTS, by))


def settings_of(parsed: AlertsFile) -> Settings:
    """The public URL and the delivery retries an alerts file (and the environment) give."""
    d = parsed.delivery
    return Settings(public_url=public_url(parsed),
                    retry=RetryPolicy(attempts=d.attempts, base_s=d.backoff.total_seconds()),
                    timeout_s=d.timeout.total_seconds())


def find_rule(store: Store, name: str) -> StoredRule:
    """The stored rule called ``name``, or RuleError listing the names there are."""
    rules = stored_rules(store)
    for s in rules:
        if s.rule.name == name:
            return s
    known = ", ".join(repr(s.rule.name) for s in rules) or "none yet"
    raise RuleError(f"no alert rule named {name!r} (rules: {known})")


def check_job(store: Store, params: dict[str, Any], progress: Any = None) -> dict[str, Any]:
    """The owner's "alerts_check" job (`goldenloop alerts check` while a server runs): reload
    the rules file, evaluate every rule once. Retries are left to the owner's alerts thread."""
    path = params.get("alerts_file")
    settings = load_and_sync(store, Path(path)) if path else Settings(public_url=public_url())
    at = datetime.fromisoformat(params["at"]) if params.get("at") else None
    r = check(store, settings, at=at)
    states = [ev.state for ev in r.evaluations]
    counts = ", ".join(f"{states.count(s)} {s}" for s in STATES if states.count(s))
    return {"summary": f"{len(states)} rule(s) evaluated ({counts or 'none'}): "
                       f"{r.transitions} state change(s), {r.sent} notification(s) sent, "
                       f"{r.failed} failed",
            "transitions": r.transitions, "sent": r.sent, "failed": r.failed}


class RulesFile:
    """The rules file the owner loaded at start, loaded again when it changes (a ``git pull``
    of alerts.yaml needs no restart). A bad new version is logged and kept in ``error``; the
    rules loaded before stay in force. A bad file at start raises RuleError."""

    def __init__(self, store: Store, path: Path):
        self.store, self.path = store, Path(path)
        self._stamp = _stamp(self.path)
        self.settings = load_and_sync(store, self.path)
        self.error: str | None = None

    def refresh(self) -> Settings:
        """The settings to use now, after loading the file again if it changed."""
        stamp = _stamp(self.path)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.settings = load_and_sync(self.store, self.path)
                self.error = None
                log.info("alert rules loaded again from %s", self.path)
            except RuleError as exc:
                self.error = str(exc)
                log.warning("%s (the rules loaded before stay in force)", exc)
        return self.settings


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def file_problem(path: Path) -> str | None:
    """What is wrong with the rules file, or None (for the Alerts page: it reads the file
    the same way the owner does, and says so before anyone wonders why a rule is missing)."""
    try:
        load_file(path)
    except RuleError as exc:
        return str(exc)
    return None
