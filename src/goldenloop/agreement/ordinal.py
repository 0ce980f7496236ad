"""Agreement on ordered categories: weighted kappa, Krippendorff's ordinal alpha, and the
rank correlations Spearman and Kendall tau-b computed from contingency tables.

Rank correlations with ties are functions of the contingency table alone (ranks are the
mid-ranks of each row or column category), so, like the other table statistics, they are
computed for thousands of resampled tables at once. Tables are (..., Kx, Ky): rows the
human's category (or distinct value), columns the judge's, in rank order.
"""

from __future__ import annotations

import numpy as np

from goldenloop.agreement.nominal import cohen_kappa, midranks, pair_alpha, ratio, totals


def weighted_kappa(t: np.ndarray, weights: str) -> np.ndarray:
    """Cohen's weighted kappa with 'linear' or 'quadratic' disagreement weights."""
    return cohen_kappa(t, weights)


def ordinal_alpha(t: np.ndarray) -> np.ndarray:
    return pair_alpha(t, "ordinal")


def _no_spread(var: np.ndarray, n: np.ndarray) -> np.ndarray:
    # Mid-ranks are up to n, so a real spread is at least of order n^2; sums that are not
    # exactly 0 after rounding are still no spread when they are this far below it.
    return var <= 1e-9 * np.maximum(n, 1) ** 3


def spearman(t: np.ndarray) -> np.ndarray:
    """Spearman's rho: Pearson's r of the mid-ranks, weighted by the table's counts."""
    n = totals(t)
    rows, cols = t.sum(axis=-1), t.sum(axis=-2)
    rx, ry = midranks(rows), midranks(cols)
    mean_x = ratio((rows * rx).sum(axis=-1), n)[..., None]
    mean_y = ratio((cols * ry).sum(axis=-1), n)[..., None]
    dx, dy = rx - mean_x, ry - mean_y
    cov = (t * dx[..., :, None] * dy[..., None, :]).sum(axis=(-2, -1))
    vx, vy = (rows * dx**2).sum(axis=-1), (cols * dy**2).sum(axis=-1)
    bad = _no_spread(vx, n) | _no_spread(vy, n)
    out = ratio(cov, np.sqrt(np.where(bad, 0.0, vx * vy)))
    return np.where(bad, np.nan, out)


def _suffix(t: np.ndarray, axis: int) -> np.ndarray:
    return np.flip(np.cumsum(np.flip(t, axis), axis), axis)


def _shift(a: np.ndarray, di: int, dj: int) -> np.ndarray:
    """a[i + di, j + dj], zero outside the table."""
    out = np.zeros_like(a)
    kx, ky = a.shape[-2], a.shape[-1]
    src_i = slice(max(di, 0), kx + min(di, 0))
    dst_i = slice(max(-di, 0), kx - max(di, 0))
    src_j = slice(max(dj, 0), ky + min(dj, 0))
    dst_j = slice(max(-dj, 0), ky - max(dj, 0))
    out[..., dst_i, dst_j] = a[..., src_i, src_j]
    return out


def kendall_tau_b(t: np.ndarray) -> np.ndarray:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_x)(n0 - ties_y))."""
    below_right = _suffix(_suffix(t, -2), -1)              # sum over i' >= i, j' >= j
    below_left = np.cumsum(_suffix(t, -2), axis=-1)        # sum over i' >= i, j' <= j
    concordant = (t * _shift(below_right, 1, 1)).sum(axis=(-2, -1))
    discordant = (t * _shift(below_left, 1, -1)).sum(axis=(-2, -1))
    n = totals(t)
    pairs = n * (n - 1) / 2
    rows, cols = t.sum(axis=-1), t.sum(axis=-2)
    untied_x = pairs - (rows * (rows - 1) / 2).sum(axis=-1)
    untied_y = pairs - (cols * (cols - 1) / 2).sum(axis=-1)
    return ratio(concordant - discordant, np.sqrt(np.clip(untied_x * untied_y, 0, None)))
