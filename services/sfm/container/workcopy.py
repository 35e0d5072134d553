"""Working copies of the photos: readable flat names, decoding with limits, copies and masks on disk.

A working copy is upright (EXIF orientation applied), 8-bit sRGB, at most `max_image_size` on
its long side, without metadata. A photo with a mask (alpha, or a mask file) also gets:
- `<masks>/exact/<copy name>.png`: 255 where the pixel counts, 0 where it is ignored (carried,
  undistorted, to training);
- `<masks>/features/<copy name>.png`: the same with the ignored region grown by a few pixels, for
  COLMAP's feature extraction (`ImageReaderOptions.mask_path`: the image name plus ".png"), so no
  keypoint sits on the silhouette edge between the subject and a blacked-out background.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from services.sfm.container.decode import MaskMismatch, is_blank, read_mask, to_rgb8
from shared.photo_formats import MAX_PIXELS, PILLOW_FORMATS

# Pillow refuses images over twice this at open (DecompressionBombError); `decode_photo` refuses
# anything over MAX_PIXELS before decoding.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
EXACT, FEATURES = "exact", "features"
FEATURE_MASK_MARGIN = 0.004  # ignored region grown by this share of the long side (4 px at 1000)
DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError)
Meta = TypeVar("Meta")


RefusalKind = Literal["unreadable", "too_large", "too_small", "blank", "bad_mask"]


class Refused(Exception):
    """The photo cannot be used; `kind` names the PhotoSet list it goes to."""

    def __init__(self, kind: RefusalKind, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind: RefusalKind = kind
        self.detail = detail


@dataclass
class Decoded(Generic[Meta]):
    rgb: np.ndarray  # [H, W, 3] uint8, upright
    keep: np.ndarray | None  # [H, W] bool, True where the pixel counts; None: all count
    meta: Meta  # what read_meta took from the opened file (EXIF, XMP)


def _clean(text: str) -> str:
    """Letters (any script), digits, '.', '_' and '-' kept; every other run becomes one '_'."""
    return re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", text)).strip("._") or "photo"


def copy_names(originals: list[str]) -> dict[str, str]:
    """Original relative path -> flat, unique working-copy file name.

    The name keeps the photo's own stem (any script: "Фото 01.heic" -> "Фото_01.jpg"); only when
    two photos in different folders share a stem is the folder put in front
    ("100MEDIA_DJI_0001.JPG"). JPEG and PNG keep their extension; other formats become JPEG.
    """
    stems = {o: _clean(posixpath.splitext(posixpath.basename(o))[0]) for o in originals}
    counts = Counter(stem.casefold() for stem in stems.values())
    names: dict[str, str] = {}
    taken: set[str] = set()
    for original in originals:
        stem = stems[original]
        folder = posixpath.dirname(original)
        if counts[stem.casefold()] > 1 and folder:
            stem = f"{_clean(folder.replace('/', '_'))}_{stem}"
        suffix = posixpath.splitext(original)[1]
        ext = suffix if suffix.lower() in (".jpg", ".jpeg", ".png") else ".jpg"
        name, k = f"{stem}{ext}", 1
        while name.casefold() in taken:
            name, k = f"{stem}_{k}{ext}", k + 1
        taken.add(name.casefold())
        names[original] = name
    return names


def decode_photo(
    path: Path, mask_path: Path | None, min_side: int, read_meta: Callable[[Image.Image], Meta]
) -> Decoded[Meta]:
    """Open, check and decode one photo (and its mask file); raises Refused."""
    try:
        with Image.open(path) as raw:
            meta = read_meta(raw)
            if raw.format not in PILLOW_FORMATS:
                raise Refused("unreadable", f"read as {raw.format}, not a photo format")
            if raw.width * raw.height > MAX_PIXELS:
                raise Refused("too_large", f"{raw.width}x{raw.height}")
            orientation = int(raw.getexif().get(0x0112, 1) or 1)
            stored_size = raw.size
            upright = ImageOps.exif_transpose(raw)
            upright.load()
            rgb, keep = to_rgb8(upright)
    except Image.DecompressionBombError as exc:
        raise Refused("too_large", str(exc)) from exc
    except Refused:
        raise
    except DECODE_ERRORS as exc:
        raise Refused("unreadable", str(exc)) from exc
    height, width = rgb.shape[:2]
    if min(width, height) < min_side:
        raise Refused("too_small", f"{width}x{height}")
    if mask_path is not None:
        try:
            with Image.open(mask_path) as mask_image:
                mask_image.load()
                file_keep = read_mask(mask_image, (width, height), stored_size, orientation)
        except MaskMismatch as exc:
            raise Refused("bad_mask", str(exc)) from exc
        except DECODE_ERRORS as exc:
            raise Refused("bad_mask", f"the mask cannot be read: {exc}") from exc
        keep = file_keep if keep is None else keep & file_keep
    if keep is not None and keep.all():
        keep = None
    if is_blank(rgb, keep):
        raise Refused("blank", "all masked" if keep is not None and not keep.any() else "one flat colour")
    return Decoded(rgb, keep, meta)


def scaled_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def write_copy(
    decoded: Decoded[Meta], name: str, work_dir: Path, masks_dir: Path | None, max_image_size: int
) -> tuple[int, int]:
    """Write the working copy (and its masks when it has one); returns its (width, height)."""
    image = Image.fromarray(decoded.rgb)
    size = scaled_size(image.width, image.height, max_image_size)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    if name.lower().endswith(".png"):
        image.save(work_dir / name, "PNG")
    else:
        image.save(work_dir / name, "JPEG", quality=95)
    if decoded.keep is not None and masks_dir is not None:
        mask = Image.fromarray(decoded.keep.astype(np.uint8) * 255)
        if size != mask.size:
            mask = mask.resize(size, Image.Resampling.NEAREST)
        for kind in (EXACT, FEATURES):
            (masks_dir / kind).mkdir(parents=True, exist_ok=True)
        mask.save(masks_dir / EXACT / f"{name}.png")
        margin = max(1, round(FEATURE_MASK_MARGIN * max(size)))
        mask.filter(ImageFilter.MinFilter(2 * margin + 1)).save(masks_dir / FEATURES / f"{name}.png")
    return size


def fill_feature_masks(copies: list[tuple[str, tuple[int, int]]], masks_dir: Path) -> None:
    """COLMAP wants a mask for every image once mask_path is set: all-white ones (every pixel
    counts) for the copies (name, (width, height)) without one."""
    folder = masks_dir / FEATURES
    if not folder.is_dir():
        return
    for name, size in copies:
        if not (folder / f"{name}.png").exists():
            Image.new("L", size, 255).save(folder / f"{name}.png")
