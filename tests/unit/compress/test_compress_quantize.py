"""Codebooks are optimal for their objective and cover the tails; k-means finds clusters."""

import itertools

import numpy as np

from services.compress.container.quantize import _dp_quantise, assign_codebook, fit_codebook, kmeans


def _brute_force(x: np.ndarray, w: np.ndarray, k: int) -> float:
    best = np.inf
    for cuts in itertools.combinations(range(1, len(x)), k - 1):
        bounds = (0, *cuts, len(x))
        cost = 0.0
        for a, b in itertools.pairwise(bounds):
            mean = np.average(x[a:b], weights=w[a:b])
            cost += float((w[a:b] * (x[a:b] - mean) ** 2).sum())
        best = min(best, cost)
    return best


def test_dp_partition_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    x = np.sort(rng.normal(size=9))
    w = rng.uniform(0.5, 2.0, 9)
    book = _dp_quantise(x, w, 3)
    labels = np.argmin(np.abs(x[:, None] - book[None, :]), axis=1)
    cost = float((w * (x - book[labels]) ** 2).sum())
    assert cost <= _brute_force(x, w, 3) + 1e-12


def test_codebook_is_sorted_and_small_error_on_smooth_data() -> None:
    values = np.random.default_rng(0).normal(size=(20_000, 3)).astype(np.float32)
    book = fit_codebook(values)
    assert book.shape == (256,) and np.all(np.diff(book) >= 0)
    err = book[assign_codebook(values, book)] - values
    assert np.sqrt(np.mean(err**2)) < 0.01


def test_tail_weighting_bounds_the_worst_error() -> None:
    # GIVEN a heavy-tailed distribution (most values near 0, a few far out)
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.normal(0, 0.1, 50_000), rng.uniform(-8, 8, 50)]).astype(np.float32)
    # WHEN codebooks weigh bins by count (plain MSE) or equally
    worst = {}
    for alpha, beta in ((1.0, None), (0.0, 0.0)):
        book = fit_codebook(values, alpha=alpha, beta=beta)
        worst[alpha] = float(np.abs(book[assign_codebook(values, book)] - values).max())
    # THEN equal weighting of uniformly placed bins spends codes on the tails: far smaller worst error
    assert worst[0.0] < 0.5 * worst[1.0]


def test_fewer_levels_than_distinct_values_and_constant_input() -> None:
    book = fit_codebook(np.array([1.0, 2.0, 3.0], np.float32))
    assert set(book.tolist()) == {1.0, 2.0, 3.0}
    assert np.all(fit_codebook(np.full(10, 0.5, np.float32)) == 0.5)
    assert fit_codebook(np.linspace(0, 1, 1000), k=16).shape == (16,)


def test_kmeans_recovers_separated_clusters() -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 10, (8, 5))
    labels_true = rng.integers(0, 8, 4000)
    x = (centres[labels_true] + rng.normal(0, 0.1, (4000, 5))).astype(np.float32)
    centroids, labels = kmeans(x, 8, iterations=10, seed=0)
    assert centroids.shape == (8, 5) and labels.shape == (4000,)
    assert np.sqrt(np.mean((centroids[labels] - x) ** 2)) < 0.5
