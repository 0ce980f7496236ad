"""The session bootstrap behind version comparison, in numpy.

One side of a comparison is a sample of sessions: per session, sums (requests, failures,
tokens, ...), and per request its latency and session number. A bootstrap replicate draws
as many sessions as there are, with replacement, and gives each session a weight (how often
it was drawn):

- a ratio metric (failure rate, tokens per response, mean sentiment) is the ratio of the
  weighted sums of its numerator and denominator: a matrix product, sessions × sums;
- a quantile (latency p50, p95) is the exact quantile of the resampled requests: every
  request carries its session's weight, and the ``quantile_cont`` position (linear
  interpolation between the two order statistics around ``(N - 1) q``, as DuckDB and numpy's
  default) is found on the cumulative weights of the requests sorted once by value, summed
  only over the ranks near the quantile (``resampled_quantiles``).

Resampling spans instead of sessions would treat the turns of one conversation as
independent and give intervals that are too narrow (``tests/test_compare_bootstrap.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

CELLS_PER_CHUNK = 4_000_000  # replicates × requests held at once (32 MB of float64)
# Ranks around a quantile summed per replicate: a replicate's quantile strays from the
# sample's by about sqrt(q (1 - q) / sessions) of rank (a standard error); the window spans
# eight of those each side (at least 0.02), and replicates outside it are summed in full.
WINDOW_SE = 8.0
MIN_WINDOW = 0.02


@dataclass(frozen=True)
class Sample:
    """One side: per-session sums (equal-length arrays) and sorted per-request values with
    their session numbers, by name (e.g. ``latency_ms``)."""

    sums: Mapping[str, np.ndarray]
    values: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def sessions(self) -> int:
        return len(next(iter(self.sums.values()))) if self.sums else 0

    def total(self, name: str) -> float:
        return float(self.sums[name].sum())

    def quantile(self, name: str, q: float) -> float:
        v = self.values[name][0]
        return float(np.quantile(v, q)) if len(v) else float("nan")


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates of one side: each sum, and each asked quantile, per replicate."""

    sums: dict[str, np.ndarray]  # name -> (n_boot,)
    quantiles: dict[tuple[str, float], np.ndarray]  # (value name, q) -> (n_boot,)


