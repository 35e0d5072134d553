"""Camera pose accuracy against ground truth, after a robust similarity alignment of camera centres.

Used by the stage tests, bench/sfm_bench.py and `spaceport demo`. Poses are world-to-camera
(R [3, 3], t [3]).

A least-squares (Umeyama) alignment of all centres lets one wrong camera decide it: a camera
placed 1,900 scene units out turned 15 correct ones into a 64 deg median rotation error. The
alignment is instead fitted on the cameras that agree (MSAC over triplets of centres, then
Umeyama refits on the inliers); errors are reported over every common camera, and cameras off
by more than GROSS_ROTATION_DEG or GROSS_CENTRE_REL are named as gross outliers, so one bad
camera shows as one bad camera.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.sfm.container.geo import Similarity, umeyama

Pose = tuple[np.ndarray, np.ndarray]

ALIGN_INLIER_REL = 0.1  # a centre within this fraction of the scene radius counts for the alignment
# A camera is a gross outlier when its centre is off by more than GROSS_CENTRE_REL of the radius or
# its orientation by more than GROSS_ROTATION_DEG.
GROSS_CENTRE_REL = 0.1
GROSS_ROTATION_DEG = 5.0
MAX_HYPOTHESES = 500  # triplets tried by the robust alignment (all of them when there are fewer)


@dataclass(frozen=True)
class PoseErrors:
    common: int  # images in both sets
    rotation_median_deg: float  # over all common images
    rotation_max_deg: float
    centre_median: float  # camera-centre error, in ground-truth units
    centre_median_rel: float  # ... divided by the scene radius (RMS spread of the GT centres)
    scale: float  # estimated -> ground-truth scale
    aligned: int = 0  # common images the alignment was fitted on
    outliers: tuple[str, ...] = ()  # gross outliers (GROSS_ROTATION_DEG / GROSS_CENTRE_REL), by name

    @property
    def gross_outliers(self) -> int:
        return len(self.outliers)


def centre(pose: Pose) -> np.ndarray:
    rotation, translation = pose
    return -rotation.T @ translation


def rotation_angle_deg(rotation: np.ndarray) -> float:
    """Angle of a rotation matrix [3, 3], in degrees, in [0, 180].

    atan2(|axis * sin|, cos): with trace = 1 + 2 cos(theta) and (R - R^T) / 2 the skew matrix of
    axis * sin(theta), both arguments keep full relative precision at every angle, unlike
    arccos((trace - 1) / 2), which loses about half the digits near 0 and 180 degrees.
    """
    r = np.asarray(rotation, dtype=np.float64)
    skew = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / 2.0
    cos = (np.trace(r) - 1.0) / 2.0
    return float(np.degrees(np.arctan2(np.linalg.norm(skew), cos)))


def robust_alignment(src: np.ndarray, dst: np.ndarray, threshold: float, seed: int = 0,
                     max_hypotheses: int = MAX_HYPOTHESES) -> tuple[Similarity, np.ndarray]:
    """Similarity taking src [N, 3] onto dst [N, 3] fitted on the points that agree, and those
    inliers [N] (bool): distance after alignment <= threshold (dst units); N >= 3.

    MSAC (Torr and Zisserman 2000): Umeyama on triplets (all, or max_hypotheses drawn with
    `seed`), each scored by sum(min(d^2, threshold^2)); the best is refitted on its inliers until
    they stop changing. With fewer than 3 inliers, the plain Umeyama fit of all points.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = len(src)
    if n < 3:
        raise ValueError(f"need 3 points to align, got {n}")
    if math.comb(n, 3) <= max_hypotheses:
        triplets = list(itertools.combinations(range(n), 3))
    else:
        rng = np.random.default_rng(seed)
        triplets = [tuple(rng.choice(n, 3, replace=False)) for _ in range(max_hypotheses)]
    best, best_cost = None, np.inf
    for triplet in triplets:
        sim = umeyama(src[list(triplet)], dst[list(triplet)])
        cost = float(np.minimum(np.sum((sim.apply(src) - dst) ** 2, axis=1), threshold**2).sum())
        if cost < best_cost:
            best, best_cost = sim, cost
    inliers = np.linalg.norm(best.apply(src) - dst, axis=1) <= threshold
    for _ in range(10):
        if inliers.sum() < 3:
            return umeyama(src, dst), np.ones(n, bool)
        best = umeyama(src[inliers], dst[inliers])
        refreshed = np.linalg.norm(best.apply(src) - dst, axis=1) <= threshold
        if (refreshed == inliers).all():
            break
        inliers = refreshed
    return best, inliers


