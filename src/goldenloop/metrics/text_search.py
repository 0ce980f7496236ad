"""Search of requests by the words in them: a substring or a regular expression in the user's
message (the last one, or the whole input), the answer or the error message, over a span
filter's time range, newest first, up to a limit.

A big store is read in slices of time, newest first, so the first matches come back early,
the search stops once the limit is reached, and a ``progress`` callback learns after each
slice how much of the range has been read (the page draws it as a progress bar). Substrings
match without regard to case; regular expressions are DuckDB's (RE2 syntax), checked before
the scan so a bad one is named, not a traceback. Texts returned are users' and models' words:
pages show them as plain text.

``search_spans_in`` searches a span store of either dialect: DuckDB's text or ClickHouse's
(``position``/``positionCaseInsensitiveUTF8`` for substrings, ``match`` for expressions: RE2
as in DuckDB, with ``(?-s)`` so that ``.`` does not match a line break, DuckDB's default).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pandas as pd

from goldenloop.metrics import sql as msql
from goldenloop.metrics import sql_clickhouse as ch
from goldenloop.metrics.filters import FilterError, SpanFilter
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.spanstore.clickhouse_filter import micros
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where
from goldenloop.store import Store

# Where a search looks: a name the caller picks, the SQL text it reads (never from callers).
FIELDS = {
    "user message": "s.last_user_message",
    "input messages": "CAST(s.messages AS VARCHAR)",
    "answer": "s.output",
    "error": "s.error_message",
}
FIELDS_CLICKHOUSE = {**FIELDS, "input messages": "s.messages"}
DEFAULT_FIELDS = ("user message", "answer")
MAX_LIMIT = 1_000
SLICE_ROWS = 200_000    # spans read per slice: a progress step every fraction of a second
MAX_SLICES = 100
PREVIEW_CHARS = 160
SNIPPET_CHARS = 120
COLUMNS = ["trace_id", "span_id", "session_id", "start_time", "app", "model_version", "status",
           "latency_ms", "output_tokens", "cost_usd", "error", "match", "last_user_message",
           "output"]


class SearchError(FilterError):
    """A search that cannot run as asked (empty text, bad regular expression, no field)."""


@dataclass(frozen=True)
class SearchResult:
    spans: pd.DataFrame   # COLUMNS, newest first, at most ``limit`` rows
    scanned: int          # requests read (the whole range unless the limit stopped it)
    total: int            # requests in the filter's range
    complete: bool        # False: stopped at the limit; older matches may exist


def _condition(fields: tuple[str, ...], regex: bool, case_sensitive: bool) -> str:
    unknown = [f for f in fields if f not in FIELDS]
    if unknown or not fields:
        raise SearchError(f"search one or more of {', '.join(FIELDS)}, not {unknown or 'none'}")
    if regex:
        return "(" + " OR ".join(f"coalesce(regexp_matches({FIELDS[f]}, $pattern, $flags), false)"
                                 for f in fields) + ")"
    lower = "" if case_sensitive else "lower"
    return "(" + " OR ".join(f"coalesce(contains({lower}({FIELDS[f]}), $needle), false)"
                             for f in fields) + ")"


def _condition_clickhouse(fields: tuple[str, ...], regex: bool, case_sensitive: bool) -> str:
    if regex:  # the pattern comes with its flags (see ``_clickhouse``)
        test = "match({}, %(pattern)s)"
    else:
        test = "position{}({{}}, %(needle)s) > 0".format("" if case_sensitive
                                                         else "CaseInsensitiveUTF8")
    # a NULL text matches nothing, as coalesce(..., false) says in DuckDB
    return "(" + " OR ".join(f"ifNull({test.format(FIELDS_CLICKHOUSE[f])}, 0)"
                             for f in fields) + ")"


def _check_regex(pattern: str, flags: str) -> None:
    """Refuse a pattern RE2 cannot read (DuckDB's and ClickHouse's engine alike), checked by
    DuckDB in memory so a bad one is named before either store scans."""
    try:
        with duckdb.connect() as con:
            con.execute("SELECT regexp_matches('', $p, $f)", {"p": pattern, "f": flags})
    except duckdb.Error as exc:
        reason = str(exc).split("\n")[0]
        raise SearchError(f"not a valid regular expression {pattern!r}: {reason}") from None


def _slices(lo, hi, total: int) -> list[tuple]:
    """Half-open time slices covering [lo, hi], newest first."""
    k = max(1, min(MAX_SLICES, math.ceil(total / SLICE_ROWS)))
    width = (hi - lo + timedelta(microseconds=1)) / k
    bounds = [lo + width * i for i in range(k)] + [hi + timedelta(microseconds=1)]
    return [(bounds[i], bounds[i + 1]) for i in reversed(range(k))]


def search_spans(store: Store, f: SpanFilter, text: str, *, regex: bool = False,
                 case_sensitive: bool = False, fields: tuple[str, ...] = DEFAULT_FIELDS,
                 limit: int = 100, progress: Callable[[float], None] | None = None
                 ) -> SearchResult:
    """Requests matching ``f`` whose ``fields`` contain ``text`` (or match it as a regular
    expression), newest first, at most ``limit``; ``progress(fraction read)`` after each slice."""
    from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore

    return search_spans_in(DuckDBSpanStore(store), f, text, regex=regex,
                           case_sensitive=case_sensitive, fields=fields, limit=limit,
                           progress=progress)


def search_spans_in(spans: SpanStore, f: SpanFilter, text: str, *, regex: bool = False,
                    case_sensitive: bool = False, fields: tuple[str, ...] = DEFAULT_FIELDS,
                    limit: int = 100, progress: Callable[[float], None] | None = None
                    ) -> SearchResult:
    """``search_spans`` over a span store of either dialect (DuckDB or ClickHouse)."""
    if not text or not text.strip():
        raise SearchError("type a word or a pattern to search for")
    fields = tuple(fields)
    _condition(fields, regex, case_sensitive)  # names an unknown field on either store
    flags = "c" if case_sensitive else "i"
    if regex:
        _check_regex(text, flags)
    run = (_duckdb if spans.dialect == DUCKDB else _clickhouse)(
        spans, f, text, fields, regex, case_sensitive)
    total, lo, hi = run("range", None, None, 0)
    limit = max(1, min(int(limit), MAX_LIMIT))
    found, scanned = [], 0
    for a, b in _slices(lo, hi, total) if total else []:
        found.append(run("rows", a, b, limit - sum(len(x) for x in found)))
        scanned += run("count", a, b, 0)
        if progress is not None:
            progress(scanned / total)
        if sum(len(x) for x in found) >= limit:
            break
    rows = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    return SearchResult(_shape(rows, text, regex, case_sensitive, fields), scanned, int(total),
                        complete=scanned >= total)


_ROW_COLUMNS = ["trace_id", "span_id", "session_id", "start_time", "app", "model_version",
                "status", "latency_ms", "output_tokens", "cost_usd", "error_type",
                "error_message", "last_user_message", "messages", "output"]


def _duckdb(spans: SpanStore, f: SpanFilter, text: str, fields: tuple[str, ...], regex: bool,
            case_sensitive: bool):
    """The three statements of a search in DuckDB's text, as one function of (what, slice)."""
    store = spans.store
    cond = _condition(fields, regex, case_sensitive)
    where, params = msql.where_clause(f)
    base = f"spans s WHERE s.kind = '{msql.REQUEST_KIND}' AND {where}"
    # DuckDB refuses parameters a statement does not use: only the search's own ones.
    match = ({"pattern": text, "flags": "c" if case_sensitive else "i"} if regex
             else {"needle": text if case_sensitive else text.lower()})
    cols = ", ".join(f"s.{c}" if c != "messages" else "CAST(s.messages AS VARCHAR) AS messages"
                     for c in _ROW_COLUMNS)

    def run(what: str, a, b, left: int):
        if what == "range":
            return store.rows(f"SELECT count(*), min(s.start_time), max(s.start_time) FROM {base}",
                              params)[0]
        part = {**params, "a": a, "b": b}
        inside = f"{base} AND s.start_time >= $a AND s.start_time < $b"
        if what == "count":
            return int(store.scalar(f"SELECT count(*) FROM {inside}", part))
        return store.df(f"""SELECT {cols} FROM {inside} AND {cond}
                            ORDER BY s.start_time DESC, s.span_key DESC LIMIT $left""",
                        {**part, **match, "left": left})
    return run


