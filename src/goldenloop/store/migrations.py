"""Numbered schema migrations, recorded in ``schema_migrations``. Only ever add new ones.

Large tables carry no PRIMARY KEY or UNIQUE constraint (they slow bulk loads); identity is
kept by sequences and duplicates are prevented by anti-joins at insert (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from goldenloop.alerts.schema import m010_alerts
from goldenloop.anomalies.schema import m009_anomalies
from goldenloop.argilla_sync.schema import m014_argilla
from goldenloop.errors import SchemaTooNewError
from goldenloop.experiments.schema import m013_experiments
from goldenloop.ingest.schema import m011_import_hardening
from goldenloop.ops.schema import m015_operations
from goldenloop.store.schema_agreement import m008_agreement
from goldenloop.store.schema_golden import m007_golden
from goldenloop.store.schema_judge import m006_judge
from goldenloop.store.schema_trust import m012_trusted_figures
from goldenloop.store.span_columns import spans_ddl

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def m001_traces(cur: duckdb.DuckDBPyConnection) -> None:
    """Spans, their automatic signals and end-user feedback."""
    cur.execute("CREATE SEQUENCE span_key_seq START 1")
    cur.execute(spans_ddl())
    cur.execute(
        """CREATE TABLE signals (
            span_key BIGINT,
            user_offensive DOUBLE,       -- probability the last user message is offensive
            output_offensive DOUBLE,
            user_sentiment DOUBLE,       -- compound sentiment in [-1, 1]
            output_sentiment DOUBLE,
            output_chars INTEGER,
            output_words INTEGER,
            refusal BOOLEAN,
            scorer_versions JSON,
            computed_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE feedback_seq START 1")
    cur.execute(
        """CREATE TABLE feedback (
            feedback_id BIGINT,
            trace_id VARCHAR,
            span_id VARCHAR,
            span_key BIGINT,             -- resolved at insert when the span is known
            session_id VARCHAR,
            user_id VARCHAR,
            kind VARCHAR,                -- thumbs, rating, comment
            value DOUBLE,                -- thumbs: 1 up, 0 down; rating: the number
            comment VARCHAR,
            created_at TIMESTAMP,
            source VARCHAR,
            ingested_at TIMESTAMP
        )"""
    )


def m002_review(cur: duckdb.DuckDBPyConnection) -> None:
    """Criteria, items, comparisons, grades, corrections, queues and queue items."""
    cur.execute(
        """CREATE TABLE criteria (
            rubric_name VARCHAR,
            rubric_version VARCHAR,
            name VARCHAR,
            value_type VARCHAR,          -- interval, ordinal, nominal, boolean, text
            min_value DOUBLE,
            max_value DOUBLE,
            labels VARCHAR[],            -- ordered labels for ordinal, the set for nominal
            label_descriptions JSON,
            higher_is_better BOOLEAN,
            multi_select BOOLEAN,
            instructions VARCHAR,
            created_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE items (
            item_id VARCHAR,
            dataset VARCHAR,
            input VARCHAR,
            output VARCHAR,
            reference VARCHAR,
            metadata JSON,
            created_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE comparisons (
            comparison_id VARCHAR,
            input VARCHAR,
            a_type VARCHAR, a_id VARCHAR, a_output VARCHAR,
            b_type VARCHAR, b_id VARCHAR, b_output VARCHAR,
            shown_order VARCHAR,         -- AB or BA: what the reviewer saw first
            metadata JSON,
            created_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE grade_seq START 1")
    cur.execute(
        """CREATE TABLE grades (
            grade_id BIGINT,
            target_type VARCHAR,         -- span, trace, session, item, comparison
            target_id VARCHAR,
            span_key BIGINT,             -- set for span targets: every join uses it
            criterion VARCHAR,
            value_number DOUBLE,
            value_label VARCHAR,
            value_labels VARCHAR[],      -- multi-select criteria
            value_text VARCHAR,
            not_applicable BOOLEAN DEFAULT false,
            flagged BOOLEAN DEFAULT false,
            source VARCHAR,              -- human, judge, canary, imported
            author_kind VARCHAR,         -- reviewer, judge, canary, import
            author_id VARCHAR,
            judge_name VARCHAR,
            judge_model VARCHAR,
            judge_version VARCHAR,
            rubric_name VARCHAR,
            rubric_version VARCHAR,
            queue_id BIGINT,
            queue_item_id BIGINT,
            is_gold BOOLEAN DEFAULT false,
            is_adjudication BOOLEAN DEFAULT false,
            comment VARCHAR,
            raw JSON,                    -- e.g. the judge's raw answer
            created_at TIMESTAMP,
            supersedes BIGINT
        )"""
    )
    cur.execute("CREATE SEQUENCE correction_seq START 1")
    cur.execute(
        """CREATE TABLE corrections (
            correction_id BIGINT,
            target_type VARCHAR,
            target_id VARCHAR,
            span_key BIGINT,
            corrected_output VARCHAR,
            author_id VARCHAR,
            queue_item_id BIGINT,
            created_at TIMESTAMP,
            supersedes BIGINT
        )"""
    )
    cur.execute("CREATE SEQUENCE queue_seq START 1")
    cur.execute(
        """CREATE TABLE queues (
            queue_id BIGINT,
            name VARCHAR,
            description VARCHAR,
            target_type VARCHAR,         -- span, session, comparison
            frame_filter JSON,           -- the sampling frame
            window_start TIMESTAMP,
            window_end TIMESTAMP,
            population_size BIGINT,
            design JSON,                 -- uniform, stratified, risk-raised, by hand
            rubric_name VARCHAR,
            rubric_version VARCHAR,
            reviewers_per_item INTEGER,
            created_by VARCHAR,
            created_at TIMESTAMP,
            status VARCHAR
        )"""
    )
    cur.execute("CREATE SEQUENCE queue_item_seq START 1")
    cur.execute(
        """CREATE TABLE queue_items (
            queue_item_id BIGINT,
            queue_id BIGINT,
            target_type VARCHAR,
            target_id VARCHAR,
            span_key BIGINT,
            inclusion_prob DOUBLE,
            stratum VARCHAR,
            risk_score DOUBLE,           -- kept apart from the probability
            is_gold BOOLEAN DEFAULT false,
            status VARCHAR,              -- pending, claimed, done, skipped
            claimed_by VARCHAR,
            claim_expires_at TIMESTAMP,
            reviewers_needed INTEGER,
            reviewers_done INTEGER DEFAULT 0,
            position INTEGER,
            created_at TIMESTAMP
        )"""
    )


def m003_operations(cur: duckdb.DuckDBPyConnection) -> None:
    """Jobs, audit log, import log, quarantine, and the demo's incident ground truth."""
    cur.execute("CREATE SEQUENCE job_seq START 1")
    cur.execute(
        """CREATE TABLE jobs (
            job_id BIGINT,
            kind VARCHAR,
            params JSON,
            status VARCHAR,              -- queued, running, done, failed, cancelled, interrupted
            progress DOUBLE,             -- 0..1
            message VARCHAR,
            result JSON,
            error VARCHAR,
            origin VARCHAR,              -- cli, app, inbox, worker
            cancel_requested BOOLEAN DEFAULT false,
            created_at TIMESTAMP,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            heartbeat_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE audit_seq START 1")
    cur.execute(
        """CREATE TABLE audit_log (
            audit_id BIGINT,
            logged_at TIMESTAMP,
            actor VARCHAR,
            action VARCHAR,
            target VARCHAR,
            details JSON
        )"""
    )
    cur.execute("CREATE SEQUENCE import_seq START 1")
    cur.execute(
        """CREATE TABLE import_log (
            import_id BIGINT,
            file VARCHAR,
            content_hash VARCHAR,
            format VARCHAR,
            origin VARCHAR,
            status VARCHAR,              -- committed, failed
            rows_read BIGINT,
            imported BIGINT,
            duplicates BIGINT,
            quarantined BIGINT,
            unknown_price BIGINT,
            message VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE quarantine (
            import_id BIGINT,
            file VARCHAR,
            row_number BIGINT,           -- 1-based record number in the file (CSV: line number)
            field VARCHAR,               -- first failing field
            reason VARCHAR,
            errors JSON,                 -- every failing field and reason of the row
            raw VARCHAR,                 -- the row as read, so nothing is lost
            quarantined_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE demo_incidents (
            kind VARCHAR,
            app VARCHAR,
            model_version VARCHAR,
            starts_at TIMESTAMP,
            ends_at TIMESTAMP,
            description VARCHAR
        )"""
    )


def m004_moderation_signals(cur: duckdb.DuckDBPyConnection) -> None:
    """Signals of the optional moderation endpoint, per side (last user message, output)."""
    for column, sql_type in (
        ("user_moderation_flagged", "BOOLEAN"),   # the endpoint flagged the text
        ("user_moderation_score", "DOUBLE"),      # its highest category score, in [0, 1]
        ("output_moderation_flagged", "BOOLEAN"),
        ("output_moderation_score", "DOUBLE"),
        ("moderation_categories", "JSON"),        # {"user": [flagged...], "output": [...]}
    ):
        cur.execute(f"ALTER TABLE signals ADD COLUMN {column} {sql_type}")


def m005_review_workbench(cur: duckdb.DuckDBPyConnection) -> None:
    """Review workbench: claim history, late and undone grades, rubric documents."""
    for table, column, sql_type in (
        ("grades", "late", "BOOLEAN DEFAULT false"),        # arrived after its claim was lost
        ("grades", "seconds_spent", "DOUBLE"),              # from claim to submit
        ("grades", "retracted", "BOOLEAN DEFAULT false"),   # an undo: supersedes, holds no value
        ("corrections", "retracted", "BOOLEAN DEFAULT false"),
        ("queue_items", "claim_id", "BIGINT"),              # the live claim; changes on each claim
        ("queue_items", "claimed_at", "TIMESTAMP"),
        ("queue_items", "risk_reasons", "VARCHAR[]"),       # which signals raised the risk score
    ):
        cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
    cur.execute("CREATE SEQUENCE claim_seq START 1")
    cur.execute(
        """CREATE TABLE queue_claims (
            claim_id BIGINT,
            queue_id BIGINT,
            queue_item_id BIGINT,
            reviewer VARCHAR,
            claimed_at TIMESTAMP,
            renewed_at TIMESTAMP,
            expires_at TIMESTAMP,
            ended_at TIMESTAMP,
            outcome VARCHAR              -- open, graded, skipped, later, released
        )"""
    )
    cur.execute(
        """CREATE TABLE rubrics (
            rubric_name VARCHAR,
            rubric_version VARCHAR,      -- content hash of the definition
            title VARCHAR,
            definition JSON,             -- the whole validated rubric, as loaded from YAML
            origin VARCHAR,              -- package or user
            based_on VARCHAR,            -- the version a lead's edit started from
            edited_by VARCHAR,
            edited_at TIMESTAMP,
            loaded_at TIMESTAMP
        )"""
    )


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "traces", m001_traces),
    (2, "review", m002_review),
    (3, "operations", m003_operations),
    (4, "moderation_signals", m004_moderation_signals),
    (5, "review_workbench", m005_review_workbench),
    # Later parts keep their tables beside their own code.
    (6, "judge", m006_judge),
    (7, "golden", m007_golden),
    (8, "agreement", m008_agreement),
    (9, "anomalies", m009_anomalies),
    (10, "alerts", m010_alerts),
    (11, "import_hardening", m011_import_hardening),
    (12, "trusted_figures", m012_trusted_figures),
    (13, "experiments", m013_experiments),
    (14, "argilla", m014_argilla),
    (15, "operations_2", m015_operations),
)
LATEST = MIGRATIONS[-1][0]


def current_version(cur: duckdb.DuckDBPyConnection) -> int:
    cur.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_migrations' AND table_schema = 'main'"
    )
    if not cur.fetchone()[0]:
        return 0
    cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(cur.fetchone()[0])


def migrate(cur: duckdb.DuckDBPyConnection, *, target: int = LATEST) -> list[int]:
    """Apply the migrations above the database's version up to ``target``; return those applied."""
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER, name VARCHAR, applied_at TIMESTAMP)"
    )
    have = current_version(cur)
    if have > LATEST:
        raise SchemaTooNewError(
            f"the database is at schema version {have}, newer than this goldenloop ({LATEST}): "
            "upgrade goldenloop"
        )
    applied = []
    for version, name, fn in MIGRATIONS:
        if have < version <= target:
            cur.execute("BEGIN")
            try:
                fn(cur)
                cur.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [version, name, datetime.now(UTC).replace(tzinfo=None)],
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            applied.append(version)
    return applied
