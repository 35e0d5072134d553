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
left out and reported unplaced, unless its mapped pose holds MIN_KEPT_POINTS points and its centre
is no outlier. Re-registration, not removal, is the default because it keeps the photo: on the
orbit above it gives that photo a 0.07 deg rotation error (docs/benchmarks.md).

Photos the mapper left out although they have verified matches (GLOMAP drops a photo whose
few tracks it filtered; the 320 x 240 masked orbit lost one with 18 and 19 matches to its
neighbours) are offered the same registration: one the incremental mapper would have placed
is placed, the rest stay unplaced and are named.

The model is then checked against the strongest verified pairs: a pair with many matches whose
photos share almost no 3D points is contradicted by the poses (wrong pairs swayed the rotation
averaging); solve.map_photos then also maps incrementally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.sfm.container.config import Config
from services.sfm.container.groups import verified_pairs
from shared.wording import agree, plural

if TYPE_CHECKING:
    import pycolmap

    from services.sfm.container.photos import Photo

# A centre farther from the median centre than this many median distances is checked again. A
# straight walk puts its farthest photo about 2 median distances out, a two-altitude drone
# flight about 3; a photo placed in a degenerate spot sits hundreds out.
CENTRE_OUTLIER_FACTOR = 10.0
# A verified pair whose photos share fewer 3D points than this fraction of its inlier matches is
# contradicted by the model (measured: >= 0.22 on every strong pair of correct solves).
MIN_SHARED_FRACTION = 0.1
# A photo that cannot be registered again keeps its mapped pose when that observes at least this
# many 3D points and its centre is no outlier (measured: wrong poses held 0-6 points, a right one
# on a 320 x 240 masked orbit 11, that absolute pose could not confirm with 15 inliers).
MIN_KEPT_POINTS = 8
STRONG_PAIR_FACTOR = 4  # a strong pair has this many times Config.min_pair_inliers verified matches


@dataclass
class SupportCheck:
    unsupported: dict[str, str] = field(default_factory=dict)  # image name -> why it was checked
    reregistered: list[str] = field(default_factory=list)  # placed again from 2D-3D correspondences
    left_out: list[str] = field(default_factory=list)  # could not be placed again: not in the model
    kept: list[str] = field(default_factory=list)  # not placed again, kept as mapped (MIN_KEPT_POINTS)
    added: list[str] = field(default_factory=list)  # left out by the mapper, placed from 2D-3D matches
    still_unplaced: list[str] = field(default_factory=list)  # linked by verified pairs, placed by neither
    contradicted: list[tuple[str, str, int, int]] = field(default_factory=list)  # see contradicted_pairs
    retried: str = ""  # why the other mapper ran, and which model was kept

    def warnings(self) -> list[str]:
        """What the user is told: strong pairs the kept model still contradicts (photos left out
        are named with the other unplaced photos)."""
        if not self.contradicted:
            return []
        listed = ", ".join(f"{a} + {b}" for a, b, _, _ in self.contradicted[:5])
        count = len(self.contradicted)
        pairs = plural(count, "strongly matching photo pair")
        return [f"{pairs} {agree(count, 'disagree')} with the solved camera "
                f"positions ({listed}): part of the model may be misplaced (repeated or symmetric structure?)"]

    def to_json(self, photos: list[Photo]) -> dict:
        """The metrics record, with the photos' original names; empty when nothing was found."""
        if not (self.unsupported or self.contradicted or self.retried or self.added):
            return {}
        original = {p.name: p.original or p.name for p in photos}
        return {
            "unsupported": {original.get(n, n): why for n, why in self.unsupported.items()},
            "reregistered": [original.get(n, n) for n in self.reregistered],
            "left_out": [original.get(n, n) for n in self.left_out],
            "kept_as_mapped": [original.get(n, n) for n in self.kept],
            "placed_after_mapping": [original.get(n, n) for n in self.added],
            "contradicted_pairs": [[original.get(a, a), original.get(b, b), inliers, shared]
                                   for a, b, inliers, shared in self.contradicted],
            "retried": self.retried,
        }


