"""The SQL that checks every imported grade value at once against its mapping: the target
exists, the criterion is named, a number parses, and the value lies on the declared scale.

Its result (``_gv``) has one row per (source row, rater) with ``target_error`` (the whole
row is kept aside), ``value_error`` (this value is kept aside), ``empty`` (no value: no
grade), ``out_of_scale``, and the value to store under the user's out-of-scale choice.
Out-of-scale values are always kept in ``raw`` as read, so both readings stay possible.
A boolean scale reads the usual spellings (1/0, true/false, yes/no) as its two labels, so
a 0/1 column is neither out of scale nor warned about.

``mark_conflicts`` then keeps aside, as a conflict, every value of a rater who gives one
target two different values in the same file: which one was meant cannot be known.
"""

from __future__ import annotations

import duckdb

from goldenloop.ingest import grade_mapping as gm
from goldenloop.ingest.validate import lit

_TRUE = ("1", "1.0", "true", "t", "yes", "y")
_FALSE = ("0", "0.0", "false", "f", "no", "n")


def _mapped(m: gm.GradeMapping, col: str) -> str:
    if m.values:
        whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in m.values.items())
        col = f"CASE {col} {whens} ELSE {col} END"
    labels = m.scale.labels or []
    if m.scale.type == "boolean" and len(labels) == 2:
        # labels are (negative, positive), as the default ("fail", "pass")
        no, yes = (lit(x) for x in labels)
        ins = ", ".join(lit(x) for x in labels)
        col = (f"CASE WHEN {col} IN ({ins}) THEN {col} "
               f"WHEN lower({col}) IN ({', '.join(lit(x) for x in _TRUE)}) THEN {yes} "
               f"WHEN lower({col}) IN ({', '.join(lit(x) for x in _FALSE)}) THEN {no} "
               f"ELSE {col} END")
    return col


def _off_scale(m: gm.GradeMapping) -> str:
    s = m.scale
    if s.type == "text":
        return "false"
    if s.numeric:
        cond = []
        if s.min is not None:
            cond.append(f"num < {float(s.min)!r}")
        if s.max is not None:
            cond.append(f"num > {float(s.max)!r}")
        if s.type == "ordinal":
            cond.append("num <> round(num)")
        return f"coalesce({' OR '.join(cond) or 'false'}, false)"
    labels = ", ".join(lit(x) for x in s.labels or [])
    return f"(v1 IS NOT NULL AND v1 NOT IN ({labels}))"


def _target(m: gm.GradeMapping) -> tuple[str, str, str]:
    """(target id, span key, target error) expressions, and the spans join if any."""
    t = m.target
    prefix = lit(t.prefix)
    missing = "target_raw IS NULL OR trim(target_raw) = ''"
    if t.type in ("item", "comparison"):
        return (f"{prefix} || target_raw", "CAST(NULL AS BIGINT)",
                f"CASE WHEN {missing} THEN 'no target id' END")
    if t.type in ("trace", "session"):
        return ("target_raw", "CAST(NULL AS BIGINT)",
                f"CASE WHEN {missing} THEN 'no target id' "
                f"WHEN known.id IS NULL THEN 'no such {t.type}: ' || target_raw END")
    found = "sp.span_key"
    err = (f"CASE WHEN {missing} THEN 'no target id' "
           f"WHEN {found} IS NULL THEN 'no such span: ' || replace(target_raw, chr(31), ' / ') END")
    return f"CAST({found} AS VARCHAR)", found, err


def _span_join(m: gm.GradeMapping) -> str:
    t = m.target
    if t.type in ("trace", "session"):
        col = "trace_id" if t.type == "trace" else "session_id"
        return (f"LEFT JOIN (SELECT DISTINCT {col} AS id FROM spans) known "
                "ON known.id = w.target_raw")
    if t.type != "span":
        return ""
    if t.trace_id:
        return ("LEFT JOIN spans sp ON sp.trace_id = split_part(w.target_raw, chr(31), 1) "
                "AND sp.span_id = split_part(w.target_raw, chr(31), 2)")
    return "LEFT JOIN spans sp ON sp.span_key = TRY_CAST(w.target_raw AS BIGINT)"


