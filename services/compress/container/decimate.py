"""Coarser levels of detail: each level merges neighbouring pairs of the level below into one Gaussian.

Pairs are mutual nearest neighbours (each is the other's closest splat centre), found in a few
rounds over the splats still unpaired, so a level has about half the splats of the one below.
Two Gaussians become one by moment matching (the merged Gaussian has the mean and covariance of
the pair's mixture, weighted by what each shows on screen: opacity x footprint area):

    w_k = alpha_k * area_k                     area_k = product of the two largest sigmas
    mu  = sum w_k mu_k / W                     W = sum w_k
    Sigma = sum w_k (R_k S_k^2 R_k^T + (mu_k - mu)(mu_k - mu)^T) / W
    alpha = min(W / area(Sigma), 0.999)        the summed alpha x area is kept: beyond 0.999 the
                                               footprint grows instead (two largest axes x sqrt(excess))
    colour and SH coefficients: the w-weighted means

Sigma's eigenvectors and square-rooted eigenvalues give the merged rotation and scales.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from services.compress.container.rotations import matrix_quats, rotation_matrices
from services.compress.container.splats import Splats, concat_splats, sigmoid, unit_quats

PAIRING_ROUNDS = 6
MAX_OPACITY = 0.999
MIN_VARIANCE = 1e-20
# Pairs farther apart than this many times their summed largest sigmas are not merged.
MAX_PAIR_SPREAD = 4.0


def _areas(log_scales: np.ndarray) -> np.ndarray:
    """Product of the two largest sigmas per splat [N] (the footprint seen face on, up to pi)."""
    return np.exp(np.sort(log_scales.astype(np.float64), axis=1)[:, 1:].sum(axis=1))


def mutual_nearest_pairs(splats: Splats, rounds: int = PAIRING_ROUNDS) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint index pairs (a [P], b [P]) of splats that are each other's nearest centre.

    Each round pairs mutual nearest neighbours among the splats left unpaired by the rounds before.
    Pairs too far apart for their size (MAX_PAIR_SPREAD) are left out.
    """
    means = splats.means.astype(np.float64)
    reach = MAX_PAIR_SPREAD * np.exp(splats.log_scales.astype(np.float64).max(axis=1))  # [N]
    free = np.arange(len(splats))
    firsts, seconds = [], []
    for _ in range(rounds):
        if len(free) < 2:
            break
        _, nearest = cKDTree(means[free]).query(means[free], k=2)  # [M, 2] local indices
        local = np.arange(len(free))
        other = np.where(nearest[:, 0] == local, nearest[:, 1], nearest[:, 0])  # duplicates: not self
        mutual = (other[other] == local) & (local < other)
        a, b = free[local[mutual]], free[other[mutual]]
        close = np.linalg.norm(means[a] - means[b], axis=1) <= reach[a] + reach[b]
        a, b = a[close], b[close]
        firsts.append(a)
        seconds.append(b)
        paired = np.zeros(len(splats), bool)
        paired[a] = paired[b] = True
        free = free[~paired[free]]
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def merge_pairs(splats: Splats, a: np.ndarray, b: np.ndarray) -> Splats:
    """One moment-matched Gaussian per pair (a[i], b[i]) -> [P] splats."""
    alpha = sigmoid(splats.opacities)  # [N]
    weight = alpha * _areas(splats.log_scales)  # [N]
    wa, wb = weight[a][:, None], weight[b][:, None]
    total = np.maximum(wa + wb, 1e-300)  # [P, 1]
    ta, tb = wa / total, wb / total  # [P, 1] shares
    means = splats.means.astype(np.float64)
    mu = ta * means[a] + tb * means[b]  # [P, 3]
    rot = rotation_matrices(unit_quats(splats.quats))  # [N, 3, 3]
    var = np.exp(2.0 * splats.log_scales.astype(np.float64))  # [N, 3]
    cov = (rot * var[:, None, :]) @ rot.transpose(0, 2, 1)  # [N, 3, 3]
    da, db = means[a] - mu, means[b] - mu
    sigma = ta[:, :, None] * (cov[a] + da[:, :, None] * da[:, None, :])
    sigma += tb[:, :, None] * (cov[b] + db[:, :, None] * db[:, None, :])
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)  # ascending, columns
    flip = np.linalg.det(eigenvectors) < 0
    eigenvectors[flip, :, 0] *= -1.0  # a proper rotation
    log_scales = 0.5 * np.log(np.maximum(eigenvalues, MIN_VARIANCE))  # [P, 3] ascending
    # Opacity carries the pair's alpha x area; what exceeds MAX_OPACITY widens the footprint instead
    # (the two largest axes, by the same factor), so overlapping layers keep covering the surface.
    excess = np.maximum(total[:, 0] / (_areas(log_scales) * MAX_OPACITY), 1.0)  # [P] >= 1
    log_scales[:, 1:] += 0.5 * np.log(excess)[:, None]
    new_alpha = np.clip(total[:, 0] / _areas(log_scales), 1e-6, MAX_OPACITY)
    return Splats(
        means=mu.astype(np.float32),
        quats=matrix_quats(eigenvectors).astype(np.float32),
        log_scales=log_scales.astype(np.float32),
        opacities=np.log(new_alpha / (1.0 - new_alpha)).astype(np.float32),
        sh0=(ta * splats.sh0[a] + tb * splats.sh0[b]).astype(np.float32),
        sh_rest=(ta * splats.sh_rest[a] + tb * splats.sh_rest[b]).astype(np.float32),
    )


def halve(splats: Splats) -> Splats:
    """The next coarser level: merged pairs plus the splats that found no partner."""
    a, b = mutual_nearest_pairs(splats)
    single = np.ones(len(splats), bool)
    single[a] = single[b] = False
    return concat_splats([merge_pairs(splats, a, b), splats.take(single)])


def detail_levels(splats: Splats, levels: int, min_splats: int = 1024) -> list[Splats]:
    """[full, ~1/2, ~1/4, ...]: at most `levels` levels; stops when a level would have fewer than
    `min_splats` splats or merging no longer shrinks it by 10%."""
    chain = [splats]
    while len(chain) < levels and len(chain[-1]) // 2 >= min_splats:
        coarser = halve(chain[-1])
        if len(coarser) > 0.9 * len(chain[-1]):
            break
        chain.append(coarser)
    return chain
