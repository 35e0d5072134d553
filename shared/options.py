"""What a user may ask of a job: typed, bounded, with named presets.

The same `JobOptions` travel in `JobSubmitted` and reach every stage; each stage program turns them
into its own config with `Config.from_options(options)`, through `resolve(options)` here, so the
preset table below is the one place that says what a preset means.

A setting left out (None) is the preset's. A setting given wins over the preset both ways; the
one exception is the Gaussian cap, which grows with a larger image size than the preset's (more
pixels need more Gaussians) unless it is given too. `resolve` says so in its `notes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Preset(StrEnum):
    PREVIEW = "preview"  # minutes on a CPU: a first look, low resolution, few steps
    STANDARD = "standard"  # the default cloud job on one GPU
    QUALITY = "quality"  # more steps, full resolution, more Gaussians


@dataclass(frozen=True)
class PresetSpec:
    """What a preset fixes. Typical durations: on a CPU they are computed from measured step
    times (spaceport/estimate.py); on a GPU they are estimates, not measurements (docs/local.md)."""

    max_image_size: int  # longest side (px) of the training images
    steps: int  # optimisation steps, one training photo each
    max_gaussians: int  # most Gaussians the model may hold
    sh_degree: int  # highest spherical-harmonics degree (view-dependent colour)
    summary: str  # what it is for, in a few words
    t4_minutes: tuple[int, int]  # estimated training time on one NVIDIA T4 (low, high)
    video_frames: int  # most frames kept from a job's videos (shared by duration; one per 0.5 s at most)


PRESETS: dict[Preset, PresetSpec] = {
    Preset.PREVIEW: PresetSpec(
        max_image_size=320, steps=1_500, max_gaussians=20_000, sh_degree=1,
        summary="a first look, minutes on a laptop CPU", t4_minutes=(1, 3), video_frames=150,
    ),
    Preset.STANDARD: PresetSpec(
        max_image_size=1_600, steps=30_000, max_gaussians=1_000_000, sh_degree=3,
        summary="the usual result; needs a GPU", t4_minutes=(45, 120), video_frames=300,
    ),
    Preset.QUALITY: PresetSpec(
        max_image_size=3_200, steps=50_000, max_gaussians=3_000_000, sh_degree=3,
        summary="full resolution, finer detail; a large GPU", t4_minutes=(180, 480), video_frames=600,
    ),
}  # fmt: skip

# A run on a CPU estimated above this asks before it starts (the CLI; `--yes` skips the question).
CPU_CONFIRM_MINUTES = 30.0


# Camera solve: "auto" imports a COLMAP model that comes with the photos (sparse/0/), else solves.
SfmMode = Literal["auto", "solve", "import"]

# No vocabulary-tree matching: it needs a downloaded tree, and pycolmap aborts the process without one.
Matcher = Literal["auto", "exhaustive", "sequential", "spatial"]


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # Named bundle of image size, steps, Gaussian cap and SH degree (PRESETS).
    preset: Preset = Preset.STANDARD
    # Longest image side in pixels for training (None: the preset's); SfM works at least this large.
    max_image_size: int | None = Field(default=None, ge=256, le=8000)
    # Optimisation steps (None: the preset's).
    steps: int | None = Field(default=None, ge=100, le=200_000)
    # Feature matcher; "auto" picks from the data (GPS -> spatial, sequence -> sequential, ...).
    matcher: Matcher = "auto"
    # Solve the cameras, or import the COLMAP model uploaded with the photos ("auto": import if present).
    sfm_mode: SfmMode = "auto"
    # Keep view-dependent colour (higher-order SH) in the web model.
    keep_sh: bool = True
    # Highest spherical-harmonics degree trained (None: the preset's).
    sh_degree: int | None = Field(default=None, ge=0, le=3)
    # Upper bound on the number of Gaussians (None: the preset's, raised with a larger image size).
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
        return self.max_video_frames or PRESETS[self.preset].video_frames


@dataclass(frozen=True)
class Resolved:
    """The settings a job actually trains with, and why they differ from its preset."""

    preset: Preset
    max_image_size: int
    steps: int
    max_gaussians: int
    sh_degree: int
    notes: tuple[str, ...] = ()


def resolve(options: JobOptions) -> Resolved:
    """The preset's settings with the options' overrides applied (see the module docstring)."""
    spec = PRESETS[options.preset]
    notes: list[str] = []
    size = options.max_image_size or spec.max_image_size
    cap = options.max_gaussians
    if cap is None:
        cap = spec.max_gaussians
        if size > spec.max_image_size:
            # Pixels grow with the square of the side; so does the detail there is to fit.
            cap = min(10_000_000, int(round(spec.max_gaussians * (size / spec.max_image_size) ** 2, -3)))
            notes.append(
                f"image size {size} px is above the {options.preset} preset's {spec.max_image_size} px: "
                f"Gaussian cap raised from {spec.max_gaussians:,} to {cap:,}"
            )
    return Resolved(
        preset=options.preset,
        max_image_size=size,
        steps=options.steps or spec.steps,
        max_gaussians=cap,
        sh_degree=spec.sh_degree if options.sh_degree is None else options.sh_degree,
        notes=tuple(notes),
    )
