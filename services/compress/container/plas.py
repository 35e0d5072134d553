"""A self-organising 2D sort of splats in the spirit of PLAS (Morgenstern et al., SOGS 2024).

Splats sit on the texture grid; at a shrinking radius, the grid's features are blurred into
targets and random groups of 4 cells inside local tiles take whichever of their 24 permutations
lies closest to those targets. Neighbouring texels end up similar in every texture (position,
colour, opacity, scale), which lossless WebP's predictors turn into smaller files.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.ndimage import uniform_filter

from services.compress.container.order import morton_order
from services.compress.container.sog import texture_size
from services.compress.container.splats import Splats, sigmoid

PERMS = np.array(list(itertools.permutations(range(4))))  # [24, 4]


def sort_features(splats: Splats) -> np.ndarray:
    """Per-splat features [N, F] float32 the sort makes smooth, each group scaled to unit spread."""

    def unit(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        x = x - np.median(x, axis=0)
        spread = np.percentile(np.abs(x), 90) or 1.0
        return np.clip(x / spread, -3, 3)

    groups = [
        (unit(splats.means), 1.0),
        (unit(splats.sh0), 1.0),
        (unit(sigmoid(splats.opacities)[:, None]), 0.7),
        (unit(splats.log_scales), 0.7),
    ]
    return np.concatenate([x * w for x, w in groups], axis=1).astype(np.float32)


def plas_order(
    splats: Splats,
    seed: int = 0,
    shrink: float = 0.8,
    iterations: int = 4,
    features: np.ndarray | None = None,
    start_radius: float | None = None,
) -> np.ndarray:
    """Permutation [N]: texel i (row-major) holds splat result[i]."""
    n = len(splats)
    start = morton_order(splats.means)
    width, _ = texture_size(n)
    rows = n // width
    if rows < 2:
        return start
    feats = (sort_features(splats) if features is None else features)[start]  # [N, F]
    grid_n = rows * width
    grid = np.arange(grid_n).reshape(rows, width)  # cell -> index into feats
    rng = np.random.default_rng(seed)
    radius = start_radius or max(rows, width) / 4.0
    while radius >= 1.0:
        r = max(2, int(radius))
        for _ in range(iterations):
            target = uniform_filter(feats[grid], size=(2 * r + 1, 2 * r + 1, 1), mode="reflect")
            grid = _improve(grid, feats, target, r, rng)
        radius *= shrink
    order = np.concatenate([grid.ravel(), np.arange(grid_n, n)])
    return start[order]


def _improve(grid: np.ndarray, feats: np.ndarray, target: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """One pass: in r x r tiles at a random offset, re-permute random groups of 4 toward `target`."""
    rows, width = grid.shape
    tile = max(2, r)
    oy, ox = rng.integers(0, tile, size=2)
    ys = np.arange(oy, rows - (rows - oy) % tile)
    xs = np.arange(ox, width - (width - ox) % tile)
    if len(ys) < tile or len(xs) < tile:
        return grid
    ty, tx = len(ys) // tile, len(xs) // tile
    # cells [tiles, tile*tile] as flat grid indices
    yy = ys.reshape(ty, tile)[:, None, :, None]
    xx = xs.reshape(tx, tile)[None, :, None, :]
    cells = (yy * width + xx).reshape(ty * tx, tile * tile)
    cells = np.take_along_axis(cells, np.argsort(rng.random(cells.shape), axis=1), axis=1)
    usable = (tile * tile) // 4 * 4
    groups = cells[:, :usable].reshape(-1, 4)  # [G, 4] flat cell indices
    flat = grid.ravel().copy()
    f = feats[flat[groups]]  # [G, 4, F] features of the splats in the group
    t = target.reshape(-1, feats.shape[1])[groups]  # [G, 4, F] targets of the cells
    # cost[g, i, j]: splat i placed in cell j
    cost = ((f[:, :, None, :] - t[:, None, :, :]) ** 2).sum(axis=3)  # [G, 4, 4]
    perm_cost = cost[:, PERMS, np.arange(4)].sum(axis=2)  # [G, 24]: splat PERMS[p, j] in cell j
    best = PERMS[np.argmin(perm_cost, axis=1)]  # [G, 4]
    flat[groups] = np.take_along_axis(flat[groups], best, axis=1)
    return flat.reshape(rows, width)