def per_image_errors(estimated: dict[str, Pose], truth: dict[str, Pose]) -> tuple[np.ndarray, np.ndarray]:
    """Per common image (sorted by name): rotation error [K] in degrees and camera-centre error [K]
    relative to the scene radius, after the robust alignment of centres; >= 3 common."""
    rotation_deg, centre_err, radius, _, _ = _aligned_errors(estimated, truth)
    return rotation_deg, centre_err / radius if radius > 0 else np.full_like(centre_err, np.inf)


def is_gross(rotation_deg: np.ndarray, centre_rel: np.ndarray) -> np.ndarray:
    """[K] bool: a gross outlier by rotation (GROSS_ROTATION_DEG) or centre (GROSS_CENTRE_REL)."""
    return (np.asarray(rotation_deg) > GROSS_ROTATION_DEG) | (np.asarray(centre_rel) > GROSS_CENTRE_REL)


def _aligned_errors(
    estimated: dict[str, Pose], truth: dict[str, Pose]
) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    names = sorted(set(estimated) & set(truth))
    if len(names) < 3:
        raise ValueError(f"need 3 common images to align, got {len(names)}")
    est_c = np.array([centre(estimated[n]) for n in names])  # [N, 3]
    gt_c = np.array([centre(truth[n]) for n in names])  # [N, 3]
    radius = float(np.sqrt(((gt_c - gt_c.mean(axis=0)) ** 2).sum(axis=1).mean()))
    sim, inliers = robust_alignment(est_c, gt_c, ALIGN_INLIER_REL * radius)
    centre_err = np.linalg.norm(sim.apply(est_c) - gt_c, axis=1)
    # x_est = s A x_gt + b  =>  camera-from-gt rotation is R_est @ A, with A = sim.rotation^T.
    rot_err = np.array(
        [rotation_angle_deg(estimated[n][0] @ sim.rotation.T @ truth[n][0].T) for n in names]
    )
    return rot_err, centre_err, radius, sim.scale, inliers


def pose_errors(estimated: dict[str, Pose], truth: dict[str, Pose]) -> PoseErrors:
    """Align estimated centres to truth (robustly, see the module doc) and compare rotations and
    centres of every common image. Raises ValueError with fewer than 3 common images."""
    rot_err, centre_err, radius, scale, inliers = _aligned_errors(estimated, truth)
    names = sorted(set(estimated) & set(truth))
    centre_rel = centre_err / radius if radius > 0 else np.full_like(centre_err, np.inf)
    return PoseErrors(
        common=len(rot_err),
        rotation_median_deg=float(np.median(rot_err)),
        rotation_max_deg=float(np.max(rot_err)),
        centre_median=float(np.median(centre_err)),
        centre_median_rel=float(np.median(centre_rel)),
        scale=scale,
        aligned=int(inliers.sum()),
        outliers=tuple(n for n, gross in zip(names, is_gross(rot_err, centre_rel), strict=True) if gross),
    )


def poses_from_model(sparse_dir: Path) -> dict[str, Pose]:
    """World-to-camera poses of the registered images in a COLMAP model folder."""
    import pycolmap

    rec = pycolmap.Reconstruction(str(sparse_dir))
    out = {}
    for image in rec.images.values():
        if image.has_pose:
            m = image.cam_from_world().matrix()  # [3, 4]
            out[image.name] = (m[:, :3], m[:, 3])
    return out


def load_strecha_cameras(gt_dir: Path) -> dict[str, Pose]:
    """Strecha `<image>.camera` files: K, distortion, R (camera-to-world), C, size -> world-to-camera."""
    out = {}
    for path in sorted(Path(gt_dir).glob("*.camera")):
        rows = [[float(x) for x in line.split()] for line in path.read_text().splitlines() if line.strip()]
        rotation_c2w = np.array(rows[4:7])
        c = np.array(rows[7])
        rotation = rotation_c2w.T
        out[path.name.removesuffix(".camera")] = (rotation, -rotation @ c)
    return out
