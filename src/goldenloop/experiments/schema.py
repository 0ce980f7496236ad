"""Migration 13: test sets, targets, runs, per-item results and scores, canary suites.

Small tables except ``experiment_results`` and ``experiment_scores`` (one row per item, and
per item and scorer, of every run): those carry no key constraint (DESIGN.md), and writers
add only rows not yet there.
"""

from __future__ import annotations

import duckdb

_TABLES = (
    """CREATE TABLE IF NOT EXISTS experiment_datasets (
        dataset_id BIGINT,
        name VARCHAR,
        version INTEGER,             -- per name, from 1; a golden test set keeps the golden version
        kind VARCHAR,                -- file or golden
        origin VARCHAR,              -- the file's name, or 'golden NAME vN'
        content_hash VARCHAR,        -- sha256 over the items (key, input, messages, expected, metadata)
        golden_version_id BIGINT,
        items INTEGER,
        quarantined INTEGER,
        created_by VARCHAR,
        created_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS experiment_items (
        dataset_id BIGINT,
        item_key VARCHAR,            -- stable across versions: the file's id, or the golden row key
        position INTEGER,
        input VARCHAR,               -- the text a prompt template sees as {{ input }}
        messages JSON,               -- chat messages, when the item has them
        expected VARCHAR,            -- expected output (NULL: none)
        metadata JSON,
        span_key BIGINT              -- the production span it came from (golden rows)
    )""",
    """CREATE TABLE IF NOT EXISTS experiment_quarantine (
        dataset_name VARCHAR,
        file VARCHAR,
        row_number INTEGER,
        field VARCHAR,
        reason VARCHAR,
        raw VARCHAR,
        created_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS experiment_targets (
        name VARCHAR,
        version VARCHAR,             -- content hash of the definition (endpoint excluded)
        kind VARCHAR,                -- endpoint or app
        definition JSON,
        created_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS experiment_runs (
        run_id BIGINT,
        source VARCHAR,              -- experiment or canary
        suite VARCHAR,               -- the canary suite, when a canary ran it
        target_name VARCHAR,
        target_version VARCHAR,
        dataset_id BIGINT,
        scorers VARCHAR[],
        status VARCHAR,              -- running, done, cancelled, budget, failed
        items INTEGER,
        answered INTEGER,
        failed INTEGER,
        not_run INTEGER,
        calls INTEGER,
        cost_usd DOUBLE,
        budget_usd DOUBLE,
        concurrency INTEGER,
        seconds DOUBLE,
        model_versions VARCHAR[],    -- what answered
        baseline BOOLEAN,            -- the baseline run of its target
        job_id BIGINT,
        message VARCHAR,
        started_at TIMESTAMP,
        finished_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS experiment_results (
        run_id BIGINT,
        item_key VARCHAR,
        output VARCHAR,
        status VARCHAR,              -- ok, failed (not run: no row)
        failure VARCHAR,             -- timeout, rate_limited, http_error, refusal, app_error, ...
        error VARCHAR,
        model_version VARCHAR,
        latency_ms DOUBLE,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cost_usd DOUBLE,
        attempts INTEGER,
        trace_id VARCHAR,            -- the spans of the call (source experiment or canary)
        created_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS experiment_scores (
        run_id BIGINT,
        item_key VARCHAR,
        scorer VARCHAR,
        scorer_version VARCHAR,
        value DOUBLE,                -- in [0, 1] for the reference scorers; a judge's own scale
        passed BOOLEAN,              -- value at or above the scorer's pass mark
        detail VARCHAR,              -- why (an SQL error, missing keys, the judge's reason)
        source VARCHAR,              -- experiment or canary
        created_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS canary_suites (
        name VARCHAR,
        definition JSON,             -- dataset, target, scorers, every_minutes, budget
        enabled BOOLEAN,
        updated_by VARCHAR,
        updated_at TIMESTAMP
    )""",
)


def m013_experiments(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the experiments part. ``IF NOT EXISTS``: the slot was registered before the
    tables were written, and ``ensure_tables`` runs this again on such a database."""
    cur.execute("CREATE SEQUENCE IF NOT EXISTS experiment_dataset_seq START 1")
    cur.execute("CREATE SEQUENCE IF NOT EXISTS experiment_run_seq START 1")
    for ddl in _TABLES:
        cur.execute(ddl)


def ensure_tables(store) -> None:
    """Create the tables on a database migrated while migration 13 was still an empty slot."""
    if store.scalar("SELECT count(*) FROM information_schema.tables "
                    "WHERE table_name = 'canary_suites'"):
        return
    if store.read_only:  # a snapshot of such a database: nothing to read yet
        from goldenloop.errors import ExperimentError

        raise ExperimentError("this database holds no experiments yet")
    store.write(m013_experiments)
