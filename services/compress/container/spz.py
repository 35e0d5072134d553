"""Niantic SPZ, version 3: splats <-> the gzip-compressed `.spz` byte stream (and a v2 reader).

Format (nianticlabs/spz README and `src/cc/load-spz.cc`; docs/bench/compress.md "SPZ"):
one gzip stream holding a 16-byte little-endian header

    u32 magic 0x5053474E ("NGSP")  u32 version  u32 count  u8 sh_degree  u8 fractional_bits
    u8 flags (0x1 antialiased, 0x2 extensions follow the header)  u8 reserved = 0

then attribute blocks, each over all N splats in order:

    positions  N x 3 x 24-bit two's complement fixed point, value = int / 2**fractional_bits
    alphas     N x u8, sigmoid(opacity) * 255
    colours    N x 3 u8, f_dc * 0.15 * 255 + 127.5 (0.15, not SH C0, leaves room outside 0..1)
    scales     N x 3 u8, (ln sigma + 10) * 16
    rotations  v3: N x u32 "smallest three": bits 30-31 index of the largest |component| in
               (x, y, z, w) order; the other three in ascending index order, first one highest,
               10 bits each = sign bit (relative to the largest's sign) << 9 | round(511 |c| sqrt 2)
               v2: N x 3 u8 (x, y, z) * 127.5 + 127.5 with w >= 0 implied
    sh         N x C x 3 u8 (coefficient-major, colour channel fastest), round(x * 128) + 128
               in multiples of 2**(8 - bits): 5 bits for band 1, 4 for bands 2-3 (the reference
               rounds to 1/128, then to the bucket; rounding once here saves that extra 1/256).

Version 3 is written: gzip, like v2, but its rotations are 4 times finer; splat-transform 3.7
reads v2-v4, and readers of the Niantic library, Spark and Babylon.js read v3. Version 4 (zstd
streams, 32-byte header) is newer and not yet read as widely, so it is neither written nor read.

Coordinates are stored as the trainer's PLY gives them (no axis flip). The Niantic README says
SPZ is "RUB internally", but its own PLY converter and splat-transform 3.7 write PLY coordinates
unconverted (coordinate system UNSPECIFIED), and readers do not flip either; so a flip here would
turn our model upside down in every tool that reads PLY and SPZ the same way.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.compress.container.splats import SH_COEFFS_BY_DEGREE, Splats, sigmoid, unit_quats

MAGIC = 0x5053474E
VERSION = 3
READABLE_VERSIONS = (2, 3)
HEADER = struct.Struct("<IIIBBBB")  # magic, version, count, sh_degree, fractional_bits, flags, reserved
FLAG_ANTIALIASED = 0x1
FLAG_EXTENSIONS = 0x2
COLOUR_SCALE = 0.15
SQRT1_2 = math.sqrt(0.5)
MAX_FIXED = (1 << 23) - 1  # largest 24-bit signed magnitude
# Kept components (ascending) per largest index, in SPZ's (x, y, z, w) order.
KEPT = np.array([[j for j in range(4) if j != i] for i in range(4)])  # [4, 3]
XYZW_FROM_WXYZ = [1, 2, 3, 0]
WXYZ_FROM_XYZW = [3, 0, 1, 2]


class SpzError(ValueError):
    """The bytes are not an SPZ stream we can read, or the splats do not fit the format."""


@dataclass(frozen=True)
class SpzPrecision:
    """Encoder choices; every value decodes with any SPZ v3 reader."""

    # Fractional bits of the 24-bit positions; None: the step is at most 1/8 of the median splat size
    # (sigma's geometric mean), so positions err by at most ~6% of a typical splat, as the standard
    # SOG preset does (the reference always uses 12: 0.24 mm in metres, +-2 km of range).
    fractional_bits: int | None = None
    sh1_bits: int = 5  # precision of band-1 SH coefficients (1-8), as the reference
    sh_rest_bits: int = 4  # precision of bands 2-3 (1-8), as the reference


def fractional_bits_for(splats: Splats, requested: int | None) -> int:
    """The fractional bits used: `requested` (or the size rule), lowered until every position fits.

    Raises `SpzError` when even whole units overflow 24 bits (|coordinate| >= 8,388,608).
    """
    largest = float(np.abs(splats.means).max()) if len(splats) else 0.0
    if largest > MAX_FIXED:
        raise SpzError(f"a coordinate of {largest:.4g} exceeds SPZ's 24-bit fixed-point range (+-{MAX_FIXED})")
    if requested is None:
        size = np.exp(splats.log_scales.astype(np.float64).mean(axis=1)) if len(splats) else np.ones(1)
        step = max(float(np.median(size)) / 8.0, 1e-12)
        requested = int(math.ceil(-math.log2(step)))
    fits = int(math.floor(math.log2(MAX_FIXED / largest))) if largest > 0 else 23
    return int(np.clip(requested, 0, min(fits, 23)))


def _u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _sh_bytes(sh_rest: np.ndarray, coeffs: int, precision: SpzPrecision) -> np.ndarray:
    """[N, C*3] u8, coefficient-major with the channel fastest, rounded to each band's bucket."""
    n = len(sh_rest)
    sh = sh_rest.astype(np.float64).reshape(n, 3, coeffs).transpose(0, 2, 1)  # [N, C, channel]
    bits = np.array([precision.sh1_bits if j < 3 else precision.sh_rest_bits for j in range(coeffs)])
    bucket = (1 << (8 - bits))[None, :, None]  # [1, C, 1]
    q = np.rint((sh * 128.0 + 128.0) / bucket) * bucket  # one rounding, straight to the bucket
    return np.clip(q, 0, 255).astype(np.uint8).reshape(n, coeffs * 3)


