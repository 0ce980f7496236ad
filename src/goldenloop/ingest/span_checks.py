"""One span record checked against ``limits`` before it goes anywhere: the OTLP reader
quarantines a span that fails, and the receiver rejects it before it acknowledges the request,
so a value the store cannot hold (a start time of 1e30 ns, 99,999,999,999 input tokens, NaN)
never reaches a spool file, where it would fail the whole file in the owner.

The checks mirror the loader's vectorized validation for the fields it can only refuse in
bulk; text and JSON fields need none here (anything can be stored as text).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from goldenloop.ingest.limits import EARLIEST, LATEST, NUMERIC_RANGES, TIME_FIELDS, numeric_problem
from goldenloop.store.span_columns import FIELDS_BY_NAME

__all__ = ["check_record"]

_EPOCH = datetime(1970, 1, 1)
_EARLIEST_US = int((EARLIEST - _EPOCH).total_seconds()) * 1_000_000
_LATEST_US = int((LATEST - _EPOCH).total_seconds()) * 1_000_000
_INTEGER = {name for name in NUMERIC_RANGES if FIELDS_BY_NAME[name].kind == "int"}


def check_record(rec: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) of each value of ``rec`` the store cannot hold; empty when it can.

    Numbers sent as text (OTLP/JSON writes 64-bit integers as strings) are replaced in ``rec``
    by the number they spell, so what is stored has the column's type. Times are Unix
    microseconds, as the OTLP reader makes them.
    """
    problems: list[tuple[str, str]] = []
    for name in NUMERIC_RANGES:
        value = rec.get(name)
        if value is None:
            continue
        number, why = _number(value, integer=name in _INTEGER)
        why = why or numeric_problem(name, number)
        if why:
            problems.append((name, why))
        else:
            rec[name] = number
    for name in TIME_FIELDS:
        value = rec.get(name)
        if value is not None:
            why = _time_problem(value)
            if why:
                problems.append((name, why))
    problems += _cross_problems(rec, {f for f, _ in problems})
    for name, value in rec.items():
        # Most values are ASCII text: nothing to check or convert (the receiver runs this
        # for every span before its answer).
        if (value.__class__ is str and value.isascii()) or name.startswith("_"):
            continue
        why = _text_problem(rec, name, value)
        if why:
            problems.append((name, why))
    return problems


def _cross_problems(rec: dict[str, Any], bad: set[str]) -> list[tuple[str, str]]:
    """The loader's checks across fields, for a span with no latency to derive a start from."""
    start, end = rec.get("start_time"), rec.get("end_time")
    if start is None and "start_time" not in bad:
        return [("start_time", "missing: every span needs a start time")]
    if (start is not None and end is not None and not bad & {"start_time", "end_time"}
            and end < start):
        return [("end_time", f"ends before it starts: {end * 1000} < {start * 1000} ns")]
    return []


def _text_problem(rec: dict[str, Any], name: str, value: Any) -> str | None:
    """Structured values become JSON text here, with NaN and infinity written as strings (JSON
    has no such numbers); text that UTF-8 cannot hold (a lone surrogate, which JSON's
    ``\\ud800`` escapes can make) is refused rather than altered."""
    field = FIELDS_BY_NAME.get(name)
    if isinstance(value, dict | list) and not (field is not None and field.kind == "tags"):
        try:
            value = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
        except ValueError:  # NaN or infinity somewhere inside
            value = json.dumps(_finite(value), ensure_ascii=False, default=str)
        rec[name] = value
    elif field is not None and field.kind == "text" and not isinstance(value, str):
        # A number or flag where text belongs (an intValue session id): its text, as the
        # loader would cast it, so a spool column has one type.
        value = rec[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                return (f"holds a lone surrogate {text[exc.start]!r} at character "
                        f"{exc.start + 1}, which is not text")
    return None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _number(value: Any, *, integer: bool) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, f"not a number: {_show(value)}"
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            kind = "an integer" if integer else "a number"
            return None, f"not {kind}: {_show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"not a finite number: {value}"
    if integer and isinstance(value, float):
        if not value.is_integer():
            return None, f"not an integer: {value}"
        value = int(value)
    return value, None


def _time_problem(us: Any) -> str | None:
    if isinstance(us, bool) or not isinstance(us, int):
        return f"not a time in Unix nanoseconds: {_show(us)}"
    if not _EARLIEST_US <= us < _LATEST_US:
        return f"outside {EARLIEST:%Y}–{LATEST:%Y}: {us * 1000} ns"
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
