"""Migration 7: the tables of the golden part (see DESIGN.md's data model).

A golden dataset has a name; each version is immutable and lists its rows by key and content
hash. Row contents live once in ``golden_rows`` (keyed by their hash, shared by every version
holding the same row), so a new version that changes a few rows stores only those, and a
diff of two versions is a join of their memberships.
"""

from __future__ import annotations

import duckdb


def m007_golden(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the golden part. Idempotent (IF NOT EXISTS): databases made while migration
    7 was still an empty placeholder can get these tables from a later migration that runs
    this function again."""
    cur.execute("CREATE SEQUENCE IF NOT EXISTS golden_dataset_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS golden_datasets (
            dataset_id BIGINT,
            name VARCHAR,                -- lower-case letters, digits, '.', '_' and '-'
            description VARCHAR,
            created_by VARCHAR,
            created_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE IF NOT EXISTS golden_version_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS golden_versions (
            version_id BIGINT,
            dataset_id BIGINT,
            version INTEGER,             -- 1, 2, ... within the dataset
            content_hash VARCHAR,        -- sha256 over the sorted (row_key, row_hash) pairs
            author VARCHAR,
            filter JSON,                 -- the GoldenFilter used, as a dict
            counts JSON,                 -- considered, included, left out by reason
            label_balance JSON,          -- {label: rows}
            row_count BIGINT,
            created_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS golden_version_rows (
            version_id BIGINT,
            row_key VARCHAR,             -- target_type:target_id, stable across versions
            row_hash VARCHAR
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS golden_rows (
            row_hash VARCHAR,            -- md5 of every column below, as text
            row_key VARCHAR,
            target_type VARCHAR,         -- span, trace, session, item, comparison
            target_id VARCHAR,
            span_key BIGINT,             -- the span whose answer was graded (trace/session: last)
            trace_id VARCHAR,
            span_id VARCHAR,
            session_id VARCHAR,
            app VARCHAR,
            model_version VARCHAR,
            prompt_name VARCHAR,
            prompt_version VARCHAR,
            start_time TIMESTAMP,
            tags VARCHAR[],
            system_prompt VARCHAR,
            messages JSON,               -- the input as OpenAI chat messages (earlier turns too)
            input VARCHAR,               -- the last user message (or the item's input)
            output VARCHAR,              -- the graded answer (comparisons: the preferred one)
            rejected_output VARCHAR,     -- the answer a correction replaced, or the losing one
            expected_output VARCHAR,
            expected_source VARCHAR,     -- correction, graded_output, preferred_output
            criterion VARCHAR,
            rubric_name VARCHAR,
            rubric_version VARCHAR,
            label VARCHAR,               -- the verdict's value as text
            label_number DOUBLE,
            correct BOOLEAN,             -- the verdict meets the filter's "correct" rule
            reviewers VARCHAR[],
            human_grades JSON,           -- [{reviewer, value, grade_id, adjudication}]
            n_reviewers INTEGER,
            human_agreement DOUBLE,      -- share of reviewers whose verdict matches the row's
            agreement_level VARCHAR,     -- adjudicated, unanimous, majority, single reviewer
            judge_grades JSON,           -- [{judge, model, version, value, grade_id}]
            judge_versions VARCHAR[],
            judge_agrees BOOLEAN,        -- the latest judge grade's verdict matches
            correction_id BIGINT,
            corrected_by VARCHAR,
            inclusion_prob DOUBLE,       -- of the review-queue item, when it was sampled
            queue_id BIGINT,
            created_at TIMESTAMP
        )"""
    )


def m018_golden_curation(cur: duckdb.DuckDBPyConnection) -> None:
    """Curation of golden sets: rows a curator excluded from a dataset or restored (append
    only: the latest action on a row counts; a build applies them and keeps them in the
    version's counts), and each version's train / validation / test split by row."""
    cur.execute("CREATE SEQUENCE IF NOT EXISTS golden_exclusion_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS golden_exclusions (
            seq BIGINT DEFAULT nextval('golden_exclusion_seq'),
            dataset VARCHAR,             -- the dataset's name
            row_key VARCHAR,
            action VARCHAR,              -- exclude, restore
            reason VARCHAR,
            author VARCHAR,
            created_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS golden_version_splits (
            version_id BIGINT,
            row_key VARCHAR,
            split VARCHAR                -- train, validation, test
        )"""
    )
