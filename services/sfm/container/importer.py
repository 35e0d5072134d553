"""SfM stage, import mode: reuse a COLMAP model the user already has (from COLMAP, or a COLMAP
export of Metashape or RealityCapture) instead of solving the cameras again.

The stage's input is the same folder as for a solve (the job's photos), with the model beside
them in `sparse/0/` (or `sparse/`, `colmap/sparse/0/`, or the folder itself) as COLMAP binary or
text files. The output is the same as a solve's: undistorted pinhole `images/` and `sparse/0/`,
so training cannot tell the two apart.

Checks, each failing with `invalid_colmap_model` and the names involved:
- the model reads, and has cameras with a size and a positive focal length;
- every posed image of the model is among the photos (matched by its name in the model, else
  by file name when that is unique), at the camera's size or a uniform rescale of it;
- enough posed images and 3D points to train from.

COLMAP reads pixels as stored and ignores EXIF orientation (colmap/colmap#1456, #2104), so the
photos are used as stored too: an EXIF-rotated phone photo keeps the pose COLMAP gave it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from PIL import Image

from services.sfm.container.config import Config
from services.sfm.container.export import export_undistorted
from services.sfm.container.metrics import Metrics
from shared.causes import CauseCode
from shared.photo_folder import scan_folder
from shared.stage import ProgressReporter, StageFailure
from shared.wording import agree, plural

logger = logging.getLogger(__name__)

MODEL_PLACES = ("sparse/0", "sparse", "colmap/sparse/0", ".")
MIN_IMPORTED_IMAGES = 3  # the fewest posed photos training accepts
ASPECT_TOLERANCE = 0.01


def find_model(folder: Path) -> Path | None:
    """The folder holding cameras/images/points3D (.bin or .txt) under `folder`, or None."""
    for place in MODEL_PLACES:
        candidate = folder / place
        for ext in (".bin", ".txt"):
            if all((candidate / f"{name}{ext}").is_file() for name in ("cameras", "images", "points3D")):
                return candidate
    return None


def _fail(message: str) -> StageFailure:
    return StageFailure(CauseCode.INVALID_COLMAP_MODEL, message)


def _photos_by_name(in_dir: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """The photos under in_dir (shared/photo_folder.py: the same rules as a solve, the model
    folder left out) by path relative to it and by bare file name."""
    by_path: dict[str, Path] = {}
    by_file: dict[str, list[Path]] = {}
    for relative in scan_folder(in_dir).photos:
        path = in_dir / relative
        by_path[relative] = path
        by_file.setdefault(path.name, []).append(path)
    return by_path, by_file


def _locate(name: str, by_path: dict[str, Path], by_file: dict[str, list[Path]]) -> Path | None:
    for key in (name, f"images/{name}"):
        if key in by_path:
            return by_path[key]
    same = by_file.get(Path(name).name, [])
    return same[0] if len(same) == 1 else None


def _raw_size(path: Path) -> tuple[int, int]:
    """Width and height as stored (no EXIF rotation: the pixels COLMAP saw)."""
    with Image.open(path) as image:
        return image.size


def import_model(cfg: Config, in_dir: Path, out_dir: Path, progress: ProgressReporter) -> Metrics:
    import pycolmap

    model_dir = find_model(in_dir)
    if model_dir is None:
        raise _fail(
            "no COLMAP model found: expected cameras, images and points3D (.bin or .txt) in sparse/0/ "
            "beside the photos"
        )
    progress.update(0, 3, phase="import", force=True)
    try:
        model = pycolmap.Reconstruction(str(model_dir))
    except Exception as exc:  # noqa: BLE001 - pycolmap raises plain RuntimeError/ValueError
        raise _fail(f"the COLMAP model in {model_dir.relative_to(in_dir)} cannot be read: {exc}") from exc
    if model.num_cameras() == 0:
        raise _fail("the COLMAP model has no cameras")
    for camera in model.cameras.values():
        if camera.width <= 0 or camera.height <= 0 or min(camera.focal_length_x, camera.focal_length_y) <= 0:
            raise _fail(
                f"camera {camera.camera_id} of the COLMAP model has size {camera.width}x{camera.height} and "
                f"focal length {camera.mean_focal_length():.4g}; both must be positive"
            )
    posed = sorted((image for image in model.images.values() if image.has_pose), key=lambda image: image.name)
    by_path, by_file = _photos_by_name(in_dir)
    located = {image.name: _locate(image.name, by_path, by_file) for image in posed}
    missing = [name for name, path in located.items() if path is None]
    if missing:
        raise _fail(
            f"{len(missing)} of the {len(posed)} posed images of the COLMAP model "
            f"{agree(len(missing), 'are')} not among the photos "
            f"({', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}); the photos must keep the "
            "file names the model uses"
        )
    warnings: list[str] = []
    _match_camera_sizes(model, posed, located)
    if len(posed) < MIN_IMPORTED_IMAGES or model.num_points3D() < cfg.min_points3d:
        raise _fail(
            f"the COLMAP model has {plural(len(posed), 'posed image')} and "
            f"{plural(model.num_points3D(), '3D point')}; at least "
            f"{MIN_IMPORTED_IMAGES} images and {cfg.min_points3d} points are needed to train"
        )
    unused = len(by_path) - len(posed)
    if unused > 0:
        warnings.append(
            f"{plural(unused, 'photo')} {agree(unused, 'are')} not posed in the COLMAP model and not used"
        )
    progress.update(1, 3, phase="undistort", force=True)
    with tempfile.TemporaryDirectory(prefix="spaceport-import-") as scratch_name:
        scratch = Path(scratch_name)
        images, checked = scratch / "images", scratch / "model"
        for name, path in located.items():
            link = images / name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), link)
        checked.mkdir()
        model.write(str(checked))
        export_undistorted(checked, images, out_dir, cfg.num_threads, max_image_size=cfg.max_image_size)
    progress.update(3, 3, phase="done", force=True)
    undistorted = pycolmap.Reconstruction(str(out_dir / "sparse" / "0"))
    cameras = list(undistorted.cameras.values())
    return Metrics(
        images_in=len(by_path),
        images_registered=len(posed),
        registration_ratio=round(len(posed) / max(1, len(by_path)), 4),
        points3d=model.num_points3D(),
        mean_reprojection_error_px=round(float(model.compute_mean_reprojection_error()), 4),
        mean_track_length=round(float(model.compute_mean_track_length()), 3),
        cameras=model.num_cameras(),
        matcher="imported",
        mapper="imported",
        image_size=(max(c.width for c in cameras), max(c.height for c in cameras)),
        model_source="imported",
        warnings=warnings,
    )


def _match_camera_sizes(model: object, posed: list, located: dict[str, Path | None]) -> None:
    """Rescale a camera whose photos are a uniformly resized copy of what the model saw; fail for
    photos of another shape (cropped, or rotated after the solve)."""
    sizes: dict[int, tuple[int, int]] = {}
    for image in posed:
        path = located[image.name]
        assert path is not None
        size = _raw_size(path)
        seen = sizes.setdefault(image.camera_id, size)
        if seen != size:
            raise _fail(
                f"photos of camera {image.camera_id} have different sizes ({seen[0]}x{seen[1]} and "
                f"{size[0]}x{size[1]} for {image.name}); one camera needs one image size"
            )
    for camera_id, (width, height) in sizes.items():
        camera = model.cameras[camera_id]  # type: ignore[attr-defined]
        if (camera.width, camera.height) == (width, height):
            continue
        if abs(width / camera.width - height / camera.height) > ASPECT_TOLERANCE * width / camera.width:
            raise _fail(
                f"camera {camera_id} of the COLMAP model is {camera.width}x{camera.height} but its photos are "
                f"{width}x{height}: not the same shape (cropped or rotated after the solve)"
            )
        logger.info("camera rescaled to its photos", extra={"camera": camera_id, "width": width, "height": height})
        camera.rescale(width, height)