def session_weights(n_sessions: int, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rows`` bootstrap draws of ``n_sessions`` sessions: how often each was drawn."""
    draws = rng.integers(0, n_sessions, size=(n_rows, n_sessions))
    offsets = (np.arange(n_rows) * n_sessions)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_rows * n_sessions)
    return counts.reshape(n_rows, n_sessions).astype(float)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]
                       ) -> np.ndarray:
    """``quantile_cont`` of ``values`` (sorted ascending) repeated ``weights`` times (integer
    weights, one row of weights per replicate): an array replicates × len(qs)."""
    out = np.full((weights.shape[0], len(qs)), np.nan)
    if values.size == 0:
        return out
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    for k, q in enumerate(qs):
        h = (total - 1) * q
        lo, hi = _positions(cum, np.floor(h), np.ceil(h), values.size)
        out[:, k] = np.where(total > 0, values[lo] + (h - np.floor(h)) * (values[hi] - values[lo]),
                             np.nan)
    return out


def resampled_quantiles(values: np.ndarray, sessions: np.ndarray, weights: np.ndarray,
                        qs: tuple[float, ...], window: float | None = None) -> np.ndarray:
    """``weighted_quantiles`` where each request carries the weight of its session
    (``sessions``: each value's session number; ``weights``: replicates × sessions).

    The same exact result for less work: a replicate's q-quantile lies near the sample's, so
    the cumulative weights are summed only over the values ranked within ``q ± window``
    (by default a few standard errors of rank, from the number of sessions),
    starting from the weight of all values below that window (a matrix product over
    sessions). Replicates whose quantile falls outside the window (tiny samples) are
    computed over all values."""
    out = np.full((weights.shape[0], len(qs)), np.nan)
    m = values.size
    if m == 0:
        return out
    n = weights.shape[1]
    total = weights @ np.bincount(sessions, minlength=n).astype(float)
    for k, q in enumerate(qs):
        h = (total - 1) * q
        lo_pos, hi_pos = np.floor(h), np.ceil(h)
        half = window if window is not None else \
            max(MIN_WINDOW, WINDOW_SE * math.sqrt(q * (1 - q) / n))
        start = min(int(max(0.0, q - half) * m), m - 1)
        stop = max(min(m, math.ceil(min(1.0, q + half) * m)), start + 1)
        prefix = weights @ np.bincount(sessions[:start], minlength=n).astype(float)
        cum = prefix[:, None] + np.cumsum(weights[:, sessions[start:stop]], axis=1)
        lo, hi = _positions(cum, lo_pos, hi_pos, stop - start)
        lo, hi = lo + start, hi + start
        outside = (prefix > lo_pos) | (cum[:, -1] <= hi_pos)
        if outside.any():
            full = np.cumsum(weights[outside][:, sessions], axis=1)
            lo[outside], hi[outside] = _positions(full, lo_pos[outside], hi_pos[outside], m)
        lo, hi = np.minimum(lo, m - 1), np.minimum(hi, m - 1)
        out[:, k] = np.where(total > 0, values[lo] + (h - lo_pos) * (values[hi] - values[lo]),
                             np.nan)
    return out


def _positions(cum: np.ndarray, lo_pos: np.ndarray, hi_pos: np.ndarray, size: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices of the values at expanded positions ``lo_pos`` and ``hi_pos``:
    the value at position j is the first whose cumulative weight exceeds j."""
    lo = np.minimum((cum <= lo_pos[:, None]).sum(axis=1), size - 1)
    hi = np.minimum((cum <= hi_pos[:, None]).sum(axis=1), size - 1)
    return lo, hi


def bootstrap(sample: Sample, quantiles: Mapping[str, tuple[float, ...]], n_boot: int,
              rng: np.random.Generator) -> Replicates:
    """``n_boot`` session-bootstrap replicates of every sum of ``sample`` and of the asked
    quantiles of its per-request values (``{"latency_ms": (0.5, 0.95)}``). Each replicate
    uses one draw of sessions for all of them."""
    names = list(sample.sums)
    n = sample.sessions
    if n == 0:
        nan = np.full(n_boot, np.nan)
        return Replicates({k: nan for k in names},
                          {(v, q): nan for v, qs in quantiles.items() for q in qs})
    matrix = np.column_stack([sample.sums[k] for k in names])  # sessions × sums
    sums = np.empty((n_boot, len(names)))
    quant = {(v, q): np.empty(n_boot) for v, qs in quantiles.items() for q in qs}
    for lo, hi in _chunks(n_boot, max(n, *(len(sample.values[v][0]) for v in quantiles))):
        w = session_weights(n, hi - lo, rng)
        sums[lo:hi] = w @ matrix
        for v, qs in quantiles.items():
            values, idx = sample.values[v]
            got = resampled_quantiles(values, idx, w, qs)
            for k, q in enumerate(qs):
                quant[(v, q)][lo:hi] = got[:, k]
    return Replicates({k: sums[:, i] for i, k in enumerate(names)}, quant)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval; missing when fewer than half the replicates have a
    value (a side too small to say anything)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size < max(2, replicates.size // 2):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def ratio(num, den) -> np.ndarray:
    """num / den, missing where den is 0 (arrays or numbers; a number gives a 0-d array)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _chunks(n_boot: int, width: int) -> Iterator[tuple[int, int]]:
    step = max(1, min(n_boot, CELLS_PER_CHUNK // max(width, 1)))
    for lo in range(0, n_boot, step):
        yield lo, min(lo + step, n_boot)
