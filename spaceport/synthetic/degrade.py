"""Capture faults rebuilt on good photos, for tests and benchmarks of the capture checks.

- `darken`: every 8-bit value times a factor (an underexposed shot; 0.06 is about 4 stops under).
- `motion_blur`: a horizontal box blur of `length` pixels (camera shake during the exposure).
- `with_focal_tags`: the JPEG's EXIF focal tags rewritten without re-encoding the pixels (an
  action camera or app that writes a wrong FocalLengthIn35mmFilm).
- `degrade_folder`: a copy of a photo folder with a pixel fault applied to chosen photos
  (re-encoded as JPEG quality 95, EXIF kept).
"""

from __future__ import annotations

import io
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

EXIF_IFD, FOCAL_LENGTH, FOCAL_35MM = 0x8769, 0x920A, 0xA405
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def darken(rgb: np.ndarray, factor: float) -> np.ndarray:
    """[H, W, 3] uint8 -> the same with every value times `factor` (rounded)."""
    return np.clip(np.rint(rgb.astype(np.float32) * factor), 0, 255).astype(np.uint8)


def motion_blur(rgb: np.ndarray, length: int) -> np.ndarray:
    """[H, W, C] uint8 -> the mean of `length` horizontally neighbouring pixels (edges repeated)."""
    if length <= 1:
        return rgb
    before = length // 2
    padded = np.pad(rgb.astype(np.float64), ((0, 0), (before, length - 1 - before), (0, 0)), mode="edge")
    sums = np.cumsum(padded, axis=1)
    sums = np.concatenate([np.zeros_like(sums[:, :1]), sums], axis=1)
    return np.clip(np.rint((sums[:, length:] - sums[:, :-length]) / length), 0, 255).astype(np.uint8)


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each JPEG marker segment before the scan data (SOI excluded)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    found, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        found.append((pos, pos + 2 + length))
        pos += 2 + length
    return found


def with_focal_tags(jpeg: bytes, focal_35mm: int | None, focal_mm: float | None = None) -> bytes:
    """The JPEG with FocalLengthIn35mmFilm set (None removes it), and FocalLength when given.

    Only the EXIF (APP1) segment changes: the compressed pixels are kept byte for byte.
    """
    with Image.open(io.BytesIO(jpeg)) as image:
        exif = image.getexif()
    sub = dict(exif.get_ifd(EXIF_IFD))
    sub.pop(FOCAL_35MM, None)
    if focal_35mm is not None:
        sub[FOCAL_35MM] = int(focal_35mm)
    if focal_mm is not None:
        sub[FOCAL_LENGTH] = IFDRational(round(focal_mm * 1000), 1000)
    exif[EXIF_IFD] = sub
    payload = exif.tobytes()
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    segments = _segments(jpeg)
    kept = [jpeg[s:e] for s, e in segments if not (jpeg[s + 1] == 0xE1 and jpeg[s + 4:s + 10] == b"Exif\x00\x00")]
    body_start = segments[-1][1] if segments else 2
    return b"\xff\xd8" + app1 + b"".join(kept) + jpeg[body_start:]


def photos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def degrade_folder(
    source: Path, target: Path, fault: Callable[[np.ndarray], np.ndarray],
    chosen: Callable[[int], bool] = lambda index: True,
) -> list[str]:
    """Copy the photos of `source` to `target`, `fault` applied to those whose index is `chosen`.

    Faulted photos are re-encoded (JPEG quality 95, EXIF kept); the others are copied byte for
    byte. Returns the names of the faulted photos.
    """
    target.mkdir(parents=True, exist_ok=True)
    faulted = []
    for index, path in enumerate(photos_in(source)):
        if not chosen(index):
            shutil.copyfile(path, target / path.name)
            continue
        with Image.open(path) as image:
            exif = image.info.get("exif", b"")
            rgb = np.asarray(image.convert("RGB"))
        Image.fromarray(fault(rgb)).save(target / path.name, "JPEG", quality=95, exif=exif)
        faulted.append(path.name)
    return faulted


def retag_folder(source: Path, target: Path, focal_35mm: int | None, focal_mm: float | None = None) -> None:
    """Copy the JPEGs of `source` to `target` with their focal tags rewritten (`with_focal_tags`)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in photos_in(source):
        (target / path.name).write_bytes(with_focal_tags(path.read_bytes(), focal_35mm, focal_mm))
