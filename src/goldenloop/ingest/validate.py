"""Vectorized validation: SQL that casts mapped source columns to span fields and lists,
for every row at once, each field that fails and why.

``build`` gives the SQL of each row's errors (a list of ``{field, reason}`` structs, empty when
the row is good) and of its typed span fields. Nothing here runs per row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from goldenloop.ingest import limits
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
    t = sql_type.upper()
    if t == "VARCHAR":
        return col
    if t == "JSON":
        # A JSON string as its text, anything else as JSON text: a column where one record
        # holds an object keeps every other record's plain string unquoted.
        return f"json_extract_string({col}, '$')"
    return f"CAST({col} AS VARCHAR)"


def _blank_null(col: str, sql_type: str) -> str:
    """Source value with empty strings read as missing (CSV writes missing as '')."""
    if sql_type.upper() == "VARCHAR":
        return f"NULLIF(trim({col}), '')"
    return col


# An epoch number's unit by its magnitude (seconds, ms, us or ns), and the microseconds it
# means. Values beyond any unit's reach, or not finite, give NULL instead of an error.
def _epoch_to_ts(num: str) -> str:
    return (
        f"CASE WHEN NOT isfinite({num}) OR abs({num}) >= 1e19 THEN NULL "
        f"WHEN abs({num}) < 1e11 THEN make_timestamp(CAST({num} * 1e6 AS BIGINT)) "
        f"WHEN abs({num}) < 1e14 THEN make_timestamp(CAST({num} * 1e3 AS BIGINT)) "
        f"WHEN abs({num}) < 1e17 THEN make_timestamp(CAST({num} AS BIGINT)) "
        f"ELSE make_timestamp(CAST({num} / 1e3 AS BIGINT)) END"
    )


def _whole(num: str) -> str:
    """A DOUBLE that holds a whole number, as BIGINT; NULL for 1.5, NaN or infinity."""
    return (f"CASE WHEN isfinite({num}) AND {num} = round({num}) AND abs({num}) < 9e18 "
            f"THEN CAST({num} AS BIGINT) END")


def cast_expr(f: Field, col: str, sql_type: str) -> str:
    """Typed value of field ``f`` from source column ``col`` (NULL when it cannot be cast).

    Never raises, whatever the value: a value out of its field's range is typed here and
    rejected by the range checks, so one bad cell cannot fail the file."""
    t = sql_type.upper()
    v = _blank_null(col, sql_type)
    if f.kind == "text":
        if f.name in _LONG_TEXT:  # trimming long texts copies them; only '' means missing
            return f"NULLIF({_as_text(col, sql_type)}, '')"
        return _blank_null(_as_text(col, sql_type), "VARCHAR")
    if f.kind == "int":
        if _is_numeric(t) and t.startswith(("FLOAT", "DOUBLE", "DECIMAL")):
            return _whole(f"CAST({v} AS DOUBLE)")
        if _is_numeric(t):
            return f"TRY_CAST({v} AS BIGINT)"
        # TRY_CAST('1.5' AS BIGINT) rounds to 2: read the text as a number, then require a
        # whole one.
        return _whole(f"TRY_CAST({_as_text(v, t)} AS DOUBLE)")
    if f.kind == "float":
        return f"TRY_CAST({v if _is_numeric(t) else _as_text(v, t)} AS DOUBLE)"
    if f.kind == "time":
        if t.startswith(("TIMESTAMP", "DATE")):
            return f"TRY_CAST({v} AS TIMESTAMP)"
        if _is_numeric(t):
            return _epoch_to_ts(f"CAST({v} AS DOUBLE)")
        txt = _as_text(v, t)
        num = f"TRY_CAST({txt} AS DOUBLE)"
        return (
            f"CASE WHEN {num} IS NOT NULL THEN {_epoch_to_ts(num)} "
            f"ELSE CAST(TRY_CAST({txt} AS TIMESTAMPTZ) AS TIMESTAMP) END"
        )
    if f.kind == "json":
        if t in ("VARCHAR", "JSON"):
            return f"CASE WHEN json_valid({v}) THEN CAST({v} AS JSON) END"
        return f"to_json({v})"
    if f.kind == "tags":
        if t.endswith("[]"):
            return f"TRY_CAST({v} AS VARCHAR[])"
        txt = _blank_null(_as_text(col, sql_type), "VARCHAR")
        return (
            f"CASE WHEN {txt} IS NULL THEN NULL "
            f"WHEN CASE WHEN json_valid({txt}) THEN json_type({txt}) = 'ARRAY' END "
            f"THEN TRY_CAST(json_extract_string({txt}, '$[*]') AS VARCHAR[]) "
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
    if f.name in limits.NUMERIC_RANGES:
        out += _range_checks(f, typed, shown)
    if f.kind == "time":
        lo, hi = (d.isoformat(sep=" ") for d in limits.TIME_RANGE)
        out.append(_err(f"NOT ({typed} >= TIMESTAMP {lit(lo)} AND {typed} < TIMESTAMP {lit(hi)})",
                        f.name, f"'outside {limits.EARLIEST:%Y}–{limits.LATEST:%Y}: ' || "
                        f"CAST({typed} AS VARCHAR)"))
    if f.name == "status":
        ok = ", ".join(STATUSES)
        out.append(_err(f"{present} AND {typed} IS NULL", f.name,
                        f"'unknown status \"' || {shown} || '\" (expected {ok})'"))
    return out


def _range_checks(f: Field, typed: str, shown: str) -> list[str]:
    """Limits from ``ingest.limits``: NaN and infinity would poison every average they enter,
    and an integer beyond 2^31 cannot be stored in its column."""
    lo, hi = limits.NUMERIC_RANGES[f.name]
    out = []
    if f.kind == "float":
        out.append(_err(f"NOT isfinite({typed})", f.name, f"'not a finite number: ' || {shown}"))
    finite = f"isfinite({typed}) AND " if f.kind == "float" else ""
    below = "'negative: '" if lo == 0 else f"'below {lo}: '"
    out.append(_err(f"{finite}{typed} < {lo}", f.name, f"{below} || {shown}"))
    out.append(_err(f"{finite}{typed} > {hi}", f.name, f"'above {hi:,}: ' || {shown}"))
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
    ``types`` gives each source column's DuckDB type. Columns no field maps are kept in
    ``metadata`` (``unmapped``), never dropped."""
    exprs, checks = [], []
    extra = unmapped(mapping, types)
    for f in SPAN_FIELDS:
        col_name = mapping.get(f.name)
        if col_name is None:
            typed = f"CAST(NULL AS {f.sql_type})"
        else:
            col, sql_type = q(col_name), types[col_name]
            typed = (_status_expr(col, sql_type) if f.name == "status"
                     else cast_expr(f, col, sql_type))
            checks += _checks(f, col, sql_type, typed)
        if f.name == "metadata" and extra:
            typed = _with_unmapped(typed, extra, types)
        exprs.append(f"{typed} AS {f.name}")
    # start_time may be derived from end_time and latency before the cross-field checks; a
    # latency out of range derives nothing (to_milliseconds raises beyond its range).
    latency = f"CASE WHEN latency_ms BETWEEN 0 AND {limits.MAX_DURATION_MS} THEN latency_ms END"
    derive = (f"* REPLACE (coalesce(start_time, end_time - to_milliseconds({latency}))"
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


def unmapped(mapping: dict[str, str], types: dict[str, str]) -> list[str]:
    """Source columns no span field is read from, sorted: both JSON Lines readers then build
    the same metadata (the careful one sees keys sorted, the fast one in file order)."""
    used = set(mapping.values())
    return sorted(c for c in types if c not in used and c not in ("_row", "_raw"))


def _with_unmapped(metadata: str, columns: list[str], types: dict[str, str]) -> str:
    """``metadata`` with each unmapped column as a key (a missing or empty value adds none);
    the metadata column's own keys win, and metadata that is not an object is kept under the
    key ``metadata``. Text holding JSON is kept as JSON, so both JSON Lines readers agree."""
    pairs = ", ".join(f"{lit(c)}, {_json_value(q(c), types[c])}" for c in columns)
    # json_merge_patch drops keys whose value is null.
    extra = f"json_merge_patch('{{}}', json_object({pairs}))"
    return (f"CASE WHEN {metadata} IS NULL THEN {extra} "
            f"WHEN json_type({metadata}) = 'OBJECT' THEN json_merge_patch({extra}, {metadata}) "
            f"ELSE json_merge_patch({extra}, json_object('metadata', {metadata})) END")


def _json_value(col: str, sql_type: str) -> str:
    t = sql_type.upper()
    if t == "JSON":
        return col
    if t == "VARCHAR":
        # Text holding JSON is kept as JSON, except the word null, which would drop the key.
        v = f"NULLIF({col}, '')"
        return (f"CASE WHEN {v} <> 'null' AND json_valid({v}) THEN CAST({v} AS JSON) "
                f"ELSE to_json({v}) END")
    return f"to_json({col})"
