"""Pair selection ("matcher") chosen from the data, and running it with pycolmap."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, assert_never

from services.sfm.container.config import Config

MatcherKind = Literal["exhaustive", "sequential", "spatial"]
GPS_SHARE_FOR_SPATIAL = 0.8  # spatial matching when at least this share of photos has GPS
SEQUENCE_SHARE = 0.9  # a numbered sequence: this share of consecutive names step by 1 or 2


@dataclass(frozen=True)
class MatcherPlan:
    first: MatcherKind
    fallback: MatcherKind | None  # added (never replaces) when `first` registers too few photos
    reason: str


def is_numbered_sequence(names: list[str]) -> bool:
    """True when the sorted names share a prefix and mostly step by 1 or 2 (IMG_0001, IMG_0002...)."""
    if len(names) < 3:
        return False
    parsed = []
    for name in sorted(names):
        match = re.fullmatch(r"(.*?)(\d+)(\D*)", name)
        if not match:
            return False
        parsed.append((match.group(1), int(match.group(2))))
    if len({prefix for prefix, _ in parsed}) != 1:
        return False
    steps = [b - a for (_, a), (_, b) in zip(parsed, parsed[1:], strict=False)]
    return sum(1 <= step <= 2 for step in steps) >= SEQUENCE_SHARE * len(steps)


def choose_matcher(
    requested: str, names: list[str], n_gps: int, cfg: Config, n_frames: int = 0
) -> MatcherPlan:
    """Decide the pair selection from the request and the data (n_frames: images from videos)."""
    n = len(names)
    if requested == "exhaustive":
        return MatcherPlan("exhaustive", None, "requested")
    if requested in ("sequential", "spatial"):
        if requested == "spatial" and n_gps < 3:
            return MatcherPlan("exhaustive", None, "spatial requested but fewer than 3 photos have GPS")
        return MatcherPlan(requested, "exhaustive", "requested")  # type: ignore[arg-type]
    if requested != "auto":
        raise ValueError(f"unknown matcher {requested!r}")
    if n <= cfg.exhaustive_max_images:
        return MatcherPlan("exhaustive", None, f"{n} photos <= {cfg.exhaustive_max_images}: every pair")
    if n_frames * 2 >= n:
        return MatcherPlan("sequential", "exhaustive", f"{n_frames}/{n} images are video frames")
    if n_gps >= GPS_SHARE_FOR_SPATIAL * n:
        return MatcherPlan("spatial", "exhaustive", f"{n_gps}/{n} photos have GPS")
    if is_numbered_sequence(names):
        return MatcherPlan("sequential", "exhaustive", "numbered sequence")
    return MatcherPlan("exhaustive", None, "unordered set without GPS")


def run_matcher(
    kind: MatcherKind, database: Path, cfg: Config, unlocated: list[str] | None = None,
    visual_index: Path | None = None,
) -> None:
    """Match the pairs `kind` selects; pairs already in the database are skipped by COLMAP.

    Spatial matching pairs only photos with a pose prior: each of `unlocated` (no usable GPS) is
    matched with every other photo instead, so that a bad fix does not leave its photo unplaced.
    visual_index: sequential matching also detects loops with this index (built from the job's
    own features by loops.py, which runs this in a child process: a bad index aborts pycolmap).
    """
    import pycolmap

    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = cfg.num_threads
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = cfg.seed
    verification.min_num_inliers = cfg.min_pair_inliers
    if kind == "exhaustive":
        pycolmap.match_exhaustive(database, matching_options=matching, verification_options=verification,
                                  device=pycolmap.Device.cpu)
    elif kind == "sequential":
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = cfg.sequential_overlap
        pairing.quadratic_overlap = True
        pairing.loop_detection = visual_index is not None  # never a downloaded vocabulary tree
        if visual_index is not None:
            pairing.vocab_tree_path = str(visual_index)
            pairing.loop_detection_period = cfg.video.loop_detection_period
            pairing.loop_detection_num_images = cfg.video.loop_detection_images
        pairing.num_threads = cfg.num_threads
        pycolmap.match_sequential(database, matching_options=matching, pairing_options=pairing,
                                  verification_options=verification, device=pycolmap.Device.cpu)
    elif kind == "spatial":
        pairing = pycolmap.SpatialPairingOptions()
        pairing.ignore_z = True  # priors are ENU metres: neighbours by ground position (altitudes vary)
        pairing.max_num_neighbors = cfg.spatial_neighbors
        pairing.max_distance = 1e9  # rely on the neighbour count: flight altitudes and spacings vary
        pairing.num_threads = cfg.num_threads
        pycolmap.match_spatial(database, matching_options=matching, pairing_options=pairing,
                               verification_options=verification, device=pycolmap.Device.cpu)
        if unlocated:
            _match_with_all(database, unlocated, matching, verification)
    else:
        assert_never(kind)


def _match_with_all(database: Path, names: list[str], matching, verification) -> None:
    """Match each of `names` with every image in the database (an imported pair list)."""
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        all_names = sorted(image.name for image in db.read_all_images())
    finally:
        db.close()
    wanted = set(names)
    pairs = {tuple(sorted((a, b))) for a in wanted for b in all_names if a != b}
    with tempfile.TemporaryDirectory() as scratch:
        pair_file = Path(scratch) / "pairs.txt"
        pair_file.write_text("".join(f"{a} {b}\n" for a, b in sorted(pairs)))
        pairing = pycolmap.ImportedPairingOptions()
        pairing.match_list_path = pair_file
        pycolmap.match_image_pairs(database, matching_options=matching, pairing_options=pairing,
                                   verification_options=verification, device=pycolmap.Device.cpu)
