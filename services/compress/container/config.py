"""Configuration of the compress stage (imports only pydantic and shared.*: Lambdas build it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.options import JobOptions, Preset, resolve


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Keep view-dependent colour (higher-order SH) in the web model; False writes SH degree 0.
    keep_sh: bool = True
    # SH palette entries (k-means clusters, <= 65536); None: N / palette_per_splats as a power of two.
    palette_size: int | None = Field(default=None, ge=1, le=65536)
    # Splats per SH palette entry when palette_size is None (result kept within 256..16384).
    palette_per_splats: int = Field(default=48, ge=1, le=4096)
    # Lloyd iterations of the SH palette k-means.
    sh_iterations: int = Field(default=10, ge=1, le=100)
    # Drop splats whose opacity (after sigmoid) is below this before encoding.
    prune_opacity: float = Field(default=0.004, ge=0.0, le=0.5)
    # Drop splats whose largest axis (sigma) is below this fraction of the scene's extent; 0: keep all.
    prune_min_size: float = Field(default=0.0, ge=0.0, le=0.01)
    # Re-express each splat's frame (one of 24 equivalent axis permutations) so |w| is largest:
    # the same covariance, a smaller quats.webp.
    canonical_rotations: bool = True
    # Texel order: "morton" (Z-order of positions, as splat-transform) or "plas" (self-organising sort).
    order: Literal["morton", "plas"] = "morton"
    # Exponent of the histogram-bin weights of the codebooks (1: plain MSE, 0: every bin alike, favours tails).
    codebook_alpha: float = Field(default=0.0, ge=0.0, le=1.0)
    # Round positions to steps up to this fraction of each splat's size (0: full 16-bit precision).
    position_tolerance: float = Field(default=0.15, ge=0.0, le=1.0)
    # Quantile share of the log-scale codebook's histogram bins (0: uniform bins; None: reference rule).
    scale_beta: float | None = Field(default=0.0, ge=0.0, le=1.0)
    # SH k-means row weight = (opacity x footprint area) ** this; 0: every splat alike (the reference).
    sh_weight_power: float = Field(default=0.5, ge=0.0, le=2.0)
    # Distinct values used in each 256-entry table: fewer compress better and cost accuracy.
    scale_levels: int = Field(default=128, ge=2, le=256)
    colour_levels: int = Field(default=48, ge=2, le=256)
    opacity_levels: int = Field(default=32, ge=2, le=256)
    sh_levels: int = Field(default=32, ge=2, le=256)
    # Lossless WebP effort: method 0-6 and quality 0-100 (Pillow); 6/100 is ~30x slower for <1% size.
    webp_method: int = Field(default=4, ge=0, le=6)
    webp_quality: int = Field(default=90, ge=0, le=100)
    # Also write the unbundled form (sog/meta.json + images) beside model.sog.
    write_unbundled: bool = True
    # Also write model.spz (Niantic SPZ version 3, read by Spark, Babylon.js, splat-transform).
    write_spz: bool = True
    # Also write a streamed level-of-detail SOG (lod/lod-meta.json) for models with at least this
    # many splats (the single model.sog is kept); None: never.
    lod_min_splats: int | None = Field(default=500_000, ge=0)
    # Levels of detail, the full model first; each has about half the splats of the one before.
    lod_levels: int = Field(default=4, ge=2, le=8)
    # Splats per spatial chunk of the streamed SOG (counted over all levels): the unit the viewer
    # picks a level for.
    lod_leaf_splats: int = Field(default=131_072, ge=1024)
    # Splats per file unit (one unbundled SOG) of a level.
    lod_file_splats: int = Field(default=524_288, ge=1024)
    # Seed of the k-means initialisation and sampling.
    seed: int = 0

    @classmethod
    def preset(cls, preset: Preset) -> Config:
        return PRESETS[preset]

    @classmethod
    def from_options(cls, options: JobOptions) -> Config:
        base = PRESETS[options.preset]
        return base.model_copy(
            update={
                "keep_sh": options.keep_sh and resolve(options).sh_degree > 0,
                "prune_opacity": options.prune_opacity,
            }
        )


PRESETS: dict[Preset, Config] = {
    # Minutes on a CPU: few k-means iterations.
    Preset.PREVIEW: Config(sh_iterations=3),
    # ~20x smaller than the PLY; codec-only render PSNR ~45 dB on the banana benchmark.
    Preset.STANDARD: Config(),
    # Full-precision positions and tables, a 4x larger palette, more iterations (~15x, ~52 dB).
    Preset.QUALITY: Config(
        sh_iterations=20, palette_per_splats=12, position_tolerance=0.0,
        scale_levels=256, colour_levels=128, opacity_levels=256, sh_levels=64,
    ),
}  # fmt: skip
