"""SQL that writes spans: quarantine of bad rows, duplicate-free insert, cost from prices.

Every statement works on a validated relation (see ``goldenloop.ingest.validate``) inside the
caller's transaction, so one import is one commit.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from goldenloop.pricing import cost_sql
from goldenloop.store.span_columns import FIELD_NAMES

_TEXT_FIELDS_FOR_HASH = ("trace_id", "span_id", "start_time", "name", "model", "output")


def find_bad_rows(cur: duckdb.DuckDBPyConnection, checked: str) -> int:
    """Rows with validation errors, into temp table _bad (narrow: row, errors, raw)."""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _bad AS "
                f"SELECT _row, _errors, _raw FROM ({checked}) WHERE len(_errors) > 0")
    return int(cur.execute("SELECT count(*) FROM _bad").fetchall()[0][0])


def quarantine_rows(cur: duckdb.DuckDBPyConnection, relation: str, columns: list[str],
                    import_id: int, file: str) -> None:
    """Copy the rows in _bad to the quarantine, with the row as read when the reader kept
    none (Parquet): nothing of a bad row is lost."""
    as_read = "to_json(struct_pack(" + ", ".join(
        f"{_q(c)} := s.{_q(c)}" for c in columns) + "))" if columns else "NULL"
    cur.execute(
        f"""INSERT INTO quarantine
            SELECT ?, ?, b._row, b._errors[1].field, b._errors[1].reason, to_json(b._errors),
                   coalesce(b._raw, {as_read}), now()::TIMESTAMP
            FROM _bad b LEFT JOIN (SELECT * FROM {relation} SEMI JOIN _bad USING (_row)) s
                 ON s._row = b._row""",
        [import_id, file],
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quarantine_malformed(cur: duckdb.DuckDBPyConnection, bad: list, import_id: int,
                         file: str) -> int:
    """Rows a reader could not parse at all (broken JSON line, wrong CSV field count)."""
    if not bad:
        return 0
    tbl = pa.table({
        "row": [b.row for b in bad], "field": [b.field for b in bad],
        "reason": [b.reason for b in bad], "raw": [b.raw for b in bad],
    })
    cur.register("_malformed", tbl)
    cur.execute(
        """INSERT INTO quarantine
           SELECT ?, ?, row, field, reason,
                  to_json([{'field': field, 'reason': reason}]), raw, now()::TIMESTAMP
           FROM _malformed""",
        [import_id, file],
    )
    cur.unregister("_malformed")
    return len(bad)


def insert_spans(cur: duckdb.DuckDBPyConnection, values: str, import_id: int, source: str,
                 *, has_bad: bool, redact: dict[str, str] | None = None) -> int:
    """Insert the good rows of ``validated`` that are not already stored; return how many.

    Identity is (trace_id, span_id); a row without ids gets ids hashed from its content so
    re-importing the same file adds nothing. Derived fields (end time, latency, status, last
    user message, system prompt, cost) are filled here, once, for every producer.
    """
    redact = redact or {}
    derived = {**_derived_ids(), **_DERIVED, "source": f"coalesce(source, '{source}')"}
    sel = []
    for name in FIELD_NAMES:
        expr = derived.get(name, name)
        if name in redact:
            expr = redact[name].replace("{expr}", expr)
        sel.append(f"{expr} AS {name}")
    # A window over full-width rows would copy every text; find in-file repeats on the
    # narrow id columns instead, and only when there are any.
    good_rows = f"SELECT * FROM ({values}) ANTI JOIN _bad USING (_row)" if has_bad else values
    if _mark_repeats(cur, good_rows):
        good_rows = f"SELECT * FROM ({good_rows}) ANTI JOIN _repeats USING (_row)"
    good = f"SELECT {', '.join(sel)} FROM ({good_rows})"
    cols = ", ".join(FIELD_NAMES)
    cur.execute(
        f"""INSERT INTO spans (span_key, {cols}, cost_estimated, import_id, ingested_at)
            SELECT nextval('span_key_seq'), {_select_with_cost()}
            FROM ({good}) g
            LEFT JOIN _prices pv ON pv.model = g.model_version
                 AND g.start_time >= pv.valid_from AND (pv.valid_to IS NULL OR g.start_time < pv.valid_to)
            LEFT JOIN _prices pm ON pm.model = g.model AND pv.model IS NULL
                 AND g.start_time >= pm.valid_from AND (pm.valid_to IS NULL OR g.start_time < pm.valid_to)
            WHERE NOT EXISTS (SELECT 1 FROM spans t
                              WHERE t.trace_id = g.trace_id AND t.span_id = g.span_id)""",
        [import_id],
    )
    return int(cur.fetchone()[0])


def _derived_ids() -> dict[str, str]:
    content = " || '|' || ".join(f"coalesce(CAST({c} AS VARCHAR), '')"
                                 for c in _TEXT_FIELDS_FOR_HASH)
    return {
        "trace_id": f"coalesce(trace_id, md5({content}))",
        "span_id": f"coalesce(span_id, md5({content} || '|' || CAST(_row AS VARCHAR)))",
    }


_DERIVED = {
    "end_time": "coalesce(end_time, start_time + to_milliseconds(latency_ms))",
    "latency_ms": "coalesce(latency_ms, epoch_ms(end_time) - epoch_ms(start_time))",
    "kind": "coalesce(kind, 'llm')",
    "status": (
        "coalesce(status, CASE WHEN error_type IS NOT NULL OR error_message IS NOT NULL "
        "THEN 'error' WHEN coalesce(kind, 'llm') = 'llm' AND coalesce(output, '') = '' "
        "AND tool_calls IS NULL THEN 'empty' ELSE 'ok' END)"
    ),
    "last_user_message": (
        "coalesce(last_user_message, list_filter(CAST(json_extract(messages, '$[*]') AS JSON[]),"
        " lambda m: m->>'role' = 'user')[-1]->>'content')"
    ),
    "system_prompt": (
        "coalesce(system_prompt, list_filter(CAST(json_extract(messages, '$[*]') AS JSON[]),"
        " lambda m: m->>'role' IN ('system', 'developer'))[1]->>'content')"
    ),
}


def _mark_repeats(cur: duckdb.DuckDBPyConnection, good_rows: str) -> int:
    """Rows repeating an identity seen earlier in the same file, into temp table _repeats.

    A hash aggregate finds repeated ids cheaply; the ordered window that picks which row
    to keep runs only over those ids, usually none.
    """
    ids = _derived_ids()
    keyed = f"SELECT _row, {ids['trace_id']} AS t, {ids['span_id']} AS s FROM ({good_rows})"
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _repeat_ids AS "
                f"SELECT t, s FROM ({keyed}) GROUP BY t, s HAVING count(*) > 1")
    if not cur.execute("SELECT count(*) FROM _repeat_ids").fetchall()[0][0]:
        return 0
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _repeats AS
            SELECT _row FROM ({keyed}) k SEMI JOIN _repeat_ids r ON k.t = r.t AND k.s = r.s
            QUALIFY row_number() OVER (PARTITION BY k.t, k.s ORDER BY _row) > 1"""
    )
    return int(cur.execute("SELECT count(*) FROM _repeats").fetchall()[0][0])


