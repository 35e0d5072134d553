"""What a user may ask of a job: typed, bounded, with named presets.

The same `JobOptions` travel in `JobSubmitted` and reach every stage; each stage program turns them
into its own config with `Config.from_options(options)`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Preset(StrEnum):
    PREVIEW = "preview"  # minutes on a CPU: a first look, low resolution, few steps
    STANDARD = "standard"  # the default cloud job on one GPU
    QUALITY = "quality"  # more steps, full resolution, more Gaussians


# No vocabulary-tree matching: it needs a downloaded tree, and pycolmap aborts the process without one.
Matcher = Literal["auto", "exhaustive", "sequential", "spatial"]


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # Named bundle of training steps, resolution and Gaussian caps.
    preset: Preset = Preset.STANDARD
    # Longest image side in pixels after downscaling, for SfM and training.
    max_image_size: int = Field(default=1600, ge=256, le=8000)
    # Feature matcher; "auto" picks from the data (GPS -> spatial, sequence -> sequential, ...).
    matcher: Matcher = "auto"
    # Keep view-dependent colour (higher-order SH) in the web model.
    keep_sh: bool = True
    # Highest spherical-harmonics degree trained.
    sh_degree: int = Field(default=3, ge=0, le=3)
    # Upper bound on the number of Gaussians (None: the preset's cap).
    max_gaussians: int | None = Field(default=None, ge=1_000, le=10_000_000)
    # Drop splats with opacity below this before compression.
    prune_opacity: float = Field(default=0.004, ge=0.0, le=0.5)
