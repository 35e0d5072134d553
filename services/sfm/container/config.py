"""SfM stage configuration. Imports only pydantic and shared.* (Lambdas build it from JobOptions)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.sfm.container.video_config import VideoConfig
from shared.options import JobOptions, Preset, resolve
from shared.photo_formats import MIN_PHOTO_SIDE, MIN_PHOTOS

SfmMatcher = Literal["auto", "exhaustive", "sequential", "spatial"]
Mapper = Literal["incremental", "global"]


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
    # Camera solver: global (GLOMAP, built into pycolmap; registered 16/16 banana photos where
    # incremental placed 15, see docs/bench/sfm.md) or incremental (COLMAP).
    mapper: Mapper = "global"
    # Refine the principal point in a final bundle adjustment (kept only if it stays near the centre).
    refine_principal_point: bool = True
    # Largest accepted principal-point shift from the image centre, as a fraction of width/height.
    max_principal_point_offset: float = Field(default=0.05, ge=0.0, le=0.5)
    # Align the model to a local east-north-up metric frame when enough photos have GPS.
    georeference: bool = True
    # Fewest photos with GPS (and registered) needed to geo-reference.
    min_gps_images: int = Field(default=3, ge=3)
    # CPU threads for extraction, matching and mapping (-1: all cores).
    num_threads: int = -1
    # Seed for RANSAC and the mappers (deterministic runs).
    seed: int = 0
    # "solve" the cameras; "import" the COLMAP model in the input (importer.py); "auto": import
    # when the input holds one.
    mode: Literal["auto", "solve", "import"] = "auto"
    # Frames from videos: how many, which, trimming (services/sfm/container/video_config.py).
    video: VideoConfig = Field(default_factory=VideoConfig)

    @classmethod
    def from_options(cls, options: JobOptions) -> Config:
        """The preset's config at the job's image size when one is given; otherwise the preset's SfM
        size, raised to the training size (the undistorted images are what training reads)."""
        base = PRESETS[options.preset]
        size = options.max_image_size or max(base.max_image_size, resolve(options).max_image_size)
        return base.model_copy(update={"max_image_size": size, "matcher": options.matcher, "mode": options.sfm_mode,
                                       "video": VideoConfig.from_options(options)})


PRESETS: dict[Preset, Config] = {
    Preset.PREVIEW: Config(max_image_size=1000, max_num_features=2048),
    Preset.STANDARD: Config(),
    Preset.QUALITY: Config(max_num_features=8192, sift_first_octave=-1, fallback_registration_ratio=0.99),
}
