"""PlayCanvas SOG version 2: splats <-> textures + meta.json (no file I/O here; see sog_io).

Layout and encodings follow docs SOG_FORMAT.md and splat-transform 3.7's reader. Where the
format leaves the encoder free, this writer rounds (positions, quaternions, opacity) rather than
truncates, which halves those errors at no cost in size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.compress.container.quantize import assign_codebook, fit_codebook, kmeans
from services.compress.container.splats import SH_COEFFS_BY_DEGREE, Splats, sigmoid, unit_quats

VERSION = 2
MAX_PALETTE = 65536
PALETTE_ROW = 64  # palette entries per row of shN_centroids.webp
MEANS_FILES = ("means_l.webp", "means_u.webp")
SH_FILES = ("shN_centroids.webp", "shN_labels.webp")
# Kept components per dropped component m (PLY order w, x, y, z).
QUAT_KEPT = ((1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2))
SQRT2 = math.sqrt(2.0)


@dataclass
class SogImages:
    """What goes into the files: RGBA uint8 images by file name, plus the meta.json body."""

    images: dict[str, np.ndarray]  # name -> [H, W, 4] uint8
    meta: dict


def texture_size(count: int) -> tuple[int, int]:
    """Width and height (both multiples of 4) of the per-Gaussian textures."""
    width = max(4, 4 * math.ceil(math.sqrt(count) / 4))
    height = max(4, 4 * math.ceil(count / width / 4))
    return width, height


def default_palette_size(count: int) -> int:
    """splat-transform's SH palette size: min(64, 2**floor(log2(N/1024))) * 1024 entries."""
    if count < 2048:
        return max(1, min(count, 1024))
    return min(64, 2 ** int(math.floor(math.log2(count / 1024)))) * 1024


