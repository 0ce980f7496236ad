"""Migrations of the review part: criteria, items, comparisons, grades, corrections, queues and
queue items (2); claim history, late and undone grades, rubric documents (5); the criteria a
queue asks (17).

Migration 2 came first and created ``grades`` and ``corrections`` with the review tables; they
are core tables now (``goldenloop.store.grades`` writes them, ``live_grades`` defines what
counts), but a migration is history and stays as it was written.
"""

from __future__ import annotations

import duckdb


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


def m017_queue_criteria(cur: duckdb.DuckDBPyConnection) -> None:
    """The subset of its rubric's criteria a queue asks (NULL: every criterion)."""
    cur.execute("ALTER TABLE queues ADD COLUMN criteria VARCHAR[]")