@dataclass(frozen=True)
class Suspect:
    points: int  # 3D points the image observes
    far: float | None  # centre distance from the median centre, in median distances, when an outlier

    def why(self) -> str:
        far = f", centre {self.far:.0f} median distances out" if self.far else ""
        return f"{self.points} 3D points{far}"


def unsupported_images(model: pycolmap.Reconstruction, min_points: int,
                       outlier_factor: float = CENTRE_OUTLIER_FACTOR) -> dict[int, Suspect]:
    """Registered images whose pose the 3D points do not hold (see the module doc), by image id."""
    ids = sorted(model.reg_image_ids())
    far = dict.fromkeys(ids)
    if len(ids) >= 4:
        centres = np.array([model.images[i].projection_center() for i in ids])  # [N, 3]
        distance = np.linalg.norm(centres - np.median(centres, axis=0), axis=1)  # [N]
        spread = float(np.median(distance))
        for image_id, d in zip(ids, distance, strict=True):
            if spread > 0 and d > outlier_factor * spread:
                far[image_id] = float(d / spread)
    points = {i: model.images[i].num_points3D for i in ids}
    return {i: Suspect(points[i], far[i]) for i in ids if points[i] < min_points or far[i] is not None}


def contradicted_pairs(model: pycolmap.Reconstruction, database: Path, min_inliers: int,
                       min_shared: float = MIN_SHARED_FRACTION) -> list[tuple[str, str, int, int]]:
    """Strong verified pairs the model contradicts: (name, name, inliers, shared 3D points).

    A pair with at least `min_inliers` geometrically verified matches whose two registered photos
    share fewer than `min_shared` of that many 3D points: their poses disagree with their matches.
    Only pairs verified by epipolar geometry count: a pair COLMAP found planar or panoramic (a
    homography explains its matches: little or no baseline) need not triangulate what it matches
    (banana with every other photo shaken: two such pairs of 570 and 234 matches shared 5 % and
    4 %, in a model whose 14 photos were all within 1.5 deg of the clean solve).
    """
    import pycolmap

    names, pairs = verified_pairs(database)
    registered = {model.images[i].name: i for i in model.reg_image_ids()}
    strong: dict[tuple[int, int], int] = {}
    for first_id, second_id, count in pairs:
        first, second = names.get(first_id), names.get(second_id)
        if count >= min_inliers and first in registered and second in registered:
            strong[tuple(sorted((registered[first], registered[second])))] = count
    shared = dict.fromkeys(strong, 0)
    for point in model.points3D.values():
        seen = sorted({element.image_id for element in point.track.elements})
        for k, first in enumerate(seen):
            for second in seen[k + 1:]:
                if (first, second) in shared:
                    shared[(first, second)] += 1
    suspects = [(a, b, count) for (a, b), count in sorted(strong.items(), key=lambda item: -item[1])
                if shared[(a, b)] < min_shared * count]
    if not suspects:
        return []
    geometry = pycolmap.TwoViewGeometryConfiguration
    epipolar = {geometry.CALIBRATED, geometry.UNCALIBRATED}
    db = pycolmap.Database.open(database)
    try:
        kept = [(a, b, n) for a, b, n in suspects if db.read_two_view_geometry(a, b).config in epipolar]
    finally:
        db.close()
    return [(model.images[a].name, model.images[b].name, n, shared[(a, b)]) for a, b, n in kept]