def _clickhouse(spans: SpanStore, f: SpanFilter, text: str, fields: tuple[str, ...],
                regex: bool, case_sensitive: bool):
    """The same three statements in ClickHouse's text."""
    cond = _condition_clickhouse(fields, regex, case_sensitive)
    where, params = clickhouse_where(f)
    params["kind"] = msql.REQUEST_KIND
    base = f"spans AS s FINAL WHERE s.kind = %(kind)s AND {where}"
    match = ({"pattern": "(?-s)" + ("" if case_sensitive else "(?i)") + text} if regex
             else {"needle": text})
    inside = (f"{base} AND s.start_time >= fromUnixTimestamp64Micro(%(a)s, 'UTC') "
              "AND s.start_time < fromUnixTimestamp64Micro(%(b)s, 'UTC')")
    cols = ", ".join(f"s.{c} AS {c}" for c in _ROW_COLUMNS)

    def run(what: str, a, b, left: int):
        if what == "range":
            row = ch.run(spans, f"SELECT toInt64(count()) AS n, minOrNull(s.start_time) AS lo, "
                                f"maxOrNull(s.start_time) AS hi FROM {base}", params).iloc[0]
            return int(row["n"]), row["lo"], row["hi"]
        part = {**params, "a": micros(a), "b": micros(b)}
        if what == "count":
            return int(ch.run(spans, f"SELECT toInt64(count()) AS n FROM {inside}",
                              part)["n"].iloc[0])
        return ch.run(spans, f"""SELECT {cols} FROM {inside} AND {cond}
                                 ORDER BY s.start_time DESC, s.span_key DESC LIMIT %(left)s""",
                      {**part, **match, "left": left}, _ROW_COLUMNS)
    return run


