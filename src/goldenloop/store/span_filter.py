"""The one span filter: which spans a view, a sampling frame, a golden set, anomaly detection
or an experiment's production comparison reads, and the one SQL builder that turns it into a
condition with named parameters.

It lives in the store, below every feature, because every feature selects spans and none may
import another's SQL (DESIGN.md). The builder writes SQL through a small ``Dialect`` object:
the span store keeps a second dialect (ClickHouse) beside DuckDB's, and the conditions (which
parts, combined how) stay written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from goldenloop.errors import FilterError
from goldenloop.store.span_columns import production_sql

JUDGE_MODES = ("fit", "any", "none")
# Each list part filters one span column; a span matches when its value is one of the list.
LIST_COLUMNS = {"apps": "app", "environments": "environment", "model_versions": "model_version",
                "prompt_versions": "prompt_version", "kinds": "kind", "statuses": "status"}
_LISTS = (*LIST_COLUMNS, "tags")


@dataclass(frozen=True)
class SpanFilter:
    """Which spans to look at. Unset parts select everything.

    ``start`` is inclusive and ``end`` exclusive on ``start_time``, both naive UTC. Within one
    list the values are alternatives (any of these apps); the parts combine with AND. ``tags``
    selects spans carrying any of the tags. ``include_internal`` adds goldenloop's own spans.
    ``judges`` and ``judge_versions`` do not select spans: they say which judge versions'
    grades count where a reader uses judge grades (quality figures, a frame's risk signals).
    Frozen and made of sorted tuples, so it is hashable (a cache key) and compares by value.
    """

    start: datetime | None = None
    end: datetime | None = None
    apps: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    model_versions: tuple[str, ...] = ()
    prompt_versions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # goldenloop's own spans (judge calls, experiments, canaries) are not production traffic:
    # left out unless asked for (span_columns.INTERNAL_SOURCES).
    include_internal: bool = False
    # "fit" (versions passing the agreement gate), "any" or "none"; ``judge_versions`` names
    # them instead when set.
    judges: str = "fit"
    judge_versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (*_LISTS, "judge_versions"):  # any iterable of strings: a canonical tuple
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(sorted({str(v) for v in value or ()})))
        if self.judges not in JUDGE_MODES:
            raise FilterError(f"judges must be one of {', '.join(JUDGE_MODES)}, not {self.judges!r}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise FilterError(f"the time range is empty: it ends ({self.end:%Y-%m-%d %H:%M}) "
                              f"before it starts ({self.start:%Y-%m-%d %H:%M})")

    @property
    def duration(self) -> timedelta | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    def with_range(self, start: datetime | None, end: datetime | None) -> SpanFilter:
        return replace(self, start=start, end=end)

    def to_dict(self, *, keep: tuple[str, ...] = ()) -> dict[str, Any]:
        """JSON-ready: times as ISO strings, lists as lists; unset parts are left out, except
        those named in ``keep`` (a stored frame keeps ``kinds``: its default differs)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                out[f.name] = value.isoformat()
            elif isinstance(value, tuple) and (value or f.name in keep):
                out[f.name] = list(value)
            elif isinstance(value, bool | str) and (value != f.default or f.name in keep):
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpanFilter:
        """The filter ``to_dict`` wrote (nulls read as unset). Unknown fields are an error:
        a silently dropped part would select more than was asked."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise FilterError(f"unknown filter fields: {', '.join(sorted(unknown))}")
        kw: dict[str, Any] = {}
        for k in ("start", "end"):
            kw[k] = _time(k, data.get(k))
        for k in (*_LISTS, "judge_versions"):
            value = data.get(k)
            if value is not None and not isinstance(value, list | tuple | str):
                raise FilterError(f"{k}: expected a list of names, not {value!r}")
            kw[k] = value or ()
        kw["include_internal"] = bool(data.get("include_internal") or False)
        kw["judges"] = str(data.get("judges") or "fit")
        return cls(**kw)


def _time(name: str, value: Any) -> datetime | None:
    if value is None or value == "" or isinstance(value, datetime):
        return value or None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise FilterError(f"{name}: {value!r} is not an ISO date and time") from None


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the filter's conditions. Every user value is a parameter;
    only column names (fixed here) and placeholders are spliced into the text."""

    name: str
    placeholder: Callable[[str], str]          # a named parameter in the statement
    time_value: Callable[[datetime], Any]      # a time as the engine's client binds it
    time: Callable[[str], str]                 # a bound time (placeholder) as a timestamp
    one_of: Callable[[str, str], str]          # (column, list placeholder): value in the list
    any_of: Callable[[str, str], str]          # (list column, list placeholder): lists meet
    production: Callable[[str], tuple[str, dict[str, Any]]]  # alias: not goldenloop's own
    true: str


DUCKDB = Dialect(
    name="duckdb",
    placeholder=lambda name: f"${name}",
    time_value=lambda t: t,
    time=lambda p: p,
    # list_contains rather than IN (...): one parameter whatever the list's length, so the
    # text depends only on which parts are set (DuckDB plans one constant as an equality
    # filter in the scan, as for ``column = value``).
    one_of=lambda column, p: f"list_contains({p}, {column})",
    any_of=lambda column, p: f"list_has_any({column}, {p})",
    production=lambda alias: (production_sql(alias), {}),
    true="TRUE",
)


def conditions(f: SpanFilter, alias: str = "s", *, dialect: Dialect = DUCKDB,
               with_time: bool = True, prefix: str = "") -> tuple[list[str], dict[str, Any]]:
    """The filter's conditions on spans aliased ``alias`` and their named parameters (each
    name starts with ``prefix``, so two filters can share one statement). Unset parts add
    nothing, so the plan stays as simple as the bare query's."""
    col = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
    parts: list[str] = []
    params: dict[str, Any] = {}

    def bind(name: str, value: Any) -> str:
        params[prefix + name] = value
        return dialect.placeholder(prefix + name)

    if not f.include_internal:
        sql, extra = dialect.production(alias)
        parts.append(sql)
        params.update(extra)
    if with_time and f.start is not None:
        parts.append(f"{col('start_time')} >= {dialect.time(bind('start', dialect.time_value(f.start)))}")
    if with_time and f.end is not None:
        parts.append(f"{col('start_time')} < {dialect.time(bind('end', dialect.time_value(f.end)))}")
    for name, column in LIST_COLUMNS.items():
        values = getattr(f, name)
        if values:
            parts.append(dialect.one_of(col(column), bind(name, list(values))))
    if f.tags:
        parts.append(dialect.any_of(col("tags"), bind("tags", list(f.tags))))
    return parts, params


def where(f: SpanFilter, alias: str = "s", *, dialect: Dialect = DUCKDB, with_time: bool = True,
          prefix: str = "") -> tuple[str, dict[str, Any]]:
    """``conditions`` joined with AND (``dialect.true`` when there are none)."""
    parts, params = conditions(f, alias, dialect=dialect, with_time=with_time, prefix=prefix)
    return " AND ".join(parts) or dialect.true, params


__all__ = ["DUCKDB", "JUDGE_MODES", "LIST_COLUMNS", "Dialect", "FilterError", "SpanFilter",
           "conditions", "where"]
