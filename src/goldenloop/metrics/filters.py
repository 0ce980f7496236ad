"""The span filter every monitoring view shares: a time range and the dimensions a user can
narrow traffic by. Pages that compare versions, drill into spans or sample review queues
take the same object, so a view can hand its filter to the next one (and a queue can keep
it as its sampling frame: ``to_dict`` is JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from goldenloop.errors import GoldenloopError

SPLITS = ("model_version", "prompt_version", "app", "environment")
_LISTS = ("apps", "environments", "model_versions", "prompt_versions", "tags")
JUDGE_MODES = ("fit", "any", "none")


class FilterError(GoldenloopError):
    """A filter that cannot select anything sensible (an inverted range, an unknown split)."""


@dataclass(frozen=True)
class SpanFilter:
    """Which spans to look at. Unset parts select everything.

    ``start`` is inclusive and ``end`` exclusive, both naive UTC. Within one list the values
    are alternatives (any of these apps); the parts combine with AND. ``tags`` selects spans
    carrying any of the tags. ``include_internal`` adds goldenloop's own spans. Frozen and
    made of tuples, so it is hashable (a cache key).
    """

    start: datetime | None = None
    end: datetime | None = None
    apps: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    model_versions: tuple[str, ...] = ()
    prompt_versions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # goldenloop's own spans (judge calls, experiments, canaries) are not production traffic:
    # left out unless asked for (span_columns.INTERNAL_SOURCES).
    include_internal: bool = False
    # Which judge versions' grades count in quality figures (``agreement.fitness``): "fit"
    # (those passing the agreement gate), "any" or "none"; ``judge_versions`` names them
    # instead when set.
    judges: str = "fit"
    judge_versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in _LISTS:  # accept any iterable of strings, keep a canonical tuple
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(sorted(set(value or ()))))
        object.__setattr__(self, "judge_versions", tuple(sorted(set(self.judge_versions or ()))))
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO strings, lists as lists, unset parts left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                out[f.name] = value.isoformat()
            elif isinstance(value, tuple) and value:
                out[f.name] = list(value)
            elif isinstance(value, bool | str) and value != f.default:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpanFilter:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise FilterError(f"unknown filter fields: {', '.join(sorted(unknown))}")
        times = {k: datetime.fromisoformat(data[k]) if data.get(k) else None
                 for k in ("start", "end")}
        return cls(**times, **{k: tuple(data.get(k) or ()) for k in _LISTS},
                   include_internal=bool(data.get("include_internal", False)),
                   judges=str(data.get("judges", "fit")),
                   judge_versions=tuple(data.get("judge_versions") or ()))


def check_split(split: str | None) -> str | None:
    if split is not None and split not in SPLITS:
        raise FilterError(f"cannot split by {split!r}: choose one of {', '.join(SPLITS)}")
    return split