def _shape(rows: pd.DataFrame, text: str, regex: bool, case_sensitive: bool,
           fields: tuple[str, ...]) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    finder = _finder(text, regex, case_sensitive)
    columns = {"user message": "last_user_message", "input messages": "messages",
               "answer": "output", "error": "error_message"}
    snippets = []
    for r in rows.itertuples(index=False):
        snippets.append(next((s for s in (_snippet(getattr(r, columns[f]), finder) for f in fields)
                              if s), ""))
    failed = rows["status"].fillna("ok") != "ok"
    error = (rows["error_type"].fillna("") + ": " + rows["error_message"].fillna("")).str.strip(": ")
    return rows.assign(
        match=snippets, error=error.where(failed, ""),
        last_user_message=rows["last_user_message"].str.slice(0, PREVIEW_CHARS),
        output=rows["output"].str.slice(0, PREVIEW_CHARS))[COLUMNS]


def _finder(text: str, regex: bool, case_sensitive: bool) -> Callable[[str], re.Match | None]:
    """Where the text first matches, for the snippet. RE2 and Python's ``re`` agree on
    common patterns; where they do not, the row has no snippet (it still matched in SQL)."""
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        pattern = re.compile(text if regex else re.escape(text), flags)
    except re.error:
        return lambda _s: None
    return pattern.search


def _snippet(value, finder) -> str:
    if not isinstance(value, str) or not value:
        return ""
    m = finder(value)
    if m is None:
        return ""
    start = max(0, m.start() - SNIPPET_CHARS // 3)
    end = min(len(value), start + SNIPPET_CHARS)
    return ("…" if start else "") + value[start:end] + ("…" if end < len(value) else "")
