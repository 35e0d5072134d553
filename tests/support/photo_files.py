"""Photo files as cameras, phones, drones and editors write them, built in the test (Pillow, numpy
and a few hand-written container bytes where Pillow cannot write the variant)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

W, H = 240, 180  # at the SfM minimum short side (shared/photo_formats.MIN_PHOTO_SIDE)


def texture(seed: int, width: int = W, height: int = H) -> np.ndarray:
    """[H, W, 3] uint8: smooth coloured noise with detail (compresses like a photo, never flat)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((height // 6 + 1, width // 6 + 1, 3)) * 255).astype(np.uint8))
    base = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    fine = np.asarray(
        Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(1)
        ),
        dtype=np.float32,
    )
    return np.clip(0.7 * base + 0.3 * fine, 0, 255).astype(np.uint8)


def encode(pixels: np.ndarray | Image.Image, fmt: str, **options) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg(seed: int, width: int = W, height: int = H, **options) -> bytes:
    return encode(texture(seed, width, height), "JPEG", quality=options.pop("quality", 90), **options)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_set(folder: Path, count: int = 8, name: str = "IMG_{:04d}.jpg", first_seed: int = 0) -> list[Path]:
    return [write(folder / name.format(k + 1), jpeg(first_seed + k)) for k in range(count)]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16_rgb(values: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16) of values [H, W, 3] uint16."""
    height, width, _ = values.shape
    rows = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def tiff16_rgb(values: np.ndarray) -> bytes:
    """An uncompressed 16-bit RGB baseline TIFF (little-endian) of values [H, W, 3] uint16."""
    height, width, _ = values.shape
    data = values.astype("<u2").tobytes()
    entries = 10
    ifd = 8
    bits_at = ifd + 2 + entries * 12 + 4
    data_at = bits_at + 6
    tags = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 3, bits_at),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, data_at),
        (277, 3, 1, 3),
        (278, 4, 1, height),
        (279, 4, 1, len(data)),
        (284, 3, 1, 1),
    ]
    out = b"II*\x00" + struct.pack("<I", ifd) + struct.pack("<H", entries)
    for tag, kind, count, value in tags:
        packed = struct.pack("<HH", value, 0) if kind == 3 and count == 1 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    return out + struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + data


def motion_photo(seed: int) -> bytes:
    """A phone's motion photo: a complete JPEG, then an MP4 and a vendor trailer after its EOI."""
    rng = np.random.default_rng(seed)
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + struct.pack(">I", 40_008) + b"mdat"
    mp4 += rng.integers(0, 256, 40_000, dtype=np.uint8).tobytes()
    trailer = b"MotionPhoto_Data" + b"SEFH" + struct.pack("<I", 107) + b"\x00" * 24 + b"SEFT"
    return jpeg(seed) + b"MotionPhoto_Data" + mp4 + trailer


def jpeg_with_metadata_before_frame(seed: int, megabytes: float = 2.5) -> bytes:
    """A JPEG whose SOF sits behind megabytes of APP segments (maker notes, XMP, depth maps)."""
    body = jpeg(seed)
    segment_data = b"SPACEPORT-FILL\x00" + b"\x20" * (65_533 - 2 - 15)
    segment = b"\xff\xe9" + struct.pack(">H", len(segment_data) + 2) + segment_data  # APP9
    count = int(megabytes * 1024 * 1024 / len(segment)) + 1
    return body[:2] + segment * count + body[2:]


def cmyk_jpeg(color: tuple[int, int, int, int], seed: int, ycck: bool = False) -> bytes:
    """A CMYK JPEG (Adobe inverted, as Photoshop writes it) of `color` with a textured patch; with
    ycck=True the Adobe APP14 transform flag says YCCK (what Photoshop uses for most CMYK JPEGs)."""
    pixels = np.empty((H, W, 4), np.uint8)
    pixels[:] = color
    pixels[: H // 2, : W // 2, :3] = texture(seed, W // 2, H // 2)
    data = encode(Image.fromarray(pixels, "CMYK"), "JPEG", quality=95)
    if ycck:
        at = data.index(b"Adobe") + 11  # "Adobe", version (2), flags0 (2), flags1 (2), transform (1)
        data = data[:at] + b"\x02" + data[at + 1 :]
    return data


def rgba_png(seed: int, keep: np.ndarray) -> bytes:
    """RGBA PNG: alpha 255 where keep [H, W] is true, alpha 0 and RGB black elsewhere."""
    rgb = texture(seed, keep.shape[1], keep.shape[0]) * keep[..., None]
    alpha = keep.astype(np.uint8)[..., None] * 255
    return encode(np.concatenate([rgb, alpha], axis=2).astype(np.uint8), "PNG")


def centre_disc(width: int = W, height: int = H, radius: float = 0.35) -> np.ndarray:
    """[H, W] bool: a disc in the middle (what a background remover leaves of an object)."""
    y, x = np.mgrid[0:height, 0:width]
    return (x - width / 2) ** 2 + (y - height / 2) ** 2 <= (radius * min(width, height)) ** 2
