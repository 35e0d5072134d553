"""What the SfM stage reports in metrics.json (execute_stage adds status, wall time, peak memory)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VideoMetrics(BaseModel):
    """What one video gave (services/sfm/container/video.py)."""

    name: str  # path in the input folder
    container: str  # FFmpeg demuxer
    codec: str
    width: int  # upright
    height: int
    fps: float
    duration_s: float
    used_s: float  # after trimming
    frames_decoded: int = 0  # every frame in the used range
    frames_scored: int = 0  # measured (sharpness) at the scoring rate
    frames_kept: int = 0  # written as SfM images
    rejected_blurry: int = 0  # time windows whose sharpest frame was still blurry
    rejected_redundant: int = 0  # time windows skipped: the camera barely moved
    frames_with_gps: int = 0  # kept frames with a position from the DJI subtitle
    altitude: str | None = None  # "absolute" or "relative" (subtitle altitudes), None without
    telemetry: str = ""  # the DJI subtitle dialect read ("" without a subtitle)
    camera: str = ""  # make and model, when the container says
    warnings: list[str] = Field(default_factory=list)


class Metrics(BaseModel):
    images_in: int  # photos found and readable
    images_registered: int  # photos with a camera pose in the kept model
    registration_ratio: float  # images_registered / images_in
    points3d: int  # sparse 3D points in the kept model
    mean_reprojection_error_px: float
    mean_track_length: float  # observations per 3D point
    cameras: int  # distinct cameras (make, model, focal, size)
    photos_with_gps: int = 0  # photos whose EXIF has a GPS position
    photos_with_attitude: int = 0  # photos with DJI XMP gimbal/flight angles
    matcher: str  # pair selection used first
    matcher_fallback: str | None = None  # pair selection added when the first registered too few
    mapper: str  # incremental or global
    image_size: tuple[int, int]  # largest (width, height) of the working copies
    georeferenced: bool = False  # sparse/0 is in a local ENU metric frame (see georef.json)
    mapper_reason: str = ""  # why this mapper ("auto": global, GPS through the pose-prior bundle adjustment)
    points3d_mapped: int = 0  # 3D points after the final bundle adjustment, before re-triangulation
    # Per camera: focal source, prior_px, final_px, held (kept at the EXIF value) and rel_std (the
    # focal's relative 1-sigma precision from the photos alone; refined when <= 1 %).
    focal: list[dict] = Field(default_factory=list)
    principal_point_refined: bool = False  # freed in the final bundle adjustment (only where observable)
    # GPS: fixes used / left out (name -> why) / without altitude, the noise model, and the
    # residual of the delivered model against GPS (see georef.json); None without GPS.
    gps: dict | None = None
    attitude_error_deg: float | None = None  # median solved vs DJI gimbal orientation difference
    model_source: str = "solved"  # "solved" here, or "imported" from the user's COLMAP model
    unplaced_photos: list[str] = Field(default_factory=list)  # photos not in the model (original names)
    # Photos the mapper placed where the 3D points do not hold them: original name -> why, and
    # which were registered again or left out (services/sfm/container/pose_support.py).
    poses_rechecked: dict = Field(default_factory=dict)
    photo_groups: list[int] = Field(default_factory=list)  # sizes of separate groups of linked photos (2+)
    photos_with_masks: int = 0  # photos with pixels to ignore (alpha or a masks/ file)
    masks_exported: int = 0  # undistorted masks written to masks/<image name>.png
    # Photos each capture check flagged (dark, clipped_dark, clipped_bright, blurred, few_features:
    # original names); per-photo figures are in capture.json (services/sfm/container/capture.py).
    capture: dict[str, list[str]] = Field(default_factory=dict)
    videos: list[VideoMetrics] = Field(default_factory=list)  # frames chosen from each video
    # One sentence per kind of photo or video skipped on decoding (unreadable, blank, too small...),
    # naming the files; also among `warnings`, which hold everything else too.
    photos_skipped: list[str] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict)  # wall seconds per step
    warnings: list[str] = Field(default_factory=list)
