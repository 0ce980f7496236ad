"""SQL of the signals table: one wide row of automatic values per LLM span (DESIGN.md).

Only LLM spans (``kind = 'llm'``) get a row: tool, retrieval and agent spans carry no user
message or answer of their own. An LLM span without text (an error, a timeout) still gets a
row, with nulls where there was no text, so "scored" means "has a row". A span with no row is
either not an LLM call or not scored yet.

A row is stale when any offline scorer's version in ``scorer_versions`` differs from the
running one; scoring it again updates the row in place, keeping the moderation columns,
which are filled by their own (optional, networked) pass.
"""

from __future__ import annotations

import json
import re

import duckdb
import pyarrow as pa

# Offline signal columns, in the order the scorers produce them.
OFFLINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("user_offensive", "DOUBLE"),
    ("output_offensive", "DOUBLE"),
    ("user_sentiment", "DOUBLE"),
    ("output_sentiment", "DOUBLE"),
    ("output_chars", "INTEGER"),
    ("output_words", "INTEGER"),
    ("refusal", "BOOLEAN"),
)
MODERATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("user_moderation_flagged", "BOOLEAN"),
    ("user_moderation_score", "DOUBLE"),
    ("output_moderation_flagged", "BOOLEAN"),
    ("output_moderation_score", "DOUBLE"),
    ("moderation_categories", "JSON"),
)
_NAME = re.compile(r"^[a-z_]+$")
# Results are always fetched to the end: DuckDB refuses the relation API (``cur.sql``) on a
# cursor whose last ``execute`` result was left half-read.


def _stale(alias: str, versions: dict[str, str]) -> tuple[str, list[str]]:
    """SQL true when any scorer version in the row differs from ``versions``."""
    for name in versions:  # names are code constants; checked because they become SQL text
        if not _NAME.match(name):
            raise ValueError(f"bad scorer name {name!r}")
    terms = [f"json_extract_string({alias}.scorer_versions, '$.{n}') IS DISTINCT FROM ?"
             for n in versions]
    return "(" + " OR ".join(terms) + ")", list(versions.values())


def pending_keys(cur: duckdb.DuckDBPyConnection, versions: dict[str, str],
                 rescore: bool = False) -> pa.Array:
    """Keys of LLM spans with no signals row or a stale one (all LLM spans when ``rescore``),
    ascending. Read once per run, so batches need no rescan of the whole table."""
    stale, params = _stale("g", versions)
    where = "TRUE" if rescore else f"(g.span_key IS NULL OR {stale})"
    rel = cur.sql(
        f"""SELECT DISTINCT s.span_key FROM spans s
            LEFT JOIN signals g ON g.span_key = s.span_key
            WHERE s.kind = 'llm' AND {where} ORDER BY s.span_key""",
        params=[] if rescore else params,
    )
    return rel.to_arrow_table().column(0).combine_chunks()


def has_pending(cur: duckdb.DuckDBPyConnection, versions: dict[str, str]) -> bool:
    """Whether any LLM span lacks signals or has stale ones (cheap: stops at the first)."""
    stale, params = _stale("g", versions)
    cur.execute(
        f"""SELECT EXISTS (SELECT 1 FROM spans s LEFT JOIN signals g ON g.span_key = s.span_key
                           WHERE s.kind = 'llm' AND (g.span_key IS NULL OR {stale}))""",
        params,
    )
    return bool(cur.fetchall()[0][0])


def texts_for(cur: duckdb.DuckDBPyConnection, keys: pa.Array) -> pa.Table:
    """(span_key, last_user_message, output) of the spans with ``keys`` (ascending)."""
    if len(keys) == 0:
        return pa.table({"span_key": pa.array([], pa.int64()),
                         "last_user_message": pa.array([], pa.string()),
                         "output": pa.array([], pa.string())})
    name = f"_signal_keys_{id(keys)}"
    cur.register(name, pa.table({"span_key": keys}))
    try:
        # The key range lets DuckDB skip row groups of older spans by their min/max.
        return cur.sql(
            f"""SELECT s.span_key, s.last_user_message, s.output
                FROM spans s JOIN {name} k ON k.span_key = s.span_key
                WHERE s.span_key BETWEEN ? AND ? ORDER BY s.span_key""",
            params=[keys[0].as_py(), keys[-1].as_py()],
        ).to_arrow_table()
    finally:
        cur.unregister(name)


