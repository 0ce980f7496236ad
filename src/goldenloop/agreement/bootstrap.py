"""Cluster bootstrap for every agreement figure, vectorized with numpy.

Statistics here are functions of sums over independent units (sessions, or items when there
are no sessions): a confusion table, a few moments. So each cluster's contribution is summed
once into a matrix ``S`` (clusters x d), one bootstrap resample is a vector of cluster counts
``w`` (how often each cluster was drawn), and the resampled sums of all resamples at once are
``W @ S``. No Python loop runs per resample or per row; the point estimate is the same
function applied to ``S.sum(0)``, so the estimate and its interval share one code path.

Intervals are percentile intervals. They come with the number of clusters and a
``degenerate`` flag: one cluster, no spread at all, or a statistic undefined in most
resamples (e.g. kappa when a resample holds one category only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
DEFAULT_SEED = 0
MIN_DEFINED_SHARE = 0.5  # below this share of defined resamples the interval is not shown
_CHUNK_CELLS = 2_000_000  # resample counts x max(clusters, stats) per chunk: bounds memory

Finish = Callable[[np.ndarray], dict[str, np.ndarray]]


def factorize(labels: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for the cluster labels, and G."""
    codes, uniques = pd.factorize(pd.Series(labels), use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def cluster_sums(codes: np.ndarray, n_clusters: int, rows: np.ndarray) -> np.ndarray:
    """Sum ``rows`` (n x d) within each cluster: the (G x d) matrix the bootstrap reweights."""
    rows = np.asarray(rows, dtype=float)
    rows = rows[:, None] if rows.ndim == 1 else rows
    out = np.zeros((n_clusters, rows.shape[1]))
    np.add.at(out, codes, rows)
    return out


def cluster_counts(codes: np.ndarray, n_clusters: int, cells: np.ndarray, n_cells: int
                   ) -> np.ndarray:
    """Per-cluster counts of each cell (a flattened confusion table): (G x n_cells)."""
    out = np.zeros((n_clusters, n_cells))
    np.add.at(out, (codes, cells), 1.0)
    return out


def resample_counts(n_clusters: int, n_resamples: int, seed: int, width: int = 1
                    ) -> Iterator[np.ndarray]:
    """Chunks of bootstrap weights: row b counts how often each cluster was drawn.

    The same seed gives the same resamples whatever ``width`` is, so every figure of one
    report is computed on the same resamples.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // max(n_clusters, width, 1)))
    done = 0
    while done < n_resamples:
        b = min(chunk, n_resamples - done)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters))
        flat = (draws + np.arange(b)[:, None] * n_clusters).ravel()
        yield np.bincount(flat, minlength=b * n_clusters).reshape(b, n_clusters).astype(float)
        done += b


def bootstrap(sums: np.ndarray, finish: Finish, *, n_resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED) -> dict[str, tuple[float, np.ndarray]]:
    """Estimate and resampled values of each statistic ``finish`` computes from summed rows.

    ``sums`` is (clusters x d); ``finish`` maps (b x d) summed rows to {name: (b,) values}.
    """
    estimate = {k: float(v[0]) for k, v in finish(sums.sum(axis=0, keepdims=True)).items()}
    if sums.shape[0] == 0 or n_resamples <= 0:
        return {k: (v, np.array([])) for k, v in estimate.items()}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in estimate}
    for w in resample_counts(sums.shape[0], n_resamples, seed, width=sums.shape[1]):
        for k, v in finish(w @ sums).items():
            parts[k].append(v)
    return {k: (estimate[k], np.concatenate(parts[k])) for k in estimate}


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    degenerate: bool
    note: str = ""


def percentile_interval(estimate: float, resampled: np.ndarray, n_clusters: int,
                        level: float = DEFAULT_LEVEL) -> Interval:
    """The percentile interval of the resampled values, and why it may not mean much."""
    nan = float("nan")
    if not np.isfinite(estimate):
        return Interval(nan, nan, True, "")
    if n_clusters < 2 or resampled.size == 0:
        return Interval(nan, nan, True, "one independent unit: no interval")
    ok = resampled[np.isfinite(resampled)]
    share = ok.size / resampled.size
    if share < MIN_DEFINED_SHARE:
        return Interval(nan, nan, True,
                        f"defined in only {share:.0%} of resamples: no interval")
    tail = (1 - level) / 2 * 100
    low, high = (float(x) for x in np.percentile(ok, [tail, 100 - tail]))
    notes = []
    if share < 1:
        notes.append(f"interval from the {share:.0%} of resamples where it is defined")
    degenerate = bool(high - low <= 1e-12 * max(1.0, abs(estimate)))
    if degenerate:
        notes.append("every resample gives the same value")
    return Interval(low, high, degenerate, "; ".join(notes))
