"""SQL of sampling: the units of a frame with their strata and risk signals, and the inserts
of queues, queue items and comparisons.

Units are spans (``target_id`` is the span key as text) or sessions (``target_id`` is the
session id). Rows come back ordered by ``target_id`` so a seeded draw is reproducible. Queue
items are inserted with an anti-join on (queue, target type, target id): the same target
never enters the same queue twice, whichever path adds it.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from goldenloop.store.shared_sql import fetch1

# Signal columns that may exist in ``signals`` (another part fills them): read when present.
_OFFENSIVE = ("user_offensive", "output_offensive")
_MODERATION = ("user_moderation_flagged", "output_moderation_flagged")


def _columns(cur: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                [table])
    return {c for (c,) in cur.fetchall()}


def _signal_terms(cur: duckdb.DuckDBPyConnection) -> str:
    """Per-span aggregates of whichever signal columns exist (one row per span expected;
    aggregated so a duplicate row cannot duplicate a unit)."""
    have = _columns(cur, "signals")
    off = [f"coalesce({c}, 0) >= 0.5" for c in _OFFENSIVE if c in have]
    off += [f"coalesce({c}, false)" for c in _MODERATION if c in have]
    offensive = f"bool_or({' OR '.join(off)})" if off else "false"
    refusal = "bool_or(coalesce(refusal, false))" if "refusal" in have else "false"
    return f"SELECT span_key, {offensive} AS offensive, {refusal} AS refusal " \
           "FROM signals GROUP BY span_key"


_JUDGE_KEY = "g.criterion || '|' || coalesce(g.judge_version, '(no version)')"

_RISK_CTES = f"""
fb AS (
    SELECT DISTINCT span_key FROM feedback
    WHERE span_key IS NOT NULL
      AND ((kind = 'thumbs' AND value <= 0) OR (kind = 'rating' AND value <= 2))
),
judged AS (
    SELECT g.span_key,
           bool_or((g.value_number - c.min_value) / nullif(c.max_value - c.min_value, 0) <= 0.25)
               AS judge_low,
           bool_or(TRY_CAST(json_extract_string(g.raw, '$.confidence') AS DOUBLE) < 0.5)
               AS judge_uncertain
    FROM live_grades g
    LEFT JOIN criteria c ON c.name = g.criterion AND c.rubric_name = g.rubric_name
                        AND c.rubric_version = g.rubric_version
    WHERE g.source = 'judge' AND g.target_type = 'span' AND g.span_key IS NOT NULL
      -- only judge versions that count (criterion|version keys; NULL: every version)
      AND list_contains(coalesce($judge_keys::VARCHAR[], [{_JUDGE_KEY}]), {_JUDGE_KEY})
    GROUP BY g.span_key
)"""

_SPAN_SIGNALS = """
    (fb.span_key IS NOT NULL) AS negative_feedback,
    coalesce(sg.offensive, false) AS offensive,
    coalesce(sg.refusal, false) AS refusal,
    coalesce(f.status, 'ok') <> 'ok' AS error,
    coalesce(j.judge_low, false) AS judge_low,
    coalesce(j.judge_uncertain, false) AS judge_uncertain"""


def _stratum(columns: tuple[str, ...], agg: bool) -> str:
    parts = [f"coalesce(arg_min(f.{c}, f.start_time), '-')" if agg else f"coalesce(f.{c}, '-')"
             for c in columns]
    return "concat_ws(' / ', " + ", ".join(parts) + ")" if parts else "'all'"


FRAME_SPANS = "_frame_spans"  # the name a span part from elsewhere is registered under


def frame_units_sql(cur: duckdb.DuckDBPyConnection, unit: str, where: str, params: dict,
                    strata: tuple[str, ...], span_part: pa.Table | None = None
                    ) -> tuple[str, dict]:
    """The statement of ``frame_units`` (unordered) and its parameters besides
    ``judge_keys``; with ``span_part``, the part is registered on ``cur`` as ``FRAME_SPANS``
    (the caller unregisters it)."""
    if span_part is None:
        span_rows = f"""
            SELECT f.span_key, f.session_id, f.start_time, f.app, f.model_version,
                   f.environment, f.prompt_version, {_SPAN_SIGNALS}
            FROM (SELECT * FROM spans s WHERE {where}) f
            LEFT JOIN ({_signal_terms(cur)}) sg ON sg.span_key = f.span_key
            LEFT JOIN fb ON fb.span_key = f.span_key
            LEFT JOIN judged j ON j.span_key = f.span_key"""
    else:
        cur.register(FRAME_SPANS, span_part)
        params = {}
        span_rows = f"""
            SELECT {", ".join(f"f.{c}" for c in FRAME_SPAN_COLUMNS)},
                   coalesce(j.judge_low, false) AS judge_low,
                   coalesce(j.judge_uncertain, false) AS judge_uncertain
            FROM {FRAME_SPANS} f LEFT JOIN judged j ON j.span_key = f.span_key"""
    if unit == "span":
        return f"""WITH {_RISK_CTES}, u AS ({span_rows})
                  SELECT CAST(f.span_key AS VARCHAR) AS target_id, f.span_key,
                         {_stratum(strata, False)} AS stratum, f.* EXCLUDE (span_key)
                  FROM u f""", params
    flags = ", ".join(f"bool_or(f.{c}) AS {c}" for c in (
        "negative_feedback", "offensive", "refusal", "error", "judge_low", "judge_uncertain"))
    return f"""WITH {_RISK_CTES}, u AS ({span_rows})
              SELECT f.session_id AS target_id, CAST(NULL AS BIGINT) AS span_key,
                     {_stratum(strata, True)} AS stratum, {flags}
              FROM u f WHERE f.session_id IS NOT NULL
              GROUP BY f.session_id""", params


def frame_units(cur: duckdb.DuckDBPyConnection, unit: str, where: str, params: dict,
                strata: tuple[str, ...], judge_keys: list[str] | None = None,
                span_part: pa.Table | None = None) -> pa.Table:
    """One row per unit of the frame: target_id, span_key, stratum and the risk signals.
    Judge signals come only from the judge versions ``judge_keys`` names, as
    ``criterion|version`` (None: every version). ``where`` is the frame's condition on alias
    ``s`` with its named ``params`` (``store.span_filter.where``). ``span_part``: the frame's
    spans with their span-store signals (``FRAME_SPAN_COLUMNS``), read from a span store
    elsewhere (ClickHouse); only the judge signals are then joined here."""
    sql, params = frame_units_sql(cur, unit, where, params, strata, span_part)
    order = "f.span_key" if unit == "span" else "f.session_id"
    try:
        return cur.sql(f"{sql} ORDER BY {order}",
                       params={**params, "judge_keys": judge_keys}).to_arrow_table()
    finally:
        if span_part is not None:
            cur.unregister(FRAME_SPANS)


# The span part of a frame unit, as ``frame_units`` joins it (a span store elsewhere sends it)
FRAME_SPAN_COLUMNS = ("span_key", "session_id", "start_time", "app", "model_version",
                      "environment", "prompt_version", "negative_feedback", "offensive",
                      "refusal", "error")


def existing_span_keys(cur: duckdb.DuckDBPyConnection, keys: list[int]) -> set[int]:
    tbl = pa.table({"k": pa.array(keys, pa.int64())})
    cur.register("_keys_in", tbl)
    try:
        cur.execute("SELECT DISTINCT s.span_key FROM spans s JOIN _keys_in k ON s.span_key = k.k")
        return {k for (k,) in cur.fetchall()}
    finally:
        cur.unregister("_keys_in")


def comparison_candidates(cur: duckdb.DuckDBPyConnection, where: str, params: dict,
                          version_a: str, version_b: str) -> pa.Table:
    """One (A span, B span) pair per input answered by both model versions: same app and the
    same messages (else the same last user message). Of several spans per side, the latest."""
    sql = f"""
        WITH f AS (
            SELECT s.span_key, s.app, s.model_version, s.start_time, s.output,
                   s.app || ':' || md5(coalesce(s.messages::VARCHAR, s.last_user_message)) AS input_key
            FROM spans s
            WHERE {where} AND s.model_version IN ($version_a, $version_b) AND s.output IS NOT NULL
              AND coalesce(s.messages::VARCHAR, s.last_user_message) IS NOT NULL
        ),
        side AS (
            SELECT input_key, model_version, arg_max(span_key, start_time) AS span_key
            FROM f GROUP BY ALL
        )
        SELECT a.input_key, a.span_key AS a_key, b.span_key AS b_key
        FROM side a JOIN side b ON a.input_key = b.input_key
        WHERE a.model_version = $version_a AND b.model_version = $version_b
        ORDER BY a.input_key"""
    return cur.sql(sql, params={**params, "version_a": version_a, "version_b": version_b}) \
        .to_arrow_table()


def insert_comparisons(cur: duckdb.DuckDBPyConnection, rows: pa.Table, now: datetime) -> int:
    """Add comparison rows (``comparison_id``, ``input``, a_*/b_* type, id, output,
    ``shown_order``, ``metadata``), skipping ids already stored."""
    if rows.num_rows == 0:
        return 0
    name = f"_cmp_in_{id(rows)}"
    cur.register(name, rows)
    try:
        cur.execute(
            f"""INSERT INTO comparisons
                SELECT comparison_id, input, a_type, a_id, a_output, b_type, b_id, b_output,
                       shown_order, metadata::JSON, ? FROM {name} n
                WHERE NOT EXISTS (SELECT 1 FROM comparisons o
                                  WHERE o.comparison_id = n.comparison_id)""", [now])
        return int(fetch1(cur)[0])
    finally:
        cur.unregister(name)


def comparison_texts(cur: duckdb.DuckDBPyConnection, pairs: pa.Table) -> pa.Table:
    """Input and both outputs of span pairs (``a_key``, ``b_key``), in the pairs' order."""
    cur.register("_pairs_in", pairs.append_column(
        "_ord", pa.array(range(pairs.num_rows), pa.int64())))
    try:
        return cur.sql(
            """SELECT p.a_key, p.b_key,
                      coalesce(a.last_user_message, a.messages::VARCHAR) AS input,
                      a.output AS a_output, b.output AS b_output,
                      a.app, a.model_version AS a_version, b.model_version AS b_version
               FROM _pairs_in p JOIN spans a ON a.span_key = p.a_key
               JOIN spans b ON b.span_key = p.b_key ORDER BY p._ord""").to_arrow_table()
    finally:
        cur.unregister("_pairs_in")


def items_by_id(store, item_ids: list[str]) -> list[tuple]:
    """(item_id, input, output, reference) of the named items."""
    return store.rows("SELECT item_id, input, output, reference FROM items "
                      "WHERE list_contains(?, item_id)", [item_ids])
