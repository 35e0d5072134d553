"""Photo-set validation from object headers: no image library, no full downloads.

Each photo is judged by its first bytes (magic number and pixel dimensions from the JPEG SOF or
PNG IHDR header) and its last bytes (a JPEG must end with an EOI marker, a PNG with IEND), so a
1,000-photo set is checked with two small ranged reads per photo. Duplicates are found by
content fingerprint (S3 ETag, an MD5 of the bytes for single-part uploads, plus the size).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from shared.layout import INBOX_COLMAP_MODEL

ImageKind = Literal["jpeg", "png", "heic"]

HEAD_BYTES = 256 * 1024  # EXIF blocks sit before the SOF marker and can reach 64 KiB+
TAIL_BYTES = 64


@dataclass(frozen=True)
class PhotoLimits:
    min_photos: int = 8
    max_photos: int = 2_000
    max_bytes: int = 60 * 1024 * 1024  # per photo
    max_pixels: int = 120_000_000  # a decompression bomb is rejected before anyone decodes it
    min_side: int = 256


@dataclass(frozen=True)
class PhotoHeader:
    kind: ImageKind
    width: int | None
    height: int | None


@dataclass
class PhotoProblems:
    """Problems found in a set, grouped by kind so the message can name the files."""

    not_images: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    too_many_pixels: list[str] = field(default_factory=list)
    too_small: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    def any(self) -> bool:
        return any(
            (self.not_images, self.empty, self.truncated, self.too_large, self.too_many_pixels, self.too_small,
             self.duplicates)
        )


def sniff(head: bytes) -> ImageKind | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim"):
        return "heic"
    return None


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from the first SOF marker, walking the segment chain."""
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 9 > len(head):
                return None
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return width, height
        if length < 2:
            return None
        pos += 2 + length
    return None


def png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def read_header(head: bytes) -> PhotoHeader | None:
    kind = sniff(head)
    if kind is None:
        return None
    size = jpeg_size(head) if kind == "jpeg" else png_size(head) if kind == "png" else None
    return PhotoHeader(kind, *(size or (None, None)))


def looks_complete(kind: ImageKind, tail: bytes) -> bool:
    """A JPEG ends with EOI (FFD9, maybe followed by a little padding); a PNG with IEND."""
    if kind == "jpeg":
        return b"\xff\xd9" in tail
    if kind == "png":
        return tail.endswith(b"IEND\xaeB`\x82")
    return True


def is_photo_name(name: str) -> bool:
    """Files in an inbox that are part of the photo set, by their name inside the inbox (the
    manifest, dotfiles and a COLMAP model in sparse/ are not)."""
    base = name.rsplit("/", 1)[-1]
    return bool(base) and not base.startswith(".") and base != "job.json" and not name.startswith(INBOX_COLMAP_MODEL)


def describe_problems(problems: PhotoProblems, limits: PhotoLimits, shown: int = 5) -> str:
    def names(items: list[str]) -> str:
        more = f" and {len(items) - shown} more" if len(items) > shown else ""
        return ", ".join(items[:shown]) + more

    parts = []
    if problems.not_images:
        parts.append(f"not a JPEG, PNG or HEIC image: {names(problems.not_images)}")
    if problems.empty:
        parts.append(f"empty (0 bytes): {names(problems.empty)}")
    if problems.truncated:
        parts.append(f"truncated or corrupt: {names(problems.truncated)}")
    if problems.too_large:
        parts.append(f"larger than {limits.max_bytes // (1024 * 1024)} MiB: {names(problems.too_large)}")
    if problems.too_many_pixels:
        parts.append(f"more than {limits.max_pixels // 1_000_000} megapixels: {names(problems.too_many_pixels)}")
    if problems.too_small:
        parts.append(f"smaller than {limits.min_side} pixels on a side: {names(problems.too_small)}")
    if problems.duplicates:
        pairs = [f"{a} = {b}" for a, b in problems.duplicates]
        parts.append(f"duplicate photos: {names(pairs)}")
    return "; ".join(parts)
