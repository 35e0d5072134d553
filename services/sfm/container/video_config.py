"""How the SfM stage turns videos into frames. Imports only pydantic and shared.* (Lambdas build it
from JobOptions, as the rest of the stage config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.options import VIDEO_FRAME_CAP, JobOptions, Preset


class VideoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Most frames kept from all the job's videos, shared among them by usable duration.
    max_frames: int = Field(default=VIDEO_FRAME_CAP[Preset.STANDARD], ge=1)
    # Seconds left out at the start and at the end of every video.
    trim_start_s: float = Field(default=0.0, ge=0.0)
    trim_end_s: float = Field(default=0.0, ge=0.0)
    # Shortest time window (one frame kept per window at most): 0.5 s -> at most 2 frames a second.
    min_interval_s: float = Field(default=0.5, gt=0.0)
    # Frames scored per second of video (every frame is decoded; these are measured).
    score_fps: float = Field(default=8.0, gt=0.0)
    # Width (pixels) of the gray copy that sharpness and motion are measured on.
    score_width: int = Field(default=480, ge=64)
    # A window's sharpest frame is blurry below this share of the median sharpness around it...
    blur_ratio: float = Field(default=0.45, ge=0.0, le=1.0)
    # ... measured over the scored frames within this many seconds.
    blur_context_s: float = Field(default=3.0, gt=0.0)
    # A frame is redundant when the picture moved less than this share of its width since the
    # last frame kept (the camera barely moved).
    min_motion: float = Field(default=0.02, ge=0.0, le=1.0)
    # A video with less than this many seconds left after trimming is refused as too short.
    min_seconds: float = Field(default=2.0, ge=0.0)
    # Sequential matching of video frames also looks for loops (a place seen again) with a visual
    # index built from the job's own features (no download).
    loop_detection: bool = True
    # Loop detection: every this many frames, query the index...
    loop_detection_period: int = Field(default=10, ge=1)
    # ... and match with this many of the most similar frames.
    loop_detection_images: int = Field(default=30, ge=1)

    @classmethod
    def from_options(cls, options: JobOptions) -> VideoConfig:
        return cls(
            max_frames=options.video_frame_cap,
            trim_start_s=options.video_trim_start_s,
            trim_end_s=options.video_trim_end_s,
        )
