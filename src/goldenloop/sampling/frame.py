"""The sampling frame: which spans a queue is drawn from, kept with the queue as JSON.

A frame is a filter over spans (a time window on ``start_time``, apps, environments, model
and prompt versions, span kinds, statuses and tags); goldenloop's own spans are left out
unless ``include_internal`` is set. Its field names match the monitoring views'
span filter, so ``Frame.from_dict(span_filter.to_dict())`` turns a chart's filter into a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from goldenloop.errors import GoldenloopError
from goldenloop.store.span_columns import production_sql

_LISTS = ("apps", "environments", "model_versions", "prompt_versions", "kinds", "statuses",
          "tags")
# Each list field filters one span column.
_COLUMN = {"apps": "app", "environments": "environment", "model_versions": "model_version",
           "prompt_versions": "prompt_version", "kinds": "kind", "statuses": "status"}


class SamplingError(GoldenloopError):
    """A queue that cannot be made as asked (empty frame, bad design, unknown queue)."""


@dataclass(frozen=True)
class Frame:
    """Spans with ``start <= start_time < end`` (naive UTC; unset ends are open) matching every
    non-empty list. ``kinds`` defaults to LLM calls: they carry an answer to grade."""

    start: datetime | None = None
    end: datetime | None = None
    apps: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    model_versions: tuple[str, ...] = ()
    prompt_versions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("llm",)
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()       # spans carrying any of these tags
    # goldenloop's own spans (judge calls, experiments, canaries) are not production traffic
    # and stay out of a frame unless asked for (span_columns.INTERNAL_SOURCES).
    include_internal: bool = False
    # Which judge versions may raise a span's risk (judge_low, judge_uncertain): those fit for
    # use on their criterion (the agreement gate), every one, or none.
    judges: str = "fit"

    def __post_init__(self) -> None:
        for name in _LISTS:  # any iterable of strings; a canonical sorted tuple
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(sorted(set(value or ()))))
        if self.judges not in ("fit", "any", "none"):
            raise SamplingError(f"judges must be fit, any or none, not {self.judges!r}")
        if self.start and self.end and self.end <= self.start:
            raise SamplingError(f"the frame's time window is empty: {self.start} to {self.end}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO strings); every field kept so the stored frame is explicit."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else (
                list(value) if isinstance(value, tuple) else value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise SamplingError(f"unknown frame fields: {', '.join(sorted(extra))}")
        kw: dict[str, Any] = {k: data[k] for k in known & set(data) if data[k] is not None}
        for k in ("start", "end"):
            if isinstance(kw.get(k), str):
                kw[k] = datetime.fromisoformat(kw[k])
        return cls(**kw)

    def where(self, alias: str = "s") -> tuple[str, list[Any]]:
        """A SQL condition on spans aliased ``alias`` and its parameters."""
        terms, params = ["TRUE" if self.include_internal else production_sql(alias)], []
        if self.start is not None:
            terms.append(f"{alias}.start_time >= ?")
            params.append(self.start)
        if self.end is not None:
            terms.append(f"{alias}.start_time < ?")
            params.append(self.end)
        for name in _LISTS:
            values = getattr(self, name)
            if values and name == "tags":
                terms.append(f"list_has_any({alias}.tags, ?::VARCHAR[])")
                params.append(list(values))
            elif values:
                terms.append(f"{alias}.{_COLUMN[name]} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        return " AND ".join(terms), params
