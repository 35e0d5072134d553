"""Per-image exposure and sharpness figures (numpy and Pillow only: reusable by any stage).

All figures are computed on 8-bit sRGB pixels as stored (no linearisation), the way feature
detectors see them, and optionally only over the pixels that count (`keep`, True where a pixel
counts; a mask's ignored region would otherwise read as black and flat).

- `luma`: Rec. 709 luma of the sRGB-coded values, in [0, 1].
- `exposure`: mean luma and the fractions of pixels clipped dark (luma <= DARK_LEVEL) or
  bright (luma >= BRIGHT_LEVEL).
- `sharpness`: second-difference energy along four directions (0, 45, 90, 135 degrees), each
  divided by the image's luma variance (so the figure does not change with exposure or with how
  much contrast the subject has), and the weakest direction kept: motion blur along one direction
  removes detail mostly in that direction, which the variance of the isotropic Laplacian
  (Pech-Pacheco et al. 2000, the usual focus measure; frame_measures.laplacian_variance, which
  picks video frames) averages away (a 25-pixel shake: the weakest
  direction falls to 1-2 % on banana and on a rendered texture, the Laplacian variance to 6-8 %;
  tests/unit/sfm/test_capture_checks.py). Values are comparable between
  photos of one set at one working size; compare a photo with its set (`capture.py`), not with a
  fixed number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
DARK_LEVEL = 3 / 255  # at or below: black, no detail left (8-bit code 3; JPEG noise reaches 1-2)
BRIGHT_LEVEL = 252 / 255  # at or above: clipped highlights
MEASURE_SIZE = 1000  # long side the figures are computed at (images are downscaled, never enlarged)


@dataclass(frozen=True)
class Exposure:
    mean: float  # mean luma, 0 (black) to 1 (white)
    dark_fraction: float  # share of pixels at or below DARK_LEVEL
    bright_fraction: float  # share of pixels at or above BRIGHT_LEVEL


def luma(rgb: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 (or [H, W] uint8 gray) -> [H, W] float32 luma in [0, 1]."""
    if rgb.ndim == 2:
        return rgb.astype(np.float32) / 255.0
    return (rgb[..., :3].astype(np.float32) @ REC709) / 255.0


def downscaled(rgb: np.ndarray, keep: np.ndarray | None = None, size: int = MEASURE_SIZE
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """The image (and mask) with its long side at most `size` (Lanczos; the mask by nearest)."""
    height, width = rgb.shape[:2]
    scale = size / max(width, height)
    if scale >= 1.0:
        return rgb, keep
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(new, Image.Resampling.LANCZOS))
    if keep is None:
        return small, None
    return small, np.asarray(Image.fromarray(keep).resize(new, Image.Resampling.NEAREST))


def exposure(gray: np.ndarray, keep: np.ndarray | None = None) -> Exposure:
    """Exposure figures of a [H, W] luma image in [0, 1] over the pixels that count."""
    values = gray if keep is None else gray[keep]
    if values.size == 0:
        return Exposure(0.0, 0.0, 0.0)
    return Exposure(
        mean=float(values.mean()),
        dark_fraction=float(np.mean(values <= DARK_LEVEL)),
        bright_fraction=float(np.mean(values >= BRIGHT_LEVEL)),
    )


def _second_differences(gray: np.ndarray) -> list[np.ndarray]:
    """g(p - d) - 2 g(p) + g(p + d) for d along x, y and the two diagonals, on the inner pixels."""
    c = gray[1:-1, 1:-1]
    return [
        gray[1:-1, :-2] - 2 * c + gray[1:-1, 2:],  # horizontal
        gray[:-2, 1:-1] - 2 * c + gray[2:, 1:-1],  # vertical
        gray[:-2, :-2] - 2 * c + gray[2:, 2:],  # diagonal
        gray[:-2, 2:] - 2 * c + gray[2:, :-2],  # anti-diagonal
    ]


def directional_sharpness(gray: np.ndarray, keep: np.ndarray | None = None) -> list[float]:
    """Mean squared second difference along x, y, diagonal, anti-diagonal over luma variance.

    gray: [H, W] float luma; keep: [H, W] bool or None. Pixels next to an ignored pixel are left
    out (the mask's edge is not detail). 0.0 for a flat image.
    """
    if min(gray.shape) < 3:
        return [0.0] * 4
    inner = np.ones((gray.shape[0] - 2, gray.shape[1] - 2), dtype=bool)
    if keep is not None:
        k = keep
        inner = k[1:-1, 1:-1] & k[:-2, 1:-1] & k[2:, 1:-1] & k[1:-1, :-2] & k[1:-1, 2:]
        inner &= k[:-2, :-2] & k[2:, 2:] & k[:-2, 2:] & k[2:, :-2]
    if not inner.any():
        return [0.0] * 4
    variance = float(gray[1:-1, 1:-1][inner].var())
    if variance <= 1e-12:
        return [0.0] * 4
    return [float(np.mean(d[inner] ** 2)) / variance for d in _second_differences(gray.astype(np.float32))]


def sharpness(gray: np.ndarray, keep: np.ndarray | None = None) -> float:
    """The weakest direction of `directional_sharpness` (motion blur shows in one direction)."""
    return min(directional_sharpness(gray, keep))


STRETCH_TARGET = 0.9  # luma the bright end (99.5th percentile) of a stretched image lands on
STRETCH_MAX_GAIN = 32.0  # five stops: beyond that there is only quantisation noise to lift


def stretch_contrast(rgb: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """[H, W, 3] uint8 -> (the same times one gain, the gain): the 99.5th luma percentile of the
    pixels that count lands on STRETCH_TARGET (a linear stretch keeps SIFT's gradients in
    proportion; the gain is at least 1 and at most STRETCH_MAX_GAIN)."""
    values = luma(rgb) if keep is None else luma(rgb)[keep]
    top = float(np.percentile(values, 99.5)) if values.size else 1.0
    gain = float(np.clip(STRETCH_TARGET / max(top, 1 / 255), 1.0, STRETCH_MAX_GAIN))
    if gain == 1.0:
        return rgb, gain
    return np.clip(np.rint(rgb.astype(np.float32) * gain), 0, 255).astype(np.uint8), gain