def recheck_poses(model: pycolmap.Reconstruction, database: Path,
                  cfg: Config) -> tuple[pycolmap.Reconstruction, SupportCheck]:
    """A copy of `model` in which every unsupported image is registered again or left out, and
    the strong pairs the result contradicts (pairs of STRONG_PAIR_FACTOR * cfg.min_pair_inliers).

    Other images keep their poses, every camera its intrinsics (the final bundle adjustment
    refines them). Returns the model itself when all poses are supported.
    """
    check = SupportCheck()
    suspects = unsupported_images(model, cfg.abs_pose_min_inliers)
    if suspects:
        check.unsupported = {model.images[i].name: s.why() for i, s in sorted(suspects.items())}
        trial = SupportCheck()
        checked = _register_again(model, database, cfg, sorted(suspects), trial)
        failed = {i for i in suspects if model.images[i].name in trial.left_out}
        keep = {i for i in failed if suspects[i].points >= MIN_KEPT_POINTS and suspects[i].far is None}
        if keep:  # again from the mapped model, these photos keeping their mapped poses
            checked = _register_again(model, database, cfg, sorted(set(suspects) - keep), check)
            check.kept = sorted(model.images[i].name for i in keep)
        else:
            check.reregistered, check.left_out = trial.reregistered, trial.left_out
        model = checked
    model = _place_left_out(model, database, cfg, check)
    check.contradicted = contradicted_pairs(model, database, STRONG_PAIR_FACTOR * cfg.min_pair_inliers)
    return model, check


def linked_unplaced(model: pycolmap.Reconstruction, database: Path, min_inliers: int) -> dict[int, str]:
    """Photos `model` does not place that a verified pair of at least `min_inliers` matches links
    to a placed photo: image id -> name, by id."""
    names, pairs = verified_pairs(database)
    registered = set(model.reg_image_ids())
    linked = {image_id for first, second, count in pairs if count >= min_inliers
              for image_id in (first, second) if ({first, second} - {image_id}) <= registered}
    return {i: names[i] for i in sorted(linked - registered)}


def _place_left_out(model: pycolmap.Reconstruction, database: Path, cfg: Config,
                    check: SupportCheck) -> pycolmap.Reconstruction:
    """`model` with the photos the mapper did not register but that verified pairs link to a
    registered photo registered where possible (check.added); the others stay out
    (check.still_unplaced)."""
    linked = linked_unplaced(model, database, cfg.min_pair_inliers)
    tried = set(check.left_out)  # re-registration already failed for these
    candidates = [i for i, name in linked.items() if name not in tried]
    check.still_unplaced = list(linked.values())
    if not candidates:
        return model
    trial = SupportCheck()
    placed = _register_again(model, database, cfg, candidates, trial)
    check.added = trial.reregistered
    check.still_unplaced = [name for name in linked.values() if name not in set(trial.reregistered)]
    return placed if trial.reregistered else model


def _register_again(model: pycolmap.Reconstruction, database: Path, cfg: Config, image_ids: list[int],
                    check: SupportCheck) -> pycolmap.Reconstruction:
    import pycolmap

    checked = pycolmap.Reconstruction(model)
    db = pycolmap.Database.open(database)
    try:
        cache_options = pycolmap.DatabaseCacheOptions()
        cache_options.min_num_matches = cfg.min_pair_inliers
        cache_options.load_all_images = True  # the model may hold a photo no pair links any more
        cache = pycolmap.DatabaseCache.create(db, cache_options)
    finally:
        db.close()
    mapper = pycolmap.IncrementalMapper(cache)
    mapper.begin_reconstruction(checked)
    for image_id in image_ids:
        if checked.images[image_id].has_pose:  # mapped photos are placed again; left-out ones placed
            mapper.observation_manager.deregister_frame(checked.images[image_id].frame_id)
    options = pycolmap.IncrementalMapperOptions()
    options.abs_pose_min_num_inliers = cfg.abs_pose_min_inliers
    options.abs_pose_min_inlier_ratio = cfg.abs_pose_min_inlier_ratio
    options.num_threads = cfg.num_threads
    options.random_seed = cfg.seed
    options.constant_cameras = set(checked.cameras)
    triangulation = pycolmap.IncrementalTriangulatorOptions()
    waiting = list(image_ids)
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
    return checked
