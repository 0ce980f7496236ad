"""Krippendorff's alpha over any number of raters with missing grades (Krippendorff 2011).

A unit (an item) contributes to the coincidence matrix only when at least two raters graded
it; each of its ordered pairs of values adds ``1 / (m_u - 1)``. Those contributions are sums
over units, so they are summed per cluster and bootstrapped like every other figure.
Categorical scales keep the full coincidence matrix (nominal and ordinal metrics); interval
scales need only four sums per unit.
"""

from __future__ import annotations

import numpy as np

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement.nominal import alpha_from_coincidence, ratio

INTERVAL_SUMS = ("n", "sum_v", "sum_v2", "within")


def unit_coincidences(units: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(unit index of each pairable unit, its flattened K x K coincidence contribution)."""
    uid, inv = np.unique(units, return_inverse=True)
    counts = np.zeros((len(uid), k))
    np.add.at(counts, (inv, codes.astype(np.int64)), 1.0)
    m = counts.sum(axis=1)
    keep = m >= 2
    c, m = counts[keep], m[keep]
    contrib = (c[:, :, None] * c[:, None, :]
               - c[:, :, None] * np.eye(k)[None]) / (m - 1)[:, None, None]
    return np.flatnonzero(keep), contrib.reshape(len(c), k * k)


def unit_interval_sums(units: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pairable unit index, per-unit [m, sum v, sum v^2, sum_{i!=j} (v_i - v_j)^2 / (m-1)])."""
    uid, inv = np.unique(units, return_inverse=True)
    shift = values.mean() if len(values) else 0.0
    v = values - shift  # a common shift changes nothing and keeps the sums well conditioned
    m = np.bincount(inv, minlength=len(uid)).astype(float)
    s1 = np.bincount(inv, weights=v, minlength=len(uid))
    s2 = np.bincount(inv, weights=v * v, minlength=len(uid))
    keep = m >= 2
    m, s1, s2 = m[keep], s1[keep], s2[keep]
    # sum over ordered pairs i != j of (v_i - v_j)^2 = 2 (m * sum v^2 - (sum v)^2)
    within = 2 * (m * s2 - s1**2) / (m - 1)
    return np.flatnonzero(keep), np.column_stack([m, s1, s2, within])


def interval_alpha_sums(s: np.ndarray) -> np.ndarray:
    n, s1, s2, within = (s[..., i] for i in range(4))
    spread = 2 * (n * s2 - s1**2)
    flat = spread <= 1e-12 * n * s2 + 1e-300
    out = 1 - ratio((n - 1) * within, np.where(flat, 0.0, spread))
    return np.where(flat, np.nan, out)


def alpha_sums(units: np.ndarray, values: np.ndarray, clusters: np.ndarray, n_clusters: int,
               metric: str, k: int | None = None) -> np.ndarray:
    """Per-cluster sums from which alpha is computed: (clusters x d).

    ``units``, ``values`` and ``clusters`` are one row per grade; a unit's grades must all
    share one cluster. ``values`` are category codes (nominal, ordinal) or numbers.
    """
    ok = np.isfinite(values)
    units, values, clusters = units[ok], values[ok], clusters[ok]
    _, first = np.unique(units, return_index=True)  # same order as the units below
    if metric == "interval":
        keep, rows = unit_interval_sums(units, values)
    else:
        keep, rows = unit_coincidences(units, values, int(k or 0))
    return bs.cluster_sums(clusters[first][keep], n_clusters, rows)


def alpha_finish(metric: str, k: int | None = None):
    """The function turning summed rows (b x d) into {'krippendorff_alpha': (b,)}."""
    if metric == "interval":
        return lambda s: {"krippendorff_alpha": interval_alpha_sums(s)}
    return lambda s: {"krippendorff_alpha": alpha_from_coincidence(s.reshape(len(s), k, k), metric)}


def krippendorff_alpha(units, values, metric: str, k: int | None = None) -> float:
    """Alpha of one data set, no interval: rows are (unit, value) grades."""
    units, values = np.asarray(units), np.asarray(values, dtype=float)
    if metric != "interval" and k is None:
        k = int(np.nanmax(values)) + 1 if np.isfinite(values).any() else 1
    clusters = np.zeros(len(units), dtype=np.int64)
    sums = alpha_sums(units, values, clusters, 1, metric, k)
    return float(alpha_finish(metric, k)(sums.sum(axis=0, keepdims=True))["krippendorff_alpha"][0])
