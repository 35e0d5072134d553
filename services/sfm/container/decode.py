"""Decode any accepted photo into what SfM and training read: 8-bit sRGB pixels and a pixel mask.

Every Pillow mode becomes correct 8-bit RGB:
- 16-bit gray (`I;16*`) and 32-bit integer (`I`) are scaled by their bit depth, not clipped at
  255 (what `Image.convert("RGB")` does to them); 16-bit RGB is already scaled by Pillow;
- float (`F`) images in [0, 1] are scaled by 255, others by their maximum;
- gray, bilevel and palette images are expanded (palette transparency becomes alpha);
- CMYK/YCCK JPEGs (Pillow undoes Adobe's inverted CMYK) and Lab images are converted through
  their ICC profile when they carry one (LittleCMS via `PIL.ImageCms`), as are RGB photos with a
  non-sRGB profile (Display P3 from phones, Adobe RGB from cameras).

Alpha is a mask: pixels with alpha below one half are ignored by SfM and training. A mask file
(`masks/`, see shared/photo_formats.py) says the same in black and white: black (below one half)
is ignored.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image, ImageCms

logger = logging.getLogger(__name__)

BLANK_STD = 1.0  # a working copy whose luma varies less than this (8-bit levels) shows nothing
ALPHA_KEEP = 128  # alpha (or mask value) at or above this: the pixel counts
_SRGB = ImageCms.createProfile("sRGB")


class MaskMismatch(ValueError):
    """A mask file that does not fit its photo (shape or aspect ratio)."""


def _scaled_to_u8(values: np.ndarray, full_scale: float) -> np.ndarray:
    """Integers or floats in [0, full_scale] -> uint8 with rounding."""
    scaled = np.clip(values.astype(np.float64) * (255.0 / full_scale), 0.0, 255.0)
    return (scaled + 0.5).astype(np.uint8)


def _bit_depth(image: Image.Image) -> int:
    """Bits per sample of an integer image: from TIFF's BitsPerSample tag, else 16."""
    tags = getattr(image, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None
    if isinstance(bits, tuple):
        bits = bits[0]
    return int(bits) if isinstance(bits, int) and 8 <= bits <= 32 else 16


def _gray_to_u8(image: Image.Image) -> np.ndarray:
    """[H, W] uint8 from a single-channel image of any depth."""
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        return _scaled_to_u8(values, 65535.0)
    if image.mode == "I":
        return _scaled_to_u8(values, float(2 ** _bit_depth(image) - 1))
    if image.mode == "F":
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 1.0
        return _scaled_to_u8(np.nan_to_num(values), 1.0 if top <= 1.0 else top)
    return np.asarray(image.convert("L"))


def _icc_to_srgb(image: Image.Image) -> Image.Image:
    """The image in sRGB through its embedded ICC profile (RGB, CMYK or Lab); as is without one."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        logger.warning("icc profile ignored", extra={"error": str(exc)})
        return image


def to_rgb8(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels [H, W, 3] uint8 (sRGB) and the keep-mask [H, W] bool from alpha (None: no alpha).

    The image is used as given (apply EXIF orientation first). Raises OSError/ValueError from the
    decoder for corrupt data.
    """
    alpha: np.ndarray | None = None
    if image.mode in ("P", "PA"):
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    if image.mode in ("RGBA", "RGBa", "LA", "La"):
        if image.mode in ("RGBa", "La"):
            image = image.convert("RGBA" if image.mode == "RGBa" else "LA")
        alpha = np.asarray(image.getchannel("A"))
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    if image.mode in ("1", "L", "I", "F") or image.mode.startswith("I;16"):
        gray = _gray_to_u8(image)
        rgb = np.repeat(gray[..., None], 3, axis=2)
    else:
        if image.mode in ("RGB", "CMYK", "LAB"):
            image = _icc_to_srgb(image)
        rgb = np.asarray(image.convert("RGB"))
    keep = None
    if alpha is not None and int(alpha.min()) < ALPHA_KEEP:
        keep = alpha >= ALPHA_KEEP
    return np.ascontiguousarray(rgb, dtype=np.uint8), keep


def is_blank(rgb: np.ndarray, keep: np.ndarray | None = None) -> bool:
    """True when the kept pixels of rgb [H, W, 3] uint8 are one flat colour (or none is kept)."""
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601
    values = luma if keep is None else luma[keep]
    return values.size == 0 or float(values.std()) < BLANK_STD


# EXIF orientation -> the transpose that shows the stored pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_mask(
    mask: Image.Image, photo_size: tuple[int, int], stored_size: tuple[int, int], orientation: int
) -> np.ndarray:
    """A mask image -> keep-mask [H, W] bool at the photo's upright size (width, height).

    A mask drawn on the upright photo is used as is; one with the stored (pre-rotation) size gets
    the photo's EXIF orientation; one at another resolution with the same aspect ratio is resized
    (nearest). A mask with transparency counts by its alpha. Raises MaskMismatch otherwise.
    """
    if mask.size != photo_size and mask.size == stored_size and orientation in _UPRIGHT:
        mask = mask.transpose(_UPRIGHT[orientation])
    if mask.size != photo_size:
        (mw, mh), (pw, ph) = mask.size, photo_size
        if abs(mw / mh - pw / ph) > 0.01 * (pw / ph):
            raise MaskMismatch(f"the mask is {mw}x{mh} pixels, its photo {pw}x{ph}")
        mask = mask.resize(photo_size, Image.Resampling.NEAREST)
    rgb, alpha_keep = to_rgb8(mask)
    if alpha_keep is not None:
        return alpha_keep
    return rgb.max(axis=2) >= ALPHA_KEEP