def _rotation_words(quats: np.ndarray) -> np.ndarray:
    """Smallest-three u32 per splat from (w, x, y, z) quaternions [N, 4]."""
    q = unit_quats(quats)[:, XYZW_FROM_WXYZ]  # [N, 4] x, y, z, w
    n = len(q)
    largest = np.argmax(np.abs(q), axis=1)  # [N]
    negate = q[np.arange(n), largest] < 0
    kept = np.take_along_axis(q, KEPT[largest], axis=1)  # [N, 3] ascending index
    sign = ((kept < 0) ^ negate[:, None]).astype(np.uint32)
    magnitude = np.minimum(np.rint(511.0 * np.abs(kept) / SQRT1_2), 511).astype(np.uint32)
    fields = (sign << 9) | magnitude  # [N, 3]
    return (largest.astype(np.uint32) << 30) | (fields[:, 0] << 20) | (fields[:, 1] << 10) | fields[:, 2]


def encode_spz(
    splats: Splats, precision: SpzPrecision = SpzPrecision(), antialiased: bool = False, compresslevel: int = 9
) -> bytes:
    """The `.spz` (v3) bytes of `splats`, in their given order. Raises `SpzError` if positions overflow."""
    n = len(splats)
    if not (1 <= precision.sh1_bits <= 8 and 1 <= precision.sh_rest_bits <= 8):
        raise ValueError("SPZ SH precision is 1 to 8 bits")
    bits = fractional_bits_for(splats, precision.fractional_bits)
    fixed = np.rint(splats.means.astype(np.float64) * (1 << bits)).astype(np.int64)  # [N, 3]
    positions = (fixed & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(n, 3, 4)[:, :, :3]
    alphas = _u8(sigmoid(splats.opacities) * 255.0)
    colours = _u8(splats.sh0.astype(np.float64) * (COLOUR_SCALE * 255.0) + 127.5)
    scales = _u8((splats.log_scales.astype(np.float64) + 10.0) * 16.0)
    rotations = _rotation_words(splats.quats).astype("<u4")
    header = HEADER.pack(MAGIC, VERSION, n, splats.sh_degree, bits, FLAG_ANTIALIASED if antialiased else 0, 0)
    blocks = [header, positions.tobytes(), alphas.tobytes(), colours.tobytes(), scales.tobytes(), rotations.tobytes()]
    if splats.sh_coeffs:
        blocks.append(_sh_bytes(splats.sh_rest, splats.sh_coeffs, precision).tobytes())
    return gzip.compress(b"".join(blocks), compresslevel=compresslevel, mtime=0)


def _decode_rotations(words: np.ndarray) -> np.ndarray:
    """(w, x, y, z) [N, 4] from smallest-three u32 words [N]."""
    n = len(words)
    largest = (words >> 30).astype(np.int64)
    shifts = np.array([20, 10, 0], np.uint32)
    fields = (words[:, None] >> shifts[None, :]) & 0x3FF  # [N, 3] ascending index order
    values = SQRT1_2 * (fields & 0x1FF) / 511.0
    values = np.where(fields >> 9 == 1, -values, values)
    q = np.zeros((n, 4))
    np.put_along_axis(q, KEPT[largest], values, axis=1)
    q[np.arange(n), largest] = np.sqrt(np.maximum(0.0, 1.0 - (values**2).sum(axis=1)))
    return q[:, WXYZ_FROM_XYZW]


def decode_spz(data: bytes, name: str = "model.spz") -> Splats:
    """The splats of an SPZ v2 or v3 stream; raises `SpzError` saying what is wrong."""
    if data[:4] == b"NGSP":
        raise SpzError(f"{name}: SPZ version 4 (zstd streams) is not supported; convert it to version 3")
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise SpzError(f"{name}: not a gzip stream ({exc})") from exc
    if len(raw) < HEADER.size:
        raise SpzError(f"{name}: {len(raw)} bytes is shorter than the 16-byte SPZ header")
    magic, version, n, degree, bits, flags, _ = HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise SpzError(f"{name}: bad magic 0x{magic:08x} (an SPZ stream starts with NGSP)")
    if version not in READABLE_VERSIONS:
        raise SpzError(f"{name}: SPZ version {version} is not supported (only 2 and 3)")
    if degree >= len(SH_COEFFS_BY_DEGREE):
        raise SpzError(f"{name}: SH degree {degree} is not supported (0 to 3)")
    if flags & FLAG_EXTENSIONS:
        raise SpzError(f"{name}: SPZ extensions (flag 0x2) are not supported")
    coeffs = SH_COEFFS_BY_DEGREE[degree]
    rotation_bytes = 4 if version >= 3 else 3
    sizes = (9 * n, n, 3 * n, 3 * n, rotation_bytes * n, 3 * coeffs * n)
    if len(raw) < HEADER.size + sum(sizes):
        raise SpzError(f"{name}: truncated: {n} splats need {HEADER.size + sum(sizes)} bytes, the stream has {len(raw)}")
    blocks, offset = [], HEADER.size
    for size in sizes:
        blocks.append(np.frombuffer(raw, np.uint8, size, offset))
        offset += size
    pos, alphas, colours, scales, rot, sh = blocks

    pos = pos.reshape(n, 3, 3).astype(np.int32)
    fixed = pos[:, :, 0] | (pos[:, :, 1] << 8) | (pos[:, :, 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    means = fixed / float(1 << bits)
    if version >= 3:
        quats = _decode_rotations(rot.view("<u4").astype(np.uint32))
    else:
        xyz = rot.reshape(n, 3) / 127.5 - 1.0
        quats = np.concatenate([np.sqrt(np.maximum(0.0, 1.0 - (xyz**2).sum(axis=1)))[:, None], xyz], axis=1)
    y = np.clip(alphas / 255.0, 1e-6, 1 - 1e-6)
    sh_rest = ((sh.reshape(n, coeffs, 3).astype(np.float64) - 128.0) / 128.0).transpose(0, 2, 1)
    return Splats(
        means=means.astype(np.float32),
        quats=quats.astype(np.float32),
        log_scales=(scales.reshape(n, 3) / 16.0 - 10.0).astype(np.float32),
        opacities=np.log(y / (1.0 - y)).astype(np.float32),
        sh0=((colours.reshape(n, 3) / 255.0 - 0.5) / COLOUR_SCALE).astype(np.float32),
        sh_rest=sh_rest.reshape(n, 3 * coeffs).astype(np.float32),
    )


def write_spz(path: Path, splats: Splats, precision: SpzPrecision = SpzPrecision()) -> int:
    """Write `path`; returns its size in bytes."""
    data = encode_spz(splats, precision)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def read_spz(path: Path) -> Splats:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpzError(f"{path.name}: cannot read ({exc.strerror})") from exc
    return decode_spz(data, path.name)
