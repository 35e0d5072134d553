"""The compress stage program: `model.ply` -> `model.sog` + `sog/` (SOG v2), `model.spz` (SPZ v3),
`lod/` (streamed SOG, for large models) + metrics."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from services.compress.container.codec_error import CodecError, codec_error
from services.compress.container.config import Config
from services.compress.container.decimate import detail_levels
from services.compress.container.lod import layout, write_lod
from services.compress.container.order import morton_order
from services.compress.container.plas import plas_order
from services.compress.container.rotations import canonical_rotations
from services.compress.container.ply import PlyError, read_ply
from services.compress.container.sog import Precision, encode_sog
from services.compress.container.sog_io import encode_files, read_sog, write_bundle, write_unbundled
from services.compress.container.splats import Splats, sigmoid
from services.compress.container.spz import SpzError, SpzPrecision, fractional_bits_for, read_spz, write_spz
from shared.causes import CauseCode
from shared.stage import ProgressReporter, StageFailure

logger = logging.getLogger(__name__)

MODEL_PLY = "model.ply"
MODEL_SOG = "model.sog"
MODEL_SPZ = "model.spz"
UNBUNDLED_DIR = "sog"
LOD_DIR = "lod"


class OutputFile(BaseModel):
    path: str  # relative to the stage output folder; a folder ends with "/" and sums its files
    format: str  # "sog", "sog-unbundled", "spz" or "streamed-sog"
    bytes: int
    files: int  # 1 for a single file


class SpzMetrics(BaseModel):
    bytes: int
    ratio: float  # ply_bytes / bytes
    bits_per_splat: float
    fractional_bits: int  # of the 24-bit positions
    encode_seconds: float
    codec_error: CodecError  # decoded model.spz vs the pruned input


class LodMetrics(BaseModel):
    levels: list[int]  # splats per level of detail, the full model first
    files: int
    bytes: int  # every file under lod/
    first_render_bytes: int  # what the viewer fetches before it draws: lod-meta.json + coarsest level
    encode_seconds: float  # decimation + layout + SOG encoding of every file unit


class Metrics(BaseModel):
    splats_in: int  # Gaussians in model.ply
    splats_out: int  # Gaussians in model.sog
    pruned_transparent: int  # dropped for opacity < prune_opacity
    pruned_tiny: int  # dropped for size < prune_min_size * scene extent
    dropped_non_finite: int  # dropped for NaN/inf attributes
    sh_degree_in: int
    sh_degree_out: int
    palette_size: int  # SH palette entries (0 without SH)
    order: str  # texel order used
    ply_bytes: int
    sog_bytes: int  # model.sog, the file served
    ratio: float  # ply_bytes / sog_bytes
    bits_per_splat: float  # 8 * sog_bytes / splats_out
    file_bytes: dict[str, int]  # per file inside model.sog
    encode_seconds: float  # read + prune + order + quantise + WebP + write
    codec_error: CodecError  # decoded model.sog vs the pruned input (after canonical rotations)
    spz: SpzMetrics | None = None  # None when not written (config, or positions out of range)
    spz_skipped: str | None = None  # why model.spz was not written
    lod: LodMetrics | None = None  # None below lod_min_splats
    outputs: list[OutputFile]  # every file or folder written, with its size


def _finite_rows(splats: Splats) -> np.ndarray:
    ok = np.isfinite(splats.means).all(axis=1) & np.isfinite(splats.quats).all(axis=1)
    ok &= ~np.isnan(splats.log_scales).any(axis=1) & ~np.isnan(splats.opacities)
    ok &= np.isfinite(splats.sh0).all(axis=1) & np.isfinite(splats.sh_rest).all(axis=1)
    return ok


def prune(splats: Splats, cfg: Config) -> tuple[Splats, dict[str, int]]:
    """Drop non-finite, near-transparent and (optionally) tiny splats; counts by reason."""
    finite = _finite_rows(splats)
    splats = splats.take(finite)
    # +-inf log-scales (flat splats) and opacities are legal; clamp them to finite values.
    splats.log_scales = np.clip(splats.log_scales, -30.0, 30.0)
    splats.opacities = np.clip(splats.opacities, -30.0, 30.0)
    transparent = sigmoid(splats.opacities) < cfg.prune_opacity
    tiny = np.zeros(len(splats), bool)
    if cfg.prune_min_size > 0 and len(splats):
        lo, hi = np.percentile(splats.means, [1, 99], axis=0)
        extent = float(np.linalg.norm(hi - lo))
        tiny = np.exp(splats.log_scales.max(axis=1)) < cfg.prune_min_size * extent
    keep = ~transparent & ~tiny
    counts = {
        "dropped_non_finite": int((~finite).sum()),
        "pruned_transparent": int(transparent.sum()),
        "pruned_tiny": int((tiny & ~transparent).sum()),
    }
    return splats.take(keep), counts


def precision_of(cfg: Config) -> Precision:
    return Precision(
        position_tolerance=cfg.position_tolerance,
        scale_levels=cfg.scale_levels,
        colour_levels=cfg.colour_levels,
        opacity_levels=cfg.opacity_levels,
        sh_levels=cfg.sh_levels,
        codebook_alpha=cfg.codebook_alpha,
        scale_beta=cfg.scale_beta,
        sh_weight_power=cfg.sh_weight_power,
    )


def palette_size(cfg: Config, count: int) -> int:
    """The configured SH palette size, or count / palette_per_splats as a power of two in [256, 16384]."""
    if cfg.palette_size is not None:
        return cfg.palette_size
    return int(2 ** np.clip(np.rint(np.log2(max(count, 1) / cfg.palette_per_splats)), 8, 14))


def order_splats(splats: Splats, cfg: Config) -> np.ndarray:
    if cfg.order == "morton":
        return morton_order(splats.means)
    return plas_order(splats, seed=cfg.seed)


def run(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
    started = time.monotonic()
    progress = ProgressReporter(out_dir, phase="read")
    ply_path = in_dir / MODEL_PLY
    if not ply_path.is_file():
        raise StageFailure(CauseCode.INVALID_MODEL_FILE, f"no {MODEL_PLY} in the compress input folder")
    try:
        original = read_ply(ply_path)
    except PlyError as exc:
        raise StageFailure(CauseCode.INVALID_MODEL_FILE, str(exc)) from exc
    splats, counts = prune(original, cfg)
    if len(splats) == 0:
        raise StageFailure(
            CauseCode.DEGENERATE_MODEL,
            f"all {len(original)} splats were pruned (opacity < {cfg.prune_opacity} or non-finite)",
        )
    if not cfg.keep_sh:
        splats = splats.without_sh_rest()
    if cfg.canonical_rotations:
        splats.quats, splats.log_scales = canonical_rotations(splats.quats, splats.log_scales)
    logger.info("compressing", extra={"splats": len(splats), **counts})

    steps = 4 + cfg.write_spz + wants_lod(cfg, len(splats))
    progress.update(1, steps, phase="order", force=True)
    splats = splats.take(order_splats(splats, cfg))
    progress.update(2, steps, phase="quantise", force=True)
    sog = encode_sog(splats, palette_size(cfg, len(splats)), cfg.sh_iterations, precision_of(cfg), cfg.seed)
    progress.update(3, steps, phase="write", force=True)
    files = encode_files(sog, cfg.webp_method, cfg.webp_quality)
    sog_path = out_dir / MODEL_SOG
    write_bundle(sog_path, files)
    outputs = [OutputFile(path=MODEL_SOG, format="sog", bytes=sog_path.stat().st_size, files=1)]
    if cfg.write_unbundled:
        write_unbundled(out_dir / UNBUNDLED_DIR, files)
        size = sum(len(data) for data in files.values())
        outputs.append(OutputFile(path=UNBUNDLED_DIR + "/", format="sog-unbundled", bytes=size, files=len(files)))
    encode_seconds = time.monotonic() - started
    progress.update(4, steps, phase="verify", force=True)

    decoded = read_sog(sog_path)
    sog_bytes = sog_path.stat().st_size
    ply_bytes = ply_path.stat().st_size
    spz, spz_skipped = None, None
    if cfg.write_spz:
        progress.update(5, steps, phase="spz", force=True)
        try:
            spz = write_spz_output(out_dir / MODEL_SPZ, splats, ply_bytes)
            outputs.append(OutputFile(path=MODEL_SPZ, format="spz", bytes=spz.bytes, files=1))
        except SpzError as exc:
            spz_skipped = str(exc)
            logger.warning("spz skipped", extra={"reason": spz_skipped})
    lod = None
    if wants_lod(cfg, len(splats)):
        progress.update(steps - 1, steps, phase="lod", force=True)
        lod = write_lod_output(out_dir / LOD_DIR, splats, cfg)
        outputs.append(OutputFile(path=LOD_DIR + "/", format="streamed-sog", bytes=lod.bytes, files=lod.files))
    return Metrics(
        splats_in=len(original),
        splats_out=len(splats),
        **counts,
        sh_degree_in=original.sh_degree,
        sh_degree_out=splats.sh_degree,
        palette_size=int(sog.meta.get("shN", {}).get("count", 0)),
        order=cfg.order,
        ply_bytes=ply_bytes,
        sog_bytes=sog_bytes,
        ratio=round(ply_bytes / sog_bytes, 3),
        bits_per_splat=round(8.0 * sog_bytes / len(splats), 3),
        file_bytes={name: len(data) for name, data in files.items()},
        encode_seconds=round(encode_seconds, 3),
        codec_error=codec_error(splats, decoded),
        spz=spz,
        spz_skipped=spz_skipped,
        lod=lod,
        outputs=outputs,
    )


def wants_lod(cfg: Config, count: int) -> bool:
    return cfg.lod_min_splats is not None and count >= cfg.lod_min_splats


def write_spz_output(path: Path, splats: Splats, ply_bytes: int) -> SpzMetrics:
    """model.spz of the ordered splats, checked by decoding it again."""
    started = time.monotonic()
    size = write_spz(path, splats, SpzPrecision())
    seconds = time.monotonic() - started
    return SpzMetrics(
        bytes=size,
        ratio=round(ply_bytes / size, 3),
        bits_per_splat=round(8.0 * size / len(splats), 3),
        fractional_bits=fractional_bits_for(splats, SpzPrecision().fractional_bits),
        encode_seconds=round(seconds, 3),
        codec_error=codec_error(splats, read_spz(path)),
    )


def write_lod_output(folder: Path, splats: Splats, cfg: Config) -> LodMetrics:
    """lod/: the levels of detail of `splats`, each file unit an unbundled SOG like model.sog."""
    started = time.monotonic()
    levels = detail_levels(splats, cfg.lod_levels)
    plan = layout(levels, cfg.lod_leaf_splats, cfg.lod_file_splats)

    def encode_unit(unit: Splats) -> dict[str, bytes]:
        images = encode_sog(unit, palette_size(cfg, len(unit)), cfg.sh_iterations, precision_of(cfg), cfg.seed)
        return encode_files(images, cfg.webp_method, cfg.webp_quality)

    written = write_lod(folder, plan, encode_unit)
    return LodMetrics(
        levels=[len(level) for level in levels],
        files=len(written.file_bytes),
        bytes=written.total_bytes,
        first_render_bytes=written.first_render_bytes,
        encode_seconds=round(time.monotonic() - started, 3),
    )
