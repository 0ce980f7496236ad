"""The alerts part's public functions, re-exported lazily by ``goldenloop.alerts``."""

from __future__ import annotations

from pathlib import Path

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
    overview,
    save_rule,
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

__all__ = [
    "CONDITIONS", "METRICS", "PAYLOAD_VERSION", "STATES", "AlertsFile", "Channel",
    "ChannelError", "CheckResult", "DeliveryError", "Evaluation", "RetryPolicy", "Rule",
    "RuleError", "RuleFilter", "Settings", "StoredRule", "alert_link", "alerts_file_path",
    "check", "delete_rule", "deliver_due", "deliveries", "ensure_tables", "evaluate",
    "failed_deliveries", "find_rule", "load_and_sync", "load_file", "overview", "parse_rule",
    "public_url", "save_rule", "send_test", "stored_rules", "to_yaml", "transitions",
]


def load_and_sync(store: Store, path: Path, by: str = "alerts.yaml") -> Settings:
    """Read the rules file, make the stored file rules match it, and return the settings
    (public URL) the file and the environment give. RuleError when the file is bad: nothing
    is changed then."""
    from goldenloop.alerts.records import sync_file_rules

    parsed = load_file(path)
    ensure_tables(store)
    store.write(sync_file_rules, parsed.rules, by)
    return Settings(public_url=public_url(parsed))


def find_rule(store: Store, name: str) -> StoredRule:
    """The stored rule called ``name``, or RuleError listing the names there are."""
    rules = stored_rules(store)
    for s in rules:
        if s.rule.name == name:
            return s
    known = ", ".join(repr(s.rule.name) for s in rules) or "none yet"
    raise RuleError(f"no alert rule named {name!r} (rules: {known})")