def value_sql(m: gm.GradeMapping, long_rel: str) -> str:
    s = m.scale
    missing = lit(m.missing) if m.missing is not None else "NULL"
    numeric = s.numeric
    value_error = ("CASE WHEN criterion IS NULL OR trim(criterion) = '' THEN 'no criterion' "
                   "WHEN rater IS NULL OR trim(rater) = '' THEN 'no rater' "
                   "WHEN read_error IS NOT NULL THEN read_error "
                   + ("WHEN v1 IS NOT NULL AND (num IS NULL OR NOT isfinite(num)) "
                      "THEN 'not a number: ' || v1 " if numeric else "")
                   + "END")
    drop = m.out_of_scale == "missing"
    number = (f"CASE WHEN oos AND {str(drop).lower()} THEN NULL ELSE num END"
              if numeric else "CAST(NULL AS DOUBLE)")
    label = ("CAST(NULL AS VARCHAR)" if numeric
             else f"CASE WHEN oos AND {str(drop).lower()} THEN NULL ELSE v1 END")
    treated = "missing" if drop else "kept"
    target_id, span_key, target_error = _target(m)
    return f"""
        WITH v AS (
            SELECT g.*, coalesce({_mapped(m, "nullif(trim(g.raw_value), '')")}, {missing}) AS v1
            FROM {long_rel} g
        ), w AS (
            SELECT *, TRY_CAST(v1 AS DOUBLE) AS num FROM v
        ), x AS (
            SELECT w.*, {target_id} AS target_id, {span_key} AS span_key,
                   {target_error} AS target_error
            FROM w {_span_join(m)}
        ), y AS (
            SELECT x.*, {value_error} AS value_error, v1 IS NULL AS empty,
                   {_off_scale(m)} AS oos
            FROM x
        )
        SELECT y.*, {lit(m.target.type)} AS target_type,
               oos AND target_error IS NULL AND value_error IS NULL AS out_of_scale,
               {number} AS value_number, {label} AS value_label,
               CASE WHEN oos OR a.shown_order IS NOT NULL THEN json_object(
                   'value', v1, 'out_of_scale', oos,
                   'treated_as', CASE WHEN oos THEN {lit(treated)} END,
                   'shown_order', a.shown_order) END AS raw_json,
               a.author_kind, a.author_id, a.judge_name, a.judge_model, a.judge_version
        FROM y LEFT JOIN _grade_authors a ON a.rater = y.rater
    """


def mark_conflicts(cur: duckdb.DuckDBPyConnection) -> int:
    """In ``_gv``, set ``value_error`` on every value of a rater that gives one target and
    criterion two different values (all of them: which was meant is unknown); return how
    many values. The same value given twice is no conflict (the insert keeps one)."""
    cur.execute(
        """CREATE OR REPLACE TEMP TABLE _gconflict AS
           SELECT target_id, criterion, rater,
                  list(DISTINCT _row ORDER BY _row) AS rows_of
           FROM _gv
           WHERE target_error IS NULL AND value_error IS NULL AND NOT empty
           GROUP BY target_id, criterion, rater
           HAVING count(DISTINCT coalesce(CAST(value_number AS VARCHAR), value_label)) > 1""")
    cur.execute(
        """UPDATE _gv SET value_error = 'conflict: rater ' || _gv.rater || ' gives this target '
                   || 'different values in this file (rows '
                   || array_to_string(c.rows_of, ', ') || '); none of them is imported'
           FROM _gconflict c
           WHERE _gv.target_id = c.target_id AND _gv.criterion = c.criterion
             AND _gv.rater = c.rater AND _gv.target_error IS NULL AND _gv.value_error IS NULL
             AND NOT _gv.empty""")
    return int(cur.fetchone()[0])
