"""Per-frame measures for choosing video frames: sharpness, and how far the picture moved.

Pure numpy on small gray images (uint8 or float [H, W]); no decoder here.
"""

from __future__ import annotations

import numpy as np

MOTION_TILES = 4  # the picture is cut into 4 x 4 tiles; each gets its own shift
MIN_TILE_STD = 2.0  # a tile flatter than this (8-bit levels: sky, a wall) says nothing about motion
MIN_PEAK = 0.3  # below: the tile's content changed beyond recognition (shifted texture peaks at
# 0.4-0.9, unrelated tiles at 0.1-0.2; tests/unit/sfm/test_frame_selection.py)


def laplacian_variance(gray: np.ndarray) -> float:
    """Sharpness: the variance of the 4-neighbour Laplacian of gray [H, W] (H, W >= 3).

    Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy: a comparative study",
    ICPR 2000. Blur removes high frequencies, so the variance drops; it also depends on the
    scene's texture, so compare frames of one video (neighbours in time), never across videos.
    """
    g = np.asarray(gray, dtype=np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def _tile_shift(a: np.ndarray, b: np.ndarray, window: np.ndarray) -> tuple[float, float] | None:
    """(shift in pixels, peak height) of tile b against tile a by phase correlation; None for a flat tile.

    Kuglin and Hines, "The phase correlation image alignment method", 1975: the normalised
    cross-power spectrum of two shifted images is a pure phase whose inverse transform peaks at
    the shift.
    """
    if a.std() < MIN_TILE_STD or b.std() < MIN_TILE_STD:
        return None
    fa = np.fft.rfft2((a - a.mean()) * window)
    fb = np.fft.rfft2((b - b.mean()) * window)
    cross = fa * np.conj(fb)
    cross /= np.maximum(np.abs(cross), 1e-9)
    surface = np.fft.irfft2(cross, s=a.shape)
    peak = int(np.argmax(surface))
    dy, dx = np.unravel_index(peak, surface.shape)
    h, w = a.shape
    dy = dy - h if dy > h // 2 else dy
    dx = dx - w if dx > w // 2 else dx
    return float(np.hypot(dx, dy)), float(surface.flat[peak])


def picture_motion(first: np.ndarray, second: np.ndarray) -> float | None:
    """How far the picture moved from first to second (gray [H, W], same shape), as a fraction of
    the image width: the median over 4 x 4 tiles of each tile's phase-correlation shift.

    A tile whose content changed beyond recognition counts as moved by a whole tile; flat tiles
    (sky, a plain wall) are left out. None when every tile is flat (nothing to measure). Pure
    rotation, zoom and forward motion move the tiles differently; the median sees them all.
    """
    a = np.asarray(first, dtype=np.float32)
    b = np.asarray(second, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    h, w = a.shape
    th, tw = h // MOTION_TILES, w // MOTION_TILES
    window = np.outer(np.hanning(th), np.hanning(tw)).astype(np.float32)
    shifts = []
    for i in range(MOTION_TILES):
        for j in range(MOTION_TILES):
            tile = (slice(i * th, (i + 1) * th), slice(j * tw, (j + 1) * tw))
            found = _tile_shift(a[tile], b[tile], window)
            if found is None:
                continue
            shift, peak = found
            shifts.append(shift if peak >= MIN_PEAK else float(max(th, tw)))
    if not shifts:
        return None
    return float(np.median(shifts)) / w
