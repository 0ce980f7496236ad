"""When traffic arrives: sessions per hour with daily and weekly cycles and a slow growth,
heavy-tailed session lengths, the turns of each session and who sends them.

One day of one app is drawn from its own random stream (seeded by seed, day and app), so a
day's traffic does not depend on how days are batched for insertion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from goldenloop.demo.incidents import DAY_US, HOUR_US, Plan
from goldenloop.demo.render import cat, hex_ids, padded


@dataclass(frozen=True)
class Profile:
    app: str
    code: int  # part of the random stream's seed
    peaks: tuple[tuple[float, float, float], ...]  # (UTC hour, width in hours, height)
    floor: float  # night-time level relative to the peaks
    weekend: float  # weekend level relative to weekdays
    max_turns: int
    turn_power: float  # P(k turns) ~ k^-power
    gap_min_s: float  # a turn starts at least this long after the previous one
    gap_median_s: float
    gap_sigma: float
    user_prefix: str
    users_per_session: float  # distinct users relative to sessions

    def turn_probs(self) -> np.ndarray:
        k = np.arange(1, self.max_turns + 1, dtype=np.float64)
        p = k ** -self.turn_power
        return p / p.sum()

    def mean_turns(self) -> float:
        return float((np.arange(1, self.max_turns + 1) * self.turn_probs()).sum())


SUPPORT = Profile(
    app="support-bot", code=1, peaks=((13.0, 3.2, 0.55), (19.5, 3.5, 0.6)), floor=0.15,
    weekend=0.62, max_turns=12, turn_power=1.45, gap_min_s=40.0, gap_median_s=35.0,
    gap_sigma=0.8, user_prefix="u_", users_per_session=0.55,
)
SQL = Profile(
    app="sql-assistant", code=2, peaks=((10.5, 2.8, 0.7), (16.0, 3.0, 0.65)), floor=0.05,
    weekend=0.22, max_turns=6, turn_power=1.3, gap_min_s=60.0, gap_median_s=200.0,
    gap_sigma=0.9, user_prefix="analyst_", users_per_session=0.02,
)


@dataclass
class Turns:
    """One row per turn (one trace), sessions contiguous and turns in order within them."""

    start_us: np.ndarray  # int64, trace start
    session: np.ndarray  # int64, session number within the day
    turn_index: np.ndarray  # int32, from 0
    n_turns: np.ndarray  # int32, turns of the session inside the history
    user: np.ndarray  # int64, user number
    session_id: pa.Array
    user_id: pa.Array
    trace_id: pa.Array

    @property
    def n(self) -> int:
        return len(self.start_us)

    @property
    def is_last(self) -> np.ndarray:
        return self.turn_index == self.n_turns - 1


def hour_weights(plan: Plan, profile: Profile) -> np.ndarray:
    """Relative traffic of every hour of the history."""
    t = plan.start_us + np.arange(plan.days * 24, dtype=np.int64) * HOUR_US
    hod = (t % DAY_US) / HOUR_US + 0.5
    w = np.full(len(t), profile.floor)
    for center, width, height in profile.peaks:
        d = (hod - center + 12.0) % 24.0 - 12.0
        w += height * np.exp(-((d / width) ** 2))
    dow = (t // DAY_US + 3) % 7
    w *= np.where(dow >= 5, profile.weekend, 1.0)
    w *= 1.0 + 0.12 * (t - plan.start_us) / max(plan.end_us - plan.start_us, 1)
    return w


def day_turns(seed: int, plan: Plan, profile: Profile, day: int, weights: np.ndarray,
              sessions_total: float, user_pool: int) -> Turns:
    """The turns of sessions of ``profile.app`` starting on ``day`` of the history."""
    rng = np.random.default_rng([seed, day, profile.code, 11])
    lam = sessions_total * weights[day * 24:(day + 1) * 24] / weights.sum()
    lam = lam * rng.lognormal(-0.0018, 0.06)  # day-to-day variation, mean 1
    per_hour = rng.poisson(lam)
    n_sessions = int(per_hour.sum())
    hour_start = plan.start_us + (day * 24 + np.repeat(np.arange(24), per_hour)) * HOUR_US
    s_start = hour_start + rng.integers(0, HOUR_US, n_sessions)
    s_start.sort()
    s_len = rng.choice(np.arange(1, profile.max_turns + 1), size=n_sessions,
                       p=profile.turn_probs())
    # Heavy users: a power transform of a uniform draw concentrates sessions on few users.
    s_user = np.floor(user_pool * rng.random(n_sessions) ** 2.2).astype(np.int64)
    s_ids = cat("sess_", hex_ids(rng, n_sessions))

    session = np.repeat(np.arange(n_sessions), s_len)
    first = (np.cumsum(s_len) - s_len).astype(np.int64)  # each session's first turn (none: empty)
    turn_index = (np.arange(len(session)) - np.repeat(first, s_len)).astype(np.int32)
    gaps = profile.gap_min_s + rng.lognormal(np.log(profile.gap_median_s), profile.gap_sigma,
                                             len(session))
    gaps = np.where(turn_index == 0, 0.0, gaps * 1e6).astype(np.int64)
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], s_len)
    start = s_start[session] + offset

    keep = start < plan.end_us
    session, turn_index, start = session[keep], turn_index[keep], start[keep]
    n_turns = np.bincount(session, minlength=n_sessions).astype(np.int32)[session]
    user = s_user[session]
    sess_idx = pa.array(session)
    return Turns(
        start_us=start, session=session, turn_index=turn_index, n_turns=n_turns, user=user,
        session_id=s_ids.take(sess_idx),
        user_id=cat(profile.user_prefix, padded(user, 5)),
        trace_id=hex_ids(rng, len(start), words=2),
    )


def user_pool_size(profile: Profile, sessions_total: float) -> int:
    return max(20, int(sessions_total * profile.users_per_session))
