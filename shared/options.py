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


# Most frames the SfM stage keeps from a job's videos (shared among them by duration), by preset:
# a frame every half second of a 75 s (preview), 150 s (standard) or 300 s (quality) video.
VIDEO_FRAME_CAP: dict[Preset, int] = {Preset.PREVIEW: 150, Preset.STANDARD: 300, Preset.QUALITY: 600}

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
    # Most frames kept from the job's videos, shared among them by duration (None: the preset's cap).
    max_video_frames: int | None = Field(default=None, ge=8, le=2_000)
    # Seconds left out at the start of every video (take-off, the operator walking into place).
    video_trim_start_s: float = Field(default=0.0, ge=0.0, le=3_600.0)
    # Seconds left out at the end of every video (landing, walking back).
    video_trim_end_s: float = Field(default=0.0, ge=0.0, le=3_600.0)

    @property
    def video_frame_cap(self) -> int:
        """Most frames kept from the job's videos: the option, else the preset's cap."""
        return self.max_video_frames or VIDEO_FRAME_CAP[self.preset]
