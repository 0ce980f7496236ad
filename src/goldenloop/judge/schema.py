"""Migration 6: the tables of the judge part (see DESIGN.md's data model).

A judge's verdicts are rows of ``grades`` (source ``judge``, author the judge's name, with its
model and version hash); these tables hold what is judge-specific: every version ever run,
every run with its cost, the answer cache, the failures with the raw answer, which spans a
run sampled and with what inclusion probability, and the online-mode settings.
"""

from __future__ import annotations

import duckdb


def m006_judge(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the judge part."""
    cur.execute(
        """CREATE TABLE judge_versions (
            judge_name VARCHAR,
            judge_version VARCHAR,       -- hash of the judge's content
            kind VARCHAR,                -- pointwise, pairwise
            criterion VARCHAR,
            rubric_name VARCHAR,
            rubric_version VARCHAR,
            model VARCHAR,
            definition JSON,             -- the whole judge, as run
            origin VARCHAR,              -- package, user
            created_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE judge_run_seq START 1")
    cur.execute(
        """CREATE TABLE judge_runs (
            run_id BIGINT,
            judge_name VARCHAR,
            judge_version VARCHAR,
            model VARCHAR,
            job_id BIGINT,
            target_kind VARCHAR,         -- queue, filter, sample, online, spans
            params JSON,
            status VARCHAR,              -- running, done, cancelled, budget, failed
            targets BIGINT,
            judged BIGINT,               -- grades written (cache hits included)
            cached BIGINT,               -- answered from the cache, no call
            failed BIGINT,
            not_run BIGINT,              -- left when the budget or a cancel stopped the run
            calls BIGINT,                -- HTTP attempts, retries included
            cost_usd DOUBLE,
            budget_usd DOUBLE,
            position_inconsistent BIGINT, -- pairwise: verdicts that changed with the order
            message VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE judge_cache (
            judge_version VARCHAR,
            input_hash VARCHAR,          -- SHA-256 of the rendered messages
            answer JSON,                 -- the parsed verdict
            raw_answer VARCHAR,
            model_version VARCHAR,
            output_mode VARCHAR,         -- json_schema, json_object, text
            cost_usd DOUBLE,
            created_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE judge_failure_seq START 1")
    cur.execute(
        """CREATE TABLE judge_failures (
            failure_id BIGINT,
            run_id BIGINT,
            judge_name VARCHAR,
            judge_version VARCHAR,
            target_type VARCHAR,
            target_id VARCHAR,
            span_key BIGINT,
            kind VARCHAR,                -- refusal, unparseable, timeout, rate_limited, http_error, ...
            message VARCHAR,
            raw_answer VARCHAR,          -- exactly what came back, never dropped
            attempts INTEGER,
            created_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE judge_samples (
            run_id BIGINT,
            judge_version VARCHAR,
            target_type VARCHAR,
            target_id VARCHAR,
            span_key BIGINT,
            inclusion_prob DOUBLE,       -- so estimates from judge grades stay unbiased
            sampled_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE judge_online (
            judge_name VARCHAR,
            fraction DOUBLE,             -- inclusion probability of each new LLM span
            budget_usd DOUBLE,           -- per online run (one batch of new spans)
            enabled BOOLEAN,
            watermark BIGINT,            -- highest span_key already considered
            updated_by VARCHAR,
            updated_at TIMESTAMP
        )"""
    )
