"""Migration 10: alert rules, their current state, the history of state transitions and the
notification deliveries (small tables: a few rows per rule and transition)."""

from __future__ import annotations

import duckdb


def m010_alerts(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the alerts part. ``IF NOT EXISTS``: the slot was registered before the
    tables were written, and ``alerts.ensure_tables`` runs this again on such a database."""
    cur.execute(
        """CREATE TABLE IF NOT EXISTS alert_rules (
            name VARCHAR,                -- the rule's identity
            definition JSON,             -- the validated rule, as goldenloop.alerts.Rule dumps it
            origin VARCHAR,              -- file (alerts.yaml) or app (made on the Alerts page)
            enabled BOOLEAN,
            updated_by VARCHAR,
            updated_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS alert_states (
            name VARCHAR,
            state VARCHAR,               -- OK, WARN, ALERT, NO_DATA
            since TIMESTAMP,             -- when it entered this state
            value DOUBLE,                -- the metric at the last evaluation
            evaluated_at TIMESTAMP,      -- the evaluation time (the end of the window)
            checked_at TIMESTAMP,        -- wall-clock time of the last evaluation
            notified_state VARCHAR,      -- the state the last notification announced
            fired_at TIMESTAMP           -- when the last firing notification was sent
        )"""
    )
    cur.execute("CREATE SEQUENCE IF NOT EXISTS alert_transition_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS alert_transitions (
            transition_id BIGINT,
            name VARCHAR,
            changed_at TIMESTAMP,        -- the evaluation that saw the change
            from_state VARCHAR,
            to_state VARCHAR,
            metric VARCHAR,
            value DOUBLE,
            threshold DOUBLE,            -- the level crossed (NULL for OK and NO_DATA)
            window_start TIMESTAMP,
            window_end TIMESTAMP,
            samples BIGINT,              -- how many spans, grades or anomalies the value rests on
            reason VARCHAR
        )"""
    )
    cur.execute("CREATE SEQUENCE IF NOT EXISTS alert_delivery_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS alert_deliveries (
            delivery_id BIGINT,
            transition_id BIGINT,
            name VARCHAR,                -- the rule
            channel VARCHAR,             -- kind and name of the channel, never its URL
            kind VARCHAR,                -- firing, resolved, test
            status VARCHAR,              -- pending, sent, failed, suppressed
            attempts INTEGER,
            next_attempt_at TIMESTAMP,
            last_error VARCHAR,
            payload JSON,                -- what was (or will be) sent; holds no secret
            created_at TIMESTAMP,
            sent_at TIMESTAMP
        )"""
    )
