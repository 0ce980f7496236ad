"""Agreement on categories from confusion tables: percent agreement, Cohen's kappa (plain or
weighted), Gwet's AC1, Krippendorff's alpha from a coincidence matrix, and precision, recall
and F1 of the judge on one class.

Every function takes tables of shape (..., K, K) — rows the human's category, columns the
judge's, entries (possibly bootstrap-weighted) counts — and returns one value per leading
index, so a thousand resampled tables are scored in one call. scikit-learn's
``cohen_kappa_score`` and the ``krippendorff`` package score one sample per call; the tests
check these formulas against them.
"""

from __future__ import annotations

import numpy as np


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (the statistic is undefined there)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def totals(t: np.ndarray) -> np.ndarray:
    return t.sum(axis=(-2, -1))


def percent_agreement(t: np.ndarray) -> np.ndarray:
    return ratio(np.trace(t, axis1=-2, axis2=-1), totals(t))


def disagreement_weights(k: int, kind: str | None) -> np.ndarray:
    """Cohen's disagreement weights: 0 on the diagonal; 1, |i-j| or (i-j)^2 off it."""
    i = np.arange(k)
    d = np.abs(i[:, None] - i[None, :]).astype(float)
    if kind is None:
        return (d > 0).astype(float)
    if kind == "linear":
        return d
    if kind == "quadratic":
        return d**2
    raise ValueError(f"unknown kappa weights {kind!r}")


def cohen_kappa(t: np.ndarray, weights: str | None = None) -> np.ndarray:
    """1 - observed / chance-expected weighted disagreement.

    Undefined (NaN) when chance disagreement is 0: both sides used one and the same category.
    """
    n = totals(t)[..., None, None]
    p = ratio(t, n)
    expected = p.sum(axis=-1)[..., :, None] * p.sum(axis=-2)[..., None, :]
    w = disagreement_weights(t.shape[-1], weights)
    return 1 - ratio((w * p).sum(axis=(-2, -1)), (w * expected).sum(axis=(-2, -1)))


def gwet_ac1(t: np.ndarray) -> np.ndarray:
    """Gwet's AC1 for two raters (Gwet 2008): chance agreement from the mean prevalence of
    each category, ``pe = sum(pi_k (1 - pi_k)) / (q - 1)`` over the q categories of the scale
    (used or not). Unlike kappa it stays defined, and high, when nearly every grade falls in
    one category."""
    q = t.shape[-1]
    if q < 2:
        return np.full(t.shape[:-2], np.nan)
    n = totals(t)
    pi = ratio(t.sum(axis=-1) + t.sum(axis=-2), 2 * n[..., None])
    pe = (pi * (1 - pi)).sum(axis=-1) / (q - 1)
    pa = percent_agreement(t)
    return ratio(pa - pe, 1 - pe)


def midranks(counts: np.ndarray) -> np.ndarray:
    """Mid-rank of each ordered category given its counts (1-based, ties averaged)."""
    return np.cumsum(counts, axis=-1) - counts / 2 + 0.5


def alpha_from_coincidence(o: np.ndarray, metric: str,
                           values: np.ndarray | None = None) -> np.ndarray:
    """Krippendorff's alpha from coincidence matrices o (..., K, K).

    ``alpha = 1 - (n - 1) * sum(o_ck d2_ck) / sum(n_c n_k d2_ck)`` with n_c the coincidence
    marginals. d2 is 1 off the diagonal (nominal); the squared difference of mid-ranks of the
    categories' pooled frequencies (ordinal, Krippendorff's ordinal metric); or the squared
    difference of ``values`` (interval). Undefined when every value is the same.
    """
    nc = o.sum(axis=-1)
    n = nc.sum(axis=-1)
    k = o.shape[-1]
    if metric == "nominal":
        d2 = np.broadcast_to(1.0 - np.eye(k), o.shape)
    elif metric == "ordinal":
        m = midranks(nc)
        d2 = (m[..., :, None] - m[..., None, :]) ** 2
    elif metric == "interval":
        v = np.arange(k, dtype=float) if values is None else np.asarray(values, float)
        d2 = np.broadcast_to((v[:, None] - v[None, :]) ** 2, o.shape)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    observed = (o * d2).sum(axis=(-2, -1))
    expected = (nc[..., :, None] * nc[..., None, :] * d2).sum(axis=(-2, -1))
    return 1 - ratio((n - 1) * observed, expected)


def pair_alpha(t: np.ndarray, metric: str) -> np.ndarray:
    """Alpha with each (human, judge) pair as a unit of two values: o = t + t^T."""
    return alpha_from_coincidence(t + np.swapaxes(t, -1, -2), metric)


def class_scores(t: np.ndarray, positive: int) -> dict[str, np.ndarray]:
    """Precision, recall and F1 of the judge (columns) on class ``positive``, the human's
    grade (rows) taken as the truth."""
    tp = t[..., positive, positive]
    judged = t[..., :, positive].sum(axis=-1)
    actual = t[..., positive, :].sum(axis=-1)
    return {
        "precision": ratio(tp, judged),
        "recall": ratio(tp, actual),
        "f1": ratio(2 * tp, judged + actual),
    }
