"""Scalar codebooks (256 entries, DP-optimal on a histogram) and k-means for the SH palette."""

from __future__ import annotations

import numpy as np

HISTOGRAM_BINS = 1024


def fit_codebook(values: np.ndarray, k: int = 256, alpha: float = 0.5, beta: float | None = None) -> np.ndarray:
    """A sorted `k`-entry codebook for the finite `values`, minimising weighted squared error.

    Like splat-transform 3.7: the values are pooled into a 1024-bin histogram whose bin edges blend
    quantile and uniform spacing; each bin weighs count**alpha (alpha < 1 spends codes on the tails);
    an exact dynamic programme picks the k contiguous bin ranges of least weighted SSE.
    `beta` (0..1) fixes the quantile share of the bin positions (None: the reference's rule).
    """
    data = np.sort(values[np.isfinite(values)].astype(np.float64).ravel())
    if data.size == 0:
        return np.zeros(k, np.float32)
    lo, hi = data[0], data[-1]
    if hi - lo < 1e-20:
        return np.full(k, lo, np.float32)
    n = data.size
    bins = min(HISTOGRAM_BINS, n)
    iqr = data[int(n * 0.75)] - data[int(n * 0.25)]
    if beta is None:
        beta = max(0.5, min(0.999, 1.0 - iqr / (hi - lo)))
    pos = beta * (np.arange(n) / n) + (1.0 - beta) * (data - lo) / (hi - lo)
    bin_of = np.minimum(bins - 1, np.floor(bins * pos).astype(np.int64))
    counts = np.bincount(bin_of, minlength=bins).astype(np.float64)
    sums = np.bincount(bin_of, weights=data, minlength=bins)
    keep = counts > 0
    centers = sums[keep] / counts[keep]  # [B] ascending
    weights = counts[keep] ** alpha  # [B]
    if len(centers) <= k:
        book = np.concatenate([centers, np.full(k - len(centers), centers[-1])])
        return np.sort(book).astype(np.float32)
    return np.sort(_dp_quantise(centers, weights, k)).astype(np.float32)


def _dp_quantise(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Optimal k-partition of sorted points `x` [B] with weights `w` [B] into contiguous ranges."""
    b = len(x)
    pw = np.concatenate([[0.0], np.cumsum(w)])
    pwx = np.concatenate([[0.0], np.cumsum(w * x)])
    pwxx = np.concatenate([[0.0], np.cumsum(w * x * x)])
    # cost[s, j]: SSE of the range s..j (inclusive), inf where s > j.
    s_idx = np.arange(b)[:, None]
    j_idx = np.arange(b)[None, :]
    sw = pw[j_idx + 1] - pw[s_idx]
    swx = pwx[j_idx + 1] - pwx[s_idx]
    swxx = pwxx[j_idx + 1] - pwxx[s_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.where(j_idx >= s_idx, np.maximum(swxx - swx * swx / np.where(sw > 0, sw, 1), 0.0), np.inf)
    best = cost[0].copy()  # [B] best cost of bins 0..j with m ranges
    splits = np.zeros((k, b), np.int32)  # start of the last range
    for m in range(1, k):
        # candidate: ranges 0..s-1 use m ranges (best[s-1]); last range s..j
        total = best[:-1, None] + cost[1:, :]  # [B-1 (s=1..B-1), B]
        arg = np.argmin(total, axis=0)
        best = total[arg, np.arange(b)]
        splits[m] = arg + 1
    book = np.empty(k)
    j = b - 1
    for m in range(k - 1, -1, -1):
        s = splits[m, j] if m > 0 else 0
        book[m] = (pwx[j + 1] - pwx[s]) / max(pw[j + 1] - pw[s], 1e-300)
        j = s - 1
    return book


def assign_codebook(values: np.ndarray, book: np.ndarray) -> np.ndarray:
    """Index of the nearest codebook entry for each value (uint8, same shape); NaN maps to 0."""
    book = book.astype(np.float64)
    mids = (book[1:] + book[:-1]) / 2.0
    v = np.nan_to_num(values.astype(np.float64), nan=book[0], posinf=book[-1], neginf=book[0])
    return np.searchsorted(mids, v, side="left").astype(np.uint8)


def _nearest(x: np.ndarray, centroids: np.ndarray, budget: int = 1 << 22) -> np.ndarray:
    """Index of the nearest centroid for each row of `x` [N, D] (squared Euclidean).

    Rows go in chunks whose distance matrix holds about `budget` floats (16 MiB).
    """
    c = centroids.astype(np.float32)
    c_norm = (c * c).sum(axis=1)  # [K]
    chunk = max(64, budget // max(1, len(c)))
    out = np.empty(len(x), np.int64)
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk].astype(np.float32)
        dist = c_norm[None, :] - 2.0 * (block @ c.T)  # [chunk, K]
        out[start : start + chunk] = np.argmin(dist, axis=1)
    return out


def _label_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-label sums of the rows of `x` [N, D] -> [k, D] float64."""
    return np.stack([np.bincount(labels, weights=x[:, d], minlength=k) for d in range(x.shape[1])], axis=1)


def _init_centroids(x: np.ndarray, k: int, rng: np.random.Generator, plus_plus_max: int = 256) -> np.ndarray:
    """k-means++ seeding for small k (k sequential passes); random rows for large palettes."""
    if k > plus_plus_max:
        return x[rng.choice(len(x), k, replace=False)].copy()
    centroids = [x[rng.integers(len(x))]]
    d2 = ((x - centroids[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        pick = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
        centroids.append(x[pick])
        d2 = np.minimum(d2, ((x - x[pick]) ** 2).sum(axis=1))
    return np.array(centroids, np.float32)


def kmeans(
    x: np.ndarray,
    k: int,
    iterations: int,
    seed: int = 0,
    sample: int | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd k-means of rows `x` [N, D]: returns centroids [k, D] and labels [N].

    `weights` [N] (default 1) make a centroid the weighted mean of its rows, so rows that matter
    more on screen pull harder. Iterations run on a random subsample of `sample` rows (default max(32k, 8k)), empty
    clusters are re-seeded from the rows farthest from their centroid, and a final pass labels
    every row, so the cost is about iterations * sample * k * D plus N * k * D.
    """
    rng = np.random.default_rng(seed)
    n = len(x)
    k = min(k, n)
    if sample is None:
        sample = max(32 * k, 8192)
    w = np.ones(n) if weights is None else weights.astype(np.float64)
    pick = np.arange(n) if n <= sample else rng.choice(n, sample, replace=False)
    fit, fit_w = x[pick].astype(np.float32), w[pick]
    centroids = _init_centroids(fit, k, rng)
    for _ in range(iterations):
        labels = _nearest(fit, centroids)
        counts = np.bincount(labels, weights=fit_w, minlength=k)
        sums = _label_sums(fit * fit_w[:, None], labels, k)
        filled = counts > 0
        centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
        empty = np.flatnonzero(~filled)
        if len(empty):
            err = ((fit - centroids[labels]) ** 2).sum(axis=1)
            centroids[empty] = fit[np.argsort(err)[::-1][: len(empty)]]
    labels = _nearest(x, centroids)
    # Final update so each centroid is the (weighted) mean of the rows it labels.
    counts = np.bincount(labels, weights=w, minlength=k)
    sums = _label_sums(x * w[:, None], labels, k)
    filled = counts > 0
    centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return centroids, labels
