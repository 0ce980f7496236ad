"""The demo's timeline: the history's window, when releases, prompt versions and the silent
model update happen, and the incidents injected into it (the ground truth that anomaly
detection, alerts and estimates are shown against).

Times are integers: microseconds since the epoch, UTC, like the span arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from goldenloop.errors import GoldenloopError

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
MIN_DAYS = 7

OLD_4O = "gpt-4o-2024-08-06"
NEW_4O = "gpt-4o-2024-11-20"
MINI = "gpt-4o-mini-2024-07-18"
MODEL_VERSIONS = (OLD_4O, NEW_4O, MINI)
UPDATE_RAMP_US = 6 * HOUR_US  # the provider rolls the new version out over a few hours


@dataclass(frozen=True)
class Incident:
    kind: str
    app: str | None
    model_version: str | None
    starts_at: datetime
    ends_at: datetime | None  # None: still in effect at the end of the history
    description: str

    def as_row(self) -> dict:
        return dict(kind=self.kind, app=self.app, model_version=self.model_version,
                    starts_at=self.starts_at, ends_at=self.ends_at,
                    description=self.description)


@dataclass(frozen=True)
class Plan:
    start_us: int
    end_us: int
    days: int
    windows: dict[str, tuple[int, int]]  # incident kind -> [start, end) in microseconds
    support_prompt_us: int  # support-bot prompt v7 -> v8
    sql_prompt_us: int  # sql-assistant prompt v3 -> v4
    incidents: tuple[Incident, ...]

    @property
    def update_us(self) -> int:
        return self.windows["token_drift"][0]

    @property
    def retrieval_us(self) -> int:
        return self.windows["correctness_drop"][0]

    def inside(self, kind: str, t_us: np.ndarray) -> np.ndarray:
        s, e = self.windows[kind]
        return (t_us >= s) & (t_us < e)

    def new_version_share(self, t_us: np.ndarray) -> np.ndarray:
        """Share of gpt-4o traffic already answered by the new snapshot at each time."""
        return np.clip((t_us - self.update_us) / UPDATE_RAMP_US, 0.0, 1.0)


def to_us(t: datetime) -> int:
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return int((t - datetime(1970, 1, 1)) // timedelta(microseconds=1))


def from_us(t_us: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(microseconds=int(t_us))


def default_end(now: datetime | None = None) -> datetime:
    """The start of the current UTC hour, so the history ends now."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)


def _weekday(day_start_us: int) -> int:
    return int((day_start_us // DAY_US + 3) % 7)  # 1970-01-01 was a Thursday; Monday is 0


def _business_day(start_us: int, d: int, days: int) -> int:
    """Midnight (UTC) of the ``d``-th calendar day of the history, moved off the weekend and
    kept inside the history."""
    d = min(max(d, 1), days - 2)
    wd = _weekday(start_us + d * DAY_US)
    if wd == 5:
        d -= 1
    elif wd == 6:
        d += 1
    return (start_us // DAY_US + d) * DAY_US


# kind, app, model_version, position in the history, duration in hours (None: a step change),
# earliest start hour (UTC), description
_INCIDENTS = (
    ("latency_spike", "support-bot", None, 0.20, 3,
     "Provider latency degradation: support-bot LLM calls about 6x slower, some time out."),
    ("error_burst", "sql-assistant", MINI, 0.33, 2,
     "Rate limiting on gpt-4o-mini: about a third of sql-assistant calls fail with HTTP 429."),
    ("token_drift", None, NEW_4O, 0.47, None,
     "Silent provider update: requests for gpt-4o are answered by gpt-4o-2024-11-20, with "
     "longer, more casual and effusive responses (more output tokens per response)."),
    ("timeout_storm", "support-bot", None, 0.60, 2,
     "Upstream timeouts: about 40% of support-bot LLM calls hit the 30 s client timeout."),
    ("offensive_rise", "support-bot", None, 0.70, 36,
     "A post about the bot goes viral: many more rude and offensive user messages."),
    ("correctness_drop", "support-bot", None, 0.80, None,
     "Release 1.15.0 switches the help-center retriever to hybrid-v2: retrieved articles are "
     "less relevant and answer correctness drops."),
)


def make_plan(seed: int, end: datetime, days: int) -> Plan:
    if days < MIN_DAYS:
        raise GoldenloopError(f"the demo needs at least {MIN_DAYS} days to place its incidents "
                              f"apart (got {days})")
    end_us = to_us(end)
    start_us = end_us - days * DAY_US
    rng = np.random.default_rng([seed, 90210])
    windows: dict[str, tuple[int, int]] = {}
    incidents = []
    for kind, app, version, pos, hours, desc in _INCIDENTS:
        jitter = int(rng.integers(-1, 2)) if days >= 14 else 0
        midnight = _business_day(start_us, int(pos * days) + jitter, days)
        if hours is None:  # deploys and provider updates land in the European morning
            s = midnight + int(rng.integers(8, 12)) * HOUR_US
            e = end_us
        else:
            s = midnight + int(rng.integers(13, 17)) * HOUR_US
            e = min(s + int(hours * HOUR_US), end_us)
        windows[kind] = (s, e)
        incidents.append(Incident(kind, app, version, from_us(s),
                                  None if hours is None else from_us(e), desc))
    return Plan(
        start_us=start_us, end_us=end_us, days=days, windows=windows,
        support_prompt_us=_business_day(start_us, int(0.3 * days), days) + 10 * HOUR_US,
        sql_prompt_us=_business_day(start_us, int(0.55 * days), days) + 9 * HOUR_US,
        incidents=tuple(incidents),
    )
