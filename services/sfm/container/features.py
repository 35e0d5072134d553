"""Feature extraction into a COLMAP database: one camera per photo group, GPS pose priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.sfm.container.config import Config
from services.sfm.container.gps import GpsTargets, pose_priors
from services.sfm.container.photos import Photo


def extract_features(
    database: Path, image_dir: Path, groups: list[list[Photo]], cfg: Config, mask_dir: Path | None = None
) -> None:
    """SIFT on every working copy; each group gets one SIMPLE_RADIAL camera seeded with its focal prior.

    mask_dir: `<image name>.png` per image (black: extract no features there), or None.
    """
    import pycolmap

    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = cfg.max_image_size
    extraction.num_threads = cfg.num_threads
    extraction.use_gpu = False
    extraction.sift.max_num_features = cfg.max_num_features
    extraction.sift.first_octave = cfg.sift_first_octave
    for group in groups:
        first = group[0]
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "SIMPLE_RADIAL"
        # f, cx, cy, k: principal point at the image centre, no distortion to start with.
        reader.camera_params = f"{first.focal_px:.3f},{first.width / 2:.3f},{first.height / 2:.3f},0"
        if mask_dir is not None:
            reader.mask_path = mask_dir
        pycolmap.extract_features(
            database,
            image_dir,
            image_names=[p.name for p in group],
            camera_mode=pycolmap.CameraMode.SINGLE,
            reader_options=reader,
            extraction_options=extraction,
            device=pycolmap.Device.cpu,
        )


def write_pose_priors(database: Path, targets: GpsTargets) -> int:
    """Store the photos' ENU positions and GPS covariances as CARTESIAN pose priors; returns how many.

    Spatial matching pairs photos by them, and the incremental mapper's bundle adjustments use
    them. Photos without altitude get the median known height with an uninformative sigma.
    """
    import pycolmap

    known_up = targets.enu[targets.has_altitude, 2]
    fill_up = float(np.median(known_up)) if len(known_up) else 0.0
    db = pycolmap.Database.open(database)
    try:
        data_ids = {image.name: image.data_id for image in db.read_all_images()}
        priors = pose_priors(targets, data_ids, fill_up)
        for prior in priors:
            db.write_pose_prior(prior)
        return len(priors)
    finally:
        db.close()


def count_verified_pairs(database: Path, min_inliers: int = 10) -> int:
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        pairs, counts = db.read_two_view_geometry_num_inliers()
        return int(sum(1 for c in counts if c >= min_inliers))
    finally:
        db.close()