def write_offline(cur: duckdb.DuckDBPyConnection, table: pa.Table,
                  versions: dict[str, str]) -> tuple[int, int]:
    """Store offline signals for ``table`` (span_key + OFFLINE_COLUMNS): update rows that
    exist, insert the others. Return (inserted, updated). Running it twice adds nothing."""
    if table.num_rows == 0:
        return 0, 0
    cols = [c for c, _ in OFFLINE_COLUMNS]
    name = f"_signals_in_{id(table)}"
    cur.register(name, table)
    try:
        sets = ", ".join(f"{c} = b.{c}" for c in cols)
        cur.execute(
            f"""UPDATE signals SET {sets},
                    scorer_versions = json_merge_patch(coalesce(signals.scorer_versions, '{{}}'),
                                                       ?::JSON),
                    computed_at = now()::TIMESTAMP
                FROM {name} b WHERE signals.span_key = b.span_key""",
            [json.dumps(versions, sort_keys=True)],
        )
        updated = int(cur.fetchall()[0][0])
        typed = ", ".join(f"CAST(b.{c} AS {t})" for c, t in OFFLINE_COLUMNS)
        cur.execute(
            f"""INSERT INTO signals (span_key, {', '.join(cols)}, scorer_versions, computed_at)
                SELECT b.span_key, {typed}, ?::JSON, now()::TIMESTAMP FROM {name} b
                WHERE NOT EXISTS (SELECT 1 FROM signals g WHERE g.span_key = b.span_key)""",
            [json.dumps(versions, sort_keys=True)],
        )
        inserted = int(cur.fetchall()[0][0])
    finally:
        cur.unregister(name)
    return inserted, updated


def moderation_pending(cur: duckdb.DuckDBPyConnection, limit: int) -> pa.Table:
    """Scored LLM spans with some text that were never moderated, newest first (a run is
    capped, and recent traffic matters most)."""
    return cur.sql(
        """SELECT s.span_key, s.last_user_message, s.output
           FROM spans s JOIN signals g ON g.span_key = s.span_key
           WHERE s.kind = 'llm' AND json_extract_string(g.scorer_versions, '$.moderation') IS NULL
             AND (s.last_user_message IS NOT NULL OR s.output IS NOT NULL)
           ORDER BY s.start_time DESC, s.span_key DESC LIMIT ?""",
        params=[limit],
    ).to_arrow_table()


def write_moderation(cur: duckdb.DuckDBPyConnection, table: pa.Table, version: str) -> int:
    """Store moderation results for ``table`` (span_key + MODERATION_COLUMNS, categories as
    JSON text); return the rows updated."""
    if table.num_rows == 0:
        return 0
    name = f"_moderation_in_{id(table)}"
    cur.register(name, table)
    try:
        sets = ", ".join(f"{c} = CAST(b.{c} AS {t})" for c, t in MODERATION_COLUMNS)
        cur.execute(
            f"""UPDATE signals SET {sets},
                    scorer_versions = json_merge_patch(coalesce(signals.scorer_versions, '{{}}'),
                                                       ?::JSON)
                FROM {name} b WHERE signals.span_key = b.span_key""",
            [json.dumps({"moderation": version})],
        )
        return int(cur.fetchall()[0][0])
    finally:
        cur.unregister(name)


def coverage(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many LLM spans exist, have signals, and were moderated."""
    cur.execute(
        """SELECT count(*), count(g.span_key),
                  count(json_extract_string(g.scorer_versions, '$.moderation'))
           FROM spans s LEFT JOIN (SELECT DISTINCT ON (span_key) * FROM signals) g
             ON g.span_key = s.span_key
           WHERE s.kind = 'llm'"""
    )
    llm, scored, moderated = cur.fetchall()[0]
    return {"llm_spans": int(llm), "scored": int(scored), "moderated": int(moderated)}
