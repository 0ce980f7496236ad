"""SQL of the judge part: versions, runs, the answer cache, failures, samples, online settings,
and what a judge reads (span texts, queue items, frames). Judge verdicts are ``grades`` rows
written by ``store.grades.insert_grades``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from goldenloop.store import audit
from goldenloop.store.span_columns import JUDGE_APP, internal_sql, production_sql
from goldenloop.store.store import Store

if TYPE_CHECKING:  # pandas loads in about half a second: only for frames
    import pandas as pd


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# -- versions and runs ---------------------------------------------------------------------------
def record_version(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    cur.execute(
        """INSERT INTO judge_versions
           SELECT $judge_name, $judge_version, $kind, $criterion, $rubric_name, $rubric_version,
                  $model, $definition, $origin, now()::TIMESTAMP
           WHERE NOT EXISTS (SELECT 1 FROM judge_versions
                             WHERE judge_name = $judge_name AND judge_version = $judge_version)""",
        row)


def start_run(cur: duckdb.DuckDBPyConnection, *, judge_name: str, judge_version: str, model: str,
              job_id: int | None, target_kind: str, params: dict, targets: int,
              budget_usd: float | None) -> int:
    cur.execute(
        """INSERT INTO judge_runs (run_id, judge_name, judge_version, model, job_id, target_kind,
                                   params, status, targets, judged, cached, failed, not_run, calls,
                                   cost_usd, budget_usd, position_inconsistent, started_at)
           VALUES (nextval('judge_run_seq'), ?, ?, ?, ?, ?, ?, 'running', ?, 0, 0, 0, 0, 0, 0, ?,
                   0, now()::TIMESTAMP)
           RETURNING run_id""",
        [judge_name, judge_version, model, job_id, target_kind, json.dumps(params, default=str),
         targets, budget_usd])
    run_id = int(cur.fetchone()[0])
    audit.record(cur, params.get("by") or audit.acting_user() or "judge", "judge.run", f"judge_run:{run_id}",
                 {"judge": judge_name, "version": judge_version, "targets": targets})
    return run_id


def update_run(cur: duckdb.DuckDBPyConnection, run_id: int, counts: dict[str, Any],
               status: str | None = None, message: str | None = None) -> None:
    cur.execute(
        """UPDATE judge_runs SET judged = $judged, cached = $cached, failed = $failed,
                  not_run = $not_run, calls = $calls, cost_usd = $cost_usd,
                  position_inconsistent = $position_inconsistent,
                  status = coalesce($status, status), message = coalesce($message, message),
                  finished_at = CASE WHEN $status IS NULL OR $status = 'running' THEN finished_at
                                     ELSE now()::TIMESTAMP END
           WHERE run_id = $run_id""",
        {**{k: counts.get(k, 0) for k in ("judged", "cached", "failed", "not_run", "calls",
                                           "cost_usd", "position_inconsistent")},
         "status": status, "message": message, "run_id": run_id})


def close_interrupted_runs(cur: duckdb.DuckDBPyConnection) -> int:
    """Runs left running by a stopped owner: marked interrupted (their grades are kept, and a
    rerun asks only for what is missing)."""
    cur.execute("""UPDATE judge_runs SET status = 'interrupted', finished_at = now()::TIMESTAMP,
                          message = coalesce(message, '') || ' (the server stopped during the run)'
                   WHERE status = 'running' RETURNING run_id""")
    return len(cur.fetchall())


def runs(store: Store, limit: int = 50) -> pd.DataFrame:
    return store.df(
        """SELECT run_id, judge_name, judge_version, model, target_kind, status, targets, judged,
                  cached, failed, not_run, calls, cost_usd, budget_usd, position_inconsistent,
                  message, started_at, finished_at, job_id, params
           FROM judge_runs ORDER BY run_id DESC LIMIT ?""", [limit])


def versions(store: Store) -> pd.DataFrame:
    return store.df(
        """SELECT v.judge_name, v.judge_version, v.kind, v.criterion, v.rubric_name,
                  v.rubric_version, v.model, v.origin, v.created_at,
                  coalesce(r.runs, 0) AS runs, coalesce(r.cost_usd, 0) AS cost_usd,
                  coalesce(g.grades, 0) AS grades, coalesce(f.failures, 0) AS failures
           FROM judge_versions v
           LEFT JOIN (SELECT judge_version, count(*) AS runs, sum(cost_usd) AS cost_usd
                      FROM judge_runs GROUP BY ALL) r USING (judge_version)
           LEFT JOIN (SELECT judge_version, count(*) AS grades FROM live_grades
                      WHERE source = 'judge' GROUP BY ALL) g USING (judge_version)
           LEFT JOIN (SELECT judge_version, count(*) AS failures FROM judge_failures
                      GROUP BY ALL) f USING (judge_version)
           ORDER BY v.created_at DESC""")


# -- cache ------------------------------------------------------------------------------------------
def cached(store: Store, judge_version: str, hashes: list[str]) -> dict[str, dict[str, Any]]:
    """Cached answers by input hash (the latest when a hash was stored twice)."""
    if not hashes:
        return {}
    cur = store.cursor()
    cur.register("_judge_hashes", pa.table({"h": pa.array(hashes, pa.string())}))
    try:
        cur.execute(
            """SELECT c.input_hash, c.answer, c.raw_answer, c.model_version, c.output_mode
               FROM judge_cache c SEMI JOIN _judge_hashes h ON c.input_hash = h.h
               WHERE c.judge_version = ?
               QUALIFY row_number() OVER (PARTITION BY c.input_hash ORDER BY c.created_at DESC) = 1""",
            [judge_version])
        rows = _dicts(cur)
    finally:
        cur.unregister("_judge_hashes")
    return {r["input_hash"]: r for r in rows}


def insert_cache(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    tbl = pa.Table.from_pylist(rows, schema=pa.schema([
        ("judge_version", pa.string()), ("input_hash", pa.string()), ("answer", pa.string()),
        ("raw_answer", pa.string()), ("model_version", pa.string()), ("output_mode", pa.string()),
        ("cost_usd", pa.float64())]))
    cur.register("_judge_cache_in", tbl)
    try:
        cur.execute(
            """INSERT INTO judge_cache
               SELECT DISTINCT ON (judge_version, input_hash) judge_version, input_hash,
                      CAST(answer AS JSON), raw_answer, model_version, output_mode, cost_usd,
                      now()::TIMESTAMP
               FROM _judge_cache_in n
               WHERE NOT EXISTS (SELECT 1 FROM judge_cache o WHERE o.judge_version = n.judge_version
                                 AND o.input_hash = n.input_hash)""")
    finally:
        cur.unregister("_judge_cache_in")


def graded_targets(store: Store, judge_version: str, criterion: str) -> set[tuple[str, str]]:
    """Targets this judge version has already graded (a rerun writes no second grade)."""
    rows = store.rows("""SELECT DISTINCT target_type, target_id FROM grades
                         WHERE source = 'judge' AND judge_version = ? AND criterion = ?""",
                      [judge_version, criterion])
    return {(t, i) for t, i in rows}


# -- failures and samples -------------------------------------------------------------------------
_FAILURE_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("judge_name", pa.string()), ("judge_version", pa.string()),
    ("target_type", pa.string()), ("target_id", pa.string()), ("span_key", pa.int64()),
    ("kind", pa.string()), ("message", pa.string()), ("raw_answer", pa.string()),
    ("attempts", pa.int32())])


def insert_failures(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cur.register("_judge_fail_in", pa.Table.from_pylist(rows, schema=_FAILURE_SCHEMA))
    try:
        cols = ", ".join(_FAILURE_SCHEMA.names)
        cur.execute(f"""INSERT INTO judge_failures (failure_id, {cols}, created_at)
                        SELECT nextval('judge_failure_seq'), {cols}, now()::TIMESTAMP
                        FROM _judge_fail_in""")
    finally:
        cur.unregister("_judge_fail_in")


def failures(store: Store, run_id: int | None = None, limit: int = 200) -> pd.DataFrame:
    return store.df(
        """SELECT failure_id, run_id, judge_name, judge_version, target_type, target_id, kind,
                  message, raw_answer, attempts, created_at
           FROM judge_failures WHERE ($run IS NULL OR run_id = $run)
           ORDER BY failure_id DESC LIMIT $limit""", {"run": run_id, "limit": limit})


def insert_samples(cur: duckdb.DuckDBPyConnection, run_id: int, judge_version: str,
                   rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    tbl = pa.Table.from_pylist(rows, schema=pa.schema([
        ("target_type", pa.string()), ("target_id", pa.string()), ("span_key", pa.int64()),
        ("inclusion_prob", pa.float64())]))
    cur.register("_judge_samples_in", tbl)
    try:
        cur.execute("""INSERT INTO judge_samples
                       SELECT ?, ?, target_type, target_id, span_key, inclusion_prob,
                              now()::TIMESTAMP FROM _judge_samples_in""", [run_id, judge_version])
    finally:
        cur.unregister("_judge_samples_in")


# -- what a judge reads ------------------------------------------------------------------------------
def span_inputs(store: Store, span_keys: list[int]) -> list[dict[str, Any]]:
    """Texts of spans: input, full messages, answer, retrieved context (the span's own, else the
    trace's retrieval and tool spans before it), and the latest correction as the reference."""
    if not span_keys:
        return []
    cur = store.cursor()
    cur.register("_judge_keys", pa.table({"k": pa.array(span_keys, pa.int64())}))
    try:
        cur.execute(
            """WITH t AS (SELECT s.* FROM spans s SEMI JOIN _judge_keys k ON s.span_key = k.k),
               ctx AS (
                   SELECT t.span_key,
                          string_agg(coalesce(x.retrieved_context::VARCHAR, x.tool_calls::VARCHAR),
                                     '\n' ORDER BY x.start_time) AS trace_context
                   FROM t JOIN spans x ON x.trace_id = t.trace_id AND x.span_key <> t.span_key
                        AND (x.retrieved_context IS NOT NULL OR x.tool_calls IS NOT NULL)
                        AND x.start_time <= t.start_time
                   GROUP BY t.span_key),
               ref AS (
                   SELECT span_key, arg_max(corrected_output, created_at) AS reference
                   FROM corrections WHERE span_key IN (SELECT k FROM _judge_keys)
                   GROUP BY span_key)
               SELECT t.span_key, t.last_user_message AS input, t.messages::VARCHAR AS messages,
                      t.output, coalesce(t.retrieved_context::VARCHAR, ctx.trace_context)
                          AS retrieved_context, ref.reference
               FROM t LEFT JOIN ctx USING (span_key) LEFT JOIN ref USING (span_key)
               ORDER BY t.span_key""")
        return _dicts(cur)
    finally:
        cur.unregister("_judge_keys")


_HUMAN_SIDE = "(g.source = 'human' OR (g.source = 'imported' AND g.author_kind = 'reviewer'))"


def human_graded_targets(store: Store, criterion: str, rubric_name: str, target_type: str
                         ) -> list[dict[str, Any]]:
    """Targets with a live human grade of ``criterion`` (re-running a judge version there is
    all its agreement needs)."""
    cur = store.cursor()
    cur.execute(
        f"""SELECT target_type, target_id, any_value(span_key) AS span_key FROM live_grades g
            WHERE {_HUMAN_SIDE} AND criterion = ? AND target_type = ?
              AND coalesce(rubric_name, ?) = ?
            GROUP BY ALL ORDER BY target_id""", [criterion, target_type, rubric_name, rubric_name])
    return _dicts(cur)


def disagreement_targets(store: Store, criterion: str, judge_version: str, target_type: str
                         ) -> list[dict[str, Any]]:
    """Targets where a live grade of ``judge_version`` differs from a live human grade."""
    cur = store.cursor()
    cur.execute(
        f"""SELECT DISTINCT g.target_type, g.target_id, g.span_key FROM live_grades g
            JOIN live_grades j ON j.target_type = g.target_type AND j.target_id = g.target_id
             AND j.criterion = g.criterion AND j.judge_version = ?
            WHERE {_HUMAN_SIDE} AND g.criterion = ? AND g.target_type = ?
              AND (g.value_number IS DISTINCT FROM j.value_number
                   OR g.value_label IS DISTINCT FROM j.value_label)
            ORDER BY g.target_id""", [judge_version, criterion, target_type])
    return _dicts(cur)


def queue_items(store: Store, queue_id: int) -> list[dict[str, Any]]:
    cur = store.cursor()
    cur.execute(
        """SELECT i.queue_item_id, i.target_type, i.target_id, i.span_key, i.inclusion_prob,
                  i.is_gold, q.rubric_name, q.rubric_version
           FROM queue_items i JOIN queues q USING (queue_id)
           WHERE i.queue_id = ? ORDER BY i.position NULLS LAST, i.queue_item_id""", [queue_id])
    return _dicts(cur)


def comparisons(store: Store, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    cur = store.cursor()
    cur.execute(
        """SELECT comparison_id, input, a_output, b_output FROM comparisons
           WHERE comparison_id IN (SELECT unnest(?::VARCHAR[]))""", [ids])
    return _dicts(cur)


def frame_span_keys(store: Store, where: str, params: dict, exclude_app: str = JUDGE_APP
                    ) -> list[int]:
    """LLM spans matching a frame condition on alias ``s`` (never goldenloop's own calls)."""
    cur = store.cursor()
    cur.execute(f"""SELECT s.span_key FROM spans s
                    WHERE {where} AND s.app IS DISTINCT FROM $exclude_app AND {production_sql("s")}
                      AND s.output IS NOT NULL
                    ORDER BY s.span_key""", {**params, "exclude_app": exclude_app})
    return [int(r[0]) for r in cur.fetchall()]


def own_calls(store: Store) -> pd.DataFrame:
    """goldenloop's own calls (judge runs, experiments, canaries: ``INTERNAL_SOURCES``), per
    source, name, version and model: calls, failures, latency, tokens, cost and when. They are
    left out of production figures; this is where they are seen."""
    return store.df(
        f"""SELECT s.source, s.prompt_name AS name, s.prompt_version AS version, s.model,
                   count(*) AS calls, count_if(s.status <> 'ok') AS failures,
                   quantile_cont(s.latency_ms, 0.5) AS latency_p50_ms,
                   quantile_cont(s.latency_ms, 0.95) AS latency_p95_ms,
                   sum(s.input_tokens) AS input_tokens, sum(s.output_tokens) AS output_tokens,
                   sum(s.cost_usd) AS cost_usd, min(s.start_time) AS first_call,
                   max(s.start_time) AS last_call
            FROM spans s WHERE {internal_sql("s")}
            GROUP BY ALL ORDER BY last_call DESC""")


# -- online mode ------------------------------------------------------------------------------------
def online_settings(store: Store) -> list[dict[str, Any]]:
    cur = store.cursor()
    cur.execute("""SELECT judge_name, fraction, budget_usd, enabled, watermark, updated_by,
                          updated_at FROM judge_online ORDER BY judge_name""")
    return _dicts(cur)


def set_online(cur: duckdb.DuckDBPyConnection, judge_name: str, fraction: float,
               budget_usd: float | None, enabled: bool, by: str, now: datetime) -> None:
    cur.execute("SELECT count(*) FROM judge_online WHERE judge_name = ?", [judge_name])
    if cur.fetchone()[0]:
        cur.execute("""UPDATE judge_online SET fraction = ?, budget_usd = ?, enabled = ?,
                              updated_by = ?, updated_at = ? WHERE judge_name = ?""",
                    [fraction, budget_usd, enabled, by, now, judge_name])
        return
    # A new online judge starts at the current end of the store: it judges new traffic.
    cur.execute("""INSERT INTO judge_online
                   SELECT ?, ?, ?, ?, (SELECT coalesce(max(span_key), 0) FROM spans), ?, ?""",
                [judge_name, fraction, budget_usd, enabled, by, now])


def has_new_spans(store: Store) -> bool:
    """Whether an enabled online judge has LLM spans (not its own calls) past its watermark."""
    return bool(store.scalar(
        f"""SELECT EXISTS (SELECT 1 FROM spans s
                          WHERE s.span_key > (SELECT min(watermark) FROM judge_online
                                              WHERE enabled)
                            AND s.kind = 'llm' AND s.app IS DISTINCT FROM ?
                            AND {production_sql("s")} AND s.output IS NOT NULL)""", [JUDGE_APP]))


def take_new_spans(cur: duckdb.DuckDBPyConnection, judge_name: str, limit: int = 5000
                   ) -> list[int]:
    """LLM spans imported since the judge's watermark (not the judge's own), oldest first;
    moves the watermark past them so each span is considered once."""
    cur.execute("SELECT watermark FROM judge_online WHERE judge_name = ?", [judge_name])
    row = cur.fetchone()
    if row is None:
        return []
    cur.execute(f"""SELECT span_key FROM spans
                   WHERE span_key > ? AND kind = 'llm' AND app IS DISTINCT FROM ?
                     AND {production_sql()} AND output IS NOT NULL
                   ORDER BY span_key LIMIT ?""", [row[0] or 0, JUDGE_APP, limit])
    keys = [int(r[0]) for r in cur.fetchall()]
    cur.execute("""UPDATE judge_online SET watermark = greatest(watermark,
                       coalesce((SELECT max(span_key) FROM spans WHERE span_key <= ?), watermark))
                   WHERE judge_name = ?""",
                [keys[-1] if len(keys) == limit else 2**62, judge_name])
    return keys


def queue_judge_versions(store: Store, queue_id: int) -> pd.DataFrame:
    """Judge versions with grades on the queue's items: name, version, items graded."""
    return store.df(
        """SELECT any_value(g.judge_name) AS judge_name, g.judge_version,
                  count(DISTINCT i.queue_item_id) AS items, max(g.created_at) AS last_grade
           FROM live_grades g
           JOIN queue_items i ON i.target_type = g.target_type AND i.target_id = g.target_id
           WHERE i.queue_id = ? AND NOT i.is_gold AND g.source = 'judge'
           GROUP BY g.judge_version ORDER BY items DESC, last_grade DESC""", [queue_id])


def judge_grades(store: Store, judge_version: str | None = None, limit: int = 500) -> pd.DataFrame:
    return store.df(
        """SELECT g.grade_id, g.judge_name, g.judge_version, g.judge_model, g.target_type,
                  g.target_id, g.criterion, g.value_number, g.value_label, g.comment, g.created_at
           FROM live_grades g WHERE g.source = 'judge'
             AND ($v IS NULL OR g.judge_version = $v)
           ORDER BY g.grade_id DESC LIMIT $limit""", {"v": judge_version, "limit": limit})
