"""Vectorized validation: SQL that casts mapped source columns to span fields and lists,
for every row at once, each field that fails and why.

``build`` gives the SQL of each row's errors (a list of ``{field, reason}`` structs, empty when
the row is good) and of its typed span fields. Nothing here runs per row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from goldenloop.store.span_columns import SPAN_FIELDS, STATUSES, Field

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
            "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_LONG_TEXT = ("output", "last_user_message", "system_prompt", "error_message")
_STATUS_SYNONYMS = {
    "ok": "ok", "success": "ok", "succeeded": "ok", "status_code_ok": "ok", "unset": "ok",
    "status_code_unset": "ok", "completed": "ok", "200": "ok",
    "error": "error", "failed": "error", "failure": "error", "status_code_error": "error",
    "exception": "error",
    "timeout": "timeout", "timed_out": "timeout", "deadline_exceeded": "timeout",
    "empty": "empty",
}


def q(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_numeric(sql_type: str) -> bool:
    return sql_type.upper().startswith(_NUMERIC)


def _as_text(col: str, sql_type: str) -> str:
    return col if sql_type.upper() == "VARCHAR" else f"CAST({col} AS VARCHAR)"


def _blank_null(col: str, sql_type: str) -> str:
    """Source value with empty strings read as missing (CSV writes missing as '')."""
    if sql_type.upper() == "VARCHAR":
        return f"NULLIF(trim({col}), '')"
    return col


def _epoch_to_ts(num: str) -> str:
    # Epoch numbers come in seconds, ms, us or ns; the magnitude tells which.
    return (
        f"CASE WHEN abs({num}) < 1e11 THEN make_timestamp(CAST({num} * 1e6 AS BIGINT)) "
        f"WHEN abs({num}) < 1e14 THEN make_timestamp(CAST({num} * 1e3 AS BIGINT)) "
        f"WHEN abs({num}) < 1e17 THEN make_timestamp(CAST({num} AS BIGINT)) "
        f"ELSE make_timestamp(CAST({num} / 1e3 AS BIGINT)) END"
    )


def cast_expr(f: Field, col: str, sql_type: str) -> str:
    """Typed value of field ``f`` from source column ``col`` (NULL when it cannot be cast)."""
    t = sql_type.upper()
    v = _blank_null(col, sql_type)
    if f.kind == "text":
        if f.name in _LONG_TEXT:  # trimming long texts copies them; only '' means missing
            return f"NULLIF({_as_text(col, sql_type)}, '')"
        return _blank_null(_as_text(col, sql_type), "VARCHAR")
    if f.kind == "int":
        if _is_numeric(t) and t.startswith(("FLOAT", "DOUBLE", "DECIMAL")):
            return f"CASE WHEN {v} = round({v}) THEN TRY_CAST({v} AS BIGINT) END"
        if t == "VARCHAR":
            return f"TRY_CAST(TRY_CAST({v} AS DOUBLE) AS BIGINT)"
        return f"TRY_CAST({v} AS BIGINT)"
    if f.kind == "float":
        return f"TRY_CAST({v} AS DOUBLE)"
    if f.kind == "time":
        if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
            return f"CAST({v} AS TIMESTAMP)"
        if t.startswith(("TIMESTAMP", "DATE")):
            return f"CAST({v} AS TIMESTAMP)"
        if _is_numeric(t):
            return _epoch_to_ts(v)
        num = f"TRY_CAST({v} AS DOUBLE)"
        return (
            f"CASE WHEN {num} IS NOT NULL THEN {_epoch_to_ts(num)} "
            f"ELSE CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP) END"
        )
    if f.kind == "json":
        if t in ("VARCHAR", "JSON"):
            return f"CASE WHEN json_valid({v}) THEN CAST({v} AS JSON) END"
        return f"to_json({v})"
    if f.kind == "tags":
        if t.endswith("[]"):
            return f"CAST({v} AS VARCHAR[])"
        txt = _blank_null(_as_text(col, sql_type), "VARCHAR")
        return (
            f"CASE WHEN {txt} IS NULL THEN NULL "
            f"WHEN CASE WHEN json_valid({txt}) THEN json_type({txt}) = 'ARRAY' END "
            f"THEN from_json({txt}, '[\"VARCHAR\"]') "
            f"ELSE list_filter(list_transform(regexp_split_to_array({txt}, '[,;]'), lambda x: trim(x)),"
            f" lambda x: x <> '') END"
        )
    raise ValueError(f"unknown field kind {f.kind}")


def _status_expr(col: str, sql_type: str) -> str:
    txt = f"lower(trim({_as_text(col, sql_type)}))"
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in _STATUS_SYNONYMS.items())
    return f"CASE {txt} {cases} WHEN '' THEN NULL END"


def _checks(f: Field, col: str, sql_type: str, typed: str) -> list[str]:
    """SQL conditions (true = bad) paired with reasons, for one field."""
    present = f"{_blank_null(col, sql_type)} IS NOT NULL"
    shown = f"left({_as_text(col, sql_type)}, 60)"
    out = []
    what = {"int": "an integer", "float": "a number", "time": "a time",
            "json": "valid JSON", "tags": "a list of tags"}.get(f.kind)
    if what:
        out.append(_err(f"{present} AND {typed} IS NULL", f.name,
                        f"'not {what}: \"' || {shown} || '\"'"))
    if f.kind in ("int", "float"):
        out.append(_err(f"{typed} < 0", f.name, f"'negative: ' || {shown}"))
    if f.name == "status":
        ok = ", ".join(STATUSES)
        out.append(_err(f"{present} AND {typed} IS NULL", f.name,
                        f"'unknown status \"' || {shown} || '\" (expected {ok})'"))
    return out


def _err(cond: str, field: str, reason_sql: str) -> str:
    return f"CASE WHEN {cond} THEN {{'field': {lit(field)}, 'reason': {reason_sql}}} END"


@dataclass(frozen=True)
class Validation:
    """Two views of one chunk: ``checked`` lists each row's errors (``_row``, ``_raw``,
    ``_errors``); ``values`` gives the typed span fields (``_row`` and every field)."""

    checked: str
    values: str


def build(relation: str, mapping: dict[str, str], types: dict[str, str]) -> Validation:
    """Validation SQL over ``relation``; ``mapping`` maps span field → source column and
    ``types`` gives each source column's DuckDB type."""
    exprs, checks = [], []
    for f in SPAN_FIELDS:
        col_name = mapping.get(f.name)
        if col_name is None:
            exprs.append(f"CAST(NULL AS {f.sql_type}) AS {f.name}")
            continue
        col, sql_type = q(col_name), types[col_name]
        typed = _status_expr(col, sql_type) if f.name == "status" else cast_expr(f, col, sql_type)
        exprs.append(f"{typed} AS {f.name}")
        checks += _checks(f, col, sql_type, typed)
    # start_time may be derived from end_time and latency before the cross-field checks.
    derive = ("* REPLACE (coalesce(start_time, end_time - to_milliseconds(latency_ms))"
              " AS start_time)")
    values = f"SELECT {derive} FROM (SELECT _row, {', '.join(exprs)} FROM {relation})"
    field_errors = "[" + ", ".join(checks) + "]" if checks else "[]"
    inner = f"SELECT _row, _raw, {', '.join(exprs)}, {field_errors} AS _e FROM {relation}"
    cross = [
        _err("start_time IS NULL", "start_time",
             "'missing: every span needs a start time (or an end time and a latency)'"),
        _err("end_time < start_time", "end_time",
             "'ends before it starts: ' || CAST(end_time AS VARCHAR) || ' < ' || "
             "CAST(start_time AS VARCHAR)"),
    ]
    errors = "list_filter(_e || [" + ", ".join(cross) + "], lambda e: e IS NOT NULL)"
    checked = f"SELECT _row, _raw, {errors} AS _errors FROM (SELECT {derive} FROM ({inner}))"
    return Validation(checked, values)
