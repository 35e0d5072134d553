"""Orders splats so that neighbouring texels hold similar values (which lossless WebP rewards)."""

from __future__ import annotations

import numpy as np

MORTON_BITS = 21  # per axis; 63-bit codes, so ties (the reference's 10-bit buckets) are rare


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Insert two zero bits between the low 21 bits of each uint64 (3D Morton interleave)."""
    v = v & np.uint64(0x1FFFFF)
    v = (v | (v << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    v = (v | (v << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    v = (v | (v << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    v = (v | (v << np.uint64(2))) & np.uint64(0x1249249249249249)
    return v


def morton_codes(means: np.ndarray) -> np.ndarray:
    """63-bit Z-order codes of positions [N, 3] over their bounding box -> [N] uint64."""
    lo, hi = means.min(axis=0), means.max(axis=0)
    extent = np.where(hi > lo, hi - lo, 1.0)
    scale = float(2**MORTON_BITS - 1)
    q = np.clip((means - lo) / extent * scale, 0, scale).astype(np.uint64)  # [N, 3]
    return _spread_bits(q[:, 0]) | (_spread_bits(q[:, 1]) << np.uint64(1)) | (_spread_bits(q[:, 2]) << np.uint64(2))


def morton_order(means: np.ndarray) -> np.ndarray:
    """Permutation [N] that sorts splats along the Z-order curve of their positions."""
    return np.argsort(morton_codes(means.astype(np.float64)), kind="stable")
