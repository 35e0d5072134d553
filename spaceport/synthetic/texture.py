"""Procedural multi-scale textures and height fields (value noise), deterministic from a seed."""

from __future__ import annotations

import numpy as np


def upsample_bilinear(grid: np.ndarray, size: int) -> np.ndarray:
    """grid [g, g, C] -> [size, size, C], bilinear, periodic-free (edges clamped)."""
    g = grid.shape[0]
    coords = np.linspace(0.0, g - 1.0, size, dtype=np.float32)
    i0 = np.clip(np.floor(coords).astype(int), 0, g - 2)
    f = (coords - i0)[:, None]  # [size, 1] float32
    rows = grid[i0] * (1 - f[..., None]) + grid[i0 + 1] * f[..., None]  # [size, g, C]
    cols = rows[:, i0] * (1 - f[None, :, :]) + rows[:, i0 + 1] * f[None, :, :]  # [size, size, C]
    return cols


def value_noise(rng: np.random.Generator, size: int, channels: int, octaves: int, base: int = 4,
                persistence: float = 0.6) -> np.ndarray:
    """Sum of `octaves` value-noise layers, cells doubling per octave: [size, size, C] in ~[-1, 1].

    Coarse-to-fine pyramid: each octave is added at the resolution it needs (4 samples per cell),
    then the sum is upsampled, so only the finest octaves are computed at full size.
    """
    acc = np.zeros((2, 2, channels), np.float32)
    amp, total = 1.0, 0.0
    cells = base
    for _ in range(octaves):
        layer = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1, channels)).astype(np.float32)
        res = min(size, 4 * cells + 1)
        acc = upsample_bilinear(acc, res) + amp * upsample_bilinear(layer, res)
        total += amp
        amp *= persistence
        cells = min(cells * 2, size - 1)
    return upsample_bilinear(acc, size) / total if acc.shape[0] != size else acc / total


def albedo_texture(rng: np.random.Generator, size: int, palette: np.ndarray) -> np.ndarray:
    """A colourful, SIFT-friendly albedo map [size, size, 3] in [0.05, 0.95].

    Low frequencies pick a blend of palette colours (regions), middle and high frequencies add
    luminance detail (blobs, speckle) so every patch is distinctive but smooth at texel scale.
    """
    coarse = min(size, 256)  # region colours are smooth: blend them at low resolution
    weights = value_noise(rng, coarse, len(palette), octaves=3, base=3, persistence=0.5)
    weights = np.exp(4.0 * weights)
    weights /= weights.sum(axis=2, keepdims=True)
    base = upsample_bilinear((weights @ palette).astype(np.float32), size)  # [size, size, 3]
    detail = value_noise(rng, size, 1, octaves=7, base=8, persistence=0.8)  # [size, size, 1]
    detail /= detail.std() + 1e-9
    albedo = base * (1.0 + 0.3 * detail)
    return np.clip(albedo, 0.05, 0.95).astype(np.float32)


def sample_bilinear(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """image [H, W, C], u/v [N] in texel units (clamped) -> [N, C]."""
    h, w = image.shape[:2]
    u = np.clip(u, 0.0, w - 1.000001)
    v = np.clip(v, 0.0, h - 1.000001)
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    top = image[v0, u0] * (1 - fu) + image[v0, u0 + 1] * fu
    bottom = image[v0 + 1, u0] * (1 - fu) + image[v0 + 1, u0 + 1] * fu
    return top * (1 - fv) + bottom * fv
