"""SfM stage configuration. Imports only pydantic and shared.* (Lambdas build it from JobOptions)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.options import PRESETS as JOB_PRESETS
from shared.options import JobOptions, Preset, resolve
from shared.photo_formats import MIN_PHOTO_SIDE, MIN_PHOTOS


class VideoConfig(BaseModel):
    """How videos become frames (services/sfm/container/video.py, frame_select.py, loops.py)."""

    model_config = ConfigDict(extra="forbid")

    # Most frames kept from all the job's videos, shared among them by usable duration.
    max_frames: int = Field(default=JOB_PRESETS[Preset.STANDARD].video_frames, ge=1)
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


SfmMatcher = Literal["auto", "exhaustive", "sequential", "spatial"]
Mapper = Literal["auto", "incremental", "global"]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Longest side (pixels) of the working copies, the SIFT input and the undistorted output images.
    max_image_size: int = Field(default=1600, ge=64, le=8000)
    # Most SIFT features kept per image (fewer = faster matching, less robust).
    max_num_features: int = Field(default=4096, ge=256, le=32768)
    # SIFT's first octave: -1 also detects on a 2x upsampled image (finer features, ~3x slower).
    sift_first_octave: int = Field(default=0, ge=-1, le=1)
    # Pair selection: "auto" picks from the data (small set, GPS, numbered sequence).
    matcher: SfmMatcher = "auto"
    # "auto" matches every pair when the set has at most this many photos.
    exhaustive_max_images: int = Field(default=30, ge=2)
    # Sequential matching: how many following images each image is matched with.
    sequential_overlap: int = Field(default=10, ge=1)
    # Spatial matching: nearest GPS neighbours matched per image.
    spatial_neighbors: int = Field(default=16, ge=1)
    # A photo pair counts as overlapping with at least this many geometrically verified matches.
    min_pair_inliers: int = Field(default=10, ge=6)
    # A photo is added to the model when its pose has this many 2D-3D inliers (COLMAP: 30)...
    abs_pose_min_inliers: int = Field(default=15, ge=6)
    # ... and at least this inlier ratio (COLMAP: 0.25); wide-baseline orbits need the slack.
    abs_pose_min_inlier_ratio: float = Field(default=0.1, gt=0.0, le=1.0)
    # Below this registered fraction the first matcher's model is retried with exhaustive matching.
    fallback_registration_ratio: float = Field(default=0.95, ge=0.0, le=1.0)
    # Below this registered fraction the stage fails with LOW_REGISTRATION.
    min_registration_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    # Fewer usable photos than this fails (TOO_FEW_IMAGES, or the cause of the photos left out).
    min_images: int = Field(default=MIN_PHOTOS, ge=2)
    # Photos shorter than this on their short side are skipped as too small (measured minimum:
    # bench/sfm_min_size.py; 0 switches the check off).
    min_image_side: int = Field(default=MIN_PHOTO_SIDE, ge=0)
    # A model with fewer 3D points than this fails with DEGENERATE_MODEL.
    min_points3d: int = Field(default=100, ge=0)
    # Camera solver: "auto" = incremental (COLMAP) with GPS position priors when photos have GPS
    # (only it takes them), else global (GLOMAP: registered 16/16 banana photos where incremental
    # placed 15, see docs/bench/sfm.md); a global solve that builds nothing (flat ground seen from
    # straight above: every pair is a homography) is retried incremental.
    mapper: Mapper = "auto"
    # Refine the principal point in a final bundle adjustment (kept only if it stays near the centre).
    refine_principal_point: bool = True
    # Largest accepted principal-point shift from the image centre, as a fraction of width/height.
    max_principal_point_offset: float = Field(default=0.05, ge=0.0, le=0.5)
    # After the final bundle adjustment, triangulate the points the mapper left out (poses fixed).
    triangulate_more: bool = True
    # ... including points seen in only two photos (a denser start for training).
    two_view_points: bool = True
    # Align the model to a local east-north-up metric frame when enough photos have GPS.
    georeference: bool = True
    # ... with GPS as position priors (sigmas from the noise model) in the final bundle adjustment.
    gps_bundle_adjustment: bool = True
    # Fewest photos with GPS (and registered) needed to geo-reference.
    min_gps_images: int = Field(default=3, ge=3)
    # CPU threads for extraction, matching and mapping (-1: all cores).
    num_threads: int = -1
    # Seed for RANSAC and the mappers (deterministic runs).
    seed: int = 0
    # "solve" the cameras; "import" the COLMAP model in the input (importer.py); "auto": import
    # when the input holds one.
    mode: Literal["auto", "solve", "import"] = "auto"
    # Frames from videos: how many, which, trimming (VideoConfig above).
    video: VideoConfig = Field(default_factory=VideoConfig)

    @classmethod
    def from_options(cls, options: JobOptions) -> Config:
        """The preset's config at the job's image size when one is given; otherwise the preset's SfM
        size, raised to the training size (the undistorted images are what training reads)."""
        base = PRESETS[options.preset]
        size = options.max_image_size or max(base.max_image_size, resolve(options).max_image_size)
        return base.model_copy(update={"max_image_size": size, "matcher": options.matcher,
                                       "mode": options.sfm_mode, "video": VideoConfig.from_options(options)})


PRESETS: dict[Preset, Config] = {
    Preset.PREVIEW: Config(max_image_size=1000, max_num_features=2048),
    Preset.STANDARD: Config(),
    Preset.QUALITY: Config(max_num_features=8192, sift_first_octave=-1, fallback_registration_ratio=0.99),
}
