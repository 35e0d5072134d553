"""What the SfM stage reports in metrics.json (execute_stage adds status, wall time, peak memory)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    unplaced_photos: list[str] = Field(default_factory=list)  # photos not in the model (original names)
    photo_groups: list[int] = Field(default_factory=list)  # sizes of separate groups of linked photos (2+)
    photos_with_masks: int = 0  # photos with pixels to ignore (alpha or a masks/ file)
    masks_exported: int = 0  # undistorted masks written to masks/<image name>.png
    # Photos each capture check flagged (dark, clipped_dark, clipped_bright, blurred, few_features:
    # original names); per-photo figures are in capture.json (services/sfm/container/capture.py).
    capture: dict[str, list[str]] = Field(default_factory=dict)
    seconds: dict[str, float] = Field(default_factory=dict)  # wall seconds per step
    warnings: list[str] = Field(default_factory=list)
