"""SQL of the alerts tables: stored rules (from alerts.yaml or the Alerts page), current
states, the history of transitions and the deliveries of notifications.

Writers take a cursor inside ``store.write``; readers take the store. Rule changes go to the
audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from goldenloop.alerts.rules import Rule, RuleError, parse_rule
from goldenloop.alerts.schema import m010_alerts
from goldenloop.store import audit
from goldenloop.store.store import Store


@dataclass(frozen=True)
class StoredRule:
    rule: Rule
    origin: str          # file or app
    updated_by: str | None
    updated_at: datetime | None


def has_tables(store: Store) -> bool:
    return bool(store.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'alert_rules'"))


def ensure_tables(store: Store) -> None:
    """Create the tables on a database whose migration 10 ran before they were written."""
    if not store.read_only and not has_tables(store):
        store.write(m010_alerts)


def stored_rules(store: Store) -> list[StoredRule]:
    """Every stored rule, by name. A stored definition that no longer validates (written by
    another goldenloop version) raises RuleError naming it."""
    out = []
    for name, definition, origin, by, at in store.rows(
            "SELECT name, definition, origin, updated_by, updated_at FROM alert_rules "
            "ORDER BY name"):
        rule = parse_rule(json.loads(definition), f"stored rule {name!r}")
        out.append(StoredRule(rule, origin, by, at))
    return out


def save_rule(cur: duckdb.DuckDBPyConnection, rule: Rule, origin: str, by: str,
              *, replaces: str | None = None) -> None:
    """Insert or replace a rule (``replaces``: its old name when renamed)."""
    old = replaces or rule.name
    if replaces and replaces != rule.name and _exists(cur, rule.name):
        raise RuleError(f"a rule named {rule.name!r} exists already")
    cur.execute("DELETE FROM alert_rules WHERE name = ?", [old])
    cur.execute("INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [rule.name, json.dumps(rule.definition()), origin, rule.enabled, by])
    if old != rule.name:
        cur.execute("DELETE FROM alert_states WHERE name = ?", [old])
    audit.record(cur, by, "alert_rule_saved", rule.name,
                 {"origin": origin, "definition": rule.definition(), "replaces": replaces})


def _exists(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM alert_rules WHERE name = ?",
                            [name]).fetchone()[0])


def delete_rule(cur: duckdb.DuckDBPyConnection, name: str, by: str) -> None:
    """Remove a rule and its current state; its history and deliveries stay."""
    cur.execute("DELETE FROM alert_rules WHERE name = ?", [name])
    cur.execute("DELETE FROM alert_states WHERE name = ?", [name])
    audit.record(cur, by, "alert_rule_deleted", name, {})


def sync_file_rules(cur: duckdb.DuckDBPyConnection, rules: list[Rule], by: str
                    ) -> tuple[int, int, int]:
    """Make the stored file rules those of the file: (added, changed, removed). A rule of the
    file replaces a page rule of the same name (the file, kept in git, wins)."""
    stored = {name: (json.loads(d), origin) for name, d, origin in cur.execute(
        "SELECT name, definition, origin FROM alert_rules").fetchall()}
    added = changed = 0
    for rule in rules:
        before = stored.get(rule.name)
        if before == (rule.definition(), "file"):
            continue
        save_rule(cur, rule, "file", by)
        added, changed = (added + 1, changed) if before is None else (added, changed + 1)
    names = {r.name for r in rules}
    gone = [n for n, (_, origin) in stored.items() if origin == "file" and n not in names]
    for name in gone:
        delete_rule(cur, name, by)
    return added, changed, len(gone)


def states(store: Store) -> dict[str, dict]:
    return {r["name"]: r for r in store.df("SELECT * FROM alert_states").to_dict("records")}


def overview(store: Store) -> pd.DataFrame:
    """One row per rule: its definition's main fields, state, since, last value, last check."""
    return store.df(
        """SELECT r.name, coalesce(s.state, 'not evaluated') AS state, s.since,
                  r.definition->>'metric' AS metric, r.definition->>'condition' AS condition,
                  s.value, s.checked_at, r.origin, r.enabled, r.updated_by
           FROM alert_rules r LEFT JOIN alert_states s USING (name)
           ORDER BY CASE s.state WHEN 'ALERT' THEN 0 WHEN 'WARN' THEN 1 WHEN 'NO_DATA' THEN 2
                                 ELSE 3 END, r.name""")


def transitions(store: Store, name: str | None = None, limit: int = 200) -> pd.DataFrame:
    return store.df(
        """SELECT transition_id, name, changed_at, from_state, to_state, value, threshold, samples,
                  window_start, window_end, reason
           FROM alert_transitions WHERE $name IS NULL OR name = $name
           ORDER BY changed_at DESC, transition_id DESC LIMIT $limit""",
        {"name": name, "limit": limit})


def deliveries(store: Store, name: str | None = None, limit: int = 200) -> pd.DataFrame:
    return store.df(
        """SELECT delivery_id, name, channel, kind, status, attempts, last_error, created_at,
                  sent_at, next_attempt_at, transition_id
           FROM alert_deliveries WHERE $name IS NULL OR name = $name
           ORDER BY created_at DESC, delivery_id DESC LIMIT $limit""",
        {"name": name, "limit": limit})


def state_counts(store: Store) -> dict[str, int]:
    """How many enabled rules are in each state (for Home): {"ALERT": 1, "OK": 12, ...}."""
    if not has_tables(store):
        return {}
    return {state: int(n) for state, n in store.rows(
        """SELECT coalesce(s.state, 'not evaluated'), count(*) FROM alert_rules r
           LEFT JOIN alert_states s USING (name) WHERE r.enabled GROUP BY ALL""")}


def failed_deliveries(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM alert_deliveries WHERE status = 'failed'"))
