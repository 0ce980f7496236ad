"""Agreement on numbers: Pearson's r, mean absolute error, bias (mean judge minus mean
human), Krippendorff's interval alpha, and the rank correlations Spearman and Kendall tau-b.

The first four are functions of a handful of sums (the ``MOMENTS`` columns), so they are
bootstrapped as sums. Rank correlations are computed from the contingency table of distinct
values when there are few of them (grades on a scale, means of a few raters). For finely
grained numbers Spearman comes from weighted mid-ranks, still for all resamples at once, and
Kendall's tau-b from scipy, one call per resample (it needs the pairs' order, which no sum
gives).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import ordinal
from goldenloop.agreement.nominal import midranks, ratio

MOMENTS = ("n", "h", "j", "hh", "jj", "hj", "abs_diff", "sq_diff")
MAX_TABLE_CELLS = 400  # distinct human values x distinct judge values for the table path


def moment_rows(h: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per-pair terms of the moment sums, after one common shift (it leaves every statistic
    unchanged and keeps the sums of squares from cancelling catastrophically)."""
    shift = np.concatenate([h, j]).mean() if len(h) else 0.0
    h, j = h - shift, j - shift
    d = j - h
    return np.column_stack([np.ones_like(h), h, j, h * h, j * j, h * j, np.abs(d), d * d])


def _centered(s: np.ndarray) -> dict[str, np.ndarray]:
    n, h, j, hh, jj, hj = (s[..., i] for i in range(6))
    return {"n": n, "vh": hh - ratio(h * h, n), "vj": jj - ratio(j * j, n),
            "cov": hj - ratio(h * j, n)}


def pearson(s: np.ndarray) -> np.ndarray:
    c = _centered(s)
    n = c["n"]
    scale = np.maximum(s[..., 3], s[..., 4]) + 1e-300
    # A spread this small next to the raw sums of squares is rounding, not data.
    flat = (c["vh"] <= 1e-12 * scale) | (c["vj"] <= 1e-12 * scale) | (n < 2)
    r = ratio(c["cov"], np.sqrt(np.where(flat, 0.0, c["vh"] * c["vj"])))
    return np.where(flat, np.nan, np.clip(r, -1.0, 1.0))


def interval_alpha(s: np.ndarray) -> np.ndarray:
    """Krippendorff's interval alpha with each pair a unit of two values:
    ``1 - (N - 1) * sum (h - j)^2 / (N * sum v^2 - (sum v)^2)`` over the N = 2n values."""
    n, h, j, hh, jj = (s[..., i] for i in range(5))
    big_n = 2 * n
    spread = big_n * (hh + jj) - (h + j) ** 2
    flat = spread <= 1e-12 * big_n * (hh + jj) + 1e-300
    out = 1 - ratio((big_n - 1) * s[..., 7], np.where(flat, 0.0, spread))
    return np.where(flat, np.nan, out)


def moment_stats(s: np.ndarray) -> dict[str, np.ndarray]:
    n = s[..., 0]
    return {
        "pearson": pearson(s),
        "mae": ratio(s[..., 6], n),
        "bias": ratio(s[..., 2] - s[..., 1], n),
        "krippendorff_alpha": interval_alpha(s),
    }


def rank_stats_table(t: np.ndarray) -> dict[str, np.ndarray]:
    return {"spearman": ordinal.spearman(t), "kendall_tau_b": ordinal.kendall_tau_b(t)}


def rank_stats(h: np.ndarray, j: np.ndarray, clusters: np.ndarray, n_clusters: int, *,
               n_resamples: int, seed: int, max_cells: int = MAX_TABLE_CELLS
               ) -> dict[str, tuple[float, np.ndarray]]:
    """Spearman and Kendall tau-b with their resampled values, on the same resamples as the
    other figures (same seed, same clusters)."""
    hv, hc = np.unique(h, return_inverse=True)
    jv, jc = np.unique(j, return_inverse=True)
    if len(hv) * len(jv) <= max_cells:
        sums = bs.cluster_counts(clusters, n_clusters, hc * len(jv) + jc, len(hv) * len(jv))
        shape = (len(hv), len(jv))
        return bs.bootstrap(sums, lambda x: rank_stats_table(x.reshape(-1, *shape)),
                            n_resamples=n_resamples, seed=seed)
    return _rank_stats_fine(h, j, (hc, len(hv)), (jc, len(jv)), clusters, n_clusters,
                            n_resamples, seed)


def weighted_spearman(h: tuple[np.ndarray, int], j: tuple[np.ndarray, int],
                      w: np.ndarray) -> np.ndarray:
    """Spearman's rho of each resample, rows (b x n) of ``w`` counting how often each pair was
    drawn; ``h`` and ``j`` are (codes of distinct values in order, how many distinct values).
    Mid-ranks come from the cumulative weight of the distinct values, so no resample is
    ever sorted or expanded."""
    n = w.sum(axis=1, keepdims=True)
    ranks = []
    for codes, k in (h, j):
        onehot = sparse.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)),
                                   shape=(len(codes), k))
        per_value = np.asarray((onehot.T @ w.T).T)
        ranks.append(midranks(per_value)[:, codes] - (n + 1) / 2)  # centred: mean is (n+1)/2
    dx, dy = ranks
    vx, vy = (w * dx**2).sum(axis=1), (w * dy**2).sum(axis=1)
    flat = (vx <= 1e-9 * n[:, 0] ** 3) | (vy <= 1e-9 * n[:, 0] ** 3)
    r = ratio((w * dx * dy).sum(axis=1), np.sqrt(np.where(flat, 0.0, vx * vy)))
    return np.where(flat, np.nan, r)


def _kendall(h: np.ndarray, j: np.ndarray) -> float:
    if len(h) < 2 or np.ptp(h) == 0 or np.ptp(j) == 0:
        return float("nan")
    return float(stats.kendalltau(h, j, variant="b").statistic)


def _rank_stats_fine(h, j, h_codes, j_codes, clusters, n_clusters, n_resamples, seed
                     ) -> dict[str, tuple[float, np.ndarray]]:
    """Too many distinct values for a table: Spearman from weighted mid-ranks (vectorized),
    Kendall's tau-b from scipy, one O(n log n) call per resample."""
    rho = [weighted_spearman(h_codes, j_codes, np.ones((1, len(h))))]
    tau = []
    for w in bs.resample_counts(n_clusters, n_resamples, seed, width=len(h)):
        rows = w[:, clusters]
        rho.append(weighted_spearman(h_codes, j_codes, rows))
        for counts in rows.astype(np.int64):
            take = np.repeat(np.arange(len(h)), counts)
            tau.append(_kendall(h[take], j[take]))
    rho_all = np.concatenate(rho)
    return {"spearman": (float(rho_all[0]), rho_all[1:]),
            "kendall_tau_b": (_kendall(h, j), np.array(tau, dtype=float))}
