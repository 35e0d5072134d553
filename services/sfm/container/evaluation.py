"""Camera pose accuracy against ground truth, after a similarity alignment of camera centres.

Used by the stage tests and bench/sfm_bench.py. Poses are world-to-camera (R [3, 3], t [3]).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.sfm.container.geo import umeyama

Pose = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class PoseErrors:
    common: int  # images in both sets
    rotation_median_deg: float
    rotation_max_deg: float
    centre_median: float  # camera-centre error, in ground-truth units
    centre_median_rel: float  # ... divided by the scene radius (RMS spread of the GT centres)
    scale: float  # estimated -> ground-truth scale


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


def per_image_errors(estimated: dict[str, Pose], truth: dict[str, Pose]) -> tuple[np.ndarray, np.ndarray]:
    """Per common image (sorted by name): rotation error [K] in degrees and camera-centre error [K]
    relative to the scene radius, after aligning estimated centres to truth (Umeyama); >= 3 common."""
    rotation_deg, centre_err, radius, _ = _aligned_errors(estimated, truth)
    return rotation_deg, centre_err / radius if radius > 0 else np.full_like(centre_err, np.inf)


def _aligned_errors(
    estimated: dict[str, Pose], truth: dict[str, Pose]
) -> tuple[np.ndarray, np.ndarray, float, float]:
    names = sorted(set(estimated) & set(truth))
    if len(names) < 3:
        raise ValueError(f"need 3 common images to align, got {len(names)}")
    est_c = np.array([centre(estimated[n]) for n in names])  # [N, 3]
    gt_c = np.array([centre(truth[n]) for n in names])  # [N, 3]
    sim = umeyama(est_c, gt_c)
    centre_err = np.linalg.norm(sim.apply(est_c) - gt_c, axis=1)
    radius = float(np.sqrt(((gt_c - gt_c.mean(axis=0)) ** 2).sum(axis=1).mean()))
    # x_est = s A x_gt + b  =>  camera-from-gt rotation is R_est @ A, with A = sim.rotation^T.
    rot_err = np.array(
        [rotation_angle_deg(estimated[n][0] @ sim.rotation.T @ truth[n][0].T) for n in names]
    )
    return rot_err, centre_err, radius, sim.scale


def pose_errors(estimated: dict[str, Pose], truth: dict[str, Pose]) -> PoseErrors:
    """Align estimated centres to truth (Umeyama) and compare rotations and centres; >= 3 common.

    Raises ValueError with fewer than 3 common images.
    """
    rot_err, centre_err, radius, scale = _aligned_errors(estimated, truth)
    return PoseErrors(
        common=len(rot_err),
        rotation_median_deg=float(np.median(rot_err)),
        rotation_max_deg=float(np.max(rot_err)),
        centre_median=float(np.median(centre_err)),
        centre_median_rel=float(np.median(centre_err)) / radius if radius > 0 else float("inf"),
        scale=scale,
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
