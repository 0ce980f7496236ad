"""SQL that writes spans: quarantine of bad rows, duplicate-free insert, cost from prices.

Every statement works on a validated relation (see ``goldenloop.ingest.validate``) inside the
caller's transaction, so one import is one commit.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from goldenloop.pricing import cost_sql
from goldenloop.store import span_conflicts as conflicts
from goldenloop.store.span_columns import FIELD_NAMES


def find_bad_rows(cur: duckdb.DuckDBPyConnection, checked: str) -> int:
    """Rows with validation errors, into temp table _bad (narrow: row, errors, raw)."""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _bad AS "
                f"SELECT _row, _errors, _raw FROM ({checked}) WHERE len(_errors) > 0")
    return int(cur.execute("SELECT count(*) FROM _bad").fetchall()[0][0])


def quarantine_rows(cur: duckdb.DuckDBPyConnection, relation: str, columns: list[str],
                    import_id: int, file: str, bad_table: str = "_bad",
                    redact: str | None = None) -> None:
    """Copy the rows in ``bad_table`` to the quarantine, with the row as read when the reader
    kept none (Parquet): nothing of a bad row is lost. A row this file already has in the
    quarantine for the same reason (a re-import) is not added again. ``redact`` (a template
    around ``{expr}``) masks the raw row and the reasons, which may quote a value."""
    as_read = "to_json(struct_pack(" + ", ".join(
        f"{_q(c)} := s.{_q(c)}" for c in columns) + "))" if columns else "NULL"
    r = (lambda e: redact.replace("{expr}", e)) if redact else (lambda e: e)
    cur.execute(
        f"""INSERT INTO quarantine
            SELECT ?, ?, _row, field, reason, errors, raw, now()::TIMESTAMP FROM (
                SELECT b._row, b._errors[1].field AS field,
                       {r("b._errors[1].reason")} AS reason,
                       {r("CAST(to_json(b._errors) AS VARCHAR)")} AS errors,
                       {r(f"coalesce(CAST(b._raw AS VARCHAR), CAST({as_read} AS VARCHAR))")} AS raw
                FROM {bad_table} b
                LEFT JOIN (SELECT * FROM {relation} SEMI JOIN {bad_table} USING (_row)) s
                     ON s._row = b._row) n
            WHERE {_NOT_QUARANTINED}""",
        [import_id, file, file],
    )


# A row is quarantined once per file and reason, however often the file is imported again.
_NOT_QUARANTINED = """NOT EXISTS (SELECT 1 FROM quarantine k WHERE k.file = ? AND k.field = n.field
                              AND k.reason = n.reason AND k.raw IS NOT DISTINCT FROM n.raw)"""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quarantine_malformed(cur: duckdb.DuckDBPyConnection, bad: list, import_id: int,
                         file: str, redact: str | None = None) -> int:
    """Rows a reader could not parse at all (broken JSON line, wrong CSV field count)."""
    if not bad:
        return 0
    tbl = pa.table({
        "row": [b.row for b in bad], "field": [b.field for b in bad],
        "reason": [b.reason for b in bad], "raw": [b.raw for b in bad],
    })
    r = (lambda e: redact.replace("{expr}", e)) if redact else (lambda e: e)
    cur.register("_malformed", tbl)
    cur.execute(
        f"""INSERT INTO quarantine
            SELECT ?, ?, row, field, reason,
                   to_json([{{'field': field, 'reason': reason}}]), raw, now()::TIMESTAMP
            FROM (SELECT row, field, {r("reason")} AS reason, {r("raw")} AS raw
                  FROM _malformed) n WHERE {_NOT_QUARANTINED}""",
        [import_id, file, file],
    )
    cur.unregister("_malformed")
    return len(bad)


def insert_spans(cur: duckdb.DuckDBPyConnection, values: str, import_id: int, source: str,
                 *, has_bad: bool, candidates: int, redact: dict[str, str] | None = None
                 ) -> tuple[int, int]:
    """Insert the good rows of ``values`` that are not already stored; return how many, and
    how many conflict (same ids, other content; listed in temp table ``_conflicts`` for the
    quarantine). ``candidates`` is the number of good rows, to know when to look.

    Identity is (trace_id, span_id); a row without ids gets ids hashed from its content only,
    so re-importing the same rows (however the file is cut) adds nothing. Derived fields
    (end time, latency, status, last user message, system prompt, cost) are filled here,
    once, for every producer.
    """
    redact = redact or {}
    # A window over full-width rows would copy every text; find in-file repeats on the
    # narrow id columns instead, and only when there are any.
    good_rows = f"SELECT * FROM ({values}) ANTI JOIN _bad USING (_row)" if has_bad else values
    ids = _derived_ids(False)
    if _find_repeat_ids(cur, good_rows, ids):  # some row has no id: hash ids from content
        ids = _derived_ids(True)
        _find_repeat_ids(cur, good_rows, ids)
    derived = {**ids, **_DERIVED, "source": f"coalesce(source, '{source}')"}
    sel = []
    for name in FIELD_NAMES:
        expr = derived.get(name, name)
        if name in redact:
            expr = redact[name].replace("{expr}", expr)
        sel.append(f"{expr} AS {name}")
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _conflicts ({conflicts.COLUMNS})")
    repeats = _mark_repeats(cur, good_rows, ids)
    if repeats:
        good_rows = f"SELECT * FROM ({good_rows}) ANTI JOIN _repeats USING (_row)"
    cur.execute(f"CREATE OR REPLACE TEMP VIEW _good AS SELECT _row, {', '.join(sel)} "
                f"FROM ({good_rows})")
    cols = ", ".join(FIELD_NAMES)
    cur.execute(
        f"""INSERT INTO spans (span_key, {cols}, cost_estimated, import_id, ingested_at)
            SELECT nextval('span_key_seq'), {_select_with_cost()}
            FROM _good g
            LEFT JOIN _prices pv ON pv.model = g.model_version
                 AND g.start_time >= pv.valid_from AND (pv.valid_to IS NULL OR g.start_time < pv.valid_to)
            LEFT JOIN _prices pm ON pm.model = g.model AND pv.model IS NULL
                 AND g.start_time >= pm.valid_from AND (pm.valid_to IS NULL OR g.start_time < pm.valid_to)
            WHERE NOT EXISTS (SELECT 1 FROM spans t
                              WHERE t.trace_id = g.trace_id AND t.span_id = g.span_id)""",
        [import_id],
    )
    new = int(cur.fetchone()[0])
    if new < candidates - repeats:  # some rows were already stored: same content, or not?
        conflicts.with_stored(cur, "_good")
    return new, conflicts.count(cur)


def _find_repeat_ids(cur: duckdb.DuckDBPyConnection, good_rows: str, ids: dict[str, str]) -> bool:
    """Ids that more than one row has, into temp table _repeat_ids; whether some row has no
    id. One narrow pass (only the id columns are computed) answers both: a missing id is a
    group of its own."""
    keyed = f"SELECT {ids['trace_id']} AS t, {ids['span_id']} AS s FROM ({good_rows})"
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _repeat_ids AS SELECT t, s FROM ({keyed}) "
                f"GROUP BY t, s HAVING count(*) > 1 OR t IS NULL OR s IS NULL")
    cur.execute("SELECT count(*) FILTER (WHERE t IS NULL OR s IS NULL) FROM _repeat_ids")
    return cur.fetchall()[0][0] > 0


def _derived_ids(needed: bool = True) -> dict[str, str]:
    """Ids of a row that has none, from its content only (never its place in the file).

    Only when some row needs them: even unused, the hash makes DuckDB compute every field of
    every row. The two hashes must not share a subexpression: DuckDB would compute a shared
    one once for every row, ids or not, and hashing whole rows costs seconds per million."""
    if not needed:
        return {"trace_id": "trace_id", "span_id": "span_id"}
    fields = ", ".join(f"{c} := {c}" for c in FIELD_NAMES if c != "source")
    return {
        "trace_id": f"coalesce(trace_id, md5(to_json(struct_pack(_id := 'trace', {fields}))))",
        "span_id": f"coalesce(span_id, md5(to_json(struct_pack(_id := 'span', {fields}))))",
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


def _mark_repeats(cur: duckdb.DuckDBPyConnection, good_rows: str, ids: dict[str, str]) -> int:
    """Rows repeating an identity seen earlier in the same file, into temp table _repeats,
    those with other content than the first also into _conflicts.

    A hash aggregate (``_find_repeat_ids``) finds repeated ids cheaply; the ordered window
    that picks which row to keep, and the content comparison, run only over those ids,
    usually none.
    """
    keyed = f"SELECT _row, {ids['trace_id']} AS t, {ids['span_id']} AS s FROM ({good_rows})"
    if not cur.execute("SELECT count(*) FROM _repeat_ids").fetchall()[0][0]:
        return 0
    content = "md5(to_json(struct_pack(" + ", ".join(
        f"{c} := v.{c}" for c in FIELD_NAMES if c != "source") + ")))"
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _repeats AS
            SELECT _row, h <> first_value(h) OVER w AS conflict
            FROM (SELECT k._row, k.t, k.s, {content} AS h
                  FROM ({keyed}) k SEMI JOIN _repeat_ids r ON k.t = r.t AND k.s = r.s
                  JOIN ({good_rows}) v ON v._row = k._row)
            WINDOW w AS (PARTITION BY t, s ORDER BY _row)
            QUALIFY row_number() OVER w > 1"""
    )
    conflicts.within_file(cur, "_repeats")
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


def register_prices(cur: duckdb.DuckDBPyConnection, prices: list[tuple]) -> None:
    """The price table (``pricing.price_records``) as temp table ``_prices`` of this cursor."""
    cur.execute("CREATE OR REPLACE TEMP TABLE _prices (model VARCHAR, valid_from TIMESTAMP, "
                "valid_to TIMESTAMP, input_per_mtok DOUBLE, output_per_mtok DOUBLE, "
                "cached_input_per_mtok DOUBLE)")
    if prices:
        cur.execute("INSERT INTO _prices VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(prices)),
                    [v for row in prices for v in row])


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