def _select_with_cost() -> str:
    """Select list in FIELD_NAMES order with the cost column computed from prices."""
    cost = (
        f"coalesce(g.cost_usd, {cost_sql('pv', 'g')}, {cost_sql('pm', 'g')}) AS cost_usd"
    )
    parts = []
    for c in FIELD_NAMES:
        parts.append(cost if c == "cost_usd" else f"g.{c}")
    estimated = (
        f"g.cost_usd IS NULL AND coalesce({cost_sql('pv', 'g')}, {cost_sql('pm', 'g')}) IS NOT NULL"
    )
    return ", ".join(parts) + f", {estimated}, ?, now()::TIMESTAMP"


def register_prices(cur: duckdb.DuckDBPyConnection, prices: pa.Table) -> None:
    cur.register("_prices", prices)


def unknown_price_models(cur: duckdb.DuckDBPyConnection, import_id: int) -> list[tuple[str, int]]:
    """Models of this import with tokens but no cost: counted, never guessed."""
    cur.execute(
        """SELECT coalesce(model_version, model, '(no model)') AS m, count(*)
           FROM spans WHERE import_id = ? AND cost_usd IS NULL
             AND (input_tokens > 0 OR output_tokens > 0)
           GROUP BY ALL ORDER BY 2 DESC""",
        [import_id],
    )
    return [(m, int(n)) for m, n in cur.fetchall()]


def span_range(cur: duckdb.DuckDBPyConnection) -> tuple[int, object, object]:
    cur.execute("SELECT count(*), min(start_time), max(start_time) FROM spans")
    n, first, last = cur.fetchone()
    return int(n), first, last