def log_transform(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.log1p(np.abs(v))


def inv_log_transform(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.expm1(np.abs(v))


def _json_floats(values: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(np.format_float_positional(np.float32(v), unique=True, trim="0")) for v in values]


def _texture(count: int, width: int, height: int, channels: list[np.ndarray], alpha: int | None) -> np.ndarray:
    """Pack per-Gaussian byte channels (3 or 4 arrays of [N]) into [H, W, 4]; padding stays zero."""
    flat = np.zeros((width * height, 4), np.uint8)
    for c, values in enumerate(channels):
        flat[:count, c] = values
    if alpha is not None:
        flat[:count, 3] = alpha
    return flat.reshape(height, width, 4)


@dataclass(frozen=True)
class Precision:
    """Encoder-side rate/distortion knobs; every choice still decodes with any SOG v2 reader."""

    position_tolerance: float = 0.0  # round positions to steps <= this x the splat's size (0: 16 bits)
    scale_levels: int = 256  # distinct log-scale codebook entries used
    colour_levels: int = 256  # distinct DC-colour codebook entries used
    opacity_levels: int = 256  # distinct opacity bytes used
    sh_levels: int = 256  # distinct SH palette codebook entries used
    codebook_alpha: float = 0.5  # histogram weight exponent of the codebooks (0: favour tails)
    scale_beta: float | None = None  # quantile share of the scale codebook's bins (None: reference rule)
    sh_weight_power: float = 0.0  # k-means row weight = (opacity x footprint area) ** this (0: unweighted)


def _codebook(
    values: np.ndarray, levels: int, alpha: float, beta: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A 256-entry codebook using `levels` distinct values (padded with the last) and the indices."""
    book = fit_codebook(values, k=levels, alpha=alpha, beta=beta)
    book = np.array([float(f"{v:.6g}") for v in book], np.float32)  # shorter meta.json, same decode
    book = np.concatenate([book, np.full(256 - len(book), book[-1], np.float32)])
    return book, assign_codebook(values, book[:levels])


def _position_codes(splats: Splats, logs: np.ndarray, span: np.ndarray, tolerance: float) -> np.ndarray:
    """16-bit codes [N, 3] from log-domain offsets; low bits zeroed where the splat is large."""
    q = 65535.0 * logs / span  # [N, 3]
    if tolerance <= 0:
        return np.clip(np.rint(q), 0, 65535).astype(np.uint32)
    step = (1.0 + np.abs(splats.means.astype(np.float64))) * span / 65535.0  # [N, 3] world units per code
    size = np.exp(splats.log_scales.astype(np.float64).mean(axis=1, keepdims=True))  # [N, 1]
    bits = np.clip(np.floor(np.log2(np.maximum(tolerance * size / step, 1.0))), 0, 8)  # [N, 3]
    unit = 2.0**bits
    return np.clip(np.rint(q / unit) * unit, 0, 65535).astype(np.uint32)


def encode_sog(
    splats: Splats,
    palette_size: int | None = None,
    sh_iterations: int = 10,
    precision: Precision = Precision(),
    seed: int = 0,
) -> SogImages:
    """The SOG images of `splats`, in their given order (texel i holds splat i)."""
    alpha = precision.codebook_alpha
    n = len(splats)
    width, height = texture_size(n)
    images: dict[str, np.ndarray] = {}

    # Positions: 16-bit, log domain, per-axis range.
    logs = log_transform(splats.means.astype(np.float64))  # [N, 3]
    mins, maxs = logs.min(axis=0), logs.max(axis=0)
    span = np.where(maxs > mins, maxs - mins, 1.0)
    q = _position_codes(splats, logs - mins, span, precision.position_tolerance)  # [N, 3]
    images[MEANS_FILES[0]] = _texture(n, width, height, [q[:, i] & 0xFF for i in range(3)], 255)
    images[MEANS_FILES[1]] = _texture(n, width, height, [q[:, i] >> 8 for i in range(3)], 255)

    # Rotations: smallest three, scaled by sqrt(2), A = 252 + dropped index.
    quats = unit_quats(splats.quats)  # [N, 4]
    largest = np.argmax(np.abs(quats), axis=1)  # [N]
    sign = np.where(quats[np.arange(n), largest] < 0, -1.0, 1.0)
    quats = quats * (sign * SQRT2)[:, None]
    kept = np.array(QUAT_KEPT)[largest]  # [N, 3]
    comps = np.take_along_axis(quats, kept, axis=1)  # [N, 3]
    comp_bytes = np.clip(np.rint(255.0 * (comps * 0.5 + 0.5)), 0, 255).astype(np.uint8)
    images["quats.webp"] = _texture(
        n, width, height, [comp_bytes[:, 0], comp_bytes[:, 1], comp_bytes[:, 2], 252 + largest], None
    )

    # Log-scales: one codebook for the three axes.
    scale_book, scale_idx = _codebook(
        splats.log_scales, precision.scale_levels, alpha, precision.scale_beta
    )  # [256], [N, 3]
    images["scales.webp"] = _texture(n, width, height, [scale_idx[:, i] for i in range(3)], 255)

    # DC colour: one codebook; opacity in A.
    colour_book, colour_idx = _codebook(splats.sh0, precision.colour_levels, alpha)  # [256], [N, 3]
    top = precision.opacity_levels - 1
    opacity = np.rint(np.rint(sigmoid(splats.opacities) * top) * (255.0 / top))
    opacity = np.clip(opacity, 0, 255).astype(np.uint8)
    images["sh0.webp"] = _texture(n, width, height, [colour_idx[:, i] for i in range(3)] + [opacity], None)

    meta: dict = {
        "version": VERSION,
        "asset": {"generator": "spaceport compress"},
        "count": n,
        "means": {"mins": mins.tolist(), "maxs": maxs.tolist(), "files": list(MEANS_FILES)},
        "scales": {"codebook": _json_floats(scale_book), "files": ["scales.webp"]},
        "quats": {"files": ["quats.webp"]},
        "sh0": {"codebook": _json_floats(colour_book), "files": ["sh0.webp"]},
    }

    coeffs = splats.sh_coeffs
    if coeffs:
        k = min(palette_size or default_palette_size(n), MAX_PALETTE, n)
        weights = None
        if precision.sh_weight_power > 0:
            # what a splat shows on screen: opacity x area of its two largest axes
            area = np.exp(np.sort(splats.log_scales.astype(np.float64), axis=1)[:, 1:].sum(axis=1))
            weights = (sigmoid(splats.opacities) * area) ** precision.sh_weight_power
            weights = np.clip(weights / np.median(weights), 1e-3, 1e3)  # [N]
        centroids, labels = kmeans(splats.sh_rest, k, sh_iterations, seed=seed, weights=weights)
        sh_book, cen_idx = _codebook(centroids, precision.sh_levels, alpha)  # [256], [K, 3C]
        cen_idx = cen_idx.reshape(k, 3, coeffs)  # [K, channel, coeff]
        rows = math.ceil(k / PALETTE_ROW)
        palette = np.zeros((rows * PALETTE_ROW, coeffs, 4), np.uint8)
        palette[:k, :, :3] = cen_idx.transpose(0, 2, 1)
        palette[:k, :, 3] = 255
        images[SH_FILES[0]] = palette.reshape(rows, PALETTE_ROW * coeffs, 4)
        images[SH_FILES[1]] = _texture(n, width, height, [labels & 0xFF, labels >> 8, np.zeros(n, np.uint8)], 255)
        meta["shN"] = {
            "count": k,
            "bands": SH_COEFFS_BY_DEGREE.index(coeffs),
            "codebook": _json_floats(sh_book),
            "files": list(SH_FILES),
        }
    return SogImages(images=images, meta=meta)


def decode_sog(meta: dict, images: dict[str, np.ndarray]) -> Splats:
    """The splats of a SOG v2 file, given its meta.json body and decoded RGBA images by name."""
    version = meta.get("version")
    if version != VERSION:
        raise ValueError(f"SOG meta.json version {version!r} is not supported (only 2)")
    n = int(meta["count"])

    def texels(name: str) -> np.ndarray:
        img = images[name]
        if img.shape[0] * img.shape[1] < n:
            raise ValueError(f"SOG image {name} has {img.shape[0] * img.shape[1]} texels for {n} splats")
        return img.reshape(-1, 4)[:n].astype(np.int64)  # [N, 4]

    lo, hi = texels(meta["means"]["files"][0]), texels(meta["means"]["files"][1])
    mins = np.array(meta["means"]["mins"], np.float64)
    maxs = np.array(meta["means"]["maxs"], np.float64)
    span = np.where(maxs - mins != 0, maxs - mins, 1.0)
    q = (lo[:, :3] | (hi[:, :3] << 8)).astype(np.float64)
    means = inv_log_transform(mins + span * q / 65535.0)

    qt = texels(meta["quats"]["files"][0])
    comps = (qt[:, :3] / 255.0 * 2.0 - 1.0) / SQRT2  # [N, 3]
    tag = qt[:, 3] - 252
    valid = (tag >= 0) & (tag <= 3)
    tag = np.where(valid, tag, 0)
    quats = np.zeros((n, 4))
    kept = np.array(QUAT_KEPT)[tag]  # [N, 3]
    np.put_along_axis(quats, kept, comps, axis=1)
    quats[np.arange(n), tag] = np.sqrt(np.maximum(0.0, 1.0 - (comps**2).sum(axis=1)))
    quats[~valid] = (1.0, 0.0, 0.0, 0.0)

    scale_book = np.array(meta["scales"]["codebook"], np.float32)
    log_scales = scale_book[texels(meta["scales"]["files"][0])[:, :3]]

    sh0_tex = texels(meta["sh0"]["files"][0])
    colour_book = np.array(meta["sh0"]["codebook"], np.float32)
    sh0 = colour_book[sh0_tex[:, :3]]
    y = np.clip(sh0_tex[:, 3] / 255.0, 1e-6, 1 - 1e-6)
    opacities = np.log(y / (1.0 - y))

    sh_rest = np.zeros((n, 0), np.float32)
    sh_meta = meta.get("shN")
    if sh_meta:
        centroids = images[sh_meta["files"][0]]
        width = centroids.shape[1]
        bands = sh_meta.get("bands") or {192: 1, 512: 2, 960: 3}.get(width)
        if bands not in (1, 2, 3) or width != PALETTE_ROW * SH_COEFFS_BY_DEGREE[bands]:
            raise ValueError(f"SOG shN centroids width {width} does not match {bands!r} bands")
        coeffs = SH_COEFFS_BY_DEGREE[bands]
        count = int(sh_meta.get("count", centroids.shape[0] * PALETTE_ROW))
        sh_book = np.array(sh_meta["codebook"], np.float32)
        palette = centroids.reshape(-1, coeffs, 4)[:, :, :3]  # [rows*64, coeff, channel]
        palette = sh_book[palette].transpose(0, 2, 1).reshape(-1, 3 * coeffs)  # [P, 3C] channel-major
        lab = texels(sh_meta["files"][1])
        labels = lab[:, 0] | (lab[:, 1] << 8)
        ok = labels < min(count, len(palette))
        sh_rest = np.zeros((n, 3 * coeffs), np.float32)
        sh_rest[ok] = palette[labels[ok]]

    return Splats(
        means=means.astype(np.float32),
        quats=quats.astype(np.float32),
        log_scales=log_scales.astype(np.float32),
        opacities=opacities.astype(np.float32),
        sh0=sh0.astype(np.float32),
        sh_rest=sh_rest.astype(np.float32),
    )
