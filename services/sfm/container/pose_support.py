"""Camera poses the photos do not support: found after mapping, then re-registered or left out.

The global mapper (GLOMAP) places every photo of its view graph. A photo whose links fix only
its rotation (pairs COLMAP labels planar or panoramic) or that is wrongly linked can keep a
position far from all the others that only a handful of 3D points agree with, while the mean
reprojection error stays low: the rendered orbit placed one of 16 photos 1,900 scene units
away on 2 points, banana one photo 70,000 units away on none. Such a pose is not a solve.

A registered photo is *unsupported* when it observes fewer 3D points than the incremental
mapper needs to register a photo (`Config.abs_pose_min_inliers`), or when its centre is a gross
outlier of the camera centres (farther from their median than CENTRE_OUTLIER_FACTOR times the
median distance). Each one is taken out of the model and registered again the way COLMAP's
incremental mapper registers a new photo: an absolute pose from its 2D-3D correspondences with
the other photos' points (RANSAC, then refinement), accepted with at least that many inliers
and inlier ratio, after which its observations are triangulated. A photo that still fails is
left out and reported unplaced. Re-registration, not removal, is the default because it keeps
the photo: on the orbit above it gives that photo a 0.07 deg rotation error (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.sfm.container.config import Config

if TYPE_CHECKING:
    import pycolmap

    from services.sfm.container.photos import Photo

# A centre farther from the median centre than this many median distances is checked again. A
# straight walk puts its farthest photo about 2 median distances out, a two-altitude drone
# flight about 3; a photo placed in a degenerate spot sits hundreds out.
CENTRE_OUTLIER_FACTOR = 10.0


@dataclass
class SupportCheck:
    unsupported: dict[str, str] = field(default_factory=dict)  # image name -> why it was checked
    reregistered: list[str] = field(default_factory=list)  # placed again from 2D-3D correspondences
    left_out: list[str] = field(default_factory=list)  # could not be placed again: not in the model

    def to_json(self, photos: list[Photo]) -> dict:
        """The metrics record, with the photos' original names; empty when every pose was supported."""
        if not self.unsupported:
            return {}
        original = {p.name: p.original or p.name for p in photos}
        return {
            "unsupported": {original.get(n, n): why for n, why in self.unsupported.items()},
            "reregistered": [original.get(n, n) for n in self.reregistered],
            "left_out": [original.get(n, n) for n in self.left_out],
        }


def unsupported_images(model: pycolmap.Reconstruction, min_points: int,
                       outlier_factor: float = CENTRE_OUTLIER_FACTOR) -> dict[int, str]:
    """Registered images whose pose the 3D points do not hold: image id -> why (see module doc)."""
    ids = sorted(model.reg_image_ids())
    found: dict[int, str] = {}
    for image_id in ids:
        observed = model.images[image_id].num_points3D
        if observed < min_points:
            found[image_id] = f"{observed} 3D points"
    if len(ids) >= 4:
        centres = np.array([model.images[i].projection_center() for i in ids])  # [N, 3]
        distance = np.linalg.norm(centres - np.median(centres, axis=0), axis=1)  # [N]
        spread = float(np.median(distance))
        for image_id, d in zip(ids, distance, strict=True):
            if spread > 0 and d > outlier_factor * spread and image_id not in found:
                found[image_id] = f"centre {d / spread:.0f} median distances out"
    return found


def recheck_poses(model: pycolmap.Reconstruction, database: Path, cfg: Config) -> tuple[pycolmap.Reconstruction, SupportCheck]:
    """A copy of `model` in which every unsupported image is registered again or left out.

    Other images keep their poses, every camera its intrinsics (the final bundle adjustment
    refines them). Returns the model unchanged when all poses are supported.
    """
    import pycolmap

    check = SupportCheck()
    suspects = unsupported_images(model, cfg.abs_pose_min_inliers)
    if not suspects:
        return model, check
    check.unsupported = {model.images[i].name: why for i, why in sorted(suspects.items())}
    checked = pycolmap.Reconstruction(model)
    db = pycolmap.Database.open(database)
    try:
        cache_options = pycolmap.DatabaseCacheOptions()
        cache_options.min_num_matches = cfg.min_pair_inliers
        cache = pycolmap.DatabaseCache.create(db, cache_options)
    finally:
        db.close()
    mapper = pycolmap.IncrementalMapper(cache)
    mapper.begin_reconstruction(checked)
    for image_id in suspects:
        mapper.observation_manager.deregister_frame(checked.images[image_id].frame_id)
    options = pycolmap.IncrementalMapperOptions()
    options.abs_pose_min_num_inliers = cfg.abs_pose_min_inliers
    options.abs_pose_min_inlier_ratio = cfg.abs_pose_min_inlier_ratio
    options.num_threads = cfg.num_threads
    options.random_seed = cfg.seed
    options.constant_cameras = set(checked.cameras)
    triangulation = pycolmap.IncrementalTriangulatorOptions()
    waiting = sorted(suspects)
    placed_one = True
    while waiting and placed_one:  # a photo placed (and its points triangulated) may anchor the next
        placed_one = False
        for image_id in list(waiting):
            if checked.num_reg_images() and mapper.register_next_image(options, image_id):
                mapper.triangulate_image(triangulation, image_id)
                waiting.remove(image_id)
                check.reregistered.append(checked.images[image_id].name)
                placed_one = True
    check.left_out = [checked.images[i].name for i in waiting]
    mapper.end_reconstruction(discard=False)
    return checked, check
